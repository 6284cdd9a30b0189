import FinFlowCore
import Foundation
import Logging
import OTel
import ServiceLifecycle
import Tracing

/// An `OTEL_*` variable this build cannot honour.
public struct TracingSettingError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = "invalid tracing setting: " + description
    }
}

/// Distributed tracing for `finflow serve`, through swift-otel's OTLP exporter (over HTTP: protobuf by default,
/// `OTEL_EXPORTER_OTLP_PROTOCOL=http/json` for JSON). Off by default; the standard OpenTelemetry variables turn it on
/// and shape it:
///
/// - on when `OTEL_TRACES_EXPORTER=otlp`, or when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
///   names a collector; off when `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`;
/// - `OTEL_SERVICE_NAME` (default `finflow`, or `finflow-<services>` for a process running some services),
///   `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`, `OTEL_BSP_*` and
///   `OTEL_EXPORTER_OTLP_HEADERS`, `…_TIMEOUT`, `…_COMPRESSION` and `…_CERTIFICATE` as the specification has them.
///
/// Metrics stay with Prometheus (`/metrics`) and logs with the JSON log; only traces are exported.
public enum TracingSetup {
    /// What the environment asks for.
    public enum Choice: Equatable, Sendable {
        case off
        case otlp
    }

    /// The choice the `OTEL_*` variables of `environment` make; a value this build cannot honour is a clear error.
    public static func choice(_ environment: [String: String]) throws -> Choice {
        func value(_ key: String) -> String? {
            guard let raw = environment[key]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            return raw.lowercased()
        }
        if let disabled = value("OTEL_SDK_DISABLED") {
            switch disabled {
            case "true": return .off
            case "false": break
            default: throw TracingSettingError("OTEL_SDK_DISABLED must be true or false, not \(disabled)")
            }
        }
        for key in ["OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] {
            if let proto = value(key), !["http/protobuf", "http/json"].contains(proto) {
                throw TracingSettingError("\(key) must be http/protobuf or http/json (FinFlow exports OTLP over HTTP), not \(proto)")
            }
        }
        switch value("OTEL_TRACES_EXPORTER") {
        case "none": return .off
        case "otlp": return .otlp
        case nil:
            let endpoint = value("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") ?? value("OTEL_EXPORTER_OTLP_ENDPOINT")
            return endpoint == nil ? .off : .otlp
        case let other?:
            throw TracingSettingError("OTEL_TRACES_EXPORTER must be otlp or none, not \(other)")
        }
    }

    /// Installs the OTLP tracer when the environment asks for it, and answers the service that exports its spans (to
    /// run beside the server, so spans still queued are sent at shutdown); nil when tracing stays off.
    public static func bootstrap(environment: [String: String], services: [String], logger: Logger) throws -> (any Service)? {
        guard try self.choice(environment) == .otlp else { return nil }
        var configuration = OTel.Configuration.default
        // The exporter's own warnings (a collector that does not answer) go to the process's log, in its format.
        configuration.diagnosticLogger = .custom(logger)
        configuration.serviceName = services.isEmpty ? "finflow" : "finflow-" + services.joined(separator: "-")
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.enabled = true
        configuration.traces.exporter = .otlp
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(backend.factory)
        FinFlowTracing.enable()
        return backend.service
    }
}
