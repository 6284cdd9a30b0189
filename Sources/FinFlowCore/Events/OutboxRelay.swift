import Foundation
import Logging
import Metrics
import SQLKit
import ServiceLifecycle
import Tracing

/// Publishes a service's outbox to the bus, oldest first, marking each event once the bus has taken it: delivery is
/// at least once, and consumers' inboxes make it at most once in effect. An event that keeps failing is set aside
/// (dead-lettered) after `deadLetterAfterAttempts` so the rest flow on.
public final class OutboxRelay: Service {
    private struct Row: Decodable {
        let id: String
        let topic: String
        let tenant_id: String?
        let payload: String
        let attempts: Int
    }

    let database: any Database
    let bus: any EventBus
    let clock: any FinFlowClock
    let logger: Logger
    /// Events read per round.
    public let batchSize: Int
    /// Pause between rounds when the outbox is empty, in milliseconds.
    public let pollIntervalMillis: Int
    /// Failed attempts after which an event is dead-lettered.
    public let deadLetterAfterAttempts: Int
    /// Signalled by the service's outbox when it writes an event.
    let wakeup: OutboxWakeup?
    /// The shortest pause between rounds, in milliseconds: after a wake-up or a round that published, the relay looks
    /// again this soon, then at pauses that double up to `pollIntervalMillis` while it finds nothing.
    static let pauseMinMillis = 1
    /// How long a PostgreSQL replica holds its claim on a batch, in milliseconds.
    static let leaseMillis: Int64 = 30_000
    private let lock = AsyncLock()
    private let metrics: RuntimeMetrics.Outbox

    /// A relay from `database`'s outbox to `bus`; its figures are labelled with `serviceName` (by default the service
    /// whose statements the database records).
    public init(
        database: any Database, bus: any EventBus, clock: any FinFlowClock, logger: Logger, batchSize: Int = 500,
        pollIntervalMillis: Int = 100, deadLetterAfterAttempts: Int = 10, wakeup: OutboxWakeup? = nil, serviceName: String? = nil
    ) {
        self.metrics = RuntimeMetrics.Outbox(service: serviceName ?? database.statementBook?.service ?? "unnamed")
        self.wakeup = wakeup
        self.database = database
        self.bus = bus
        self.clock = clock
        self.logger = logger
        self.batchSize = batchSize
        self.pollIntervalMillis = pollIntervalMillis
        self.deadLetterAfterAttempts = deadLetterAfterAttempts
    }

    /// Publishes everything waiting now; returns how many events were published.
    @discardableResult
    public func drain() async throws -> Int {
        try await self.lock.withLock {
            var published = 0
            while true {
                let rows = try await self.claimBatch()
                if rows.isEmpty { return published }
                let (count, goOn) = try await self.publish(rows)
                published += count
                guard goOn else { return published }
            }
        }
    }

    /// Relays until the service group shuts down. Without a wake-up it polls every `pollIntervalMillis`; with one it
    /// looks as soon as an event is written, and polls more slowly the longer it finds nothing.
    public func run() async throws {
        var pauseMillis = Self.pauseMinMillis
        var going = true
        while going {
            var published = 0
            do {
                published = try await self.drain()
            } catch {
                self.logger.error("outbox relay round failed", metadata: ["error": "\(error)"])
            }
            guard let wakeup = self.wakeup else {
                going = await Periodic.wait(.milliseconds(self.pollIntervalMillis))
                continue
            }
            pauseMillis = published > 0 ? Self.pauseMinMillis : min(pauseMillis * 2, self.pollIntervalMillis)
            var woken = false
            going = await Periodic.wait(.milliseconds(pauseMillis), wakeup: wakeup, woken: &woken)
            if woken { pauseMillis = Self.pauseMinMillis }
        }
    }

    private func claimBatch() async throws -> [Row] {
        let now = self.clock.nowMillis()
        let limit = self.batchSize
        switch self.database.kind {
        case .sqlite:
            return try await self.database.read { db in
                try await db.raw("""
                    SELECT id, topic, tenant_id, payload, attempts FROM outbox
                    WHERE published_at_ms IS NULL AND dead_lettered_at_ms IS NULL
                    ORDER BY created_at_ms, id LIMIT \(bind: limit)
                    """).all(decoding: Row.self)
            }
        case .postgres:
            // Replicas claim disjoint batches; a claim lapses if its holder dies.
            let leaseUntil = now + Self.leaseMillis
            return try await self.database.transaction { db in
                try await db.raw("""
                    UPDATE outbox SET lease_until_ms = \(bind: leaseUntil) WHERE id IN (
                        SELECT id FROM outbox
                        WHERE published_at_ms IS NULL AND dead_lettered_at_ms IS NULL
                          AND (lease_until_ms IS NULL OR lease_until_ms < \(bind: now))
                        ORDER BY created_at_ms, id LIMIT \(bind: limit) FOR UPDATE SKIP LOCKED)
                    RETURNING id, topic, tenant_id, payload, attempts
                    """).all(decoding: Row.self).sorted { $0.id < $1.id }
            }
        }
    }

    /// Lets another replica (or this one's next round) claim the event at once.
    private func releaseLease(_ id: String) async throws {
        guard self.database.kind == .postgres else { return }
        try await self.database.write { db in try await db.raw("UPDATE outbox SET lease_until_ms = NULL WHERE id = \(bind: id)").run() }
    }

    /// Publishes a batch in order and marks what the bus took; returns how many it took, and whether the round goes on
    /// (every event taken, or a failing one set aside).
    private func publish(_ rows: [Row]) async throws -> (Int, Bool) {
        let events = rows.map { row in
            PublishedEvent(
                id: row.id, topic: row.topic, type: row.topic.split(separator: ".").dropLast().joined(separator: "."),
                tenantId: row.tenant_id, json: Data(row.payload.utf8))
        }
        let results = try await FinFlowTracing.traced(events, operation: "send", kind: .producer) { await self.bus.publish(events) }
        var published: [String] = []
        var goOn = true
        for (row, result) in zip(rows, results) {
            switch result {
            case .success: published.append(row.id)
            case .failure(let error as EventBusUnavailable):
                // Not the event's fault: it stays as it is, first in line, until the bus is back.
                self.logger.warning("event bus unavailable; the outbox holds its events", metadata: ["event_id": "\(row.id)", "error": "\(error)"])
                try await self.releaseLease(row.id)
                goOn = false
            case .failure(is EventNotAttempted):
                // Behind a failed one: the next round takes it again (at once when that one was set aside).
                try await self.releaseLease(row.id)
            case .failure(let error):
                if try await !self.recordFailure(row, error) { goOn = false }
            }
        }
        let now = self.clock.nowMillis()
        if !published.isEmpty {
            self.metrics.published.increment(by: Int64(published.count))
            for id in published {
                if let created = RuntimeMetrics.millis(ofVersion7: id), let lag = RuntimeMetrics.lagNanoseconds(from: created, to: now) {
                    self.metrics.lag.recordNanoseconds(lag)
                }
            }
        }
        for chunk in published.chunked(500) {
            try await self.database.write { db in
                try await db.raw("UPDATE outbox SET published_at_ms = \(bind: now) WHERE id IN (\(binds: Array(chunk)))").run()
            }
        }
        return (published.count, goOn)
    }

    /// Counts a failed attempt of `row`; sets it aside (dead-letters it) at the limit. True when it was set aside.
    private func recordFailure(_ row: Row, _ error: any Error) async throws -> Bool {
        let attempts = row.attempts + 1
        let message = String(String(describing: error).prefix(1000))
        let deadLetter = attempts >= self.deadLetterAfterAttempts
        let now = self.clock.nowMillis()
        try await self.database.write { db in
            try await db.raw("""
                UPDATE outbox SET attempts = \(bind: attempts), last_error = \(bind: message),
                    dead_lettered_at_ms = \(bind: deadLetter ? now : nil), lease_until_ms = NULL
                WHERE id = \(bind: row.id)
                """).run()
        }
        if deadLetter { self.metrics.deadLetters.increment() }
        self.logger.error(
            deadLetter ? "event dead-lettered" : "event delivery failed; will retry",
            metadata: ["event_id": "\(row.id)", "topic": "\(row.topic)", "attempts": "\(attempts)", "error": "\(message)"])
        return deadLetter
    }
}
