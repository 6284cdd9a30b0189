import Foundation
import Testing

@testable import FinFlowInsights

@Suite("forecasting: exponential smoothing state space, AutoTheta, ensemble, backtests and conformal intervals")
struct ETSTests {
    /// Draws a series from an ETS model with normal errors (a fixed seed).
    static func simulate(_ model: ETSModel, n: Int, state: ETSState, alpha: Double, beta: Double = 0, gamma: Double = 0,
                         phi: Double = 1, sigma: Double, seed: UInt64) -> [Double] {
        var draws = NormalDraws(seed: seed)
        var state = state
        var y: [Double] = []
        for t in 0..<n {
            let step = ETS.onestep(model, state, t: t, phi: phi)
            let error = sigma * draws.next()
            let value = model.error == .additive ? step.forecast + error : step.forecast * (1 + error)
            y.append(value)
            ETS.update(model, &state, y: value, t: t, alpha: alpha, beta: beta, gamma: gamma, phi: phi)
        }
        return y
    }

    @Test("ETS(A,A,N) recursions, worked by hand: level 10, trend 1, alpha 0.5, beta 0.1 over 12, 13, 15")
    func additiveTrendByHand() {
        // t=1: forecast 11, error 1, level 11.5, trend 1.1; t=2: forecast 12.6, error 0.4, level 12.8, trend 1.14;
        // t=3: forecast 13.94, error 1.06, level 14.47, trend 1.246.
        let model = ETSModel(.additive, .additive, .none)
        let run = ETS.run(model, [12, 13, 15], state: ETSState(level: 10, trend: 1, season: []), alpha: 0.5, beta: 0.1, gamma: 0, phi: 1)
        #expect(abs(run.sse - 2.2836) < 1e-12)
        #expect(abs(run.likelihood - 3 * log(2.2836)) < 1e-12)
        #expect(abs(run.state.level - 14.47) < 1e-12 && abs(run.state.trend - 1.246) < 1e-12)
        let fit = ETSFit(
            model: model, period: 1, alpha: 0.5, beta: 0.1, gamma: 0, phi: 1, initialLevel: 10, initialTrend: 1, initialSeason: [],
            likelihood: run.likelihood, sigma2: 1, parameters: 5, observations: 3)
        let forecast = fit.forecast(after: [12, 13, 15], horizon: 3, levels: [95])
        for (value, truth) in zip(forecast.mean, [15.716, 16.962, 18.208]) { #expect(abs(value - truth) < 1e-9) }
        // Class 1 variance: σ²(1 + Σ (α + βj)²) = 1, 1 + 0.36, 1 + 0.36 + 0.49.
        let z = 1.959963984540054
        for (h, variance) in [1.0, 1.36, 1.85].enumerated() {
            let bounds = forecast.intervals[95]!
            #expect(abs((bounds.upper[h] - forecast.mean[h]) - z * variance.squareRoot()) < 1e-6)
        }
    }

    @Test("ETS(M,N,M) recursions, worked by hand: relative errors, multiplicative seasons and the log term of the likelihood")
    func multiplicativeSeasonByHand() {
        // t=1: forecast 100 × 0.8 = 80, error 0.125, level 102.5, season 0.81;
        // t=2: forecast 102.5 × 1.2 = 123, error 2/123, level 102.8333…, season 1.2 + 0.1 (125/102.5 − 1.2).
        let model = ETSModel(.multiplicative, .none, .multiplicative)
        let run = ETS.run(model, [90, 125], state: ETSState(level: 100, trend: 0, season: [0.8, 1.2]), alpha: 0.2, beta: 0, gamma: 0.1, phi: 1)
        let errors = [0.125, 2.0 / 123]
        #expect(abs(run.sse - errors.reduce(0) { $0 + $1 * $1 }) < 1e-15)
        #expect(abs(run.likelihood - (2 * log(run.sse) + 2 * (log(80.0) + log(123.0)))) < 1e-12)
        #expect(abs(run.state.level - (102.5 + 0.2 * (125 / 1.2 - 102.5))) < 1e-12)
        #expect(abs(run.state.season[0] - 0.81) < 1e-15 && abs(run.state.season[1] - (1.2 + 0.1 * (125 / 102.5 - 1.2))) < 1e-15)
        // A multiplicative model leaves its admissible region when a forecast is not positive.
        let negative = ETS.run(model, [90, 125], state: ETSState(level: -5, trend: 0, season: [1, 1]), alpha: 0.2, beta: 0, gamma: 0.1, phi: 1)
        #expect(negative.likelihood == .infinity)
    }

    @Test("AICc picks the generating model's trend and season on simulated series")
    func selection() throws {
        // A local level: no trend, no season.
        let level = Self.simulate(
            ETSModel(.additive, .none, .none), n: 120, state: ETSState(level: 500, trend: 0, season: []), alpha: 0.3, sigma: 10, seed: 1)
        let levelFit = try AutoETS().fits(level, period: 1)[0]
        #expect(levelFit.model.trend == .none && levelFit.model.season == .none, "\(levelFit.model)")
        // A steady trend with small noise.
        let trend = Self.simulate(
            ETSModel(.additive, .additive, .none), n: 120, state: ETSState(level: 100, trend: 5, season: []), alpha: 0.2, beta: 0.02,
            sigma: 2, seed: 2)
        let trendFit = try AutoETS().fits(trend, period: 1)[0]
        #expect(trendFit.model.trend != .none && trendFit.model.season == .none, "\(trendFit.model)")
        // A strong multiplicative monthly season on a level.
        let pattern = [0.7, 0.8, 0.9, 1.0, 1.1, 1.3, 1.4, 1.3, 1.1, 0.9, 0.8, 0.7]
        let seasonal = Self.simulate(
            ETSModel(.multiplicative, .none, .multiplicative), n: 144,
            state: ETSState(level: 1_000, trend: 0, season: pattern.map { $0 * 12 / pattern.reduce(0, +) }), alpha: 0.1, gamma: 0.05,
            sigma: 0.03, seed: 3)
        let seasonalFit = try AutoETS().fits(seasonal, period: 12)[0]
        #expect(seasonalFit.model.season == .multiplicative && seasonalFit.model.trend == .none, "\(seasonalFit.model)")
        #expect(seasonalFit.model.error == .multiplicative, "\(seasonalFit.model)")
        // Noise has no season to find.
        var draws = NormalDraws(seed: 4)
        let noise = (0..<96).map { _ in 100 + 5 * draws.next() }
        #expect(try AutoETS().fits(noise, period: 12)[0].model.season == .none)
        // Multiplicative components are only tried on positive data, and a season only with a period.
        #expect(ETSModel.candidates(positive: false, seasonal: true).allSatisfy { $0.error == .additive && $0.season != .multiplicative })
        #expect(ETSModel.candidates(positive: true, seasonal: false).allSatisfy { $0.season == .none })
        #expect(ETSModel.candidates(positive: true, seasonal: true).count == 15)
    }

    @Test("maximum likelihood recovers the smoothing parameter of a simulated local level")
    func likelihood() throws {
        let y = Self.simulate(
            ETSModel(.additive, .none, .none), n: 400, state: ETSState(level: 50, trend: 0, season: []), alpha: 0.6, sigma: 1, seed: 11)
        let fit = try #require(ETS.fit(ETSModel(.additive, .none, .none), y, period: 1))
        #expect(abs(fit.alpha - 0.6) < 0.1, "alpha \(fit.alpha)")
        #expect(abs(fit.sigma2 - 1) < 0.2, "sigma² \(fit.sigma2)")
        // The likelihood at the optimum is no worse than at the truth.
        let truth = ETS.run(ETSModel(.additive, .none, .none), y, state: ETSState(level: 50, trend: 0, season: []), alpha: 0.6, beta: 0, gamma: 0, phi: 1)
        #expect(fit.likelihood <= truth.likelihood + 1e-6)
    }

    @Test("the dynamic theta line is the least-squares line through the observations so far")
    func dynamicThetaLine() {
        let y = [3.0, 7, 4, 9, 12, 10, 15]
        var state = ThetaState(level: 0, mean: y[0], a: y[0], b: 0)
        for i in 1..<y.count {
            state.advance(y: y[i], i: i, alpha: 0.5, dynamic: true)
            let line = Statistics.line(Array(y[0...i]))
            // Statistics.line is on time 0…i; the theta line is on time 1…i+1.
            #expect(abs(state.b - line.slope) < 1e-12)
            #expect(abs(state.a - (line.intercept - line.slope)) < 1e-12)
        }
    }

    @Test("AutoTheta forecasts a straight line as the line, and the ensemble averages its members")
    func autoThetaAndEnsemble() throws {
        let line = (0..<40).map { 100 + 3 * Double($0) }
        let forecast = try AutoTheta().forecast(line, period: 1, horizon: 5, levels: [80])
        for (h, value) in forecast.mean.enumerated() { #expect(abs(value - (100 + 3 * Double(40 + h))) < 0.5, "\(forecast.mean)") }
        let naive = try Baseline(.naive).forecast(line, period: 1, horizon: 3, levels: [80])
        let drift = try Baseline(.drift).forecast(line, period: 1, horizon: 3, levels: [80])
        let both = try Ensemble([Baseline(.naive), Baseline(.drift)]).forecast(line, period: 1, horizon: 3, levels: [80])
        for h in 0..<3 {
            #expect(both.mean[h] == (naive.mean[h] + drift.mean[h]) / 2)
            #expect(both.intervals[80]!.upper[h] == (naive.intervals[80]!.upper[h] + drift.intervals[80]!.upper[h]) / 2)
        }
    }

    @Test("rolling origins step back a horizon at a time and keep enough history; the backtest scores each window")
    func backtest() throws {
        #expect(Backtest.origins(count: 100, horizon: 12, windows: 3, minimumTraining: 24) == [64, 76, 88])
        #expect(Backtest.origins(count: 40, horizon: 12, windows: 3, minimumTraining: 24) == [28])
        #expect(Backtest.origins(count: 100, horizon: 12, windows: 2, minimumTraining: 24, step: 6) == [88, 94])
        let y = (0..<30).map { Double($0 % 5) }
        let result = try Backtest.run(Baseline(.naive), history: y, period: 1, horizon: 5, origins: [20, 25], levels: [80])
        #expect(result.windows.map(\.origin) == [20, 25])
        // Both windows carry 4 (the values at 19 and 24) into 0, 1, 2, 3, 4: the mean is that window's sMAPE.
        let expected = Accuracy.sMAPE(actual: [0, 1, 2, 3, 4], forecast: [4, 4, 4, 4, 4])
        #expect(abs(result.sMAPE - expected) < 1e-12)
    }

    /// A method whose intervals are far too narrow: the mean of the history ± a tenth of its spread.
    struct Overconfident: ForecastMethod {
        let name = "overconfident"
        func forecast(_ history: [Double], period: Int, horizon: Int, levels: [Int]) throws -> Forecast {
            let mean = Statistics.mean(history)
            let spread = (history.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(history.count)).squareRoot() / 10
            var intervals: [Int: (lower: [Double], upper: [Double])] = [:]
            for level in levels {
                let z = Statistics.normalQuantile(level: level)
                intervals[level] = (Array(repeating: mean - z * spread, count: horizon), Array(repeating: mean + z * spread, count: horizon))
            }
            return Forecast(mean: Array(repeating: mean, count: horizon), intervals: intervals)
        }
    }

    @Test("conformal intervals reach their nominal coverage on simulated data where the model's own intervals do not")
    func conformalCoverage() throws {
        var draws = NormalDraws(seed: 99)
        var inside = [80: 0, 95: 0], own = [80: 0, 95: 0], points = 0
        for _ in 0..<300 {
            let series = (0..<72).map { _ in 1_000 + 50 * draws.next() }
            let history = Array(series.prefix(60)), future = Array(series.suffix(12))
            let calibrated = try Conformal(Overconfident()).forecast(history, period: 1, horizon: 12, levels: [80, 95])
            let raw = try Overconfident().forecast(history, period: 1, horizon: 12, levels: [80, 95])
            for (h, actual) in future.enumerated() {
                points += 1
                for level in [80, 95] {
                    if calibrated.intervals[level]!.lower[h] <= actual && actual <= calibrated.intervals[level]!.upper[h] { inside[level]! += 1 }
                    if raw.intervals[level]!.lower[h] <= actual && actual <= raw.intervals[level]!.upper[h] { own[level]! += 1 }
                }
            }
        }
        let coverage = inside.mapValues { 100 * Double($0) / Double(points) }
        let rawCoverage = own.mapValues { 100 * Double($0) / Double(points) }
        #expect(rawCoverage[80]! < 20 && rawCoverage[95]! < 25, "\(rawCoverage)")
        #expect(abs(coverage[80]! - 80) < 3, "\(coverage)")
        #expect(abs(coverage[95]! - 95) < 2, "\(coverage)")
    }
}
