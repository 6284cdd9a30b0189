import AsyncHTTPClient
import FinFlowCore
import Foundation
import NIOCore
import NIOHTTP1

/// Reading other processes' `/metrics`: `finflow top` shows them live, and the performance service keeps their
/// statement figures in its time series (`FINFLOW_PERFORMANCE_TARGETS`).
public enum FleetMetrics {
    /// The largest `/metrics` answer read from a process.
    public static let bytesMax = 64 << 20

    /// Why a process's figures could not be read.
    public struct Unreadable: Error, CustomStringConvertible {
        public let description: String
    }

    /// The samples of `target`'s `/metrics` (`target` is a base URL, `http://auth:3001`).
    public static func read(_ target: String, timeout: TimeAmount = .seconds(10)) async throws -> [PrometheusSample] {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: target + "/metrics"), timeout: timeout)
        guard response.status == .ok else { throw Unreadable(description: "HTTP \(response.status.code)") }
        let body = try await response.body.collect(upTo: Self.bytesMax)
        return PrometheusText.parse(String(buffer: body))
    }

    /// Each service's statement totals since its process started, from that process's samples: calls and time from
    /// `finflow_db_statement_duration_seconds`, rows and errors from their counters.
    static func statementTotals(_ samples: [PrometheusSample]) -> [String: ServiceTotals] {
        var totals: [String: ServiceTotals] = [:]
        for sample in samples {
            // Counters beyond these bounds are not FinFlow's; such a sample is left out rather than trapped on.
            guard let service = sample.labels["service"], sample.value.isFinite, sample.value >= 0, sample.value < 9e15 else { continue }
            switch sample.name {
            case "finflow_db_statement_duration_seconds_count":
                totals[service, default: .init()].calls.saturatingAdd(Int(sample.value))
            case "finflow_db_statement_duration_seconds_sum":
                guard sample.value < 1e10 else { continue }
                totals[service, default: .init()].nanoseconds &+= UInt64(sample.value * 1e9)
            case "finflow_db_statement_rows_total": totals[service, default: .init()].rows.saturatingAdd(Int(sample.value))
            case "finflow_db_statement_errors_total": totals[service, default: .init()].errors.saturatingAdd(Int(sample.value))
            default: continue
            }
        }
        return totals
    }
}

extension Int {
    /// Adds `other` (both not negative), stopping at `Int.max`: a process's counters summed over many lines or
    /// processes cannot overflow.
    mutating func saturatingAdd(_ other: Int) {
        let (sum, overflow) = self.addingReportingOverflow(other)
        self = overflow ? .max : sum
    }
}
