import Foundation

/// An exponential smoothing model in state-space form (Hyndman, Koehler, Ord and Snyder, *Forecasting with
/// Exponential Smoothing*, 2008): its error, trend and season, named as `ETS(M,Ad,A)`.
public struct ETSModel: Sendable, Hashable, CustomStringConvertible {
    public enum Error: String, Sendable, CaseIterable { case additive = "A", multiplicative = "M" }
    public enum Trend: String, Sendable, CaseIterable { case none = "N", additive = "A", damped = "Ad" }
    public enum Season: String, Sendable, CaseIterable { case none = "N", additive = "A", multiplicative = "M" }

    public let error: Error
    public let trend: Trend
    public let season: Season

    public init(_ error: Error, _ trend: Trend, _ season: Season) {
        (self.error, self.trend, self.season) = (error, trend, season)
    }

    public var description: String { "ETS(\(self.error.rawValue),\(self.trend.rawValue),\(self.season.rawValue))" }

    /// The models automatic selection considers, as R's `ets` and statsforecast's AutoETS do by default: no
    /// multiplicative trend, no additive error with a multiplicative season (numerically unstable), multiplicative
    /// error or season only on positive data, a season only with a period above 1.
    static func candidates(positive: Bool, seasonal: Bool) -> [ETSModel] {
        var models: [ETSModel] = []
        for error in Error.allCases where error == .additive || positive {
            for trend in Trend.allCases {
                for season in Season.allCases {
                    if season != .none && !seasonal { continue }
                    if season == .multiplicative && (!positive || error == .additive) { continue }
                    models.append(ETSModel(error, trend, season))
                }
            }
        }
        return models
    }
}

/// A fitted exponential smoothing model: its smoothing parameters, initial and final states, error variance and
/// information criteria. The recursions are those of R's `forecast::ets` (error-correction form, with `beta` and
/// `gamma` as there); parameters and initial states are estimated together by maximum likelihood.
public struct ETSFit: Sendable {
    public let model: ETSModel
    public let period: Int
    public let alpha: Double, beta: Double, gamma: Double, phi: Double
    /// The states before the first observation: level, trend and one seasonal state per position `t % period`.
    public let initialLevel: Double, initialTrend: Double, initialSeason: [Double]
    /// Twice the negative log-likelihood, up to a constant shared by all models of one series.
    public let likelihood: Double
    public let sigma2: Double
    public let parameters: Int
    public let observations: Int

    public var aic: Double { self.likelihood + 2 * Double(self.parameters) }
    public var aicc: Double {
        let denominator = Double(self.observations - self.parameters - 1)
        return denominator > 0 ? self.aic + 2 * Double(self.parameters * (self.parameters + 1)) / denominator : .infinity
    }
}

/// The state of the recursions: level, trend and the seasonal states by position.
struct ETSState {
    var level: Double
    var trend: Double
    var season: [Double]
}

enum ETS {
    /// The model's one-step forecast from `state` at time `t`, and the level it builds on.
    @inline(__always)
    static func onestep(_ model: ETSModel, _ state: ETSState, t: Int, phi: Double) -> (forecast: Double, base: Double, seasonal: Double) {
        let phib = model.trend == .none ? 0 : phi * state.trend
        let base = state.level + phib
        switch model.season {
        case .none: return (base, base, 0)
        case .additive:
            let s = state.season[t % state.season.count]
            return (base + s, base, s)
        case .multiplicative:
            let s = state.season[t % state.season.count]
            return (base * s, base, s)
        }
    }

    /// Moves `state` past observation `y` at time `t` (R's `etscalc` update).
    @inline(__always)
    static func update(_ model: ETSModel, _ state: inout ETSState, y: Double, t: Int, alpha: Double, beta: Double, gamma: Double, phi: Double) {
        let phib = model.trend == .none ? 0 : phi * state.trend
        let q = state.level + phib
        let m = state.season.count
        let old = model.season == .none ? 0 : state.season[t % m]
        let p: Double
        switch model.season {
        case .none: p = y
        case .additive: p = y - old
        case .multiplicative: p = y / old
        }
        let level = q + alpha * (p - q)
        if model.trend != .none { state.trend = phib + (beta / alpha) * (level - state.level - phib) }
        switch model.season {
        case .none: break
        case .additive: state.season[t % m] = old + gamma * (y - q - old)
        case .multiplicative: state.season[t % m] = old + gamma * (y / q - old)
        }
        state.level = level
    }

    /// Runs the recursions over `y`: twice the negative log-likelihood (R's `n log Σe² + 2 Σ log|ŷ|` for
    /// multiplicative errors), the sum of squared errors and the state after the last observation. Infinite when the
    /// model leaves its admissible region (a non-positive forecast under a multiplicative component).
    static func run(
        _ model: ETSModel, _ y: [Double], state initial: ETSState, alpha: Double, beta: Double, gamma: Double, phi: Double
    ) -> (likelihood: Double, sse: Double, state: ETSState) {
        var state = initial
        var sse = 0.0, logs = 0.0
        let multiplicative = model.error == .multiplicative || model.season == .multiplicative
        for t in 0..<y.count {
            let step = Self.onestep(model, state, t: t, phi: phi)
            if multiplicative && !(step.forecast > 0 && step.base > 0) { return (.infinity, .infinity, state) }
            let error = model.error == .additive ? y[t] - step.forecast : (y[t] - step.forecast) / step.forecast
            sse += error * error
            if model.error == .multiplicative { logs += Foundation.log(step.forecast) }
            Self.update(model, &state, y: y[t], t: t, alpha: alpha, beta: beta, gamma: gamma, phi: phi)
        }
        let n = Double(y.count)
        let likelihood = sse > 0 ? n * Foundation.log(sse) + 2 * logs : -1e10
        return (likelihood.isFinite ? likelihood : .infinity, sse, state)
    }

    /// The initial states R's `ets` starts its search from: seasonal figure from a classical decomposition of the
    /// first three seasons (or of a linear detrending when there are fewer), then level and trend from a line through
    /// the first `max(10, 2m)` seasonally adjusted values.
    static func initialState(_ model: ETSModel, _ y: [Double], period: Int) -> ETSState {
        let n = y.count
        var season: [Double] = []
        var adjusted = y
        if model.season != .none {
            let multiplicative = model.season == .multiplicative
            if n >= 3 * period {
                season = Seasonality.indices(Array(y.prefix(3 * period)), period: period, multiplicative: multiplicative)
            } else {
                let line = Statistics.line(y)
                var sums = Array(repeating: 0.0, count: period), counts = Array(repeating: 0.0, count: period)
                for t in 0..<n {
                    let trend = line.intercept + line.slope * Double(t)
                    sums[t % period] += multiplicative ? (trend != 0 ? y[t] / trend : 1) : y[t] - trend
                    counts[t % period] += 1
                }
                let raw = zip(sums, counts).map { $1 > 0 ? $0 / $1 : (multiplicative ? 1 : 0) }
                let centre = Statistics.mean(raw)
                season = multiplicative ? raw.map { centre > 0 ? $0 / centre : 1 } : raw.map { $0 - centre }
            }
            if multiplicative { season = season.map { max($0, 0.01) } }
            adjusted = (0..<n).map { multiplicative ? y[$0] / season[$0 % period] : y[$0] - season[$0 % period] }
        }
        let first = Array(adjusted.prefix(min(max(10, 2 * period), n)))
        if model.trend == .none { return ETSState(level: Statistics.mean(first), trend: 0, season: season) }
        let line = Statistics.line(first)
        // The line's value one step before the first observation, as R's `lsfit(1:maxn, …)` intercept.
        return ETSState(level: line.intercept - line.slope, trend: line.slope, season: season)
    }

    /// Fits `model` by maximum likelihood: smoothing parameters within R's usual bounds (alpha, beta, gamma in
    /// [0.0001, 0.9999] with beta < alpha and gamma < 1 − alpha, phi in [0.8, 0.98]) and initial states, by Nelder–Mead.
    static func fit(_ model: ETSModel, _ y: [Double], period: Int, maxIterations: Int = 1_000) -> ETSFit? {
        let m = model.season == .none ? 1 : period
        let n = y.count
        let start = Self.initialState(model, y, period: m)
        let hasTrend = model.trend != .none, damped = model.trend == .damped, seasonal = model.season != .none
        // R's starting values for the smoothing parameters.
        let alpha0 = 0.0001 + 0.2 * (0.9999 - 0.0001) / Double(m)
        let beta0 = 0.0001 + 0.1 * (alpha0 - 0.0001)
        let gamma0 = 0.0001 + 0.05 * (1 - alpha0 - 0.0001)
        var x: [Double] = [alpha0], lower: [Double] = [0.0001], upper: [Double] = [0.9999]
        if hasTrend { x.append(beta0); lower.append(0.0001); upper.append(0.9999) }
        if seasonal { x.append(gamma0); lower.append(0.0001); upper.append(0.9999) }
        if damped { x.append(0.8 + 0.99 * 0.18); lower.append(0.8); upper.append(0.98) }
        x.append(start.level)
        if hasTrend { x.append(start.trend) }
        if seasonal { x.append(contentsOf: start.season[1...]) }
        lower += Array(repeating: -Double.infinity, count: x.count - lower.count)
        upper += Array(repeating: Double.infinity, count: x.count - upper.count)
        func unpack(_ x: [Double]) -> (alpha: Double, beta: Double, gamma: Double, phi: Double, state: ETSState)? {
            var index = 0
            func next() -> Double { defer { index += 1 }; return x[index] }
            let alpha = next()
            let beta = hasTrend ? next() : 0
            let gamma = seasonal ? next() : 0
            let phi = damped ? next() : 1
            if hasTrend && beta > alpha { return nil }
            if seasonal && gamma > 1 - alpha { return nil }
            let level = next()
            let trend = hasTrend ? next() : 0
            var season: [Double] = []
            if seasonal {
                let free = (1..<m).map { _ in next() }
                let first = model.season == .multiplicative ? Double(m) - free.reduce(0, +) : -free.reduce(0, +)
                season = [first] + free
                if model.season == .multiplicative { guard season.allSatisfy({ $0 > 0 }) else { return nil } }
            }
            return (alpha, beta, gamma, phi, ETSState(level: level, trend: trend, season: season))
        }
        func objective(_ x: [Double]) -> Double {
            guard let p = unpack(x) else { return .infinity }
            let likelihood = Self.run(model, y, state: p.state, alpha: p.alpha, beta: p.beta, gamma: p.gamma, phi: p.phi).likelihood
            return likelihood.isNaN ? .infinity : likelihood
        }
        let parameters = x.count + 1
        guard parameters < n else { return nil }
        let best = NelderMead.minimise(objective, start: x, lower: lower, upper: upper, maxIterations: maxIterations)
        guard best.value.isFinite, let p = unpack(best.point) else { return nil }
        let run = Self.run(model, y, state: p.state, alpha: p.alpha, beta: p.beta, gamma: p.gamma, phi: p.phi)
        return ETSFit(
            model: model, period: m, alpha: p.alpha, beta: p.beta, gamma: p.gamma, phi: p.phi,
            initialLevel: p.state.level, initialTrend: p.state.trend, initialSeason: p.state.season,
            likelihood: best.value, sigma2: run.sse / Double(max(1, n - parameters)), parameters: parameters, observations: n)
    }
}

extension ETSFit {
    var initialState: ETSState { ETSState(level: self.initialLevel, trend: self.initialTrend, season: self.initialSeason) }

    /// The state after the last observation of `y` (the series it was fitted to).
    func finalState(_ y: [Double]) -> ETSState {
        ETS.run(self.model, y, state: self.initialState, alpha: self.alpha, beta: self.beta, gamma: self.gamma, phi: self.phi).state
    }

    /// Point forecasts and intervals after `y`. The intervals are analytic for the linear models (Hyndman et al. 2008,
    /// class 1) and for multiplicative errors without a multiplicative season (class 2); with a multiplicative season
    /// they are the quantiles of 5,000 simulated paths from a fixed seed.
    func forecast(after y: [Double], horizon: Int, levels: [Int]) -> Forecast {
        let final = self.finalState(y)
        let n = y.count
        var state = final
        var mean: [Double] = []
        for h in 0..<horizon {
            let step = ETS.onestep(self.model, state, t: n + h, phi: self.phi)
            mean.append(step.forecast)
            ETS.update(self.model, &state, y: step.forecast, t: n + h, alpha: self.alpha, beta: self.beta, gamma: self.gamma, phi: self.phi)
        }
        var intervals: [Int: (lower: [Double], upper: [Double])] = [:]
        guard !levels.isEmpty, horizon > 0 else { return Forecast(mean: mean, intervals: intervals) }
        if self.model.error == .multiplicative && self.model.season == .multiplicative {
            let paths = self.simulate(from: final, start: n, horizon: horizon, paths: 5_000)
            for level in levels {
                let tail = (1 - Double(level) / 100) / 2
                intervals[level] = (
                    paths.map { Self.quantile($0, tail) }, paths.map { Self.quantile($0, 1 - tail) }
                )
            }
            return Forecast(mean: mean, intervals: intervals)
        }
        // c_j = alpha + beta·(phi + … + phi^j) + gamma·[j is a whole number of seasons]
        var c: [Double] = []
        var phiSum = 0.0, phiPower = 1.0
        for j in 1..<max(horizon, 1) {
            phiPower *= self.model.trend == .damped ? self.phi : 1
            phiSum += phiPower
            var value = self.alpha
            if self.model.trend != .none { value += self.beta * phiSum }
            if self.model.season != .none && j % self.period == 0 { value += self.gamma }
            c.append(value)
        }
        var variance: [Double] = []
        if self.model.error == .additive {
            var sum = 0.0
            for h in 0..<horizon {
                if h > 0 { sum += c[h - 1] * c[h - 1] }
                variance.append(self.sigma2 * (1 + sum))
            }
        } else {
            var theta: [Double] = []
            for h in 0..<horizon {
                var value = mean[h] * mean[h]
                for j in 1...max(1, h) where j <= h { value += self.sigma2 * c[j - 1] * c[j - 1] * theta[h - j] }
                theta.append(value)
                variance.append(max(0, (1 + self.sigma2) * value - mean[h] * mean[h]))
            }
        }
        for level in levels {
            let z = Statistics.normalQuantile(level: level)
            let spread = variance.map { z * $0.squareRoot() }
            intervals[level] = (zip(mean, spread).map { $0 - $1 }, zip(mean, spread).map { $0 + $1 })
        }
        return Forecast(mean: mean, intervals: intervals)
    }

    /// Future paths drawn from the model with normal errors: `paths` values per horizon step.
    func simulate(from state: ETSState, start: Int, horizon: Int, paths: Int) -> [[Double]] {
        var draws = NormalDraws(seed: 20_080_601)
        var values = Array(repeating: [Double](repeating: 0, count: paths), count: horizon)
        let sigma = self.sigma2.squareRoot()
        for path in 0..<paths {
            var current = state
            for h in 0..<horizon {
                let step = ETS.onestep(self.model, current, t: start + h, phi: self.phi)
                let error = sigma * draws.next()
                let y = self.model.error == .additive ? step.forecast + error : step.forecast * (1 + error)
                values[h][path] = y
                ETS.update(self.model, &current, y: y, t: start + h, alpha: self.alpha, beta: self.beta, gamma: self.gamma, phi: self.phi)
            }
        }
        return values
    }

    /// The `p` quantile of `values` (R's type 7: linear between order statistics).
    static func quantile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        guard sorted.count > 1 else { return sorted.first ?? 0 }
        let position = p * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down)), upper = min(lower + 1, sorted.count - 1)
        return sorted[lower] + (position - Double(lower)) * (sorted[upper] - sorted[lower])
    }
}

/// Exponential smoothing with the model chosen automatically: every candidate fitted by maximum likelihood, the one
/// with the smallest AICc kept (R's `forecast::ets`, statsforecast's AutoETS). A season is only tried when the period
/// is above 1 and at most 24 and the series holds more than one season.
public struct AutoETS: ForecastMethod {
    public let name = "auto-ets"
    public let maxIterations: Int
    public init(maxIterations: Int = 1_000) { self.maxIterations = maxIterations }

    /// Every admissible candidate, best AICc first.
    public func fits(_ history: [Double], period: Int) throws -> [ETSFit] {
        guard history.count >= 3 else { throw ForecastError(description: "exponential smoothing needs at least 3 observations") }
        guard history.allSatisfy(\.isFinite) else { throw ForecastError(description: "the series holds a value that is not a number") }
        let seasonal = period > 1 && period <= 24 && history.count > period
        let candidates = ETSModel.candidates(positive: history.allSatisfy { $0 > 0 }, seasonal: seasonal)
        let fits = candidates.compactMap { ETS.fit($0, history, period: period, maxIterations: self.maxIterations) }
            .filter { $0.aicc.isFinite }
        guard !fits.isEmpty else { throw ForecastError(description: "no exponential smoothing model fits the series") }
        return fits.sorted { $0.aicc < $1.aicc }
    }

    public func forecast(_ history: [Double], period: Int, horizon: Int, levels: [Int]) throws -> Forecast {
        try self.fits(history, period: period)[0].forecast(after: history, horizon: horizon, levels: levels)
    }
}
