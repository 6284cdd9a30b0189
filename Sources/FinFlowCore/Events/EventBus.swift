import Dispatch
import Logging
import Metrics
import SQLKit
import Synchronization
import Tracing

/// Carries published events to consumers. In-process when embedded; Kafka when distributed.
public protocol EventBus: Sendable {
    /// Hands `event` to every consumer of its topic; returns once they have all applied it (in-process) or the
    /// broker has acknowledged it (Kafka). Throws when delivery must be retried.
    func publish(_ event: PublishedEvent) async throws

    /// Publishes `events` in order: a result per event. A consumer never sees an event of a tenant before an earlier
    /// one of that tenant.
    func publish(_ events: [PublishedEvent]) async -> [Result<Void, any Error>]

    /// Registers a consumer.
    func subscribe(_ consumer: EventConsumer)
}

extension EventBus {
    /// One at a time; after a failure the rest are not attempted (`EventNotAttempted`), so order holds.
    public func publish(_ events: [PublishedEvent]) async -> [Result<Void, any Error>] {
        var results: [Result<Void, any Error>] = []
        for event in events {
            guard results.allSatisfy({ if case .success = $0 { true } else { false } }) else {
                results.append(.failure(EventNotAttempted()))
                continue
            }
            do {
                try await self.publish(event)
                results.append(.success(()))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }
}

/// An event of a batch left unpublished because an earlier one failed.
public struct EventNotAttempted: Error {
    public init() {}
}

/// Thrown by a bus that could not reach its transport (a broker down or too slow to answer): the event is not at
/// fault, so the outbox keeps it without counting a failed attempt, and the relay tries again on its next round.
public struct EventBusUnavailable: Error, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "event bus unavailable: \(self.reason)" }
}

/// A handler of one topic for one service. Delivery goes through the consumer's inbox: an event id already
/// recorded is skipped, so a redelivered event has no second effect.
public struct EventConsumer: Sendable {
    /// Unique name of this consumer (`tenancy.user-registered`), the inbox key.
    public let name: String
    /// The topic consumed.
    public let topic: String
    /// Where the inbox lives; nil for consumers whose effect is idempotent by itself (in-memory caches).
    let database: (any Database)?
    let apply: @Sendable (PublishedEvent, (any SQLDatabase)?) async throws -> Void
    /// Applies the new events of a delivery together (in their order), where the consumer can do better than one at a
    /// time: one statement for many rows.
    let applyAll: (@Sendable ([PublishedEvent], any SQLDatabase) async throws -> Void)?
    /// Runs once a delivery's transaction has committed, with the events it applied (never for one rolled back): where
    /// the effect must leave the process only once it is durable (a push to connected clients).
    let committed: (@Sendable ([PublishedEvent]) async -> Void)?
    let metrics: RuntimeMetrics.Consumer

    /// A consumer applying events of `topic` inside a transaction of `database` (nil: no database, no inbox).
    public init(
        name: String, topic: String, database: (any Database)?,
        apply: @escaping @Sendable (PublishedEvent, (any SQLDatabase)?) async throws -> Void
    ) {
        self.name = name
        self.topic = topic
        self.database = database
        self.apply = apply
        self.applyAll = nil
        self.committed = nil
        self.metrics = RuntimeMetrics.Consumer(consumer: name, topic: topic)
    }

    /// A consumer applying each delivery's new events of `topic` together, inside a transaction of `database`.
    public init(
        name: String, topic: String, database: any Database,
        applyAll: @escaping @Sendable ([PublishedEvent], any SQLDatabase) async throws -> Void,
        committed: (@Sendable ([PublishedEvent]) async -> Void)? = nil
    ) {
        self.name = name
        self.topic = topic
        self.database = database
        self.apply = { event, db in
            guard let db else { preconditionFailure("a database consumer was called without its transaction") }
            try await applyAll([event], db)
        }
        self.applyAll = applyAll
        self.committed = committed
        self.metrics = RuntimeMetrics.Consumer(consumer: name, topic: topic)
    }

    /// A consumer of a typed contract.
    public static func of<Contract: EventContract>(
        _ contract: Contract.Type, name: String, database: any Database,
        apply: @escaping @Sendable (CloudEvent<Contract>, any SQLDatabase) async throws -> Void
    ) -> EventConsumer {
        EventConsumer(name: name, topic: Contract.topic, database: database) { event, db in
            guard let db else { preconditionFailure("a database consumer was called without its transaction") }
            try await apply(try event.decode(Contract.self), db)
        }
    }

    /// A consumer of a typed contract that applies each delivery's new events together, in order.
    public static func batchOf<Contract: EventContract>(
        _ contract: Contract.Type, name: String, database: any Database,
        apply: @escaping @Sendable ([CloudEvent<Contract>], any SQLDatabase) async throws -> Void
    ) -> EventConsumer {
        EventConsumer(name: name, topic: Contract.topic, database: database, applyAll: { events, db in
            try await apply(try events.map { try $0.decode(Contract.self) }, db)
        })
    }

    /// A consumer of a typed contract that keeps no database state (an in-memory cache); its effect must be
    /// idempotent by itself, as it has no inbox.
    public static func inMemory<Contract: EventContract>(
        _ contract: Contract.Type, name: String, apply: @escaping @Sendable (CloudEvent<Contract>) async throws -> Void
    ) -> EventConsumer {
        EventConsumer(name: name, topic: Contract.topic, database: nil) { event, _ in
            try await apply(try event.decode(Contract.self))
        }
    }

    /// Whether deliveries go through an inbox in the service's database; a consumer without one keeps state in
    /// its process only, so every process must see every event of its topic.
    public var keepsInbox: Bool { self.database != nil }

    /// Applies each new event of `events` once, in order, all in one transaction: a batch costs one commit. Throws
    /// (and applies none) when any fails; the caller then delivers them one by one. Returns how many were new.
    @discardableResult
    public func deliver(_ events: [PublishedEvent], clock: any FinFlowClock) async throws -> Int {
        try await FinFlowTracing.traced(events, operation: "process", kind: .consumer, consumer: self.name) {
            try await self.deliverCounted(events, clock: clock)
        }
    }

    private func deliverCounted(_ events: [PublishedEvent], clock: any FinFlowClock) async throws -> Int {
        let started = DispatchTime.now().uptimeNanoseconds
        let fresh: [PublishedEvent]
        do {
            fresh = try await self.deliverMeasured(events, clock: clock)
        } catch {
            self.metrics.failures.increment()
            throw error
        }
        self.measured(fresh, started: started, clock: clock)
        return fresh.count
    }

    private func deliverMeasured(_ events: [PublishedEvent], clock: any FinFlowClock) async throws -> [PublishedEvent] {
        guard let database = self.database else {
            for event in events { try await self.apply(event, nil) }
            return events
        }
        let now = clock.nowMillis()
        let fresh = try await database.transaction { db in
            let fresh = try await self.admit(events, now: now, db: db)
            if let applyAll = self.applyAll {
                if !fresh.isEmpty { try await applyAll(fresh, db) }
            } else {
                for event in fresh { try await self.apply(event, db) }
            }
            return fresh
        }
        if let committed = self.committed, !fresh.isEmpty { await committed(fresh) }
        return fresh
    }

    /// Counts the events a delivery applied, its time, and each event's lag from its creation.
    private func measured(_ applied: [PublishedEvent], started: UInt64, clock: any FinFlowClock) {
        guard !applied.isEmpty else { return }
        self.metrics.duration.recordNanoseconds(RuntimeMetrics.since(started))
        self.metrics.applied.increment(by: Int64(applied.count))
        let now = clock.nowMillis()
        for event in applied {
            if let created = RuntimeMetrics.millis(ofVersion7: event.id), let lag = RuntimeMetrics.lagNanoseconds(from: created, to: now) {
                self.metrics.lag.recordNanoseconds(lag)
            }
        }
    }

    /// The most events one inbox statement records (three parameters each, well inside SQLite's bound).
    static let admitChunk = 500

    /// Records the ids of `events` in the inbox, a statement per chunk, and answers the events not applied before, in
    /// order (an id given twice counts once).
    func admit(_ events: [PublishedEvent], now: Int64, db: any SQLDatabase) async throws -> [PublishedEvent] {
        var recorded = Set<String>()
        for chunk in events.chunked(Self.admitChunk) {
            var query = SQLQueryString("INSERT INTO inbox (consumer, event_id, processed_at_ms) VALUES ")
            for (index, event) in chunk.enumerated() {
                query.appendInterpolation(unsafeRaw: index == 0 ? "(" : ", (")
                query.appendInterpolation(bind: self.name)
                query.appendInterpolation(unsafeRaw: ", ")
                query.appendInterpolation(bind: event.id)
                query.appendInterpolation(unsafeRaw: ", ")
                query.appendInterpolation(bind: now)
                query.appendInterpolation(unsafeRaw: ")")
            }
            query.appendInterpolation(unsafeRaw: " ON CONFLICT DO NOTHING RETURNING event_id")
            for row in try await db.raw(query).all() { recorded.insert(try row.decode(column: "event_id", as: String.self)) }
        }
        return events.filter { recorded.remove($0.id) != nil }
    }

    /// Applies `event` once: records its id in the inbox and applies it in the same transaction.
    /// Returns false when the event had been applied before.
    @discardableResult
    public func deliver(_ event: PublishedEvent, clock: any FinFlowClock) async throws -> Bool {
        try await FinFlowTracing.traced([event], operation: "process", kind: .consumer, consumer: self.name) {
            try await self.deliverCounted(event, clock: clock)
        }
    }

    private func deliverCounted(_ event: PublishedEvent, clock: any FinFlowClock) async throws -> Bool {
        let started = DispatchTime.now().uptimeNanoseconds
        do {
            let applied = try await self.deliverMeasured(event, clock: clock)
            if applied { self.measured([event], started: started, clock: clock) }
            return applied
        } catch {
            self.metrics.failures.increment()
            throw error
        }
    }

    private func deliverMeasured(_ event: PublishedEvent, clock: any FinFlowClock) async throws -> Bool {
        let now = clock.nowMillis()
        guard let database = self.database else {
            try await self.apply(event, nil)
            return true
        }
        let applied = try await database.transaction { db in
            let inserted = try await db.raw("""
                INSERT INTO inbox (consumer, event_id, processed_at_ms) VALUES (\(bind: self.name), \(bind: event.id), \(bind: now))
                ON CONFLICT DO NOTHING RETURNING event_id
                """).first()
            guard inserted != nil else { return false }
            try await self.apply(event, db)
            return true
        }
        if applied, let committed = self.committed { await committed([event]) }
        return applied
    }
}

/// The event bus of one process: publishing calls each consumer of the topic in turn.
public final class InProcessEventBus: EventBus {
    private let consumers = Mutex<[String: [EventConsumer]]>([:])
    private let clock: any FinFlowClock

    /// A bus whose inboxes are stamped with `clock`.
    public init(clock: any FinFlowClock) {
        self.clock = clock
    }

    public func subscribe(_ consumer: EventConsumer) {
        self.consumers.withLock { $0[consumer.topic, default: []].append(consumer) }
    }

    public func publish(_ event: PublishedEvent) async throws {
        let targets = self.consumers.withLock { $0[event.topic] ?? [] }
        for consumer in targets {
            try await consumer.deliver(event, clock: self.clock)
        }
    }

    /// Publishes `events` in order, a run of consecutive events of one topic at a time: each consumer of the topic
    /// applies the whole run in one transaction (one commit, not one per event). When a consumer refuses a run, the
    /// run goes again one event at a time (the inboxes skip what was applied), and the events after a failure are not
    /// attempted, so order holds.
    public func publish(_ events: [PublishedEvent]) async -> [Result<Void, any Error>] {
        var results: [Result<Void, any Error>] = []
        var start = 0
        while start < events.count {
            var end = start + 1
            while end < events.count, events[end].topic == events[start].topic { end += 1 }
            let run = Array(events[start..<end])
            let targets = self.consumers.withLock { $0[run[0].topic] ?? [] }
            var applied = true
            for consumer in targets {
                do { try await consumer.deliver(run, clock: self.clock) } catch {
                    applied = false
                    break
                }
            }
            if applied {
                results += run.map { _ in .success(()) }
            } else {
                var failed = false
                for event in run {
                    guard !failed else {
                        results.append(.failure(EventNotAttempted()))
                        continue
                    }
                    do {
                        try await self.publish(event)
                        results.append(.success(()))
                    } catch {
                        results.append(.failure(error))
                        failed = true
                    }
                }
                if failed {
                    results += events[end...].map { _ in .failure(EventNotAttempted()) }
                    return results
                }
            }
            start = end
        }
        return results
    }
}

