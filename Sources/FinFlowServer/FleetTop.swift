import FinFlowCore
import FinFlowPerformance
import Foundation
import NIOCore
import NIOHTTP1

/// What `finflow top` shows: the busiest routes, statements and consumers of a running fleet, from the difference
/// between two readings of each process's `/metrics`.
public struct FleetTop: Sendable {
    /// The processes' base URLs (`http://127.0.0.1:3001`).
    public let targets: [String]
    /// Rows in each table.
    public let rows: Int

    public init(targets: [String], rows: Int) {
        self.targets = targets
        self.rows = rows
    }

    /// One reading of every target: its samples, or why it could not be read.
    public struct Reading: Sendable {
        let samples: [String: [PrometheusSample]]
        let failures: [String: String]
        let at: ContinuousClock.Instant
    }

    /// Reads every target's `/metrics`.
    public func read() async -> Reading {
        var samples: [String: [PrometheusSample]] = [:]
        var failures: [String: String] = [:]
        for target in self.targets {
            do {
                samples[target] = try await FleetMetrics.read(target)
            } catch {
                failures[target] = "\(error)"
            }
        }
        return Reading(samples: samples, failures: failures, at: .now)
    }

    /// A row of a table: what it is, per second, mean milliseconds, and a third figure (errors, rows or lag).
    public struct Row: Sendable, Equatable {
        public let name: String
        public let perSecond: Double
        public let meanMillis: Double
        public let extra: Double
    }

    /// The three tables between two readings.
    public struct Frame: Sendable {
        public let routes: [Row]
        public let statements: [Row]
        public let consumers: [Row]
        public let failures: [String: String]
        public let seconds: Double
    }

    /// The busiest of each kind between `before` and `after`.
    public func frame(from before: Reading, to after: Reading) -> Frame {
        let seconds = max(0.001, Double((after.at - before.at).components.seconds) + Double((after.at - before.at).components.attoseconds) / 1e18)
        func deltas(_ name: String, key: ([String: String]) -> String?) -> [String: Double] {
            var result: [String: Double] = [:]
            for (target, samples) in after.samples {
                let earlier = Dictionary(
                    (before.samples[target] ?? []).filter { $0.name == name }.map { ($0.labels, $0.value) }, uniquingKeysWith: { a, _ in a })
                for sample in samples where sample.name == name {
                    guard let key = key(sample.labels) else { continue }
                    // A counter that went down means the process restarted: count from zero.
                    let previous = earlier[sample.labels] ?? 0
                    result[key, default: 0] += sample.value >= previous ? sample.value - previous : sample.value
                }
            }
            return result
        }
        func rows(count: [String: Double], sum: [String: Double], extra: [String: Double], sumToMillis: Double = 1_000) -> [Row] {
            count.filter { $0.value > 0 }.map { key, calls in
                Row(name: key, perSecond: calls / seconds, meanMillis: (sum[key] ?? 0) / calls * sumToMillis, extra: extra[key] ?? 0)
            }.sorted { ($0.perSecond * $0.meanMillis, $0.name) > ($1.perSecond * $1.meanMillis, $1.name) }.prefix(self.rows).map { $0 }
        }
        let route: ([String: String]) -> String? = { labels in
            guard let path = labels["http_route"] else { return nil }
            return "\(labels["http_request_method"] ?? "") \(path)"
        }
        let routeErrors = deltas("http_server_request_duration_count") { labels in
            (labels["http_response_status_code"] ?? "").hasPrefix("5") ? route(labels) : nil
        }
        let statement: ([String: String]) -> String? = { labels in
            labels["statement"].map { "\(labels["service"] ?? "?") \($0)" }
        }
        let consumer: ([String: String]) -> String? = { $0["consumer"] }
        let consumed = deltas("finflow_events_consumed_total", key: consumer)
        let lagCount = deltas("finflow_event_consumer_lag_seconds_count", key: consumer)
        let lagSum = deltas("finflow_event_consumer_lag_seconds_sum", key: consumer)
        let lag = lagCount.compactMapValues { $0 > 0 ? $0 : nil }.reduce(into: [String: Double]()) { result, entry in
            result[entry.key] = (lagSum[entry.key] ?? 0) / entry.value * 1_000
        }
        let deliveries = deltas("finflow_event_delivery_duration_seconds_count", key: consumer)
        let deliverySum = deltas("finflow_event_delivery_duration_seconds_sum", key: consumer)
        // Consumers: events a second, mean time of a delivery, mean lag.
        let consumerRows = consumed.filter { $0.value > 0 }.map { key, events in
            Row(name: key, perSecond: events / seconds, meanMillis: (deliverySum[key] ?? 0) / max(1, deliveries[key] ?? 1) * 1_000, extra: lag[key] ?? 0)
        }.sorted { ($0.perSecond, $0.name) > ($1.perSecond, $1.name) }.prefix(self.rows).map { $0 }
        return Frame(
            routes: rows(
                count: deltas("http_server_request_duration_count", key: route), sum: deltas("http_server_request_duration_sum", key: route),
                extra: routeErrors),
            statements: rows(
                count: deltas("finflow_db_statement_duration_seconds_count", key: statement),
                sum: deltas("finflow_db_statement_duration_seconds_sum", key: statement),
                extra: deltas("finflow_db_statement_errors_total", key: statement)),
            consumers: consumerRows, failures: after.failures, seconds: seconds)
    }

    /// A frame as text, the tables one under the other.
    public static func render(_ frame: Frame, width: Int = 100) -> String {
        func table(_ title: String, _ columns: (String, String, String), _ rows: [Row]) -> [String] {
            var lines = [title, "  " + "name".padding(toLength: width - 40, withPad: " ", startingAt: 0)
                + columns.0.leftPadded(10) + columns.1.leftPadded(12) + columns.2.leftPadded(12)]
            if rows.isEmpty { lines.append("  (nothing in this interval)") }
            for row in rows {
                lines.append("  " + String(row.name.prefix(width - 41)).padding(toLength: width - 40, withPad: " ", startingAt: 0)
                    + String(format: "%.1f", row.perSecond).leftPadded(10) + String(format: "%.2f", row.meanMillis).leftPadded(12)
                    + String(format: "%.0f", row.extra).leftPadded(12))
            }
            return lines + [""]
        }
        var lines = [String(format: "FinFlow: the last %.1f s", frame.seconds), ""]
        lines += table("Routes", ("req/s", "mean ms", "5xx"), frame.routes)
        lines += table("Statements (service, id: GET /v1/performance/statements names them)", ("calls/s", "mean ms", "errors"), frame.statements)
        lines += table("Consumers", ("events/s", "mean ms", "lag ms"), frame.consumers)
        for (target, failure) in frame.failures.sorted(by: { $0.key < $1.key }) { lines.append("unreachable: \(target): \(failure)") }
        return lines.joined(separator: "\n")
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        self.count >= width ? self : String(repeating: " ", count: width - self.count) + self
    }
}
