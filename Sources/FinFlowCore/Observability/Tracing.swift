import Foundation
import Instrumentation
import ServiceContextModule
import Synchronization
import Tracing

/// Distributed tracing across FinFlow's processes, through swift-distributed-tracing. Off until a process installs a
/// tracer (`finflow serve` does when an OTLP exporter is configured by the `OTEL_*` variables); while off, nothing
/// here does more than read one flag.
///
/// - A request is a server span (Hummingbird's tracing middleware, which reads the caller's `traceparent`).
/// - A statement run inside a traced task is a client span named after its kind and service, with its fingerprint
///   (never its values) as `db.query.text`; statements of untraced background work start no trace.
/// - An event is given a producer span when it is written to the outbox, and carries that span's W3C trace context in
///   its CloudEvents envelope (`traceparent`, `tracestate`: the CloudEvents distributed tracing extension), so it
///   travels with the event through the outbox, Kafka or the in-process bus; the relay's send and every consumer's
///   processing are spans in the same trace.
public enum FinFlowTracing {
    private static let enabledFlag = Atomic<Bool>(false)

    /// Whether a tracer is installed in this process.
    public static var isEnabled: Bool { self.enabledFlag.load(ordering: .relaxed) }

    /// Marks tracing on, once the process has bootstrapped `InstrumentationSystem` with a real tracer.
    public static func enable() {
        self.enabledFlag.store(true, ordering: .relaxed)
    }

    /// Whether the task's trace is sampled, where FinFlow knows it (a request, after the tracing middleware; a delivery):
    /// statements of an unsampled trace start no span, since the sampler would drop it anyway.
    @TaskLocal public static var sampled = true

    /// Whether `context` carries a sampled span: its `traceparent`'s flags, as the installed tracer writes them.
    public static func isSampled(_ context: ServiceContext) -> Bool {
        // version-traceid-spanid-flags; bit 0 of the flags is "sampled".
        guard let flags = self.headers(of: context).traceparent?.split(separator: "-").last, let value = UInt8(flags, radix: 16) else {
            return false
        }
        return value & 1 == 1
    }

    /// The W3C trace context fields of `context` (its `traceparent` and `tracestate`), as the installed tracer writes them.
    public static func headers(of context: ServiceContext) -> (traceparent: String?, tracestate: String?) {
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &carrier, using: DictionaryInjector())
        return (carrier["traceparent"], carrier["tracestate"])
    }

    /// The context a `traceparent` (and `tracestate`) continue; a malformed value gives a context with no span.
    public static func context(traceparent: String?, tracestate: String?) -> ServiceContext {
        var context = ServiceContext.topLevel
        guard let traceparent else { return context }
        var carrier = ["traceparent": traceparent]
        if let tracestate { carrier["tracestate"] = tracestate }
        InstrumentationSystem.instrument.extract(carrier, into: &context, using: DictionaryExtractor())
        return context
    }

    /// The trace context an event written now carries: that of a producer span for `topic`, child of the task's
    /// current span, or nothing when tracing is off or the task is not traced.
    static func producerHeaders(topic: String, eventId: String, tenantId: String?) -> (traceparent: String?, tracestate: String?) {
        guard self.isEnabled, let current = ServiceContext.current else { return (nil, nil) }
        let span = InstrumentationSystem.tracer.startSpan("\(topic) publish", context: current, ofKind: .producer)
        if span.isRecording {
            span.updateAttributes { attributes in
                attributes["messaging.system"] = "finflow"
                attributes["messaging.operation.type"] = "create"
                attributes["messaging.destination.name"] = topic
                attributes["messaging.message.id"] = eventId
                if let tenantId { attributes["finflow.tenant_id"] = tenantId }
            }
        }
        defer { span.end() }
        return self.headers(of: span.context)
    }

    /// The trace fields of an event's envelope, read only when tracing is on.
    struct EnvelopeTrace: Decodable {
        let traceparent: String?
        let tracestate: String?
    }

    /// The envelope key of the trace context, looked for before the envelope is decoded for it.
    private static let traceparentKey = Data(#""traceparent""#.utf8)

    /// The context `event` was written in, or nil when it carries none (or tracing is off). An event written outside
    /// any trace (by background work, or by a process without tracing) is told apart by a search for the key, without
    /// decoding its envelope.
    static func context(of event: PublishedEvent) -> ServiceContext? {
        guard self.isEnabled, event.json.range(of: Self.traceparentKey) != nil,
            let fields = try? JSONDecoder().decode(EnvelopeTrace.self, from: event.json), fields.traceparent != nil
        else { return nil }
        return self.context(traceparent: fields.traceparent, tracestate: fields.tracestate)
    }

    /// Runs `body`, the work of `operation` (`send` or `process`) on `events`, inside a span for each event that carries
    /// a trace context, child of that context; the first span is the current one while `body` runs, so the statements
    /// it runs are its children. With tracing off, or no event traced, `body` simply runs.
    static func traced<T>(
        _ events: [PublishedEvent], operation: String, kind: SpanKind, consumer: String? = nil, _ body: () async throws -> T
    ) async throws -> T {
        guard self.isEnabled else { return try await body() }
        let spans: [any Span] = events.compactMap { event in
            guard let parent = self.context(of: event) else { return nil }
            let span = InstrumentationSystem.tracer.startSpan("\(event.topic) \(operation)", context: parent, ofKind: kind)
            if span.isRecording {
                span.updateAttributes { attributes in
                    attributes["messaging.system"] = "finflow"
                    attributes["messaging.operation.type"] = operation
                    attributes["messaging.destination.name"] = event.topic
                    attributes["messaging.message.id"] = event.id
                    if events.count > 1 { attributes["messaging.batch.message_count"] = events.count }
                    if let consumer { attributes["messaging.consumer.group.name"] = consumer }
                    if let tenantId = event.tenantId { attributes["finflow.tenant_id"] = tenantId }
                }
            }
            return span
        }
        guard let first = spans.first else { return try await body() }
        do {
            let result = try await ServiceContext.$current.withValue(first.context) {
                try await Self.$sampled.withValue(first.isRecording) { try await body() }
            }
            for span in spans { span.end() }
            return result
        } catch {
            for span in spans {
                span.recordError(error)
                span.setStatus(SpanStatus(code: .error))
                span.end()
            }
            throw error
        }
    }

    /// A finished statement as a client span under `parent`: `service`'s statement of fingerprint `fingerprint` (id
    /// `id`) on `system`, which took `nanoseconds` up to now.
    static func statementSpan(
        parent: ServiceContext, service: String, system: String, id: String, fingerprint: String, nanoseconds: UInt64, rows: Int,
        failed: Bool
    ) {
        let end = DefaultTracerClock.now
        let start = DefaultTracerClock.Instant(nanosecondsSinceEpoch: end.nanosecondsSinceEpoch &- min(nanoseconds, end.nanosecondsSinceEpoch))
        let span = InstrumentationSystem.tracer.startSpan("SQL", context: parent, ofKind: .client, at: start)
        // A span the sampler dropped is ended as it is: its name and attributes would be built for nothing.
        if span.isRecording {
            let verb = fingerprint.prefix { $0 != " " }.uppercased()
            span.operationName = "\(verb.isEmpty ? "SQL" : verb) \(service)"
            span.updateAttributes { attributes in
                attributes["db.system.name"] = system
                attributes["db.namespace"] = service
                attributes["db.operation.name"] = verb
                attributes["db.query.text"] = String(fingerprint.prefix(2_000))
                attributes["db.response.returned_rows"] = rows
                attributes["finflow.statement.id"] = id
            }
            if failed { span.setStatus(SpanStatus(code: .error)) }
        }
        span.end(at: end)
    }

    /// The trace and span id of the task's current span, for log lines (empty when tracing is off or the task is not traced).
    public static var logMetadata: [String: String] {
        guard self.isEnabled, let current = ServiceContext.current, let traceparent = self.headers(of: current).traceparent else { return [:] }
        // version-traceid-spanid-flags
        let parts = traceparent.split(separator: "-")
        guard parts.count == 4 else { return [:] }
        return ["trace_id": String(parts[1]), "span_id": String(parts[2])]
    }
}

/// Writes trace fields into a dictionary of header names.
struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }
}

/// Reads trace fields from a dictionary of header names.
struct DictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? {
        carrier[key]
    }
}
