// Compiled only with the Kafka trait: the module is empty in a plain build, which needs no C library.
#if Kafka
import CRdKafka
import Foundation
import Synchronization

/// A Kafka producer with idempotence and `acks=all`: a message is reported sent once every in-sync replica has it,
/// and librdkafka's retries can neither duplicate nor reorder it. `send` returns when the broker acknowledged the
/// message, or throws. A thread of its own serves librdkafka's delivery reports.
public final class KafkaProducer: @unchecked Sendable {
    private let handle: OpaquePointer
    private let running = RunFlag()
    /// Set by `close`: no message is queued after it (the handle is destroyed then).
    private let closed = Mutex(false)
    private let poller: Thread

    /// A producer to `brokers` (`host:port,…`); `properties` add to or override the defaults.
    public init(brokers: String, clientId: String, properties: [String: String] = [:]) throws {
        let defaults = [
            "bootstrap.servers": brokers, "client.id": clientId, "enable.idempotence": "true", "acks": "all",
            "linger.ms": "2", "message.timeout.ms": "30000",
        ]
        let handle = try KafkaConfiguration.client(RD_KAFKA_PRODUCER, defaults.merging(properties) { $1 }) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf, deliveryReport)
        }
        self.handle = handle
        let client = ClientHandle(pointer: handle)
        self.poller = Thread { [running] in
            while running.isSet { rd_kafka_poll(client.pointer, 50) }
        }
        self.poller.name = "kafka-producer"
        self.poller.start()
    }

    /// Sends `value` to `topic`, partitioned by `key` (so one key's messages stay in order), with `headers`;
    /// returns once the broker has acknowledged it.
    public func send(topic: String, key: String?, value: Data, headers: [(String, String)] = []) async throws {
        try await self.send([KafkaOutgoing(topic: topic, key: key, value: value, headers: headers)])[0].get()
    }

    /// Queues `messages` in their order (librdkafka keeps that order within a partition, also across its retries)
    /// and waits for every acknowledgement: many messages then share the broker's round trips. One result per
    /// message, in order.
    public func send(_ messages: [KafkaOutgoing]) async -> [Result<Void, KafkaError>] {
        guard !messages.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            let batch = DeliveryBatch(count: messages.count, continuation)
            let queued = self.closed.withLock { closed in
                guard !closed else { return false }
                for (index, message) in messages.enumerated() {
                    let opaque = Unmanaged.passRetained(Delivery(batch: batch, index: index)).toOpaque()
                    if let error = self.produce(message, opaque: opaque) {
                        Unmanaged<Delivery>.fromOpaque(opaque).release()
                        batch.complete(index, .failure(error))
                    }
                }
                return true
            }
            if !queued {
                // Closed (the process is stopping): the senders keep their messages for another time.
                for index in messages.indices { batch.complete(index, .failure(KafkaError(RD_KAFKA_RESP_ERR__DESTROY, "sending"))) }
            }
        }
    }

    /// Queues one message; the error when librdkafka refused it at once (then nothing owns `opaque` but the caller).
    private func produce(_ message: KafkaOutgoing, opaque: UnsafeMutableRawPointer) -> KafkaError? {
        let list = rd_kafka_headers_new(message.headers.count)
        for (name, value) in message.headers {
            _ = rd_kafka_header_add(list, name, -1, value, value.utf8.count)
        }
        let error: OpaquePointer? = message.topic.withCString { topic in
            (message.key ?? "").withCString { keyBytes in
                message.value.withUnsafeBytes { valueBytes in
                    var parts: [rd_kafka_vu_t] = []
                    func part(_ type: rd_kafka_vtype_t, _ set: (inout rd_kafka_vu_t) -> Void) {
                        var part = rd_kafka_vu_t()
                        part.vtype = type
                        set(&part)
                        parts.append(part)
                    }
                    part(RD_KAFKA_VTYPE_TOPIC) { $0.u.cstr = topic }
                    part(RD_KAFKA_VTYPE_VALUE) {
                        $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: valueBytes.baseAddress)
                        $0.u.mem.size = valueBytes.count
                    }
                    if let key = message.key {
                        part(RD_KAFKA_VTYPE_KEY) {
                            $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: keyBytes)
                            $0.u.mem.size = key.utf8.count
                        }
                    }
                    part(RD_KAFKA_VTYPE_MSGFLAGS) { $0.u.i = RD_KAFKA_MSG_F_COPY }
                    part(RD_KAFKA_VTYPE_OPAQUE) { $0.u.ptr = opaque }
                    part(RD_KAFKA_VTYPE_HEADERS) { $0.u.headers = list }
                    return rd_kafka_produceva(self.handle, parts, parts.count)
                }
            }
        }
        guard let error else { return nil }
        // Not queued: the headers are still ours.
        rd_kafka_headers_destroy(list)
        return KafkaError(consuming: error, "producing to \(message.topic)")
    }

    /// Creates the topics among `names` that do not exist yet, with `partitions` partitions and the broker's
    /// replication factor. Blocks until the broker answered or `timeoutMillis` passed.
    public func createTopics(_ names: [String], partitions: Int32, timeoutMillis: Int32 = 15_000) throws {
        guard !names.isEmpty else { return }
        var message = [CChar](repeating: 0, count: 512)
        var topics: [OpaquePointer?] = []
        defer { for topic in topics { rd_kafka_NewTopic_destroy(topic) } }
        for name in names {
            guard let topic = rd_kafka_NewTopic_new(name, partitions, -1, &message, message.count) else {
                throw KafkaError(message: "topic \(name): \(text(message))")
            }
            topics.append(topic)
        }
        let queue = rd_kafka_queue_new(self.handle)
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(self.handle, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeoutMillis, &message, message.count)
        rd_kafka_CreateTopics(self.handle, &topics, topics.count, options, queue)
        guard let event = rd_kafka_queue_poll(queue, timeoutMillis + 1_000) else {
            throw KafkaError(message: "creating topics: no answer from the broker in \(timeoutMillis) ms")
        }
        defer { rd_kafka_event_destroy(event) }
        let error = rd_kafka_event_error(event)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(error, "creating topics") }
        var count = 0
        guard let result = rd_kafka_event_CreateTopics_result(event), let results = rd_kafka_CreateTopics_result_topics(result, &count) else {
            return
        }
        for index in 0..<count {
            let code = rd_kafka_topic_result_error(results[index])
            guard code != RD_KAFKA_RESP_ERR_NO_ERROR, code != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS else { continue }
            throw KafkaError(code, "creating topic \(String(cString: rd_kafka_topic_result_name(results[index])))")
        }
    }

    /// Waits up to `timeoutMillis` for every queued message to be acknowledged, then closes the producer.
    public func close(timeoutMillis: Int32 = 10_000) {
        _ = rd_kafka_flush(self.handle, timeoutMillis)
        self.closed.withLock { $0 = true }
        self.running.clear()
        while !self.poller.isFinished { usleep(1_000) }
        // Reports of messages still queued come with the destruction: their senders hear of the failure.
        rd_kafka_destroy(self.handle)
    }
}

/// Whether the polling thread goes on.
private final class RunFlag: Sendable {
    private let value = Atomic<Bool>(true)
    var isSet: Bool { self.value.load(ordering: .acquiring) }
    func clear() { self.value.store(false, ordering: .releasing) }
}

/// A message to send.
public struct KafkaOutgoing: Sendable {
    public let topic: String
    public let key: String?
    public let value: Data
    public let headers: [(String, String)]

    public init(topic: String, key: String?, value: Data, headers: [(String, String)]) {
        self.topic = topic
        self.key = key
        self.value = value
        self.headers = headers
    }
}

/// The results of one `send` of many messages, and its caller, resumed when the last report came.
private final class DeliveryBatch: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Result<Void, KafkaError>?]
    private var remaining: Int
    private let continuation: CheckedContinuation<[Result<Void, KafkaError>], Never>

    init(count: Int, _ continuation: CheckedContinuation<[Result<Void, KafkaError>], Never>) {
        self.results = Array(repeating: nil, count: count)
        self.remaining = count
        self.continuation = continuation
    }

    func complete(_ index: Int, _ result: Result<Void, KafkaError>) {
        let done: [Result<Void, KafkaError>]? = self.lock.withLock {
            self.results[index] = result
            self.remaining -= 1
            return self.remaining == 0 ? self.results.map { $0! } : nil
        }
        if let done { self.continuation.resume(returning: done) }
    }
}

/// One message of a batch, carried through librdkafka as the message's opaque pointer.
private final class Delivery {
    let batch: DeliveryBatch
    let index: Int
    init(batch: DeliveryBatch, index: Int) {
        self.batch = batch
        self.index = index
    }
}

/// librdkafka's delivery report: resumes the message's sender, exactly once.
private let deliveryReport: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
    _, message, _ in
    guard let message, let opaque = message.pointee._private else { return }
    let delivery = Unmanaged<Delivery>.fromOpaque(opaque).takeRetainedValue()
    let error = message.pointee.err
    delivery.batch.complete(delivery.index, error == RD_KAFKA_RESP_ERR_NO_ERROR ? .success(()) : .failure(KafkaError(error, "delivery")))
}
#endif
