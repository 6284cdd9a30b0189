import Foundation
import Logging

/// Writes one JSON object per log line to standard error: time, level, label, message and metadata (request id
/// included), as log collectors expect in production.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    let label: String

    /// A handler for `label` logging at `level` and above.
    public init(label: String, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.logLevel = level
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: [String: Any] = [
            "time": ISO8601DateFormatter().string(from: Date()),
            "level": event.level.rawValue,
            "logger": self.label,
            "message": event.message.description,
        ]
        let provided = self.metadataProvider?.get() ?? [:]
        let merged = provided.merging(self.metadata) { _, new in new }.merging(event.metadata ?? [:]) { _, new in new }
        for (key, value) in merged { object[key] = Self.json(value) }
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        data.append(0x0A)
        FileHandle.standardError.write(data)
    }

    static func json(_ value: Logger.MetadataValue) -> Any {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): values.map(json)
        case .dictionary(let dictionary): dictionary.mapValues(json)
        }
    }

    /// Sets up swift-log for the process: JSON unless `format` is `text`, or `auto` on a terminal.
    public static func bootstrap(format: String, level: String) {
        let logLevel = Logger.Level(rawValue: level) ?? .info
        let json = format == "json" || (format == "auto" && isatty(STDERR_FILENO) == 0)
        LoggingSystem.bootstrap({ label, provider in
            if json { return JSONLogHandler(label: label, level: logLevel, metadataProvider: provider) }
            var handler = StreamLogHandler.standardError(label: label, metadataProvider: provider)
            handler.logLevel = logLevel
            return handler
        }, metadataProvider: Self.requestIdProvider)
    }

    /// Adds the request id of the request being handled to every log line written while handling it, and the trace and
    /// span ids of the current span when tracing is on.
    public static let requestIdProvider = Logger.MetadataProvider {
        var metadata: Logger.Metadata = [:]
        if let scope = RequestScope.current { metadata["request_id"] = .string(scope.requestId) }
        for (key, value) in FinFlowTracing.logMetadata { metadata[key] = .string(value) }
        return metadata
    }
}
