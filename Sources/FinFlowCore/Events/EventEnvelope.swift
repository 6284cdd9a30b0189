import Foundation

/// An event's contract: its CloudEvents type, schema version and payload. Contracts live in `FinFlowCore` so that
/// producer and consumer share one definition, like a schema registry.
public protocol EventContract: Codable, Sendable {
    /// The CloudEvents `type`, `finflow.<entity>.<fact>` (`finflow.user.registered`).
    static var eventType: String { get }
    /// The payload schema version; a breaking change is a new version and a new topic.
    static var schemaVersion: Int { get }
}

extension EventContract {
    /// The topic the event travels on: the type plus its version (`finflow.user.registered.v1`).
    public static var topic: String { "\(Self.eventType).v\(Self.schemaVersion)" }
}

/// A CloudEvents 1.0 envelope in JSON form, with FinFlow's `tenantid` extension attribute.
public struct CloudEvent<Payload: Codable & Sendable>: Codable, Sendable {
    public var specversion = "1.0"
    public var id: String
    /// The producing service (`urn:finflow:service:auth`).
    public var source: String
    public var type: String
    /// ISO 8601 UTC instant of the fact.
    public var time: Date
    /// The entity the event is about (its id).
    public var subject: String?
    /// The tenant whose data this is; also the partition key.
    public var tenantid: String?
    public var dataschema: String
    public var datacontenttype = "application/json"
    public var data: Payload
    /// The W3C trace context the event was written in (CloudEvents distributed tracing extension); absent when the
    /// producing process does not trace.
    public var traceparent: String?
    public var tracestate: String?

    /// An envelope around `data`.
    public init(
        id: String, source: String, type: String, time: Date, subject: String?, tenantid: String?, dataschema: String,
        data: Payload
    ) {
        self.id = id
        self.source = source
        self.type = type
        self.time = time
        self.subject = subject
        self.tenantid = tenantid
        self.dataschema = dataschema
        self.data = data
    }

    /// The JSON coders every envelope is written and read with (ISO 8601 instants).
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    public static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

/// An event as it travels: the routing facts plus the envelope's JSON bytes.
public struct PublishedEvent: Sendable, Equatable {
    public let id: String
    public let topic: String
    public let type: String
    public let tenantId: String?
    /// The CloudEvents JSON document.
    public let json: Data

    /// An event ready to publish.
    public init(id: String, topic: String, type: String, tenantId: String?, json: Data) {
        self.id = id
        self.topic = topic
        self.type = type
        self.tenantId = tenantId
        self.json = json
    }

    /// `payload` in its CloudEvents envelope, as `service` publishes it: `id`, `time` and `subject` the envelope's.
    public init<Contract: EventContract>(
        _ payload: Contract, id: String, service: String, time: Date, subject: String?, tenantId: String?
    ) throws {
        var envelope = CloudEvent(
            id: id, source: "urn:finflow:service:\(service)", type: Contract.eventType, time: time, subject: subject, tenantid: tenantId,
            dataschema: "urn:finflow:schema:\(Contract.eventType):\(Contract.schemaVersion)", data: payload)
        (envelope.traceparent, envelope.tracestate) = FinFlowTracing.producerHeaders(topic: Contract.topic, eventId: id, tenantId: tenantId)
        self.init(id: id, topic: Contract.topic, type: Contract.eventType, tenantId: tenantId, json: try CloudEvent<Contract>.encoder.encode(envelope))
    }

    /// The envelope decoded with the payload of `contract`; a malformed event throws.
    public func decode<Contract: EventContract>(_ contract: Contract.Type) throws -> CloudEvent<Contract> {
        try CloudEvent<Contract>.decoder.decode(CloudEvent<Contract>.self, from: self.json)
    }
}
