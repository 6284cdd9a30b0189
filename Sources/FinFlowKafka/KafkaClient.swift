// Compiled only with the Kafka trait: the module is empty in a plain build, which needs no C library.
#if Kafka
import CRdKafka
import FinFlowCore
import Foundation
import Logging

/// A failure reported by librdkafka: its error code's name and message.
public struct KafkaError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String

    init(_ code: rd_kafka_resp_err_t, _ context: String) {
        self.code = code.rawValue
        self.message = "\(context): \(String(cString: rd_kafka_err2str(code)))"
    }

    init(message: String) {
        self.code = RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue
        self.message = message
    }

    /// Takes over (and destroys) a librdkafka error object.
    init(consuming error: OpaquePointer, _ context: String) {
        self.code = rd_kafka_error_code(error).rawValue
        self.message = "\(context): \(String(cString: rd_kafka_error_string(error)))"
        rd_kafka_error_destroy(error)
    }

    public var description: String { self.message }

    /// Whether the message itself was refused (too large, malformed), as opposed to the broker being out of reach.
    var isAboutTheMessage: Bool {
        [RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR__INVALID_ARG,
         RD_KAFKA_RESP_ERR__BAD_MSG, RD_KAFKA_RESP_ERR_INVALID_RECORD].map(\.rawValue).contains(self.code)
    }
}

/// librdkafka settings (`bootstrap.servers`, `acks`, …) as a configuration object; a property librdkafka does not
/// know or a value it refuses is an error naming both.
enum KafkaConfiguration {
    static func make(_ properties: [String: String]) throws -> OpaquePointer {
        guard let conf = rd_kafka_conf_new() else { throw KafkaError(message: "librdkafka could not allocate a configuration") }
        var message = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            guard rd_kafka_conf_set(conf, key, value, &message, message.count) == RD_KAFKA_CONF_OK else {
                rd_kafka_conf_destroy(conf)
                throw KafkaError(message: "Kafka setting \(key)=\(value): \(text(message))")
            }
        }
        return conf
    }

    /// Creates a client of `type` from `properties`, with `configure` applied to its configuration first.
    static func client(
        _ type: rd_kafka_type_t, _ properties: [String: String], configure: (OpaquePointer) -> Void = { _ in }
    ) throws -> OpaquePointer {
        let conf = try self.make(properties)
        rd_kafka_conf_set_log_cb(conf, forwardLog)
        configure(conf)
        var message = [CChar](repeating: 0, count: 512)
        // On success the client owns the configuration.
        guard let handle = rd_kafka_new(type, conf, &message, message.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(message: "Kafka client: \(text(message))")
        }
        return handle
    }
}

/// librdkafka's own log lines (syslog levels), into the process's log instead of standard error.
private let kafkaLogger = Logger(label: "finflow.kafka")
private let forwardLog: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = {
    _, level, facility, text in
    let message = text.map { String(cString: $0) } ?? ""
    let level: Logger.Level = switch level {
    case ...3: .error
    case 4: .warning
    case 5, 6: .info
    default: .debug
    }
    kafkaLogger.log(level: level, "\(message)", metadata: ["facility": "\(facility.map { String(cString: $0) } ?? "")"])
}

/// The NUL-terminated text librdkafka wrote into `buffer`.
func text(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// A librdkafka client handle handed to the thread that polls it; librdkafka's handles are thread-safe.
struct ClientHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// The version of librdkafka loaded at run time (the library on the path may be newer than the headers).
public var librdkafkaVersion: String { String(cString: rd_kafka_version_str()) }
#endif
