import AsyncHTTPClient
import FinFlowCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SQLKit
import Testing

/// Auth, tenancy and accounting as three `finflow serve` processes on one PostgreSQL database, talking through the
/// tansu Kafka broker. Runs where the test command provides PostgreSQL, tansu and a librdkafka tansu understands
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

    @Test("tenants created in tenancy reach auth and accounting through Kafka, across a killed consumer and a stalled broker",
          .enabled(if: available))
    func tenantsThroughKafka() async throws {
        let env = Self.environment
        let databaseURL = try await TestSystem.freshPostgresDatabase(base: env["FINFLOW_TEST_POSTGRES_URL"]!)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("finflow-distributed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }

        let kafkaPort = Int.random(in: 46_000...49_000)
        let broker = Process()
        broker.executableURL = URL(fileURLWithPath: env["FINFLOW_TANSU"]!)
        broker.arguments = ["broker", "--listener-url", "tcp://127.0.0.1:\(kafkaPort)", "--advertised-listener-url",
                            "tcp://127.0.0.1:\(kafkaPort)", "--storage-engine", "memory://tansu/"]
        broker.standardOutput = FileHandle.nullDevice
        broker.standardError = FileHandle.nullDevice
        try broker.run()
        // SIGKILL: a child of the test process does not always stop on SIGTERM, and a broker left behind keeps running.
        defer { kill(broker.processIdentifier, SIGKILL) }

        let library = env["FINFLOW_RDKAFKA_LIBRARY_PATH"]! + (env["LD_LIBRARY_PATH"].map { ":" + $0 } ?? "")
        // Small pools: the suite's other tests share this PostgreSQL server.
        let storage = ["FINFLOW_DATABASE_URL": databaseURL, "LD_LIBRARY_PATH": library, "FINFLOW_DATABASE_POOL_SIZE_MAX": "4"]
        let migrated = try await CommandLineTests.run(["migrate"], environment: storage)
        try #require(migrated.status == 0, "\(migrated.output)")
        // The demo owner, made by one in-process system before the services start apart.
        let demo = try await CommandLineTests.run(["demo", "--data-directory", work.appendingPathComponent("demo").path], environment: storage)
        try #require(demo.status == 0, "\(demo.output)")
        let email = try #require(demo.output.firstMatch(of: /email (\S+)  password (\S+)/))
        let kafka = storage.merging(["FINFLOW_KAFKA_BROKERS": "127.0.0.1:\(kafkaPort)", "FINFLOW_LOG_FORMAT": "json"]) { $1 }

        func start(_ service: String, port: Int, environment: [String: String]) async throws -> ServerProcess {
            let server = try ServerProcess(
                arguments: ["serve", "--services", service, "--port", String(port), "--data-directory", work.appendingPathComponent(service).path],
                port: port, environment: environment, log: work.appendingPathComponent("\(service)-\(UUID().uuidString.prefix(4)).log"))
            try await server.ready()
            return server
        }
        let ports = (0..<3).map { _ in Int.random(in: 30_000...45_000) }
        let auth = try await start("auth", port: ports[0], environment: kafka)
        let remote = kafka.merging(["FINFLOW_JWKS_URL": auth.base + "/.well-known/jwks.json"]) { $1 }
        let tenancy = try await start("tenancy", port: ports[1], environment: remote)
        var accounting = try await start("accounting", port: ports[2], environment: remote)
        defer {
            for server in [auth, tenancy, accounting] { server.kill() }
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
        func ledgers() async throws -> Int {
            let ids = tenants
            return try await books.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM ledgers WHERE tenant_id IN (\(binds: ids))").first(decoding: Count.self)?.n ?? 0
            }
        }

        // Steady state.
        try await createTenant()
        try await createTenant()
        #expect(try await Self.eventually(60) { try await ledgers() == 2 }, "the ledgers of new tenants were not opened")

        // The consumer killed mid-stream, then started again: it resumes from its last commit.
        try await createTenant()
        accounting.kill()
        try await accounting.exited()
        try await createTenant()
        try await createTenant()
        accounting = try await start("accounting", port: ports[2], environment: remote)
        #expect(try await Self.eventually(90) { try await ledgers() == 5 }, "an event was lost while accounting was down")

        // The broker stalled: the producers' outbox holds the events, and delivers them when it answers again.
        kill(broker.processIdentifier, SIGSTOP)
        try await createTenant()
        try await createTenant()
        try await Task.sleep(for: .seconds(2))
        let held = try await outbox.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM outbox WHERE published_at_ms IS NULL").first(decoding: Count.self)?.n ?? 0
        }
        #expect(held >= 2, "the outbox let events go while the broker was stalled")
        #expect(try await ledgers() == 5)
        kill(broker.processIdentifier, SIGCONT)
        #expect(try await Self.eventually(90) { try await ledgers() == 7 }, "events held during the stall were not delivered")

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
        // And auth learnt of each membership: the owner signs in to the last tenant and reads its chart in accounting.
        let switched = try await auth.send(
            .POST, "/v1/auth/login", json: #"{"email":"\#(email.1)","password":"\#(email.2)","tenantId":"\#(tenants[6])"}"#)
        let tenantToken = try #require((switched.body["tokens"] as? [String: Any])?["accessToken"] as? String, "\(switched.body)")
        let chart = try await accounting.send(.GET, "/v1/accounting/accounts", token: tenantToken)
        #expect((chart.body["items"] as? [[String: Any]])?.count == charts.first?.n)
        try await books.shutdown()
        try await outbox.shutdown()
    }
}
