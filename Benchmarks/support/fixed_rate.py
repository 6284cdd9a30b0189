"""Posts single journal entries at a fixed rate and prints latency percentiles, measured from each request's
scheduled start (see loadgen.py).

With FINFLOW_LATENCY_TRACE=path it also writes each request's scheduled offset and latency, to see when stalls come."""
import json, os, sys, uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loadgen

port, token, debit, credit, rate, seconds = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
# "server": the server assigns each entry its id (time-ordered UUIDv7); "client": each request carries a random UUIDv4
# id of its own, the costliest case for the ledger's indexes (every entry lands on a random page).
ids = sys.argv[7] if len(sys.argv) > 7 else "server"
if ids not in ("server", "client"):
    raise SystemExit("ids must be server or client")


def request_bytes(_):
    entry = {"date": "2026-06-15", "description": "Latency probe",
             "lines": [{"accountId": debit, "side": "debit", "amount": 100},
                       {"accountId": credit, "side": "credit", "amount": 100}]}
    if ids == "client":
        entry["id"] = str(uuid.uuid4())
    return loadgen.post_bytes(port, token, "/v1/accounting/journal-entries", json.dumps(entry).encode())


timed = loadgen.run(port, rate, seconds, request_bytes, 201)
if os.environ.get("FINFLOW_LATENCY_TRACE"):  # one line per request: scheduled offset (s), latency (ms)
    with open(os.environ["FINFLOW_LATENCY_TRACE"], "w") as trace:
        trace.writelines(f"{offset:.4f} {latency * 1000:.2f}\n" for offset, latency, _ in timed)
p50, p99, worst = loadgen.percentiles([latency for _, latency, _ in timed])
print(f"{len(timed)} requests at {rate}/s, {ids} ids: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.2f} ms")
