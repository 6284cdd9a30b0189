// Compiled only with the Kafka trait: the module is empty in a plain build, which needs no C library.
#if Kafka
import CRdKafka
import Foundation

/// A message as consumed: where it sits in the log, its key, value and headers.
public struct KafkaMessage: Sendable {
    public let topic: String
    public let partition: Int32
    public let offset: Int64
    public let key: String?
    public let value: Data
    public let headers: [String: String]
}

/// A member of a Kafka consumer group. Offsets are committed only when asked (`commit`), so a message is read again
/// after a crash until its handler has finished with it. Its calls block: run them on a thread that may block.
public final class KafkaConsumer: @unchecked Sendable {
    private let handle: OpaquePointer

    /// Joins `group` on `brokers` and subscribes to `topics`; a group new to a topic starts at its oldest message.
    public init(brokers: String, group: String, clientId: String, topics: [String], properties: [String: String] = [:]) throws {
        let defaults = [
            "bootstrap.servers": brokers, "group.id": group, "client.id": clientId, "enable.auto.commit": "false",
            "enable.auto.offset.store": "false", "auto.offset.reset": "earliest", "session.timeout.ms": "6000",
            "heartbeat.interval.ms": "1000", "allow.auto.create.topics": "true", "enable.partition.eof": "false",
            // A fetch waits at most this long for new messages: it bounds how late an event is seen when few arrive.
            "fetch.wait.max.ms": "100",
        ]
        self.handle = try KafkaConfiguration.client(RD_KAFKA_CONSUMER, defaults.merging(properties) { $1 })
        rd_kafka_poll_set_consumer(self.handle)
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for topic in topics { rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA) }
        let error = rd_kafka_subscribe(self.handle, list)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            rd_kafka_destroy(self.handle)
            throw KafkaError(error, "subscribing to \(topics.joined(separator: ", "))")
        }
    }

    /// The next message, waiting up to `timeoutMillis`; nil when none came. A consumer error (a broker down, a topic
    /// not there yet) throws; the consumer stays usable.
    public func poll(timeoutMillis: Int32) throws -> KafkaMessage? {
        guard let message = rd_kafka_consumer_poll(self.handle, timeoutMillis) else { return nil }
        defer { rd_kafka_message_destroy(message) }
        let m = message.pointee
        guard m.err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(m.err, "consuming") }
        var headers: [String: String] = [:]
        var list: OpaquePointer?
        if rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list {
            var index = 0
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(list, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                if let name {
                    headers[String(cString: name)] = value.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: size), as: UTF8.self) } ?? ""
                }
                index += 1
            }
        }
        return KafkaMessage(
            topic: String(cString: rd_kafka_topic_name(m.rkt)), partition: m.partition, offset: m.offset,
            key: m.key.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: m.key_len), as: UTF8.self) },
            value: m.payload.map { Data(bytes: $0, count: m.len) } ?? Data(), headers: headers)
    }

    /// Up to `max` messages: waits up to `timeoutMillis` for the first, then takes what has arrived already.
    public func poll(max: Int, timeoutMillis: Int32) throws -> [KafkaMessage] {
        guard let first = try self.poll(timeoutMillis: timeoutMillis) else { return [] }
        var messages = [first]
        // An error after the first message ends the batch; the consumer reports it again on the next poll if it lasts.
        while messages.count < max, let next = try? self.poll(timeoutMillis: 0) { messages.append(next) }
        return messages
    }

    /// Records `messages` (and everything before each in its partition) as handled, with one synchronous commit.
    public func commit(_ messages: [KafkaMessage]) throws {
        var next: [String: (topic: String, partition: Int32, offset: Int64)] = [:]
        for message in messages {
            let key = "\(message.partition)/\(message.topic)"
            if (next[key]?.offset ?? .min) < message.offset + 1 { next[key] = (message.topic, message.partition, message.offset + 1) }
        }
        guard !next.isEmpty else { return }
        let list = rd_kafka_topic_partition_list_new(Int32(next.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for position in next.values {
            rd_kafka_topic_partition_list_add(list, position.topic, position.partition)?.pointee.offset = position.offset
        }
        let error = rd_kafka_commit(self.handle, list, 0)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(error, "committing \(messages.count) messages") }
    }

    /// Leaves the group (its partitions go to the other members at once) and frees the consumer.
    public func close() {
        _ = rd_kafka_consumer_close(self.handle)
        rd_kafka_destroy(self.handle)
    }
}
#endif
