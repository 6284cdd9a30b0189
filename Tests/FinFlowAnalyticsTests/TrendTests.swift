import FinFlowCore
import Foundation
import Testing

@testable import FinFlowAnalytics

/// The trend tools on series whose answer is known: a decomposition gives back the season and trend a series was
/// built from, and change-point detection finds the shifts put into noisy series, and none in a series without.
@Suite("analytics trends: classical decomposition and PELT change points")
struct TrendTests {
    @Test("a linear trend plus a fixed season decomposes back into them, remainder zero")
    func decomposesKnownSeries() throws {
        let season: [Double] = [-30, -10, 0, 5, 10, 25, 40, 20, 5, -15, -20, -30]
        let values = (0..<48).map { 1_000 + 3 * Double($0) + season[$0 % 12] }
        let d = try #require(Decomposition.classical(values, period: 12))
        #expect(d.trend.prefix(6).allSatisfy { $0 == nil } && d.trend.suffix(6).allSatisfy { $0 == nil })
        for t in 6..<42 { #expect(abs((d.trend[t] ?? 0) - (1_000 + 3 * Double(t))) < 1e-9) }
        let mean = season.reduce(0, +) / 12
        for t in 0..<12 { #expect(abs(d.seasonal[t] - (season[t] - mean)) < 1e-9) }
        #expect(d.remainder.compactMap { $0 }.allSatisfy { abs($0) < 1e-9 })
        #expect((d.seasonalStrength ?? 0) > 0.999)
        // An odd season takes a plain centred average.
        let weekly = (0..<28).map { 50 + Double([0, 4, -2, 1, 3, -5, -1][$0 % 7]) }
        let w = try #require(Decomposition.classical(weekly, period: 7))
        #expect(w.trend[3].map { abs($0 - 50) < 1e-9 } == true)
        // Under two seasons: a trend, no season; under one: nothing.
        #expect(Decomposition.classical(Array(values.prefix(18)), period: 12)?.seasonal.isEmpty == true)
        #expect(Decomposition.classical(Array(values.prefix(12)), period: 12) == nil)
    }

    /// A seeded series of `length` values around `levels` (each from its index on), with Gaussian noise of `sigma`.
    static func series(length: Int, levels: [(from: Int, level: Double)], sigma: Double, seed: UInt64) -> [Double] {
        var random = SeededRandom(seed: seed)
        return (0..<length).map { t in
            let level = levels.last { $0.from <= t }?.level ?? 0
            // Box–Muller from two uniforms in (0, 1].
            let u1 = Double(random.next() >> 11 + 1) / 9_007_199_254_740_992
            let u2 = Double(random.next() >> 11) / 9_007_199_254_740_992
            return level + sigma * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        }
    }

    @Test("shifts put into noisy series are found within a period of where they were put; a flat series has none")
    func findsShifts() {
        var found = 0
        var placed = 0
        var falseAlarms = 0
        for seed in UInt64(1)...40 {
            let values = Self.series(length: 60, levels: [(0, 100), (20, 130), (41, 90)], sigma: 5, seed: seed)
            let changes = ChangePoints.detect(values)
            placed += 2
            for truth in [20, 41] where changes.contains(where: { abs($0.index - truth) <= 1 }) { found += 1 }
            falseAlarms += changes.filter { c in ![20, 41].contains { abs(c.index - $0) <= 1 } }.count
            let flat = Self.series(length: 60, levels: [(0, 100)], sigma: 5, seed: seed + 1_000)
            falseAlarms += ChangePoints.detect(flat).count
        }
        #expect(found == placed, "every shift of six sigma is found: \(found) of \(placed)")
        let small = (UInt64(1)...40).filter { seed in
            let values = Self.series(length: 60, levels: [(0, 100), (30, 115)], sigma: 5, seed: seed + 2_000)
            return ChangePoints.detect(values).contains { abs($0.index - 30) <= 2 }
        }.count
        #expect(small >= 36, "nine shifts of three sigma in ten are found: \(small) of 40")
        #expect(falseAlarms <= 4, "at most one false alarm in twenty series: \(falseAlarms) in 80")
        let step = ChangePoints.detect([1, 1, 1, 1, 5, 5, 5, 5])
        #expect(step == [ChangePoints.Change(index: 4, meanBefore: 1, meanAfter: 5)], "a noiseless step is exact")
        #expect(ChangePoints.detect([3]).isEmpty && ChangePoints.detect([]).isEmpty)
    }

    @Test("a shift in a seasonal series is found together with the season; the season alone is no shift")
    func findsShiftsBesideASeason() {
        let season: [Double] = [-8_000, -6_000, -2_000, 0, 3_000, 6_000, 9_000, 7_000, 3_000, 0, -4_000, -8_000]
        var exact = 0
        var falseAlarms = 0
        for seed in UInt64(1)...30 {
            var random = SeededRandom(seed: seed)
            var shifted: [Double] = []
            var flat: [Double] = []
            for t in 0..<36 {
                let level: Double = t < 18 ? 100_000 : 150_000
                shifted.append(level + season[t % 12] + Double(random.next() % 6_001) - 3_000)
                flat.append(100_000 + season[t % 12] + Double(random.next() % 6_001) - 3_000)
            }
            let changes = ChangePoints.detect(shifted, seasonPeriods: 12)
            if changes.map(\.index) == [18], let change = changes.first, abs(change.meanAfter - change.meanBefore - 50_000) < 2_000 { exact += 1 }
            falseAlarms += ChangePoints.detect(flat, seasonPeriods: 12).count
        }
        #expect(exact >= 28, "the shift alone, at its month, of its size: \(exact) of 30")
        #expect(falseAlarms <= 2, "\(falseAlarms) false shifts in 30 seasonal series without one")
        // Estimating the season first fails here: the shift biases it, and what is left looks like more shifts.
        var random = SeededRandom(seed: 1)
        var shifted: [Double] = []
        for t in 0..<36 {
            let level: Double = t < 18 ? 100_000 : 150_000
            shifted.append(level + season[t % 12] + Double(random.next() % 6_001) - 3_000)
        }
        let adjusted = zip(shifted, Decomposition.classical(shifted, period: 12)!.seasonal).map { $0 - $1 }
        #expect(ChangePoints.detect(adjusted).count > 1)
    }
}
