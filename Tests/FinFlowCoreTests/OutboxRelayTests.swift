@testable import FinFlowCore
import Foundation
import Logging
import Synchronization
import Testing

@Suite("outbox relay wake-up and the in-process bus")
struct OutboxRelayTests {
    @Test("a wait ends at a signal given before it, and at its timeout without one")
    func waitSemantics() async {
        let wakeup = OutboxWakeup()
        wakeup.signal()
        wakeup.signal()
        #expect(await wakeup.wait(timeout: .seconds(600)) == true)
        #expect(await wakeup.wait(timeout: .milliseconds(20)) == false, "two signals before a wait wake it once")
        let waiting = Task { await wakeup.wait(timeout: .seconds(600)) }
        try? await Task.sleep(for: .milliseconds(50))
        wakeup.signal()
        #expect(await waiting.value == true)
    }

    @Test("a relay woken by its outbox publishes every event without waiting for its poll")
    func relayWakesOnWrite() async throws {
        let database = try await CoreTests.database()
        let clock = SystemClock()
        let bus = InProcessEventBus(clock: clock)
        let seen = Mutex<[Int]>([])
        bus.subscribe(.inMemory(CoreTests.Ping.self, name: "test.ping") { event in seen.withLock { $0.append(event.data.n) } })
        let wakeup = OutboxWakeup()
        let outbox = Outbox(serviceName: "test", ids: IdentifierGenerator(clock: clock), clock: clock, wakeup: wakeup)
        // A poll so slow that only the wake-up can deliver within the test.
        let relay = OutboxRelay(database: database, bus: bus, clock: clock, logger: Logger(label: "test"), pollIntervalMillis: 3_600_000, wakeup: wakeup)
        let running = Task { try await relay.run() }
        for n in 1...20 {
            try await database.transaction { db in _ = try await outbox.enqueue(CoreTests.Ping(n: n), subject: nil, tenantId: "t", on: db) }
            if n % 5 == 0 { try await Task.sleep(for: .milliseconds(30)) }
        }
        let deadline = Date().addingTimeInterval(60)
        while seen.withLock({ $0.count }) < 20, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(seen.withLock { $0 } == Array(1...20))
        running.cancel()
        _ = try? await running.value
        try await database.shutdown()
    }

    struct Pong: EventContract {
        static let eventType = "finflow.test.pong"
        static let schemaVersion = 1
        let n: Int
    }

    static func event<Contract: EventContract>(_ payload: Contract) throws -> PublishedEvent {
        let id = UUID().uuidString.lowercased()
        let envelope = CloudEvent(
            id: id, source: "urn:finflow:service:test", type: Contract.eventType, time: Date(), subject: nil, tenantid: "t",
            dataschema: "urn:finflow:schema:\(Contract.eventType):1", data: payload)
        return PublishedEvent(id: id, topic: Contract.topic, type: Contract.eventType, tenantId: "t", json: try CloudEvent<Contract>.encoder.encode(envelope))
    }

    @Test("a batch goes to consumers in runs of one topic, in order; a failure stops it there and a later batch resumes once")
    func batches() async throws {
        let database = try await CoreTests.database()
        try await database.read { db in try await db.raw("CREATE TABLE seen (seq INTEGER, topic TEXT, n INTEGER)").run() }
        let clock = SystemClock()
        let bus = InProcessEventBus(clock: clock)
        let refuse = Mutex<Int?>(3)
        // The order of application, kept in a column of its own (SQLite's rowid has no PostgreSQL twin).
        let sequence = Mutex(0)
        let next: @Sendable () -> Int = { sequence.withLock { $0 += 1; return $0 } }
        bus.subscribe(.of(CoreTests.Ping.self, name: "test.ping", database: database) { event, db in
            if refuse.withLock({ $0 }) == event.data.n { throw AppError.invalid("refused \(event.data.n)") }
            try await db.raw("INSERT INTO seen (seq, topic, n) VALUES (\(bind: next()), 'ping', \(bind: event.data.n))").run()
        })
        bus.subscribe(.of(Pong.self, name: "test.pong", database: database) { event, db in
            try await db.raw("INSERT INTO seen (seq, topic, n) VALUES (\(bind: next()), 'pong', \(bind: event.data.n))").run()
        })
        let events = [
            try Self.event(CoreTests.Ping(n: 1)), try Self.event(CoreTests.Ping(n: 2)), try Self.event(Pong(n: 1)),
            try Self.event(CoreTests.Ping(n: 3)), try Self.event(CoreTests.Ping(n: 4)), try Self.event(Pong(n: 2)),
        ]
        let first = await bus.publish(events)
        #expect(first.map { if case .success = $0 { "ok" } else if case .failure(is EventNotAttempted) = $0 { "later" } else { "failed" } }
                == ["ok", "ok", "ok", "failed", "later", "later"])
        refuse.withLock { $0 = nil }
        let second = await bus.publish(Array(events[3...]))
        #expect(second.allSatisfy { if case .success = $0 { true } else { false } })
        // Delivered again in full: the inbox applies nothing twice.
        _ = await bus.publish(events)
        struct Seen: Decodable, Equatable { let topic: String; let n: Int }
        let seen = try await database.read { db in try await db.raw("SELECT topic, n FROM seen ORDER BY seq").all(decoding: Seen.self) }
        #expect(seen == [.init(topic: "ping", n: 1), .init(topic: "ping", n: 2), .init(topic: "pong", n: 1), .init(topic: "ping", n: 3),
                         .init(topic: "ping", n: 4), .init(topic: "pong", n: 2)])
        try await database.shutdown()
    }
}
