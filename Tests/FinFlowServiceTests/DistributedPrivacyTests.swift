#if Kafka
import AsyncHTTPClient
import FinFlowCore
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// A data subject access request across separate processes over Kafka and PostgreSQL: the transaction service is down
/// when the request is opened, the request shows it awaited while the other services answer, and it answers once it
/// is started again.
@Suite("distributed: a data subject request across processes, one of them down", .timeLimit(.minutes(5)))
struct DistributedPrivacyTests {
    @Test("compliance, transactions and the other five services apart: the killed service answers after its restart", .enabled(if: DistributedKafkaTests.available))
    func accessRequestAcrossProcesses() async throws {
        let env = DistributedKafkaTests.environment
        let databaseURL = try await TestSystem.freshPostgresDatabase(base: env["FINFLOW_TEST_POSTGRES_URL"]!)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("finflow-privacy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let kafkaPort = FreePort.next()
        let broker = Process()
        broker.executableURL = URL(fileURLWithPath: env["FINFLOW_TANSU"]!)
        broker.arguments = ["broker", "--listener-url", "tcp://127.0.0.1:\(kafkaPort)", "--advertised-listener-url",
                            "tcp://127.0.0.1:\(kafkaPort)", "--storage-engine", "memory://tansu/"]
        broker.standardOutput = FileHandle.nullDevice
        broker.standardError = FileHandle.nullDevice
        try broker.run()
        defer { kill(broker.processIdentifier, SIGKILL) }

        let library = env["FINFLOW_RDKAFKA_LIBRARY_PATH"]! + (env["LD_LIBRARY_PATH"].map { ":" + $0 } ?? "")
        let storage = ["FINFLOW_DATABASE_URL": databaseURL, "LD_LIBRARY_PATH": library, "FINFLOW_DATABASE_POOL_SIZE_MAX": "3"]
        let migrated = try await CommandLineTests.run(["migrate"], environment: storage)
        try #require(migrated.status == 0, "\(migrated.output)")
        let demo = try await CommandLineTests.run(["demo", "--data-directory", work.appendingPathComponent("demo").path], environment: storage)
        try #require(demo.status == 0, "\(demo.output)")
        let email = try #require(demo.output.firstMatch(of: /email (\S+)  password (\S+)/))
        let kafka = storage.merging(["FINFLOW_KAFKA_BROKERS": "127.0.0.1:\(kafkaPort)", "FINFLOW_LOG_FORMAT": "json"]) { $1 }

        func start(_ services: String, port: Int, environment: [String: String]) async throws -> ServerProcess {
            try #require(broker.isRunning, "the tansu broker exited before the services started")
            let server = try ServerProcess(
                arguments: ["serve", "--services", services, "--port", String(port), "--data-directory", work.appendingPathComponent(services).path],
                port: port, environment: environment, log: work.appendingPathComponent("\(services)-\(UUID().uuidString.prefix(4)).log"))
            try await server.ready()
            return server
        }
        let ports = (0..<3).map { _ in FreePort.next() }
        let others = try await start("auth,tenancy,accounting,payments,credit", port: ports[0], environment: kafka)
        let remote = kafka.merging(["FINFLOW_JWKS_URL": others.base + "/.well-known/jwks.json"]) { $1 }
        var transactions = try await start("transactions", port: ports[1], environment: remote)
        let compliance = try await start("compliance", port: ports[2], environment: remote)
        defer {
            for server in [others, transactions, compliance] { server.kill() }
        }
        let login = try await others.send(.POST, "/v1/auth/login", json: #"{"email":"\#(email.1)","password":"\#(email.2)"}"#)
        try #require(login.status == 200, "\(login.body)")
        let token = try #require((login.body["tokens"] as? [String: Any])?["accessToken"] as? String)
        let me = try await others.send(.GET, "/v1/auth/me", token: token)
        let userId = try #require(me.body["userId"] as? String, "\(me.body)")

        // The transaction service is down when the request is opened.
        transactions.kill()
        try await transactions.exited()
        let opened = try await compliance.send(
            .POST, "/v1/compliance/data-subject-requests", json: #"{"userId":"\#(userId)","email":"\#(email.1)","names":["City Power"]}"#, token: token)
        try #require(opened.status == 201, "\(opened.body)")
        let id = try #require(opened.body["id"] as? String)
        func services() async throws -> (status: String, waiting: [String]) {
            let request = try await compliance.send(.GET, "/v1/compliance/data-subject-requests/\(id)", token: token)
            let waiting = (request.body["services"] as? [[String: Any]] ?? []).filter { $0["status"] as? String != "answered" }.compactMap { $0["service"] as? String }
            return (request.body["status"] as? String ?? "", waiting)
        }
        #expect(try await DistributedKafkaTests.eventually(90) { try await services().waiting == ["transactions"] },
                "the six running services did not answer, or the stopped one did not show as awaited")
        #expect(try await services().status == "open")

        transactions = try await start("transactions", port: ports[1], environment: remote)
        #expect(try await DistributedKafkaTests.eventually(90) { try await services().status == "ready" }, "the restarted service did not answer")

        var request = HTTPClientRequest(url: compliance.base + "/v1/compliance/data-subject-requests/\(id)/archive")
        request.headers.add(name: "authorization", value: "Bearer \(token)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        #expect(response.status == .ok)
        let bytes = Array(buffer: try await response.body.collect(upTo: 64 << 20))
        let files = Dictionary(uniqueKeysWithValues: TarArchive.files(bytes).map { ($0.name, $0.data) })
        #expect(Set(files.keys) == Set(["manifest.json"] + DataSubjectRequestOpened.answeringServices.map { "\($0).json" }))
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(files["manifest.json"] ?? [])) as? [String: Any])
        for part in manifest["parts"] as? [[String: Any]] ?? [] {
            #expect(Digest.sha256Hex(files[part["file"] as? String ?? ""] ?? []) == part["sha256"] as? String, "\(part)")
        }
    }
}
#endif
