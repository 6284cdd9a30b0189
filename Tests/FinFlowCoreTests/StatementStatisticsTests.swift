import FinFlowCore
import Foundation
import Logging
import SQLKit
import Testing

/// Statement fingerprints: the SQL with its values removed, so statements of one shape add up to one figure.
@Suite("statement fingerprints and statistics")
struct StatementStatisticsTests {
    @Test("parameterised and literal statements of one shape share a fingerprint", arguments: [
        // Parameters of each dialect and literals of each kind become `?`.
        ("SELECT * FROM ledger_entries WHERE tenant_id = $1 AND id = $2", "SELECT * FROM ledger_entries WHERE tenant_id = ? AND id = ?"),
        ("SELECT * FROM ledger_entries WHERE tenant_id = ? AND id = ?12", "SELECT * FROM ledger_entries WHERE tenant_id = ? AND id = ?"),
        ("SELECT * FROM ledger_entries WHERE tenant_id = 'acme' AND id = 'O''Brien'", "SELECT * FROM ledger_entries WHERE tenant_id = ? AND id = ?"),
        ("SELECT a FROM t WHERE amount > -12.50 AND rate < 1.5e-3 LIMIT 50", "SELECT a FROM t WHERE amount > -? AND rate < ? LIMIT ?"),
        // Lists and rows of any length are one shape.
        ("SELECT a FROM t WHERE id IN ($1, $2, $3, $4)", "SELECT a FROM t WHERE id IN (?)"),
        ("SELECT a FROM t WHERE id IN (1,2,3)", "SELECT a FROM t WHERE id IN (?)"),
        ("INSERT INTO t (a, b, c) VALUES (?1, ?2, NULL), (?, ?2, NULL), (?, ?2, NULL)", "INSERT INTO t (a, b, c) VALUES (?, NULL)"),
        ("INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)", "INSERT INTO t (a, b) VALUES (?)"),
        // Names with digits, quoted identifiers, white space and comments.
        ("SELECT t1.col_2, \"Weird 3\" FROM w0  -- a note\n WHERE  x = 7 /* why */", "SELECT t1.col_2, \"Weird 3\" FROM w0 WHERE x = ?"),
        ("WITH w0 AS (INSERT INTO a SELECT u.c0 FROM unnest($1::text[]) AS u(c0) RETURNING 1) SELECT (SELECT count(*) FROM w0)",
         "WITH w0 AS (INSERT INTO a SELECT u.c0 FROM unnest(?::text[]) AS u(c0) RETURNING ?) SELECT (SELECT count(*) FROM w0)"),
    ])
    func fingerprints(sql: String, expected: String) {
        #expect(SQLFingerprint.of(sql) == expected)
    }

    @Test("different shapes keep different fingerprints and ids; an id is 16 hex digits")
    func distinct() {
        let a = SQLFingerprint.of("SELECT a FROM t WHERE id = $1")
        let b = SQLFingerprint.of("SELECT a FROM t WHERE id = $1 AND b = $2")
        let c = SQLFingerprint.of("SELECT a FROM u WHERE id = 5")
        #expect(Set([a, b, c]).count == 3)
        #expect(SQLFingerprint.id(a) != SQLFingerprint.id(b))
        #expect(SQLFingerprint.id(a).count == 16 && SQLFingerprint.id(a).allSatisfy(\.isHexDigit))
        #expect(SQLFingerprint.id(a) == SQLFingerprint.id(SQLFingerprint.of("SELECT a FROM t WHERE id = 99")))
    }

    @Test("a book adds a shape's calls, rows, errors and times, and its percentiles fall in the right bucket")
    func book() {
        let book = StatementBook(service: "test", logger: Logger(label: "test"))
        for id in 0..<99 { book.record(sql: "SELECT * FROM t WHERE id = \(id)", nanoseconds: 100_000, rows: 2, failed: false) }
        book.record(sql: "SELECT * FROM t WHERE id = 'x'", nanoseconds: 40_000_000, rows: 0, failed: true)
        book.record(sql: "DELETE FROM t", nanoseconds: 1_000, rows: 0, failed: false)
        let snapshot = book.snapshot()
        #expect(snapshot.count == 2)
        let select = try! #require(snapshot.first { $0.fingerprint == "SELECT * FROM t WHERE id = ?" })
        #expect(select.figures.calls == 100 && select.figures.errors == 1 && select.figures.rows == 198)
        #expect(select.figures.maxNanoseconds == 40_000_000 && select.figures.totalNanoseconds == 99 * 100_000 + 40_000_000)
        let p50 = try! #require(select.figures.percentileNanoseconds(0.5))
        let p99 = try! #require(select.figures.percentileNanoseconds(0.99))
        let p100 = try! #require(select.figures.percentileNanoseconds(1))
        #expect(p50 >= 100_000 && p50 <= 125_000)
        #expect(p99 >= 100_000 && p99 <= 125_000)
        #expect(p100 == 40_000_000)
        book.reset()
        #expect(book.snapshot().allSatisfy { $0.figures.calls == 0 })
    }

    @Test("a slow statement is handed out for its plan once; fast ones never are")
    func slowUnexplained() {
        let book = StatementBook(service: "test", slowMillis: 10, logger: Logger(label: "test"))
        book.record(sql: "SELECT * FROM a WHERE id = $1", nanoseconds: 9_999_999, rows: 1, failed: false)
        #expect(book.takeSlowUnexplained().isEmpty)
        book.record(sql: "SELECT * FROM a WHERE id = $1", nanoseconds: 10_000_000, rows: 1, failed: false)
        book.record(sql: "SELECT * FROM a WHERE id = 7", nanoseconds: 20_000_000, rows: 1, failed: false)
        let slow = book.takeSlowUnexplained()
        #expect(slow.count == 1 && slow.first?.fingerprint == "SELECT * FROM a WHERE id = ?" && slow.first?.figures.calls == 3)
        book.record(sql: "SELECT * FROM a WHERE id = $1", nanoseconds: 30_000_000, rows: 1, failed: false)
        #expect(book.takeSlowUnexplained().isEmpty)
        book.record(sql: "SELECT * FROM b", nanoseconds: 30_000_000, rows: 1, failed: false)
        #expect(book.takeSlowUnexplained().map(\.fingerprint) == ["SELECT * FROM b"])
    }

    @Test("a book keeps at most its bound of fingerprints; the rest count as other statements")
    func bounded() {
        let book = StatementBook(service: "test", logger: Logger(label: "test"))
        for table in 0..<(StatementBook.fingerprintsMax + 50) {
            book.record(sql: "SELECT * FROM table_\(table)", nanoseconds: 1_000, rows: 0, failed: false)
        }
        let snapshot = book.snapshot()
        #expect(snapshot.count == StatementBook.fingerprintsMax)
        #expect(snapshot.first { $0.fingerprint == StatementBook.otherFingerprint }?.figures.calls == 51)
    }

    @Test("every statement a SQLite database runs, read or written, in bulk or not, is recorded in its book")
    func recordedBySQLite() async throws {
        let book = StatementBook(service: "test", logger: Logger(label: "test"))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("statements-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try await SQLiteDatabase.open(path: directory.appendingPathComponent("t.sqlite").path, logger: Logger(label: "test"), statementBook: book)
        try await database.write { db in try await db.raw("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)").run() }
        try await database.transaction { db in
            try await db.insertRows(into: "items", columns: ["id", "name"], rows: (1...30).map { [.integer(Int64($0)), .text("n\($0)")] })
        }
        for id in 1...3 {
            _ = try await database.read { db in try await db.raw("SELECT name FROM items WHERE id = \(bind: id)").all() }
        }
        _ = try await database.read { db in try await db.raw("SELECT name FROM items WHERE id > 10").all() }
        await #expect(throws: (any Error).self) { try await database.read { db in try await db.raw("SELECT nothing FROM nowhere").run() } }
        try await database.shutdown()
        let figures = Dictionary(book.snapshot().map { ($0.fingerprint, $0.figures) }) { first, _ in first }
        #expect(figures["SELECT name FROM items WHERE id = ?"]?.calls == 3)
        #expect(figures["SELECT name FROM items WHERE id = ?"]?.rows == 3)
        #expect(figures["SELECT name FROM items WHERE id > ?"]?.rows == 20)
        #expect(figures["INSERT INTO items (id, name) VALUES (?)"]?.calls == 1)
        #expect(figures["BEGIN IMMEDIATE"]?.calls == 1 && figures["COMMIT"]?.calls == 1)
        #expect(figures["SELECT nothing FROM nowhere"]?.errors == 1)
    }
}

@Suite("Prometheus text")
struct PrometheusTextTests {
    @Test("samples with and without labels, escaped label values and special values are read; comments and junk are skipped")
    func parse() {
        let text = """
            # HELP hb_requests requests
            # TYPE hb_requests counter
            hb_requests{http_route="/v1/auth/me",http_request_method="GET",http_response_status_code="401"} 3
            finflow_db_statement_duration_seconds_bucket{service="auth",statement="0123456789abcdef",le="+Inf"} 12
            odd{label="a \\"quoted\\" \\\\ value, with comma"} 1.5e3
            plain 7
            gauge_inf +Inf
            broken{label="unterminated} 1
            not a sample
            """
        let samples = PrometheusText.parse(text)
        #expect(samples.count == 5)
        #expect(samples[0] == PrometheusSample(
            name: "hb_requests", labels: ["http_route": "/v1/auth/me", "http_request_method": "GET", "http_response_status_code": "401"], value: 3))
        #expect(samples[1].labels["le"] == "+Inf" && samples[1].value == 12)
        #expect(samples[2].labels["label"] == #"a "quoted" \ value, with comma"# && samples[2].value == 1500)
        #expect(samples[3] == PrometheusSample(name: "plain", labels: [:], value: 7))
        #expect(samples[4].value == .infinity)
    }
}
