#if Kafka
import AsyncHTTPClient
import FinFlowCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SQLKit
import Testing

/// Auth, tenancy, accounting and transactions as four `finflow serve` processes on one PostgreSQL database, talking
/// through the tansu Kafka broker. Runs where the test command provides PostgreSQL, tansu and a librdkafka tansu understands
/// (`scripts/test.sh` does, from `scripts/kafka-tools.sh`).
@Suite("distributed: separate processes over Kafka and PostgreSQL", .timeLimit(.minutes(5)))
struct DistributedKafkaTests {
    static let environment = ProcessInfo.processInfo.environment
    static var available: Bool {
        ["FINFLOW_TEST_POSTGRES_URL", "FINFLOW_TANSU", "FINFLOW_RDKAFKA_LIBRARY_PATH"].allSatisfy { !(environment[$0] ?? "").isEmpty }
    }

    /// Waits until `condition` holds, up to `seconds`.
    static func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return try await condition()
    }

    struct Count: Decodable { let n: Int }
    struct AccountsOf: Decodable { let tenant_id: String; let n: Int }

    @Test("tenants created in tenancy and transactions taken in over HTTP reach accounting through Kafka, across a killed consumer and a stalled broker",
          .enabled(if: available))
    func tenantsThroughKafka() async throws {
        let cluster = try await DistributedCluster.open(tag: "distributed", poolSize: 4)
        defer { cluster.close() }
        let (databaseURL, broker, kafka) = (cluster.databaseURL, cluster.broker, cluster.kafka)
        let email = (0, cluster.email, cluster.password)
        func start(_ service: String, port: Int, environment: [String: String]) async throws -> ServerProcess {
            try await cluster.start(service, port: port, environment: environment)
        }
        let ports = (0..<4).map { _ in FreePort.next() }
        let auth = try await start("auth", port: ports[0], environment: kafka)
        let remote = kafka.merging(["FINFLOW_JWKS_URL": auth.base + "/.well-known/jwks.json"]) { $1 }
        let tenancy = try await start("tenancy", port: ports[1], environment: remote)
        var accounting = try await start("accounting", port: ports[2], environment: remote)
        let transactions = try await start("transactions", port: ports[3], environment: remote)
        defer {
            for server in [auth, tenancy, accounting, transactions] { server.kill() }
        }

        let login = try await auth.send(.POST, "/v1/auth/login", json: #"{"email":"\#(email.1)","password":"\#(email.2)"}"#)
        try #require(login.status == 200, "\(login.body)")
        let token = try #require((login.body["tokens"] as? [String: Any])?["accessToken"] as? String)
        var tenants: [String] = []
        func createTenant() async throws {
            let created = try await tenancy.send(.POST, "/v1/tenants", json: #"{"name":"Kafka \#(tenants.count + 1)","baseCurrency":"EUR"}"#, token: token)
            try #require(created.status == 201, "\(created.body)")
            tenants.append(try #require(created.body["id"] as? String))
        }
        let books = try PostgresDatabase(url: databaseURL, schema: "accounting", poolSizeMax: 1, logger: Logger(label: "test.books"))
        let outbox = try PostgresDatabase(url: databaseURL, schema: "tenancy", poolSizeMax: 1, logger: Logger(label: "test.outbox"))
        let transactionOutbox = try PostgresDatabase(url: databaseURL, schema: "transactions", poolSizeMax: 1, logger: Logger(label: "test.transactions"))
        func ledgers() async throws -> Int {
            let ids = tenants
            return try await books.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM ledgers WHERE tenant_id IN (\(binds: ids))").first(decoding: Count.self)?.n ?? 0
            }
        }

        // Transactions of the demo tenant, taken in over HTTP by the transaction service, posted by accounting.
        let known = try await transactions.send(.GET, "/v1/transactions/accounts", token: token)
        let codes = Dictionary(uniqueKeysWithValues: ((known.body["items"] as? [[String: Any]]) ?? []).map { ($0["code"] as! String, $0["id"] as! String) })
        let (bank, utilities) = (try #require(codes["1020"], "\(known.body)"), try #require(codes["6200"]))
        let currency = try #require(((known.body["items"] as? [[String: Any]])?.first?["currency"]) as? String)
        let today = String(ISO8601DateFormatter().string(from: Date()).prefix(10))
        var transactionIds: [String] = []
        func createTransaction() async throws {
            let amount = 1_000 + transactionIds.count
            let created = try await transactions.send(.POST, "/v1/transactions", json: """
                {"kind":"expense","amount":\(amount),"currency":"\(currency)","valueDate":"\(today)","sourceAccountId":"\(bank)",
                 "destinationAccountId":"\(utilities)","counterparty":{"name":"Grid \(amount)"}}
                """, token: token)
            try #require(created.status == 201, "\(created.body)")
            transactionIds.append(try #require(created.body["id"] as? String))
        }
        func posted() async throws -> Int {
            var count = 0
            for id in transactionIds where (try await transactions.send(.GET, "/v1/transactions/\(id)", token: token)).body["status"] as? String == "posted" {
                count += 1
            }
            return count
        }
        func utilitiesBalance() async throws -> Int {
            let account = try await accounting.send(.GET, "/v1/accounting/accounts/\(utilities)", token: token)
            return ((account.body["balances"] as? [String: Any])?["balance"] as? Int) ?? -1
        }
        let utilitiesBefore = try await utilitiesBalance()
        func trialDebits() async throws -> Int {
            let trial = try await accounting.send(.GET, "/v1/accounting/statements/trial-balance", token: token)
            let currencies = (trial.body["currencies"] as? [[String: Any]]) ?? []
            return (currencies.first { $0["currency"] as? String == currency }?["totalDebits"] as? Int) ?? -1
        }
        let debitsBefore = try await trialDebits()

        // Steady state.
        try await createTenant()
        try await createTenant()
        try await createTransaction()
        #expect(try await Self.eventually(60) { try await ledgers() == 2 }, "the ledgers of new tenants were not opened")
        #expect(try await Self.eventually(60) { try await posted() == 1 }, "the transaction was not posted")
        #expect(try await utilitiesBalance() == utilitiesBefore + 1_000, "the posting does not show in the ledger's accounts")

        // The consumer killed mid-stream, then started again: it resumes from its last commit.
        try await createTenant()
        try await createTransaction()
        accounting.kill()
        try await accounting.exited()
        try await createTenant()
        try await createTenant()
        try await createTransaction()
        accounting = try await start("accounting", port: ports[2], environment: remote)
        #expect(try await Self.eventually(90) { try await ledgers() == 5 }, "an event was lost while accounting was down")
        #expect(try await Self.eventually(90) { try await posted() == 3 }, "a transaction was lost while accounting was down")

        // The broker stalled: the producers' outbox holds the events, and delivers them when it answers again.
        broker.send(SIGSTOP)
        try await createTenant()
        try await createTenant()
        try await createTransaction()
        try await Task.sleep(for: .seconds(2))
        let held = try await outbox.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM outbox WHERE published_at_ms IS NULL").first(decoding: Count.self)?.n ?? 0
        }
        #expect(held >= 2, "the outbox let events go while the broker was stalled")
        let heldTransactions = try await transactionOutbox.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM outbox WHERE published_at_ms IS NULL AND topic = 'finflow.transaction.created.v1'")
                .first(decoding: Count.self)?.n ?? 0
        }
        #expect(heldTransactions == 1, "the transaction outbox let its event go while the broker was stalled")
        #expect(try await ledgers() == 5)
        broker.send(SIGCONT)
        #expect(try await Self.eventually(90) { try await ledgers() == 7 }, "events held during the stall were not delivered")
        #expect(try await Self.eventually(90) { try await posted() == 4 }, "the transaction held during the stall was not posted")
        // Each transaction posted exactly once, and the ledger's accounts show them all.
        let postedIds = transactionIds
        let entryCount = try await books.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM journal_entries WHERE source = 'transaction' AND source_id IN (\(binds: postedIds))")
                .first(decoding: Count.self)?.n ?? 0
        }
        #expect(entryCount == 4, "a transaction was posted more than once")
        #expect(try await utilitiesBalance() == utilitiesBefore + 1_000 + 1_001 + 1_002 + 1_003)
        #expect(try await trialDebits() == debitsBefore + 1_000 + 1_001 + 1_002 + 1_003, "the trial balance does not show the transactions")

        // Applied once each: every new tenant has exactly the default chart, and nothing was set aside.
        let ids = tenants
        let charts = try await books.read { db in
            try await db.raw("SELECT tenant_id, COUNT(*) AS n FROM accounts WHERE tenant_id IN (\(binds: ids)) GROUP BY tenant_id")
                .all(decoding: AccountsOf.self)
        }
        #expect(charts.count == 7 && Set(charts.map(\.n)).count == 1, "a chart was made twice: \(charts)")
        let deadLetters = try await outbox.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM outbox WHERE dead_lettered_at_ms IS NOT NULL").first(decoding: Count.self)?.n ?? 0
        }
        #expect(deadLetters == 0)
        // And auth learns of each membership (through Kafka, on its own time): the owner signs in to the last tenant and
        // reads its chart in accounting.
        var switched: (status: Int, body: [String: Any]) = (0, [:])
        for _ in 0..<60 {
            switched = try await auth.send(
                .POST, "/v1/auth/login", json: #"{"email":"\#(email.1)","password":"\#(email.2)","tenantId":"\#(tenants[6])"}"#)
            if switched.body["code"] as? String != "not-a-member" { break }
            try await Task.sleep(for: .seconds(1))
        }
        let tenantToken = try #require((switched.body["tokens"] as? [String: Any])?["accessToken"] as? String, "\(switched.body)")
        let chart = try await accounting.send(.GET, "/v1/accounting/accounts", token: tenantToken)
        #expect((chart.body["items"] as? [[String: Any]])?.count == charts.first?.n)
        try await books.shutdown()
        try await outbox.shutdown()
        try await transactionOutbox.shutdown()
    }
}
#endif
