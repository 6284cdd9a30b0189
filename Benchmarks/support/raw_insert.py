"""The baseline: the same number of journal lines inserted raw, in one transaction, into a scratch table shaped like
journal_lines in the same database. Prints lines per second."""
import sqlite3, subprocess, sys, time, uuid

kind, target, lines_total = sys.argv[1], sys.argv[2], int(sys.argv[3])
columns = ("entry_id TEXT NOT NULL, line_no INTEGER NOT NULL, tenant_id TEXT NOT NULL, account_id TEXT NOT NULL, state TEXT NOT NULL, "
           "source TEXT NOT NULL, accounting_date TEXT NOT NULL, posted_at_ms BIGINT NOT NULL, debit_minor BIGINT NOT NULL, "
           "credit_minor BIGINT NOT NULL, currency TEXT NOT NULL, memo TEXT, PRIMARY KEY (entry_id, line_no)")
tenant, account = str(uuid.uuid4()), str(uuid.uuid4())
def rows():
    for i in range(lines_total // 2):
        entry = str(uuid.uuid4())
        yield (entry, 1, tenant, account, "posted", "import", "2026-03-10", 0, 100 + i % 997, 0, "USD", None)
        yield (entry, 2, tenant, account, "posted", "import", "2026-03-10", 0, 0, 100 + i % 997, "USD", None)
if kind == "sqlite":
    db = sqlite3.connect(target, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL")
    db.execute(f"CREATE TABLE bench_raw_lines ({columns})")
    data = list(rows())
    start = time.perf_counter()
    db.execute("BEGIN")
    db.executemany("INSERT INTO bench_raw_lines VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", data)
    db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.execute("DROP TABLE bench_raw_lines")
else:
    sql = [f"CREATE TABLE accounting.bench_raw_lines ({columns});", "BEGIN;"]
    batch = []
    for r in rows():
        batch.append("('%s',%d,'%s','%s','posted','import','2026-03-10',0,%d,%d,'USD',NULL)" % (r[0], r[1], r[2], r[3], r[8], r[9]))
        if len(batch) == 1000:
            sql.append("INSERT INTO accounting.bench_raw_lines VALUES " + ",".join(batch) + ";"); batch = []
    if batch: sql.append("INSERT INTO accounting.bench_raw_lines VALUES " + ",".join(batch) + ";")
    sql.append("COMMIT;")
    script = "\n".join(sql)
    start = time.perf_counter()
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", target], input=script.encode(), check=True)
    elapsed = time.perf_counter() - start
    subprocess.run(["psql", "-q", target, "-c", "DROP TABLE accounting.bench_raw_lines"], check=True)
print(f"{lines_total / elapsed:.0f}")
