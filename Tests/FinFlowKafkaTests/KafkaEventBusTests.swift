#if Kafka
import CRdKafka
import FinFlowCore
@testable import FinFlowKafka
import Foundation
import Logging
import SQLKit
import Synchronization
import Testing

/// The Kafka event bus against librdkafka's in-process mock cluster: a real Kafka protocol peer (consumer groups,
/// offsets, idempotent producer) that needs no broker.
@Suite("Kafka event bus", .timeLimit(.minutes(3)))
struct KafkaEventBusTests {
    struct Ping: EventContract {
        static let eventType = "finflow.test.ping"
        static let schemaVersion = 1
        let n: Int
    }

    /// A mock cluster of one broker with `Ping`'s topic in three partitions.
    final class MockCluster: @unchecked Sendable {
        private let client: OpaquePointer
        private let cluster: OpaquePointer
        let brokers: String

        init(topics: [String]) throws {
            var message = [CChar](repeating: 0, count: 256)
            self.client = try #require(rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), &message, message.count))
            self.cluster = try #require(rd_kafka_mock_cluster_new(self.client, 1))
            for topic in topics { rd_kafka_mock_topic_create(self.cluster, topic, 3, 1) }
            self.brokers = String(validatingCString: rd_kafka_mock_cluster_bootstraps(self.cluster)) ?? ""
        }

        deinit {
            rd_kafka_mock_cluster_destroy(self.cluster)
            rd_kafka_destroy(self.client)
        }
    }

    static func event(_ n: Int, id: String = UUID().uuidString, tenant: String) throws -> PublishedEvent {
        let envelope = CloudEvent(
            id: id, source: "urn:finflow:service:test", type: Ping.eventType, time: Date(), subject: nil, tenantid: tenant,
            dataschema: "urn:test", data: Ping(n: n))
        return PublishedEvent(id: id, topic: Ping.topic, type: Ping.eventType, tenantId: tenant, json: try CloudEvent<Ping>.encoder.encode(envelope))
    }

    static func database() async throws -> any Database {
        let database = try await SQLiteDatabase.open(path: nil, logger: Logger(label: "test"))
        try await Migrator(database: database, track: "platform", migrations: PlatformMigrations.all, clock: SystemClock()).migrate()
        try await database.transaction { db in try await db.raw("CREATE TABLE applied (n INTEGER NOT NULL, event_id TEXT NOT NULL)").run() }
        return database
    }

    /// Stops a running bus, then closes the database; the cluster lives until the bus has left it.
    static func finish(_ running: Task<Void, any Error>, database: any Database, cluster: MockCluster) async throws {
        running.cancel()
        _ = await running.result
        try await database.shutdown()
        withExtendedLifetime(cluster) {}
    }

    struct Applied: Decodable { let n: Int; let event_id: String }

    static func applied(_ database: any Database) async throws -> [Applied] {
        try await database.read { db in try await db.raw("SELECT n, event_id FROM applied ORDER BY n").all(decoding: Applied.self) }
    }

    /// Waits until `condition` holds, up to `seconds`.
    static func eventually(_ seconds: Double = 60, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    func bus(_ cluster: MockCluster, database: any Database, failing: Set<Int> = [], calls: Deliveries? = nil) throws -> KafkaEventBus {
        var options = KafkaEventBus.Options(brokers: cluster.brokers, clientId: "test")
        options.deliveryAttempts = 3
        options.retryBackoffMillis = 10
        let bus = try KafkaEventBus(options: options, clock: SystemClock(), logger: Logger(label: "test"))
        bus.subscribe(.of(Ping.self, name: "ledger.ping", database: database) { event, db in
            // A failed attempt rolls its inbox record back, so each attempt comes here.
            calls?.count(event.data.n)
            if failing.contains(event.data.n) { throw AppError.invalid("ping \(event.data.n) is refused") }
            try await db.raw("INSERT INTO applied (n, event_id) VALUES (\(bind: event.data.n), \(bind: event.id))").run()
        })
        return bus
    }

    @Test("events published are applied once each, in order per tenant, also when published twice")
    func deliversOnce() async throws {
        let cluster = try MockCluster(topics: [Ping.topic, Ping.topic + ".dlq"])
        let database = try await Self.database()
        let bus = try self.bus(cluster, database: database)
        let running = Task { try await bus.run() }
        var events: [PublishedEvent] = []
        for n in 0..<60 { events.append(try Self.event(n, tenant: "tenant-\(n % 4)")) }
        for event in events { try await bus.publish(event) }
        // The outbox may publish an event again after a crash: the inbox keeps it from applying twice.
        for event in events.prefix(10) { try await bus.publish(event) }
        #expect(try await Self.eventually { try await Self.applied(database).count >= 60 })
        try await Task.sleep(for: .milliseconds(500))
        let applied = try await Self.applied(database)
        #expect(applied.map(\.n) == Array(0..<60))
        try await Self.finish(running, database: database, cluster: cluster)
    }

    @Test("an event that keeps failing goes to the dead-letter topic with its error, and the rest flow on")
    func deadLetters() async throws {
        let cluster = try MockCluster(topics: [Ping.topic, Ping.topic + ".dlq"])
        let database = try await Self.database()
        let calls = Deliveries()
        let bus = try self.bus(cluster, database: database, failing: [7], calls: calls)
        let running = Task { try await bus.run() }
        // One tenant, one partition: event 8 waits behind 7 until 7 is dead-lettered.
        for n in 0..<10 { try await bus.publish(try Self.event(n, tenant: "only")) }
        // Not JSON at all: dead-lettered at once.
        try await bus.producer.send(topic: Ping.topic, key: "only", value: Data("not an event".utf8))
        #expect(try await Self.eventually { try await Self.applied(database).count >= 9 })
        #expect(try await Self.applied(database).map(\.n) == [0, 1, 2, 3, 4, 5, 6, 8, 9])
        // deliveryAttempts times alone, after one try in its batch's transaction (rolled back) unless the malformed
        // message came in the same batch, which sends the whole batch one by one at once.
        #expect([3, 4].contains(calls.all[7]), "the failing event was not tried deliveryAttempts times alone: \(calls.all[7] ?? 0)")
        let dead = try KafkaConsumer(brokers: cluster.brokers, group: "dlq-reader", clientId: "test", topics: [Ping.topic + ".dlq"])
        var letters: [KafkaMessage] = []
        let deadline = Date().addingTimeInterval(30)
        while letters.count < 2, Date() < deadline {
            if let message = try? dead.poll(timeoutMillis: 200) { letters.append(message) }
        }
        dead.close()
        #expect(letters.count == 2)
        let refused = try #require(letters.first { $0.headers["ce_type"] == Ping.eventType })
        #expect(refused.headers["finflow-error"]?.contains("ping 7 is refused") == true)
        #expect(refused.headers["finflow-group"] == "finflow.ledger")
        #expect(try CloudEvent<Ping>.decoder.decode(CloudEvent<Ping>.self, from: refused.value).data.n == 7)
        #expect(letters.contains { String(decoding: $0.value, as: UTF8.self) == "not an event" && $0.headers["finflow-error"] != nil })
        try await Self.finish(running, database: database, cluster: cluster)
    }

    @Test("a consumer that stops resumes after the last event it applied: nothing lost, nothing applied twice")
    func resumesAfterCommit() async throws {
        let cluster = try MockCluster(topics: [Ping.topic, Ping.topic + ".dlq"])
        let database = try await Self.database()
        let calls = Deliveries()
        let first = try self.bus(cluster, database: database, calls: calls)
        let running = Task { try await first.run() }
        for n in 0..<20 { try await first.publish(try Self.event(n, tenant: "t\(n % 3)")) }
        #expect(try await Self.eventually { first.progress.withLock { $0["finflow.ledger"]?.committed ?? 0 } >= 20 })
        running.cancel()
        _ = await running.result
        // Published while no consumer runs; a new member of the same group picks up exactly these.
        let second = try self.bus(cluster, database: database, calls: calls)
        for n in 20..<30 { try await second.publish(try Self.event(n, tenant: "t\(n % 3)")) }
        let resumed = Task { try await second.run() }
        #expect(try await Self.eventually { try await Self.applied(database).count >= 30 })
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await Self.applied(database).map(\.n) == Array(0..<30))
        // Committed offsets: the new member was handed none of the first twenty again.
        #expect(second.progress.withLock { $0["finflow.ledger"]?.handled } == 10)
        #expect(calls.all == Dictionary(uniqueKeysWithValues: (0..<30).map { ($0, 1) }))
        try await Self.finish(resumed, database: database, cluster: cluster)
    }
}

/// How often each ping was delivered, across tasks.
final class Deliveries: Sendable {
    private let counts = Mutex<[Int: Int]>([:])
    func count(_ n: Int) { self.counts.withLock { $0[n, default: 0] += 1 } }
    var all: [Int: Int] { self.counts.withLock { $0 } }
}
#endif
