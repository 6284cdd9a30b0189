#if Kafka
import Foundation
import Testing

/// The stage of a distributed test: a fresh PostgreSQL database, migrated, with the demo owner in it, a tansu Kafka
/// broker, and a work directory; services are started on it as separate `finflow serve` processes.
final class DistributedCluster: Sendable {
    let databaseURL: String
    let work: URL
    let broker: ChildProcess
    /// The environment every process gets: the database (with a small pool: the suite's other tests share the server)
    /// and the librdkafka tansu understands.
    let storage: [String: String]
    /// `storage` with the broker, for the services.
    let kafka: [String: String]
    /// The demo owner's sign-in.
    let email: String
    let password: String

    /// Opens a stage; `close()` ends it.
    static func open(tag: String, poolSize: Int) async throws -> DistributedCluster {
        let env = DistributedKafkaTests.environment
        let databaseURL = try await TestSystem.freshPostgresDatabase(base: env["FINFLOW_TEST_POSTGRES_URL"]!)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("finflow-\(tag)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let kafkaPort = FreePort.next()
        let broker = try ChildProcess(env["FINFLOW_TANSU"]!, [
            "broker", "--listener-url", "tcp://127.0.0.1:\(kafkaPort)", "--advertised-listener-url", "tcp://127.0.0.1:\(kafkaPort)",
            "--storage-engine", "memory://tansu/",
        ])
        let library = env["FINFLOW_RDKAFKA_LIBRARY_PATH"]! + (env["LD_LIBRARY_PATH"].map { ":" + $0 } ?? "")
        let storage = ["FINFLOW_DATABASE_URL": databaseURL, "LD_LIBRARY_PATH": library, "FINFLOW_DATABASE_POOL_SIZE_MAX": String(poolSize)]
        do {
            let migrated = try await CommandLineTests.run(["migrate"], environment: storage)
            try #require(migrated.status == 0, "\(migrated.output)")
            // The demo owner, made by one in-process system before the services start apart.
            let demo = try await CommandLineTests.run(["demo", "--data-directory", work.appendingPathComponent("demo").path], environment: storage)
            try #require(demo.status == 0, "\(demo.output)")
            let sign = try #require(demo.output.firstMatch(of: /email (\S+)  password (\S+)/))
            let kafka = storage.merging(["FINFLOW_KAFKA_BROKERS": "127.0.0.1:\(kafkaPort)", "FINFLOW_LOG_FORMAT": "json"]) { $1 }
            return DistributedCluster(
                databaseURL: databaseURL, work: work, broker: broker, storage: storage, kafka: kafka, email: String(sign.1), password: String(sign.2))
        } catch {
            broker.send(SIGKILL)
            try? FileManager.default.removeItem(at: work)
            throw error
        }
    }

    private init(databaseURL: String, work: URL, broker: ChildProcess, storage: [String: String], kafka: [String: String], email: String, password: String) {
        self.databaseURL = databaseURL
        self.work = work
        self.broker = broker
        self.storage = storage
        self.kafka = kafka
        self.email = email
        self.password = password
    }

    /// Starts `finflow serve --services services` on `port` and waits until it answers.
    func start(_ services: String, port: Int, environment: [String: String]) async throws -> ServerProcess {
        try #require(!self.broker.hasExited, "the tansu broker exited before the services started")
        let server = try ServerProcess(
            arguments: ["serve", "--services", services, "--port", String(port), "--data-directory", self.work.appendingPathComponent(services).path],
            port: port, environment: environment, log: self.work.appendingPathComponent("\(services)-\(UUID().uuidString.prefix(4)).log"))
        try await server.ready()
        return server
    }

    /// Stops the broker and removes the work directory.
    func close() {
        self.broker.send(SIGKILL)
        try? FileManager.default.removeItem(at: self.work)
    }
}
#endif
