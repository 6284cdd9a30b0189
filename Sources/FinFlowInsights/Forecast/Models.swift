import Foundation

/// A forecasting method: fitted to a history with its seasonal period, it forecasts `horizon` steps ahead.
public protocol ForecastMethod: Sendable {
    var name: String { get }
    func forecast(_ history: [Double], period: Int, horizon: Int, levels: [Int]) throws -> Forecast
}

/// What a method cannot forecast.
public struct ForecastError: Error, Equatable, CustomStringConvertible {
    public let description: String
}

/// Simple exponential smoothing: the level after the first observation is that observation, each later one moves
/// towards the new observation by `alpha`; alpha minimises the one-step squared errors.
struct SimpleExponentialSmoothing: Sendable {
    let alpha: Double
    /// The level after the last observation: the forecast for every horizon.
    let level: Double
    /// Variance of the one-step errors.
    let sigma2: Double

    /// The level and sum of squared one-step errors of `y` under `alpha`.
    static func run(_ y: [Double], alpha: Double) -> (level: Double, sse: Double) {
        var level = y[0], sse = 0.0
        for value in y.dropFirst() {
            let error = value - level
            sse += error * error
            level += alpha * error
        }
        return (level, sse)
    }

    /// Fits alpha on [0.0001, 0.9999]: a grid of 100 points, then golden-section search around the best.
    static func fit(_ y: [Double]) -> SimpleExponentialSmoothing {
        let lowest = 0.0001, highest = 0.9999
        var best = lowest, bestSSE = Double.infinity
        for step in 0...99 {
            let alpha = lowest + (highest - lowest) * Double(step) / 99
            let sse = Self.run(y, alpha: alpha).sse
            if sse < bestSSE { (best, bestSSE) = (alpha, sse) }
        }
        let width = (highest - lowest) / 99
        var a = max(lowest, best - width), b = min(highest, best + width)
        let golden = (5.0.squareRoot() - 1) / 2
        var c = b - golden * (b - a), d = a + golden * (b - a)
        for _ in 0..<60 {
            if Self.run(y, alpha: c).sse < Self.run(y, alpha: d).sse { b = d } else { a = c }
            c = b - golden * (b - a)
            d = a + golden * (b - a)
        }
        let alpha = (a + b) / 2
        let fitted = Self.run(y, alpha: alpha)
        let (level, sse) = fitted.sse <= bestSSE ? fitted : Self.run(y, alpha: best)
        return SimpleExponentialSmoothing(
            alpha: fitted.sse <= bestSSE ? alpha : best, level: level, sigma2: y.count > 1 ? sse / Double(y.count - 1) : 0)
    }
}

/// The Theta method (Assimakopoulos and Nikolopoulos, 2000) in the form Hyndman and Billah (2003) proved equal to it:
/// simple exponential smoothing with a drift of half the series' linear trend, on the seasonally adjusted series when
/// the series is seasonal (tested, not assumed), then reseasonalised. Intervals as R's `forecast::thetaf`.
public struct Theta: ForecastMethod {
    public let name = "theta"
    public init() {}

    public func forecast(_ history: [Double], period: Int, horizon: Int, levels: [Int]) throws -> Forecast {
        guard history.count >= 3 else { throw ForecastError(description: "Theta needs at least 3 observations") }
        guard history.allSatisfy(\.isFinite) else { throw ForecastError(description: "the series holds a value that is not a number") }
        let n = history.count
        let seasonal = Seasonality.isSeasonal(history, period: period) && history.allSatisfy { $0 > 0 }
        let indices = seasonal ? Seasonality.multiplicativeIndices(history, period: period) : []
        let adjusted = seasonal ? history.enumerated().map { $0.element / indices[$0.offset % period] } : history
        let ses = SimpleExponentialSmoothing.fit(adjusted)
        let drift = Statistics.line(adjusted).slope / 2
        let alpha = max(1e-10, ses.alpha)
        let carry = (1 - Foundation.pow(1 - alpha, Double(n))) / alpha
        func season(_ h: Int) -> Double { seasonal ? indices[(n + h) % period] : 1 }
        let mean = (0..<horizon).map { h in (ses.level + drift * (Double(h) + carry)) * season(h) }
        var intervals: [Int: (lower: [Double], upper: [Double])] = [:]
        for level in levels {
            let z = Statistics.normalQuantile(level: level)
            let spread = (0..<horizon).map { h in z * (ses.sigma2 * (Double(h) * alpha * alpha + 1)).squareRoot() * season(h) }
            intervals[level] = (zip(mean, spread).map { $0 - $1 }, zip(mean, spread).map { $0 + $1 })
        }
        return Forecast(mean: mean, intervals: intervals)
    }
}

/// The naive baselines: the last value (`naive`), the value one season back (`seasonal-naive`), or the line from the
/// first observation through the last (`drift`), with their analytic intervals (Hyndman and Athanasopoulos, 5.5).
public struct Baseline: ForecastMethod {
    public enum Kind: String, Sendable { case naive, seasonalNaive = "seasonal-naive", drift }
    public let kind: Kind
    public var name: String { self.kind.rawValue }
    public init(_ kind: Kind) { self.kind = kind }

    public func forecast(_ history: [Double], period: Int, horizon: Int, levels: [Int]) throws -> Forecast {
        guard history.count >= 2, history.allSatisfy(\.isFinite) else { throw ForecastError(description: "a baseline needs 2 finite observations") }
        let n = history.count
        let lag = self.kind == .seasonalNaive && period > 1 && n > period ? period : 1
        let slope = self.kind == .drift ? (history[n - 1] - history[0]) / Double(n - 1) : 0
        let residuals = (lag..<n).map { history[$0] - history[$0 - lag] - slope }
        let sigma = (residuals.reduce(0) { $0 + $1 * $1 } / Double(max(1, residuals.count - (self.kind == .drift ? 1 : 0)))).squareRoot()
        let mean = (0..<horizon).map { h in
            lag > 1 ? history[n - lag + h % lag] : history[n - 1] + slope * Double(h + 1)
        }
        var intervals: [Int: (lower: [Double], upper: [Double])] = [:]
        for level in levels {
            let z = Statistics.normalQuantile(level: level)
            let spread = (0..<horizon).map { h -> Double in
                let steps = Double(h + 1)
                switch self.kind {
                case .naive: return z * sigma * steps.squareRoot()
                case .seasonalNaive: return z * sigma * (Double(h / lag) + 1).squareRoot()
                case .drift: return z * sigma * (steps * (1 + steps / Double(n - 1))).squareRoot()
                }
            }
            intervals[level] = (zip(mean, spread).map { $0 - $1 }, zip(mean, spread).map { $0 + $1 })
        }
        return Forecast(mean: mean, intervals: intervals)
    }
}

/// The mean of several methods' forecasts, and of their interval bounds (quantile averaging): combining unlike models
/// is the most reliable gain the forecasting competitions found (Makridakis et al., M3 and M4).
public struct Ensemble: ForecastMethod {
    public let members: [any ForecastMethod]
    public var name: String { "ensemble" }
    public init(_ members: [any ForecastMethod]) { self.members = members }

    public func forecast(_ history: [Double], period: Int, horizon: Int, levels: [Int]) throws -> Forecast {
        let forecasts = try self.members.map { try $0.forecast(history, period: period, horizon: horizon, levels: levels) }
        return Self.combine(forecasts, horizon: horizon, levels: levels)
    }

    static func combine(_ forecasts: [Forecast], horizon: Int, levels: [Int]) -> Forecast {
        let count = Double(forecasts.count)
        func average(_ paths: [[Double]]) -> [Double] { (0..<horizon).map { h in paths.reduce(0) { $0 + $1[h] } / count } }
        var intervals: [Int: (lower: [Double], upper: [Double])] = [:]
        for level in levels {
            let bounds = forecasts.compactMap { $0.intervals[level] }
            guard bounds.count == forecasts.count else { continue }
            intervals[level] = (average(bounds.map(\.lower)), average(bounds.map(\.upper)))
        }
        return Forecast(mean: average(forecasts.map(\.mean)), intervals: intervals)
    }
}
