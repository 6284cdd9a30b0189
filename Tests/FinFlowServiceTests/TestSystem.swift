import FinFlowCore
import FinFlowServer
import Foundation
import Hummingbird
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// A whole FinFlow process for one test: every service, its own SQLite directory (or its own PostgreSQL
/// database when FINFLOW_TEST_POSTGRES_URL is set), a manual clock and cheap bcrypt.
struct TestSystem: Sendable {
    let system: FinFlowSystem
    let clock: ManualClock

    /// Whether this run has a PostgreSQL server (FINFLOW_TEST_POSTGRES_URL): tests of one engine are enabled by it, so
    /// the other engine's run shows them as skipped instead of passing with nothing checked.
    static var onPostgres: Bool { !(ProcessInfo.processInfo.environment["FINFLOW_TEST_POSTGRES_URL"] ?? "").isEmpty }

    static func make(logger: Logger? = nil, _ adjust: (inout Settings) -> Void = { _ in }) async throws -> TestSystem {
        var settings = Settings()
        settings.bcryptCost = 4
        // Tests reach no outside service: VAT numbers are checked against the VIES test server where a test starts one.
        settings.viesURL = nil
        // Many systems share the machine's two cores: a statement waits its turn far longer than in service, and each
        // would be logged as slow.
        settings.slowStatementMillis = 60_000
        // Two readers a service instead of four: sixteen systems of thirteen services at once held so many files open
        // that Foundation's Process, which reads /proc/self/fd when it starts a child (the command-line and server
        // tests), crashed the test process copying a directory entry past the end of its buffer.
        settings.sqliteReaders = 2
        settings.dataDirectory = NSTemporaryDirectory() + "finflow-test-" + UUID().uuidString
        if let base = ProcessInfo.processInfo.environment["FINFLOW_TEST_POSTGRES_URL"], !base.isEmpty {
            settings.databaseURL = try await freshPostgresDatabase(base: base, template: try await MigratedTemplate.shared.name(base: base))
            settings.migrateOnStart = true
            // The smallest pools (one writer, one reader a service): the suite runs many systems at once against one
            // server, and at 4 a service it reached PostgreSQL's connection limit, after which every test waited for a
            // connection until the run's deadline.
            settings.databasePoolSizeMax = 2
        }
        adjust(&settings)
        let clock = ManualClock(start: Date())
        let system = try await FinFlowSystem.build(settings: settings, clock: clock, logger: logger ?? Logger(label: "finflow.test"))
        return TestSystem(system: system, clock: clock)
    }

    /// Creates a database beside the one `base` names (empty, or a copy of `template`) and returns its URL.
    static func freshPostgresDatabase(base: String, template: String? = nil) async throws -> String {
        let name = "finflow_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let admin = try PostgresDatabase(url: base, schema: "public", poolSizeMax: 1, logger: Logger(label: "test.admin"))
        let copy = template.map { " TEMPLATE \($0) STRATEGY FILE_COPY" } ?? ""
        do {
            try await admin.read { db in try await db.raw("CREATE DATABASE \(unsafeRaw: String(name))\(unsafeRaw: copy)").run() }
        } catch {
            try? await admin.shutdown()
            throw error
        }
        try await admin.shutdown()
        return Self.url(base, database: String(name))
    }

    /// `base` naming database `name` instead.
    static func url(_ base: String, database name: String) -> String {
        var components = URLComponents(string: base)!
        components.path = "/" + name
        return components.string!
    }

    /// A database with every service's migrations applied, made once per test run: each system's database is copied
    /// from it, so a test on PostgreSQL starts from migrated schemas instead of running twelve services' migrations.
    /// The system still runs its migrations at start, finding none pending.
    actor MigratedTemplate {
        static let shared = MigratedTemplate()
        private var made: Task<String, any Error>?

        func name(base: String) async throws -> String {
            if let made { return try await made.value }
            let task = Task { try await Self.make(base: base) }
            self.made = task
            return try await task.value
        }

        private static func make(base: String) async throws -> String {
            let url = try await TestSystem.freshPostgresDatabase(base: base)
            let clock = ManualClock(start: Date())
            for descriptor in ServiceCatalog.all {
                let database = try PostgresDatabase(url: url, schema: descriptor.name, poolSizeMax: 2, logger: Logger(label: "test.template"))
                do { try await ServiceDatabases.migrate(descriptor, database: database, clock: clock) } catch {
                    try? await database.shutdown()
                    throw error
                }
                try await database.shutdown()
            }
            return String(url.split(separator: "/").last!)
        }
    }

    /// Runs `body` against the router, then closes the databases.
    func test(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = Application(router: self.system.router)
        do {
            try await app.test(.router, body)
        } catch {
            try? await self.system.shutdown()
            throw error
        }
        try await self.system.shutdown()
    }

    /// Runs `body` against the router served on 127.0.0.1 (for what needs a socket: streamed responses), with the
    /// server's base URL, then closes the databases.
    func testLive(_ body: @escaping @Sendable (any TestClientProtocol, String) async throws -> Void) async throws {
        let app = Application(
            router: self.system.router, server: self.system.server, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            services: self.system.servicesBackground)
        do {
            try await app.test(.live) { client in try await body(client, "http://127.0.0.1:\(try #require(client.port))") }
        } catch {
            try? await self.system.shutdown()
            throw error
        }
        try await self.system.shutdown()
    }

    func deliver() async throws { try await self.system.deliverEvents() }
}

/// JSON helpers for the test client.
extension TestClientProtocol {
    @discardableResult
    func send(
        _ method: HTTPRequest.Method, _ path: String, json: String? = nil, token: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> (status: Int, body: [String: Any], headers: HTTPFields) {
        var headers = extra
        if json != nil { headers[.contentType] = "application/json" }
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await self.execute(uri: path, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) }) { response in
            let data = Data(buffer: response.body)
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            return (Int(response.status.code), object, response.headers)
        }
    }
}

/// A registered, verified user with a tenant, signed in.
struct SignedIn: Sendable {
    let userId: String
    let email: String
    let password: String
    let accessToken: String
    let refreshToken: String
    let tenantId: String
}

enum Fixtures {
    static let password = "violet-Harbour-42-kite"

    static func email(_ tag: String) -> String { "\(tag)-\(UUID().uuidString.prefix(8).lowercased())@example.com" }

    /// Registers, verifies (reading the token from the outbox mail) and signs in.
    static func signUp(_ client: any TestClientProtocol, _ sut: TestSystem, tag: String = "user") async throws -> SignedIn {
        let email = Self.email(tag)
        let registered = try await client.send(
            .post, "/v1/auth/register",
            json: #"{"email":"\#(email)","password":"\#(password)","displayName":"\#(tag)"}"#)
        try #require(registered.status == 201, "register: \(registered.body)")
        let userId = try #require(registered.body["userId"] as? String)
        let token = try await Self.mailedToken(sut, to: email, purpose: "verify-email")
        try await sut.deliver()
        let verified = try await client.send(.post, "/v1/auth/verify-email", json: #"{"token":"\#(token)"}"#)
        try #require(verified.status == 204, "verify: \(verified.body)")
        let login = try await client.send(.post, "/v1/auth/login", json: #"{"email":"\#(email)","password":"\#(password)"}"#)
        try #require(login.status == 200, "login: \(login.body)")
        let tokens = try #require(login.body["tokens"] as? [String: Any])
        return SignedIn(
            userId: userId, email: email, password: password, accessToken: tokens["accessToken"] as! String,
            refreshToken: tokens["refreshToken"] as! String, tenantId: tokens["tenantId"] as! String)
    }

    /// The token in the newest mail of `purpose` to `email`, read from the auth outbox.
    static func mailedToken(_ sut: TestSystem, to email: String, purpose: String, service: String = "auth") async throws
        -> String
    {
        struct Row: Decodable { let to_address: String; let purpose: String; let body: String }
        let database = try #require(sut.system.databases[service])
        let rows = try await database.read { db in
            try await db.raw("SELECT to_address, purpose, body FROM mail_outbox ORDER BY created_at_ms, id").all(decoding: Row.self)
        }
        for row in rows.reversed() where row.to_address == email && row.purpose == purpose {
            let start = try #require(row.body.range(of: "token: ")?.upperBound, "the \(purpose) mail was sent already (its text is dropped)")
            return String(row.body[start...].prefix { !$0.isWhitespace })
        }
        Issue.record("no \(purpose) mail to \(email)")
        return ""
    }
}
