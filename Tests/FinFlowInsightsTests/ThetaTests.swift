import Foundation
import Testing

@testable import FinFlowInsights

@Suite("forecasting: exponential smoothing, Theta, seasonality, baselines, accuracy")
struct ThetaTests {
    /// A deterministic noise source for simulated series.
    struct Noise {
        var state: UInt64
        mutating func next() -> Double {
            self.state = self.state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(self.state >> 11) / Double(1 << 53) - 0.5
        }
    }

    @Test("the smoothing recursion, worked by hand: 10, 12, 11, 13 at alpha 0.5")
    func sesRecursion() {
        // Levels 10 → 11 (error 2) → 11 (error 0) → 12 (error 2): squared errors 4 + 0 + 4.
        let run = SimpleExponentialSmoothing.run([10, 12, 11, 13], alpha: 0.5)
        #expect(run.level == 12 && run.sse == 8)
        // A constant series is fitted exactly whatever alpha; a random walk wants alpha near 1.
        #expect(SimpleExponentialSmoothing.fit([5, 5, 5, 5]).sigma2 == 0)
        var noise = Noise(state: 7)
        var walk = [100.0]
        for _ in 0..<200 { walk.append(walk.last! + noise.next() * 10) }
        #expect(SimpleExponentialSmoothing.fit(walk).alpha > 0.9)
    }

    @Test("Theta equals the classic method: the average of the extrapolated trend line and the smoothed theta-2 line")
    func classicTheta() throws {
        // Yearly sales (M3's N0001, its 14 training years).
        let y = [940.66, 1084.86, 1244.98, 1445.02, 1683.17, 2038.15, 2342.52, 2602.45, 2927.87, 3103.96, 3360.27, 3807.63, 4387.88, 4936.99]
        let n = y.count, horizon = 6
        let line = Statistics.line(y)
        let trend = (0..<n).map { line.intercept + line.slope * Double($0) }
        let thetaTwo = zip(y, trend).map { 2 * $0 - $1 }
        let alpha = SimpleExponentialSmoothing.fit(y).alpha
        let smoothed = SimpleExponentialSmoothing.run(thetaTwo, alpha: alpha).level
        let classic = (0..<horizon).map { h in (line.intercept + line.slope * Double(n + h) + smoothed) / 2 }
        let theta = try Theta().forecast(y, period: 1, horizon: horizon, levels: [])
        for (a, b) in zip(theta.mean, classic) { #expect(abs(a - b) < 1e-6, "\(theta.mean) against \(classic)") }
    }

    @Test("seasonality is detected, not assumed: a monthly pattern is found and forecast back, noise is not seasonal")
    func seasonality() throws {
        let pattern = [0.8, 0.85, 0.95, 1.0, 1.05, 1.1, 1.2, 1.15, 1.05, 0.95, 0.9, 1.0]
        let scale = Statistics.mean(pattern)
        let seasonal = (0..<120).map { 1_000 * pattern[$0 % 12] / scale }
        #expect(Seasonality.isSeasonal(seasonal, period: 12))
        let indices = Seasonality.multiplicativeIndices(seasonal, period: 12)
        for (index, truth) in zip(indices, pattern.map { $0 / scale }) { #expect(abs(index - truth) < 1e-9) }
        let forecast = try Theta().forecast(seasonal, period: 12, horizon: 12, levels: [80])
        for (h, value) in forecast.mean.enumerated() { #expect(abs(value - seasonal[(120 + h) % 12]) < 1e-6) }
        var noise = Noise(state: 42)
        let white = (0..<120).map { _ in 1_000 + 100 * noise.next() }
        #expect(!Seasonality.isSeasonal(white, period: 12))
        #expect(!Seasonality.isSeasonal(Array(seasonal.prefix(30)), period: 12), "fewer than three seasons are not tested")
        #expect(!Seasonality.isSeasonal(seasonal, period: .max), "a period past the series is no season, and no overflow")
    }

    @Test("intervals widen with the horizon and hold the point forecast; the normal quantiles are right")
    func intervals() throws {
        #expect(abs(Statistics.normalQuantile(level: 95) - 1.959963985) < 1e-8)
        #expect(abs(Statistics.normalQuantile(level: 80) - 1.281551566) < 1e-8)
        var noise = Noise(state: 3)
        let y = (0..<60).map { 500 + Double($0) * 2 + 20 * noise.next() }
        let forecast = try Theta().forecast(y, period: 1, horizon: 8, levels: [80, 95])
        let (low80, high80) = try #require(forecast.intervals[80]), (low95, high95) = try #require(forecast.intervals[95])
        for h in 0..<8 {
            #expect(low95[h] < low80[h] && low80[h] < forecast.mean[h] && forecast.mean[h] < high80[h] && high80[h] < high95[h])
            if h > 0 { #expect(high95[h] - low95[h] > high95[h - 1] - low95[h - 1]) }
        }
    }

    @Test("baselines: the last value, the last season, the line through the first and last values")
    func baselines() throws {
        let y = [1.0, 2, 3, 4, 5, 6, 7, 8]
        #expect(try Baseline(.naive).forecast(y, period: 1, horizon: 3, levels: []).mean == [8, 8, 8])
        #expect(try Baseline(.seasonalNaive).forecast(y, period: 4, horizon: 6, levels: []).mean == [5, 6, 7, 8, 5, 6])
        #expect(try Baseline(.drift).forecast(y, period: 1, horizon: 2, levels: []).mean == [9, 10])
        #expect(throws: ForecastError.self) { try Theta().forecast([1, .nan, 3], period: 1, horizon: 1, levels: []) }
    }

    @Test("sMAPE and MASE as the competitions define them, worked by hand")
    func accuracy() {
        // |100 − 110| / (100 + 110) × 200 = 9.5238…; |50 − 50| → 0; mean 4.7619…
        #expect(abs(Accuracy.sMAPE(actual: [100, 50], forecast: [110, 50]) - 4.761904762) < 1e-8)
        // In-sample naive errors 2, 2, 2 → scale 2; forecast errors 1 and 3 → mean 2; MASE 1.
        #expect(Accuracy.MASE(history: [1, 3, 5, 7], actual: [10, 12], forecast: [9, 15], period: 1) == 1)
    }

    @Test("a competition is scored per category: the naive forecast of two series, worked by hand")
    func competition() throws {
        let json = """
            [{"category":"yearly","period":1,"horizon":2,"x":[1,3,5],"xx":[5,10]},
             {"category":"yearly","period":1,"horizon":1,"x":[2,2,4],"xx":[4]}]
            """
        let series = try JSONDecoder().decode([Competition.Series].self, from: Data(json.utf8))
        let score = try #require(try Competition.score(series, methods: [Baseline(.naive)]).first)
        // sMAPE: (0 + 200·5/15) / 2 = 33.33 for the first series, 0 for the second; mean 16.67.
        #expect(score.series == 2 && abs(score.sMAPE - 50 / 3) < 1e-9)
        // MASE: errors 0 and 5 over in-sample changes of 2 → 1.25; 0 over 1 → 0; mean 0.625.
        #expect(abs(score.MASE - 0.625) < 1e-9)
    }
}
