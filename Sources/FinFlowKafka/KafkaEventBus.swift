// Compiled only with the Kafka trait: the module is empty in a plain build, which needs no C library.
#if Kafka
import FinFlowCore
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The event bus over Kafka. Publishing sends the event's CloudEvents JSON to its topic, keyed by tenant so a tenant's
/// events stay in order, and returns once the broker acknowledged it (the outbox marks it published only then).
/// Consuming runs one consumer group per service (`finflow.<service>`, the part of each consumer's name before its
/// first dot), and one group of this process alone for consumers that keep no inbox (in-memory state every process
/// needs, such as revoked sessions), which reads its topics from their start: each event is applied through the consumers' inboxes, retried with backoff, sent to the dead-letter
/// topic `<topic>.dlq` with its error after `deliveryAttempts` failures, and only then is its offset committed.
public final class KafkaEventBus: EventBus, Service {
    /// How the bus connects and retries.
    public struct Options: Sendable {
        public var brokers: String
        public var clientId: String
        /// librdkafka properties added to every client (`security.protocol`, …).
        public var properties: [String: String] = [:]
        /// Attempts to apply an event before it is dead-lettered.
        public var deliveryAttempts = 5
        /// The first retry's pause; each later one doubles it, with up to half again of jitter.
        public var retryBackoffMillis = 100
        /// Partitions of the topics the bus creates (every consumed topic and its dead-letter topic).
        public var partitions: Int32 = 6
        /// Messages applied together, in one transaction per consumer, when that many have arrived.
        public var batchMax = 500

        public init(brokers: String, clientId: String) {
            self.brokers = brokers
            self.clientId = clientId
        }
    }

    let options: Options
    let producer: KafkaProducer
    private let consumers = Mutex<[EventConsumer]>([])
    /// Messages each consumer group has handled and committed since start (for monitoring and tests).
    let progress = Mutex<[String: (handled: Int, committed: Int)]>([:])
    /// Messages handled so far, over every group.
    public var consumed: Int { self.progress.withLock { $0.values.reduce(0) { $0 + $1.handled } } }
    private let clock: any FinFlowClock
    private let logger: Logger

    public init(options: Options, clock: any FinFlowClock, logger: Logger) throws {
        self.options = options
        self.producer = try KafkaProducer(brokers: options.brokers, clientId: options.clientId, properties: options.properties)
        self.clock = clock
        self.logger = logger
    }

    public func publish(_ event: PublishedEvent) async throws {
        try await self.publish([event])[0].get()
    }

    /// Sends the whole batch at once and waits for every acknowledgement, so a batch costs about one round trip to
    /// the broker. Within a partition (a tenant) librdkafka keeps the order, and the idempotent producer fails the
    /// messages behind one that failed rather than leave a gap, so what succeeded of a tenant is always its oldest.
    public func publish(_ events: [PublishedEvent]) async -> [Result<Void, any Error>] {
        let results = await self.producer.send(events.map { event in
            KafkaOutgoing(
                topic: event.topic, key: event.tenantId, value: event.json,
                headers: [("content-type", "application/cloudevents+json"), ("ce_id", event.id), ("ce_type", event.type)])
        })
        return results.map { result in
            result.mapError { error -> any Error in error.isAboutTheMessage ? error : EventBusUnavailable(error.message) }
        }
    }

    public func subscribe(_ consumer: EventConsumer) {
        self.consumers.withLock { $0.append(consumer) }
    }

    /// Creates the topics consumed here and their dead-letter topics, then consumes for every subscribed service
    /// until shutdown, and closes the producer.
    public func run() async throws {
        let topics = Set(self.consumers.withLock { $0 }.map(\.topic)).sorted()
        do {
            // On a thread of its own: the call blocks until the broker answers, and the shared blocking pool serves
            // SQLite's reads.
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                Thread.detachNewThread {
                    continuation.resume(with: Result {
                        try self.producer.createTopics(topics + topics.map { $0 + ".dlq" }, partitions: self.options.partitions, timeoutMillis: 5_000)
                    })
                }
            }
        } catch {
            // A broker that refuses the admin call may still create topics on first use; consumers wait for them.
            self.logger.warning("Kafka topics could not be created", metadata: ["error": "\(error)"])
        }
        let process = "finflow.process." + UUID().uuidString.lowercased()
        let groups = Dictionary(grouping: self.consumers.withLock { $0 }) { consumer in
            consumer.keepsInbox ? "finflow." + consumer.name.prefix { $0 != "." } : process
        }
        await withDiscardingTaskGroup { tasks in
            for (group, consumers) in groups {
                tasks.addTask { await cancelWhenGracefulShutdown { await self.consume(group: group, consumers: consumers) } }
            }
        }
        self.producer.close()
    }

    /// One group's loop: poll, apply, commit; until cancelled.
    func consume(group: String, consumers: [EventConsumer]) async {
        let topics = Array(Set(consumers.map(\.topic))).sorted()
        let blocking = NIOThreadPool(numberOfThreads: 1)
        blocking.start()
        var kafka: KafkaConsumer?
        while !Task.isCancelled {
            do {
                if kafka == nil {
                    kafka = try KafkaConsumer(
                        brokers: self.options.brokers, group: group, clientId: self.options.clientId, topics: topics,
                        properties: self.options.properties)
                }
                guard let consumer = kafka else { continue }
                let batchMax = self.options.batchMax
                let messages = try await blocking.runIfActive { try consumer.poll(max: batchMax, timeoutMillis: 200) }
                guard !messages.isEmpty else { continue }
                try await self.handle(messages, consumers: consumers, group: group)
                self.progress.withLock { $0[group, default: (0, 0)].handled += messages.count }
                try await blocking.runIfActive { try consumer.commit(messages) }
                self.progress.withLock { $0[group, default: (0, 0)].committed += messages.count }
            } catch {
                if Task.isCancelled { break }
                // A broker away or a commit refused: the message is read again, and the inboxes skip what was applied.
                self.logger.warning("Kafka consumption failed; retrying", metadata: ["group": "\(group)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
        // Leave the group even though this task is cancelled (the pool refuses work from a cancelled task): a member
        // that stays would hold its partitions from the group's next member until it timed out.
        await Task.detached {
            if let kafka { _ = try? await blocking.runIfActive { kafka.close() } }
            try? await blocking.shutdownGracefully()
        }.value
    }

    /// Applies `messages` (in the order they came) to the consumers of their topics: each consumer takes its share in
    /// one transaction. When a message is malformed or a consumer's share fails, every message goes through `handle`
    /// one by one instead (the inboxes skip what a consumer applied already).
    func handle(_ messages: [KafkaMessage], consumers: [EventConsumer], group: String) async throws {
        var events: [PublishedEvent] = []
        for message in messages {
            guard let event = try? Self.event(from: message) else { return try await self.handleEach(messages, consumers: consumers, group: group) }
            events.append(event)
        }
        do {
            for consumer in consumers {
                let share = events.filter { $0.topic == consumer.topic }
                if !share.isEmpty { try await consumer.deliver(share, clock: self.clock) }
            }
        } catch {
            try await self.handleEach(messages, consumers: consumers, group: group)
        }
    }

    private func handleEach(_ messages: [KafkaMessage], consumers: [EventConsumer], group: String) async throws {
        for message in messages {
            try await self.handle(message, consumers: consumers.filter { $0.topic == message.topic }, group: group)
        }
    }

    /// Applies `message` to `consumers`, retrying with backoff; dead-letters it when it is malformed or keeps failing.
    func handle(_ message: KafkaMessage, consumers: [EventConsumer], group: String) async throws {
        let event: PublishedEvent
        do {
            event = try Self.event(from: message)
        } catch {
            return try await self.deadLetter(message, group: group, error: error)
        }
        var attempt = 1
        while true {
            do {
                for consumer in consumers { try await consumer.deliver(event, clock: self.clock) }
                return
            } catch {
                guard attempt < self.options.deliveryAttempts, !Task.isCancelled else {
                    return try await self.deadLetter(message, group: group, error: error)
                }
                let pause = self.options.retryBackoffMillis << min(attempt - 1, 10)
                try await Task.sleep(for: .milliseconds(pause + Int.random(in: 0...max(1, pause / 2))))
                attempt += 1
            }
        }
    }

    /// Sends `message` as it came to `<topic>.dlq`, with why and where it failed in its headers.
    private func deadLetter(_ message: KafkaMessage, group: String, error: any Error) async throws {
        self.logger.error(
            "event dead-lettered",
            metadata: ["topic": "\(message.topic)", "partition": "\(message.partition)", "offset": "\(message.offset)",
                       "group": "\(group)", "error": "\(error)"])
        var headers = message.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        headers += [
            ("finflow-error", String(String(describing: error).prefix(1000))), ("finflow-group", group),
            ("finflow-origin", "\(message.topic)/\(message.partition)@\(message.offset)"),
        ]
        try await self.producer.send(topic: message.topic + ".dlq", key: message.key, value: message.value, headers: headers)
    }

    /// The event a message carries: a CloudEvents JSON document with an id and a type.
    static func event(from message: KafkaMessage) throws -> PublishedEvent {
        struct Envelope: Decodable {
            let id: String
            let type: String
            let tenantid: String?
        }
        let envelope: Envelope
        do {
            envelope = try JSONDecoder().decode(Envelope.self, from: message.value)
        } catch {
            throw KafkaError(message: "not a CloudEvents JSON document: \(error)")
        }
        guard !envelope.id.isEmpty, !envelope.type.isEmpty else { throw KafkaError(message: "the event has no id or type") }
        return PublishedEvent(id: envelope.id, topic: message.topic, type: envelope.type, tenantId: envelope.tenantid, json: message.value)
    }
}
#endif
