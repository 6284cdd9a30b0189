import FinFlowCore
@testable import FinFlowPerformance
import FinFlowServer
import Foundation
import HummingbirdTesting
import Logging
import SQLKit
import Synchronization
import Testing

/// Every line logged through its handlers, for tests that check what was logged.
final class CapturedLog: Sendable {
    struct Record: Sendable {
        let message: String
        let metadata: Logger.Metadata
    }

    private let lines = Mutex<[Record]>([])

    var records: [Record] { self.lines.withLock { $0 } }

    func handler(_ label: String) -> any LogHandler { Handler(log: self) }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { self.metadata[key] }
            set { self.metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
            self.log.lines.withLock { $0.append(Record(message: event.message.description, metadata: merged)) }
        }
    }
}

/// The performance service: operators only; every statement recorded by fingerprint and explained on request; a
/// deliberately missing index found by the advisor (and gone once the index exists); incidents beside the figures.
@Suite("performance service")
struct PerformanceTests {
    /// A system whose operator tenant is that of a user signed up first: the operator's token, and the running system.
    static func withOperator(_ body: @escaping @Sendable (any TestClientProtocol, TestSystem, SignedIn) async throws -> Void) async throws {
        let first = try await TestSystem.make()
        let settings = first.system.settings
        let (email, tenantId) = try await first.testReturning { client in
            let user = try await Fixtures.signUp(client, first, tag: "operator")
            // Without an operator tenant the service answers nobody.
            let refused = try await client.send(.get, "/v1/performance/statements", token: user.accessToken)
            #expect(refused.status == 403 && refused.body["code"] as? String == "operator-tenant-unset", "\(refused.body)")
            return (user.email, user.tenantId)
        }
        let sut = try await TestSystem.make { adjusted in
            adjusted = settings
            adjusted.operatorTenant = tenantId
        }
        try await sut.test { client in
            let login = try await client.send(.post, "/v1/auth/login", json: #"{"email":"\#(email)","password":"\#(Fixtures.password)"}"#)
            try #require(login.status == 200, "login: \(login.body)")
            let tokens = try #require(login.body["tokens"] as? [String: Any])
            let user = SignedIn(
                userId: "", email: email, password: Fixtures.password, accessToken: tokens["accessToken"] as! String,
                refreshToken: tokens["refreshToken"] as! String, tenantId: tenantId)
            try await body(client, sut, user)
        }
    }

    @Test("only members of the operator tenant are answered; another tenant's owner is refused")
    func operatorsOnly() async throws {
        try await Self.withOperator { client, sut, operatorUser in
            let statements = try await client.send(.get, "/v1/performance/statements?limit=500", token: operatorUser.accessToken)
            #expect(statements.status == 200, "\(statements.body)")
            let items = try #require(statements.body["items"] as? [[String: Any]])
            // The sign-in just made ran statements in auth's database, recorded under their fingerprints.
            #expect(items.contains { $0["service"] as? String == "auth" && ($0["calls"] as? Int ?? 0) > 0 })
            #expect(items.allSatisfy { ($0["fingerprint"] as? String)?.contains("operator") != true }, "a value reached a fingerprint")
            let stranger = try await Fixtures.signUp(client, sut, tag: "stranger")
            let refused = try await client.send(.get, "/v1/performance/advice", token: stranger.accessToken)
            #expect(refused.status == 403 && refused.body["code"] as? String == "operators-only")
            #expect(try await client.send(.get, "/v1/performance/statements").status == 401)
            let bad = try await client.send(.get, "/v1/performance/statements?limit=0", token: operatorUser.accessToken)
            #expect(bad.status == 400 || bad.status == 422)
            let unknown = try await client.send(.get, "/v1/performance/statements/nothing/0123456789abcdef/plan", token: operatorUser.accessToken)
            #expect(unknown.status == 404)
        }
    }

    @Test("a deliberately missing index: the statement's plan reads the table whole, the advisor names the index, which once made is used")
    func missingIndex() async throws {
        try await Self.withOperator { client, sut, operatorUser in
            let database = try #require(sut.system.databases["performance"])
            try await database.write { db in
                try await db.raw("CREATE TABLE probe_orders (id BIGINT PRIMARY KEY, customer_ref TEXT NOT NULL, amount_minor BIGINT NOT NULL)").run()
            }
            try await database.transaction { db in
                try await db.insertRows(
                    into: "probe_orders", columns: ["id", "customer_ref", "amount_minor"],
                    rows: (1...20_000).map { [.integer(Int64($0)), .text("c\($0 % 2_000)"), .integer(Int64($0 * 7 % 10_000))] })
            }
            try await database.write { db in try await db.raw("ANALYZE").run() }
            for customer in ["c1", "c2", "c3"] {
                _ = try await database.read { db in
                    try await db.raw("SELECT id, amount_minor FROM probe_orders WHERE customer_ref = \(bind: customer)").all()
                }
            }
            let token = operatorUser.accessToken
            let listed = try await client.send(.get, "/v1/performance/statements?service=performance&order=calls&limit=500", token: token)
            let items = try #require(listed.body["items"] as? [[String: Any]], "\(listed.body)")
            let probe = try #require(items.first { ($0["fingerprint"] as? String)?.hasPrefix("SELECT id, amount_minor FROM probe_orders WHERE customer_ref = ?") == true })
            #expect(probe["calls"] as? Int == 3 && probe["rows"] as? Int == 30)
            #expect((probe["p99Millis"] as? Double ?? -1) >= 0 && (probe["maxMillis"] as? Double ?? -1) >= (probe["p50Millis"] as? Double ?? 0) / 1.25)
            let id = try #require(probe["id"] as? String)

            let plan = try await client.send(.get, "/v1/performance/statements/performance/\(id)/plan", token: token)
            #expect(plan.status == 200, "\(plan.body)")
            #expect(plan.body["scans"] as? [String] == ["probe_orders"], "\(plan.body)")
            let advice = try await client.send(.get, "/v1/performance/advice?service=performance", token: token)
            #expect(advice.status == 200, "\(advice.body)")
            let found = try #require((advice.body["items"] as? [[String: Any]])?.first { $0["kind"] as? String == "missing-index" && $0["table"] as? String == "probe_orders" },
                                     "\(advice.body)")
            let statement = try #require(found["statement"] as? String)
            #expect(statement.hasPrefix("CREATE INDEX") && statement.hasSuffix("probe_orders (customer_ref)"), "\(statement)")
            #expect((found["evidence"] as? [String])?.contains { $0.contains("3 calls") && $0.contains(id) } == true, "\(found)")
            // Nothing was changed by asking.
            let stillMissing = try await client.send(.get, "/v1/performance/statements/performance/\(id)/plan", token: token)
            #expect(stillMissing.body["usesIndex"] as? Bool == false)

            // The operator runs the advised statement; the plan then uses the index and the advice is gone.
            try await database.write { db in try await db.raw("\(unsafeRaw: statement.replacingOccurrences(of: " CONCURRENTLY", with: ""))").run() }
            try await database.write { db in try await db.raw("ANALYZE").run() }
            let planned = try await client.send(.get, "/v1/performance/statements/performance/\(id)/plan", token: token)
            #expect(planned.body["usesIndex"] as? Bool == true && planned.body["scans"] as? [String] == [], "\(planned.body)")
            let after = try await client.send(.get, "/v1/performance/advice?service=performance", token: token)
            // The index advice is gone. (On PostgreSQL the table's statistics still show the sequential scans made
            // before, and that advice, which names no index, stays until they age out.)
            #expect((after.body["items"] as? [[String: Any]])?.contains {
                $0["kind"] as? String == "missing-index" && $0["table"] as? String == "probe_orders" && ($0["statement"] as? String)?.hasPrefix("CREATE INDEX") == true
            } == false, "\(after.body)")
        }
    }

    @Test("compliance alerts and anomalies become incidents once, beside each service's statements sampled around them")
    func incidents() async throws {
        try await Self.withOperator { client, sut, operatorUser in
            _ = try await sut.system.runScheduledWork()
            let alert = ComplianceAlert(
                alertId: UUID().uuidString.lowercased(), tenantId: operatorUser.tenantId, kind: "aml", severity: "high", subjectType: "transaction",
                subjectId: "t-1", userId: nil, action: "review", reason: "structured cash deposits", raisedAtMillis: sut.clock.nowMillis())
            let eventId = UUID().uuidString
            for _ in 0..<2 { try await LedgerEventTests.publish(alert, tenantId: operatorUser.tenantId, id: eventId, on: sut) }
            try await sut.deliver()
            let listed = try await client.send(.get, "/v1/performance/incidents", token: operatorUser.accessToken)
            let items = try #require(listed.body["items"] as? [[String: Any]], "\(listed.body)")
            #expect(items.count == 1)
            let incident = try #require(items.first)
            #expect(incident["source"] as? String == "compliance-alert" && incident["reason"] as? String == "structured cash deposits")
            let signals = try #require(incident["signals"] as? [[String: Any]])
            #expect(signals.contains { $0["service"] as? String == "auth" && ($0["calls"] as? Int ?? 0) > 0 }, "\(signals)")
            let series = try await client.send(.get, "/v1/performance/series?service=auth&metric=statement-calls", token: operatorUser.accessToken)
            #expect(((series.body["samples"] as? [[String: Any]])?.count ?? 0) >= 1, "\(series.body)")
            let databases = try await client.send(.get, "/v1/performance/databases", token: operatorUser.accessToken)
            let health = try #require(databases.body["items"] as? [[String: Any]])
            #expect(health.count == ServiceCatalog.all.count && health.allSatisfy { ($0["sizeBytes"] as? Int ?? 0) > 0 })
        }
    }
}

extension TestSystem {
    /// Runs `body` against the router and answers what it returns, then closes the databases.
    func testReturning<T: Sendable>(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        let answer = Answer<T>()
        try await self.test { client in answer.value = try await body(client) }
        return try #require(answer.value)
    }
}

/// What a test body answered, handed out of the closure it ran in (read after the body finished).
final class Answer<T: Sendable>: @unchecked Sendable {
    var value: T?
}

/// Each service's migrations against the statements it runs: a year of demo books made and read, then every recorded
/// statement explained. A statement that reads a table of 1,000 rows or more whole, where no index serves its condition,
/// fails the test by name.
@Suite("performance: the migrations serve the recorded statements")
struct MigrationPlanTests {
    @Test("after a demo year is made and read, no recorded statement reads a large table whole for want of an index",
          .enabled(if: !TestSystem.onPostgres))
    func demoYear() async throws {
        try await PerformanceTests.withOperator { client, sut, operatorUser in
            let demo = try await sut.system.createDemo()
            let login = try await client.send(.post, "/v1/auth/login", json: #"{"email":"\#(demo.email)","password":"\#(demo.password)"}"#)
            let token = try #require((login.body["tokens"] as? [String: Any])?["accessToken"] as? String, "\(login.body)")
            for path in [
                "/v1/accounting/statements/trial-balance", "/v1/accounting/statements/balance-sheet?translate=true",
                "/v1/accounting/statements/income-statement?from=2000-01-01", "/v1/accounting/statements/cash-flow?from=2000-01-01",
                "/v1/accounting/statements/receivables-aging", "/v1/accounting/statements/payables-aging",
                "/v1/accounting/bills?status=paid", "/v1/accounting/invoices?status=paid", "/v1/accounting/journal-entries?source=close",
                "/v1/accounting/journal-entries", "/v1/accounting/accounts", "/v1/transactions", "/v1/payments",
                "/v1/accounting/statements/general-ledger?from=2000-01-01",
            ] {
                let response = try await client.send(.get, path, token: token)
                #expect(response.status == 200, "\(path): \(response.body)")
            }
            // Each account's statement, as a bookkeeper reads them.
            let accounts = try await Books(client: client, token: token).accounts()
            for code in ["1010", "1100", "4000", "6300"] {
                let statement = try await client.send(.get, "/v1/accounting/accounts/\(try #require(accounts[code]))/statement?from=2000-01-01", token: token)
                #expect(statement.status == 200, "\(code): \(statement.body)")
            }
            try await sut.deliver()
            let advice = try await client.send(.get, "/v1/performance/advice", token: operatorUser.accessToken)
            let items = try #require(advice.body["items"] as? [[String: Any]], "\(advice.body)")
            let missing = items.filter { $0["kind"] as? String == "missing-index" }
            // The check has teeth: without the index the ledger's account reads need, it names that index, for the account
            // reads and for the general ledger, which reads the table under an alias (`FROM journal_lines l`).
            let accounting = try #require(sut.system.databases["accounting"])
            try await accounting.write { db in try await db.raw("DROP INDEX journal_lines_account").run() }
            let again = try await client.send(.get, "/v1/performance/advice?service=accounting", token: operatorUser.accessToken)
            let named = ((again.body["items"] as? [[String: Any]]) ?? []).filter { $0["kind"] as? String == "missing-index" }
            #expect(Set(named.compactMap { $0["statement"] as? String }) == [
                "CREATE INDEX journal_lines_tenant_id_account_id_state_accounting_date_idx ON journal_lines (tenant_id, account_id, state, accounting_date)",
                "CREATE INDEX journal_lines_tenant_id_state_account_id_accounting_date_idx ON journal_lines (tenant_id, state, account_id, accounting_date)",
            ], "\(named)")
            #expect(named.contains { ($0["evidence"] as? [String])?.contains { $0.contains("FROM journal_lines l JOIN journal_entries e") } == true }, "\(named)")

            #expect(missing.isEmpty, "\(missing.map { "\($0["service"] ?? "")/\($0["title"] ?? ""): \($0["statement"] ?? "") \($0["evidence"] ?? "")" }.joined(separator: "\n"))")
        }
    }
}

@Suite("finflow top")
struct FleetTopTests {
    @Test("a statement slower than FINFLOW_SLOW_STATEMENT_MILLIS is logged with its plan at the next sample, once a statement")
    func slowPlans() async throws {
        let log = CapturedLog()
        let sut = try await TestSystem.make(logger: Logger(label: "finflow.test") { label in log.handler(label) }) { $0.slowStatementMillis = 1 }
        let auth = try #require(sut.system.databases["auth"])
        let slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400000) SELECT COUNT(*) AS n FROM c"
        _ = try await auth.read { db in try await db.raw(SQLQueryString(slow)).all() }
        _ = try await sut.system.runScheduledWork()
        let plans = log.records.filter { $0.message == "slow statement plan" && "\($0.metadata["fingerprint"] ?? "")".hasPrefix("WITH RECURSIVE c") }
        try #require(plans.count == 1, "\(log.records.map(\.message))")
        #expect(plans[0].metadata["service"] == "auth")
        guard case .array(let lines)? = plans[0].metadata["plan"] else {
            Issue.record("no plan in \(plans[0].metadata)")
            return
        }
        #expect(!lines.isEmpty)
        #expect(log.records.contains { $0.message == "slow statement" && $0.metadata["statement"] == plans[0].metadata["statement"] })
        // Slow again: its line is written again, its plan is not.
        _ = try await auth.read { db in try await db.raw(SQLQueryString(slow)).all() }
        _ = try await sut.system.runScheduledWork()
        #expect(log.records.filter { $0.message == "slow statement plan" && $0.metadata["statement"] == plans[0].metadata["statement"] }.count == 1)
    }


    @Test("with FINFLOW_PERFORMANCE_TARGETS, the performance service's samples keep the other processes' statement figures; one that does not answer is left out")
    func fleetSamples() async throws {
        PrometheusSetup.bootstrap()
        let fleet = try await TestSystem.make()
        try await fleet.testLive { client, base in
            let desk = try await TestSystem.make { settings in
                settings.services = ["performance"]
                settings.performanceTargets = [base, "http://127.0.0.1:1"]
            }
            let database = try #require(desk.system.databases["performance"])
            #expect(desk.system.databases["auth"] == nil)
            struct Sample: Decodable { let service: String; let value: Double }
            func samples() async throws -> [Sample] {
                try await database.read { db in
                    try await db.raw("SELECT service, value FROM performance_samples WHERE metric = 'statement-calls' ORDER BY taken_at_ms")
                        .all(decoding: Sample.self)
                }
            }
            _ = try await Fixtures.signUp(client, fleet, tag: "before")
            // The first reading of another process is its baseline: what it did before it was watched is no sample.
            _ = try await desk.system.runScheduledWork()
            let first = try await samples()
            #expect(first.allSatisfy { $0.service == "performance" }, "\(first)")
            _ = try await Fixtures.signUp(client, fleet, tag: "sampled")
            _ = try await desk.system.runScheduledWork()
            // The sign-up ran statements in auth and tenancy, which only the other process runs.
            let second = try await samples()
            for service in ["auth", "tenancy"] {
                #expect(second.contains { $0.service == service && $0.value > 0 }, "\(service): \(second)")
            }
        }
    }

    @Test("a process's /metrics gives each service's statement calls, time, rows and errors; values no counter holds are left out")
    func statementTotals() {
        let samples = PrometheusText.parse("""
            # TYPE finflow_db_statement_duration_seconds histogram
            finflow_db_statement_duration_seconds_bucket{service="auth",statement="a1",le="0.001"} 3
            finflow_db_statement_duration_seconds_count{service="auth",statement="a1"} 4
            finflow_db_statement_duration_seconds_sum{service="auth",statement="a1"} 0.5
            finflow_db_statement_duration_seconds_count{service="auth",statement="a2"} 6
            finflow_db_statement_duration_seconds_sum{service="auth",statement="a2"} 0.25
            finflow_db_statement_rows_total{service="auth",statement="a2"} 12
            finflow_db_statement_errors_total{service="accounting",statement="b1"} 2
            finflow_db_statement_duration_seconds_count{service="accounting",statement="b1"} NaN
            finflow_db_statement_duration_seconds_count{service="accounting",statement="b2"} -5
            finflow_db_statement_duration_seconds_count{service="accounting",statement="b3"} 1e300
            finflow_db_statement_duration_seconds_count{statement="unlabelled"} 9
            finflow_db_statement_duration_seconds_sum{service="accounting",statement="b4"} 8e15
            hb_requests{http_route="/x"} 7
            """ + (0..<1_100).map { "\nfinflow_db_statement_rows_total{service=\"big\",statement=\"c\($0)\"} 8.9e15" }.joined())
        let totals = FleetMetrics.statementTotals(samples)
        #expect(totals["auth"] == ServiceTotals(calls: 10, errors: 0, rows: 12, nanoseconds: 750_000_000))
        #expect(totals["accounting"] == ServiceTotals(calls: 0, errors: 2, rows: 0, nanoseconds: 0))
        // Sums that would overflow stop at the largest figure; a time beyond any counter's is left out.
        #expect(totals["big"]?.rows == Int.max)
        #expect(totals.count == 3)
    }

    @Test("a frame holds the routes, statements and consumers that moved between two readings; an unreachable target is named")
    func frame() async throws {
        PrometheusSetup.bootstrap()
        let sut = try await TestSystem.make()
        try await sut.testLive { client, base in
            let top = FleetTop(targets: [base, "http://127.0.0.1:1"], rows: 100)
            let before = await top.read()
            for _ in 0..<5 { _ = try await client.send(.get, "/v1/auth/me") }
            _ = try await Fixtures.signUp(client, sut, tag: "top")
            let after = await top.read()
            let frame = top.frame(from: before, to: after)
            #expect(frame.routes.contains { $0.name == "GET /v1/auth/me" && $0.perSecond > 0 }, "\(frame.routes)")
            #expect(frame.statements.contains { $0.name.hasPrefix("auth ") && $0.perSecond > 0 && $0.meanMillis >= 0 }, "\(frame.statements)")
            #expect(frame.consumers.contains { $0.name.hasPrefix("tenancy.") && $0.perSecond > 0 }, "\(frame.consumers)")
            #expect(frame.failures["http://127.0.0.1:1"] != nil)
            let text = FleetTop.render(frame)
            #expect(text.contains("Routes") && text.contains("GET /v1/auth/me") && text.contains("unreachable: http://127.0.0.1:1"))
        }
    }
}
