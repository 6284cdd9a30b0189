import FinFlowCore
import FinFlowServer
import Foundation
import Logging
import Testing

@Suite("the finflow command line")
struct CommandLineTests {
    /// The `finflow` binary built beside the test bundle.
    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("finflow")
    }

    /// Runs the binary to its end, with `environment` over the test's own minus its `FINFLOW_*` variables.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        try await ChildProcess.run(
            self.binary.path, arguments,
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FINFLOW_") }.merging(environment) { $1 })
    }

    @Test("a bad setting stops the start with a message naming it", arguments: [
        (["serve", "--port", "eighty"], [String: String](), "--port"),
        (["serve"], ["FINFLOW_BCRYPT_COST": "99"], "FINFLOW_BCRYPT_COST"),
        (["serve", "--services", "auth,ledgerz"], [String: String](), "ledgerz"),
        (["migrate", "--database-url", "mysql://nope"], [String: String](), "--database-url"),
    ])
    func badSettings(arguments: [String], environment: [String: String], named: String) async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary.path), "build the finflow executable first")
        let result = try await Self.run(arguments + ["--data-directory", NSTemporaryDirectory() + "ff-cli-" + UUID().uuidString], environment: environment)
        #expect(result.status != 0)
        #expect(result.output.contains(named), "\(result.output)")
    }

    @Test("a server process that exits at once fails the wait for it at once, and the failure carries its output")
    func exitingServer() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary.path), "build the finflow executable first")
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("finflow-exit-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let port = FreePort.next()
        let server = try ServerProcess(arguments: ["serve", "--port", String(port)], port: port,
                                       environment: ["FINFLOW_FAULT_INJECTION": "no-such-fault"], log: log)
        await withKnownIssue("the server refuses its setting and exits") {
            try await server.ready()
        }
        #expect(server.hasExited)
        let output = try String(contentsOf: log, encoding: .utf8)
        #expect(output.contains("FINFLOW_FAULT_INJECTION"), "\(output)")
    }

    @Test("audit verify reports intact chains, then names the first broken record", .enabled(if: !TestSystem.onPostgres))
    func auditVerify() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary.path), "build the finflow executable first")
        let sut = try await TestSystem.make()
        try #require(sut.system.settings.databaseURL == nil)
        try await sut.test { client in _ = try await Fixtures.signUp(client, sut) }
        let directory = sut.system.settings.dataDirectory
        let intact = try await Self.run(["audit", "verify", "--data-directory", directory])
        #expect(intact.status == 0, "\(intact.output)")
        #expect(intact.output.contains("auth: intact"))
        let database = try await SQLiteDatabase.open(path: sut.system.settings.sqlitePath(service: "auth"), logger: Logger(label: "test"))
        try await database.read { db in
            try await db.raw("DROP TRIGGER audit_log_no_update").run()
            try await db.raw("UPDATE audit_log SET outcome = 'failure' WHERE seq = 1").run()
        }
        try await database.shutdown()
        let broken = try await Self.run(["audit", "verify", "--data-directory", directory])
        #expect(broken.status == 1)
        #expect(broken.output.contains("auth: BROKEN at tenant"), "\(broken.output)")
    }

    @Test("compliance load-list adds a platform list version and screens every monitored subject against it; a bad file is named", .enabled(if: !TestSystem.onPostgres))
    func loadPlatformList() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary.path), "build the finflow executable first")
        let sut = try await TestSystem.make()
        try #require(sut.system.settings.databaseURL == nil)
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut, tag: "officer")
            let screened = try await client.send(
                .post, "/v1/compliance/screenings", json: #"{"subjectType":"customer","subjectRef":"c-9","names":["Ottilie Branvold"]}"#,
                token: user.accessToken)
            #expect(screened.body["status"] as? String == "clear")
        }
        let directory = sut.system.settings.dataDirectory
        let file = URL(fileURLWithPath: directory).appendingPathComponent("watch.csv")
        try "id,kind,name\nx-1,individual,Ottilie Branvold\n".write(to: file, atomically: true, encoding: .utf8)
        let loaded = try await Self.run(["compliance", "load-list", "--name", "platform-watch", "--format", "csv", "--file", file.path, "--data-directory", directory])
        #expect(loaded.status == 0, "\(loaded.output)")
        #expect(loaded.output.contains("platform-watch version 1 holds 1 entries; screened 1 monitored subjects against it, 1 matched"), "\(loaded.output)")
        try "id,kind,name\nx-1,company,Ottilie\n".write(to: file, atomically: true, encoding: .utf8)
        let refused = try await Self.run(["compliance", "load-list", "--name", "platform-watch", "--format", "csv", "--file", file.path, "--data-directory", directory])
        #expect(refused.status != 0 && refused.output.contains("line 2: kind must be individual or entity"), "\(refused.output)")
        struct Screened: Decodable { let origin: String; let status: String; let subject_ref: String? }
        let database = try await SQLiteDatabase.open(path: sut.system.settings.sqlitePath(service: "compliance"), logger: Logger(label: "test"))
        let rows = try await database.read { db in
            try await db.raw("SELECT origin, status, subject_ref FROM screenings ORDER BY id").all(decoding: Screened.self)
        }
        try await database.shutdown()
        #expect(rows.map(\.origin) == ["request", "rescreen"] && rows.map(\.status) == ["clear", "hit"] && rows.allSatisfy { $0.subject_ref == "c-9" })
    }

    @Test("on PostgreSQL, start refuses pending migrations unless told to migrate", .enabled(if: TestSystem.onPostgres))
    func pendingMigrations() async throws {
        let base = try #require(ProcessInfo.processInfo.environment["FINFLOW_TEST_POSTGRES_URL"])
        var settings = Settings()
        settings.databaseURL = try await TestSystem.freshPostgresDatabase(base: base)
        settings.bcryptCost = 4
        do {
            _ = try await FinFlowSystem.build(settings: settings, logger: Logger(label: "test"))
            Issue.record("started with pending migrations")
        } catch let error as AppError {
            #expect(error.code == "pending-migrations")
        }
        let migrated = try await Self.run(["migrate", "--database-url", try #require(settings.databaseURL)])
        #expect(migrated.status == 0, "\(migrated.output)")
        let system = try await FinFlowSystem.build(settings: settings, logger: Logger(label: "test"))
        try await system.shutdown()
    }
}
