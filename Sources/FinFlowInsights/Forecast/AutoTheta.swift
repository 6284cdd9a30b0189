import Foundation

/// The Theta method as a model whose parameters are estimated (Fiorucci, Pellegrini, Louzada, Petropoulos and Koehler,
/// "Models for optimising the theta method and their relationship to state space models", 2016): a smoothed level,
/// and a trend line drawn either once through the whole series (standard) or redrawn as each observation arrives
/// (dynamic), weighted by `1 − 1/θ`. With θ = 2 it is the classic method; optimised, θ is estimated too.
public struct ThetaModel: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case standard = "STM", optimised = "OTM", dynamicStandard = "DSTM", dynamicOptimised = "DOTM"
        var dynamic: Bool { self == .dynamicStandard || self == .dynamicOptimised }
        var optimisesTheta: Bool { self == .optimised || self == .dynamicOptimised }
    }

    public let kind: Kind
    public var description: String { "Theta(\(self.kind.rawValue))" }
}

/// The state of the theta recursions after observation `i`: the smoothed level, the mean so far and the trend
/// line's intercept `a` and slope `b` (on time 1, 2, …).
struct ThetaState {
    var level: Double
    var mean: Double
    var a: Double
    var b: Double

    /// The one-step forecast for time index `i` (0-based): the level plus `1 − 1/θ` of the line's contribution,
    /// `decay` being `(1 − α)^i`.
    @inline(__always)
    func forecast(decay: Double, alpha: Double, theta: Double) -> Double {
        self.level + (1 - 1 / theta) * (self.a * decay + self.b * (1 - decay * (1 - alpha)) / alpha)
    }

    /// Moves past observation `y` at index `i`: the level is smoothed, the mean extended and, for a dynamic model,
    /// the least-squares line through the first `i + 1` observations updated in O(1).
    @inline(__always)
    mutating func advance(y: Double, i: Int, alpha: Double, dynamic: Bool) {
        let previousMean = self.mean
        self.level = alpha * y + (1 - alpha) * self.level
        self.mean = (Double(i) * previousMean + y) / Double(i + 1)
        if dynamic {
            self.b = (Double(i - 1) * self.b + 6 * (y - previousMean) / Double(i + 1)) / Double(i + 2)
            self.a = self.mean - self.b * Double(i + 2) / 2
        }
    }
}

/// A fitted theta model on a (seasonally adjusted) series.
public struct ThetaFit: Sendable {
    public let model: ThetaModel
    public let initialLevel: Double
    public let alpha: Double
    public let theta: Double
    /// The in-sample one-step squared errors from the fourth observation on, over the series' mean magnitude: what
    /// the parameters minimise and the models are compared by.
    public let mse: Double
    public let sigma2: Double

    /// The start of the recursions, and the state and squared-error sum after running them over `y`.
    static func run(_ kind: ThetaModel.Kind, _ y: [Double], initialLevel: Double, alpha: Double, theta: Double)
        -> (state: ThetaState, sse: Double, squares: Int)
    {
        let n = y.count
        var state: ThetaState
        if kind.dynamic {
            state = ThetaState(level: initialLevel, mean: y[0], a: y[0], b: 0)
        } else {
            // The least-squares line through all of y on time 1…n.
            let nn = Double(n)
            let mean = y.reduce(0, +) / nn
            var weighted = 0.0
            for (t, value) in y.enumerated() { weighted += Double(t + 1) * value }
            let b = 6 * (2 * weighted / nn - (nn + 1) * mean) / (nn * nn - 1)
            state = ThetaState(level: initialLevel, mean: y[0], a: mean - (nn + 1) * b / 2, b: b)
        }
        state.level = alpha * y[0] + (1 - alpha) * initialLevel
        var sse = 0.0, squares = 0
        var decay = 1 - alpha
        for i in 1..<n {
            let error = y[i] - state.forecast(decay: decay, alpha: alpha, theta: theta)
            if i >= 3 {
                sse += error * error
                squares += 1
            }
            state.advance(y: y[i], i: i, alpha: alpha, dynamic: kind.dynamic)
            decay *= 1 - alpha
        }
        return (state, sse, squares)
    }

    static func fit(_ kind: ThetaModel.Kind, _ y: [Double]) -> ThetaFit? {
        let magnitude = max(y.reduce(0) { $0 + abs($1) } / Double(y.count), 1e-10)
        var start = [y[0] / 2, 0.5], lower = [-1e10, 0.1], upper = [1e10, 0.99]
        if kind.optimisesTheta {
            start.append(2)
            lower.append(1)
            upper.append(1e10)
        }
        func objective(_ x: [Double]) -> Double {
            let value = Self.run(kind, y, initialLevel: x[0], alpha: x[1], theta: kind.optimisesTheta ? x[2] : 2).sse / magnitude
            return value.isFinite ? value : .infinity
        }
        let best = NelderMead.minimise(objective, start: start, lower: lower, upper: upper)
        guard best.value.isFinite else { return nil }
        let theta = kind.optimisesTheta ? best.point[2] : 2
        let run = Self.run(kind, y, initialLevel: best.point[0], alpha: best.point[1], theta: theta)
        return ThetaFit(
            model: ThetaModel(kind: kind), initialLevel: best.point[0], alpha: best.point[1], theta: theta, mse: best.value,
            sigma2: run.squares > 1 ? run.sse / Double(run.squares - 1) : 0)
    }

    /// Point forecasts after `y`: the recursions carried on with each forecast standing for the observation.
    func forecast(after y: [Double], horizon: Int) -> [Double] {
        var state = Self.run(self.model.kind, y, initialLevel: self.initialLevel, alpha: self.alpha, theta: self.theta).state
        var decay = Foundation.pow(1 - self.alpha, Double(y.count))
        var mean: [Double] = []
        for h in 0..<horizon {
            let value = state.forecast(decay: decay, alpha: self.alpha, theta: self.theta)
            mean.append(value)
            state.advance(y: value, i: y.count + h, alpha: self.alpha, dynamic: self.model.kind.dynamic)
            decay *= 1 - self.alpha
        }
        return mean
    }
}

/// The four theta models fitted by least squares, the one with the smallest in-sample error kept (statsforecast's
/// AutoTheta). A seasonal series (tested as the classic method does) is adjusted by a classical multiplicative
/// decomposition (additive when the data are not all positive) and the forecast reseasonalised. Intervals are those
/// of the underlying exponential smoothing, `σ²(1 + (h − 1)α²)`, scaled by the season.
public struct AutoTheta: ForecastMethod {
    public let name = "auto-theta"
    public init() {}

    public func forecast(_ history: [Double], period: Int, horizon: Int, levels: [Int]) throws -> Forecast {
        guard history.count >= 4 else { throw ForecastError(description: "AutoTheta needs at least 4 observations") }
        guard history.allSatisfy(\.isFinite) else { throw ForecastError(description: "the series holds a value that is not a number") }
        let n = history.count
        var multiplicative = history.allSatisfy { $0 > 0 }
        var indices: [Double] = []
        if Seasonality.isSeasonal(history, period: period) {
            indices = Seasonality.indices(history, period: period, multiplicative: multiplicative)
            if multiplicative && indices.contains(where: { $0 < 0.01 }) {
                multiplicative = false
                indices = Seasonality.indices(history, period: period, multiplicative: false)
            }
        }
        let seasonal = !indices.isEmpty
        let adjusted = seasonal
            ? history.enumerated().map { multiplicative ? $0.element / indices[$0.offset % period] : $0.element - indices[$0.offset % period] }
            : history
        let fits = ThetaModel.Kind.allCases.compactMap { ThetaFit.fit($0, adjusted) }
        guard let best = fits.min(by: { $0.mse < $1.mse }) else { throw ForecastError(description: "no theta model fits the series") }
        let path = best.forecast(after: adjusted, horizon: horizon)
        func season(_ h: Int) -> Double { seasonal ? indices[(n + h) % period] : (multiplicative ? 1 : 0) }
        func reseason(_ value: Double, _ h: Int) -> Double {
            guard seasonal else { return value }
            return multiplicative ? value * season(h) : value + season(h)
        }
        let mean = path.enumerated().map { reseason($0.element, $0.offset) }
        var intervals: [Int: (lower: [Double], upper: [Double])] = [:]
        for level in levels {
            let z = Statistics.normalQuantile(level: level)
            let spread = (0..<horizon).map { h in
                z * (best.sigma2 * (1 + Double(h) * best.alpha * best.alpha)).squareRoot() * (seasonal && multiplicative ? season(h) : 1)
            }
            intervals[level] = (zip(mean, spread).map { $0 - $1 }, zip(mean, spread).map { $0 + $1 })
        }
        return Forecast(mean: mean, intervals: intervals)
    }
}
