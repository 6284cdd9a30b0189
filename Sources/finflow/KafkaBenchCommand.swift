#if Kafka
import ArgumentParser
import FinFlowCore
import FinFlowKafka
import Foundation
import Logging
import SQLKit
import Synchronization

/// Measures the event backbone end to end: events committed to a producer's outbox (SQLite), relayed to Kafka by the
/// outbox relay, consumed by a consumer group and applied through the inbox of a second database. `Benchmarks/kafka-events.sh` runs it.
struct KafkaBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-bench", abstract: "Measure events from outbox commit to inbox apply through Kafka.", shouldDisplay: false)

    @Option(help: "Kafka brokers host:port,…") var brokers: String
    @Option(help: "Events to send.") var count = 20_000
    @Option(help: "Events per second; 0 sends as fast as the outbox takes them.") var rate = 0
    @Option(help: "Where the bench database goes (a temporary directory by default).") var directory: String?

    struct Ping: EventContract {
        static let eventType = "finflow.bench.ping"
        static let schemaVersion = 1
        let run: String
        let committedAtMillis: Int64
    }

    /// Commit-to-apply latencies, in milliseconds, as they come.
    final class Latencies: Sendable {
        private let values = Mutex<[Int64]>([])
        func record(_ value: Int64) { self.values.withLock { $0.append(value) } }
        var all: [Int64] { self.values.withLock { $0 } }
    }

    func run() async throws {
        guard (1...1_000_000).contains(self.count) else { throw ValidationError("--count must be 1–1000000") }
        guard (0...100_000).contains(self.rate) else { throw ValidationError("--rate must be 0–100000") }
        let settings = try loadSettings(["kafkaBrokers": self.brokers])
        JSONLogHandler.bootstrap(format: "text", level: "error")
        let logger = Logger(label: "finflow.bench")
        let directory = self.directory ?? NSTemporaryDirectory() + "finflow-kafka-bench-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // The producing and the consuming service each have their database, as they would deployed.
        let database = try await SQLiteDatabase.open(path: directory + "/producer.sqlite", logger: logger)
        let consumerDatabase = try await SQLiteDatabase.open(path: directory + "/consumer.sqlite", logger: logger)
        let clock = SystemClock()
        for each in [database, consumerDatabase] {
            try await Migrator(database: each, track: "platform", migrations: PlatformMigrations.all, clock: clock).migrate()
        }

        let run = UUID().uuidString.lowercased()
        let bus = try KafkaEventBus(options: .init(brokers: settings.kafkaBrokers!, clientId: "finflow-bench"), clock: clock, logger: logger)
        let latencies = Latencies()
        bus.subscribe(.of(Ping.self, name: "bench-\(run.prefix(8)).ping", database: consumerDatabase) { event, _ in
            guard event.data.run == run else { return }
            latencies.record(clock.nowMillis() - event.data.committedAtMillis)
        })
        let wakeup = OutboxWakeup()
        let relay = OutboxRelay(database: database, bus: bus, clock: clock, logger: logger, wakeup: wakeup)
        let outbox = Outbox(serviceName: "bench", ids: IdentifierGenerator(clock: clock), clock: clock, wakeup: wakeup)
        let count = self.count, rate = self.rate
        let tenants = (0..<16).map { _ in UUID().uuidString.lowercased() }

        let (started, committedBy, appliedBy) = try await withThrowingTaskGroup(of: Int64?.self) { group in
            group.addTask { try await bus.run(); return nil }
            group.addTask { try await relay.run(); return nil }
            // Warm-up: measuring starts once the consumer has joined its group and applied a first event.
            _ = try await database.transaction { db in
                try await outbox.enqueue(Ping(run: "warm-up", committedAtMillis: clock.nowMillis()), subject: nil, tenantId: tenants[0], on: db)
            }
            while bus.consumed == 0 { try await Task.sleep(for: .milliseconds(20)) }
            let started = clock.nowMillis()
            group.addTask {
                // Events go out in transactions of whatever is due: at a rate, as the clock allows; flat out, 500 at a time.
                var sent = 0
                while sent < count {
                    let due = rate == 0 ? min(count, sent + 500) : min(count, Int((clock.nowMillis() - started) * Int64(rate) / 1000) + 1)
                    if due <= sent {
                        try await Task.sleep(for: .milliseconds(1))
                        continue
                    }
                    let range = sent..<due
                    try await database.transaction { db in
                        for index in range {
                            try await outbox.enqueue(
                                Ping(run: run, committedAtMillis: clock.nowMillis()), subject: nil, tenantId: tenants[index % tenants.count], on: db)
                        }
                    }
                    sent = due
                }
                return clock.nowMillis()
            }
            var committedBy: Int64 = 0
            for try await finished in group {
                if let finished {
                    committedBy = finished
                    break
                }
            }
            let deadline = clock.nowMillis() + 300_000
            while latencies.all.count < count, clock.nowMillis() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            let appliedBy = clock.nowMillis()
            group.cancelAll()
            return (started, committedBy, appliedBy)
        }
        let sorted = latencies.all.sorted()
        guard sorted.count == count else {
            throw ValidationError("only \(sorted.count) of \(count) events were applied within five minutes")
        }
        func percentile(_ p: Double) -> Int64 { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        struct Last: Decodable { let last: Int64? }
        let relayedBy = try await database.read { db in
            try await db.raw("SELECT MAX(published_at_ms) AS last FROM outbox").first(decoding: Last.self)?.last
        } ?? appliedBy
        let seconds = Double(appliedBy - started) / 1000
        func since(_ instant: Int64) -> String { String(format: "%.2f", Double(instant - started) / 1000) }
        print("""
            \(count) events, \(rate == 0 ? "flat out" : "at \(rate)/s"): committed in \(since(committedBy)) s, \
            published to Kafka by \(since(relayedBy)) s, all applied after \(String(format: "%.2f", seconds)) s = \(Int(Double(count) / seconds)) events/s; \
            commit to applied p50 \(percentile(0.5)) ms, p99 \(percentile(0.99)) ms, max \(sorted.last!) ms
            """)
        try await database.shutdown()
        try await consumerDatabase.shutdown()
        if self.directory == nil { try? FileManager.default.removeItem(atPath: directory) }
    }
}
#endif
