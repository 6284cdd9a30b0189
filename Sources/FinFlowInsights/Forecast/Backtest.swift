import Foundation

/// Rolling-origin evaluation: the method is fitted on the history up to each origin and forecasts the stretch after
/// it, as it would have been used; the origins step back from the end one horizon at a time, so the test stretches
/// do not overlap.
public struct Backtest: Sendable {
    /// One origin's forecast and what happened.
    public struct Window: Sendable {
        public let origin: Int
        public let forecast: Forecast
        public let actual: [Double]
    }

    public let method: String
    public let windows: [Window]
    /// Mean MASE and sMAPE over the windows, and the share of held-out values inside each level's interval.
    public let MASE: Double
    public let sMAPE: Double
    public let coverage: [Int: Double]

    /// The origins for `windows` stretches after a history of `count`, `step` apart (a horizon when not given, so the
    /// stretches do not overlap), each leaving at least `minimumTraining` values to fit on. Oldest first; fewer when
    /// the history is short.
    public static func origins(count: Int, horizon: Int, windows: Int, minimumTraining: Int, step: Int? = nil) -> [Int] {
        let step = step ?? horizon
        guard horizon > 0, windows > 0, step > 0 else { return [] }
        return (1...windows).reversed().map { count - $0 * step }.filter { $0 >= minimumTraining }
    }

    /// Evaluates `method` on `history` at the given origins.
    public static func run(
        _ method: any ForecastMethod, history: [Double], period: Int, horizon: Int, origins: [Int], levels: [Int]
    ) throws -> Backtest {
        var windows: [Window] = []
        for origin in origins {
            let train = Array(history[..<origin])
            let steps = min(horizon, history.count - origin)
            let forecast = try method.forecast(train, period: period, horizon: steps, levels: levels)
            windows.append(Window(origin: origin, forecast: forecast, actual: Array(history[origin..<(origin + steps)])))
        }
        var mase = 0.0, smape = 0.0, inside: [Int: Int] = [:], points = 0
        for window in windows {
            let train = Array(history[..<window.origin])
            mase += Accuracy.MASE(history: train, actual: window.actual, forecast: window.forecast.mean, period: period)
            smape += Accuracy.sMAPE(actual: window.actual, forecast: window.forecast.mean)
            points += window.actual.count
            for level in levels {
                guard let bounds = window.forecast.intervals[level] else { continue }
                for (h, value) in window.actual.enumerated() where bounds.lower[h] <= value && value <= bounds.upper[h] {
                    inside[level, default: 0] += 1
                }
            }
        }
        let count = Double(max(1, windows.count))
        return Backtest(
            method: method.name, windows: windows, MASE: mase / count, sMAPE: smape / count,
            coverage: Dictionary(uniqueKeysWithValues: levels.map { ($0, 100 * Double(inside[$0] ?? 0) / Double(max(1, points))) }))
    }
}

/// Intervals calibrated on the method's own past errors (split conformal prediction with normalised scores, as in
/// Lei et al. 2018 and statsforecast's ConformalIntervals, pooled over horizons): at each rolling origin the error of
/// every step is divided by the spread the method expected at that step (its analytic 80 % half-width over z, or √h
/// when it has none), and the final interval is the forecast ± the level's conformal quantile of those scores times
/// the expected spread. Coverage then holds whatever the model's distributional assumptions, given enough windows.
public struct Conformal: ForecastMethod {
    public let base: any ForecastMethod
    public let windows: Int
    /// How far apart the origins are, as a share of the horizon (½: each origin half a horizon before the next).
    public let spacing: Double
    public var name: String { "\(self.base.name)+conformal" }

    public init(_ base: any ForecastMethod, windows: Int = 8, spacing: Double = 0.5) {
        self.base = base
        self.windows = windows
        self.spacing = spacing
    }

    /// The spread the forecast expects at each step: from its widest interval when it has one, else √(h + 1).
    static func spread(_ forecast: Forecast, horizon: Int) -> [Double] {
        if let level = forecast.intervals.keys.max(), let bounds = forecast.intervals[level] {
            let z = Statistics.normalQuantile(level: level)
            let raw = (0..<horizon).map { (bounds.upper[$0] - bounds.lower[$0]) / (2 * z) }
            if raw.allSatisfy({ $0.isFinite && $0 > 0 }) { return raw }
        }
        return (0..<horizon).map { Double($0 + 1).squareRoot() }
    }

    /// The conformal quantile of `scores` for `level`: the ⌈(n + 1)·level⌉-th smallest, the largest when n is small.
    static func quantile(_ scores: [Double], level: Int) -> Double {
        let sorted = scores.sorted()
        guard !sorted.isEmpty else { return .nan }
        let rank = Int((Double(sorted.count + 1) * Double(level) / 100).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    public func forecast(_ history: [Double], period: Int, horizon: Int, levels: [Int]) throws -> Forecast {
        let analytic = max(levels.max() ?? 80, 80)
        var forecast = try self.base.forecast(history, period: period, horizon: horizon, levels: [analytic])
        let minimum = max(2 * max(period, 1), 8)
        let step = max(1, Int((Double(horizon) * self.spacing).rounded()))
        let origins = Backtest.origins(count: history.count, horizon: horizon, windows: self.windows, minimumTraining: minimum, step: step)
        guard !origins.isEmpty else {
            return try self.base.forecast(history, period: period, horizon: horizon, levels: levels)
        }
        let backtest = try Backtest.run(self.base, history: history, period: period, horizon: horizon, origins: origins, levels: [analytic])
        var scores: [Double] = []
        for window in backtest.windows {
            let spread = Self.spread(window.forecast, horizon: window.actual.count)
            for (h, actual) in window.actual.enumerated() { scores.append(abs(actual - window.forecast.mean[h]) / spread[h]) }
        }
        let spread = Self.spread(forecast, horizon: horizon)
        forecast.intervals = [:]
        for level in levels {
            let q = Self.quantile(scores, level: level)
            forecast.intervals[level] = (
                (0..<horizon).map { forecast.mean[$0] - q * spread[$0] }, (0..<horizon).map { forecast.mean[$0] + q * spread[$0] }
            )
        }
        return forecast
    }
}
