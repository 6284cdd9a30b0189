import Foundation

/// Where a series' level shifts: the optimal partition into segments of constant mean, found by PELT (Killick,
/// Fearnhead and Eckley 2012) with the Gaussian cost (the squared deviations from each segment's mean) and a penalty
/// per change of twice BIC's, 4·σ²·ln n (with BIC's own, one flat series of sixty months in five showed a false shift;
/// with twice it, none in forty, and shifts of three σ are still found), σ estimated robustly from the first
/// differences (their median absolute deviation), so a few large shifts do not inflate it.
enum ChangePoints {
    /// A shift in level at `index` (the first value of the new segment).
    struct Change: Sendable, Equatable {
        let index: Int
        let meanBefore: Double
        let meanAfter: Double
    }

    /// The changes in `values`, each segment at least `minimumSegment` long; none for a series under twice that.
    static func detect(_ values: [Double], minimumSegment: Int = 2, penaltyScale: Double = 2) -> [Change] {
        let n = values.count
        guard minimumSegment >= 1, n >= 2 * minimumSegment else { return [] }
        let sigma = Self.noise(values)
        guard sigma > 0 else { return [] }
        let penalty = 2 * sigma * sigma * log(Double(n)) * penaltyScale
        var sum = [Double](repeating: 0, count: n + 1)
        var squares = [Double](repeating: 0, count: n + 1)
        for i in 0..<n {
            sum[i + 1] = sum[i] + values[i]
            squares[i + 1] = squares[i] + values[i] * values[i]
        }
        func cost(_ a: Int, _ b: Int) -> Double {
            let length = Double(b - a)
            let s = sum[b] - sum[a]
            return max(0, squares[b] - squares[a] - s * s / length)
        }
        var best = [Double](repeating: .infinity, count: n + 1)
        var last = [Int](repeating: 0, count: n + 1)
        best[0] = -penalty
        var candidates = [0]
        for t in minimumSegment...n {
            var bestValue = Double.infinity
            var bestStart = 0
            for s in candidates where t - s >= minimumSegment {
                let value = best[s] + cost(s, t) + penalty
                if value < bestValue {
                    bestValue = value
                    bestStart = s
                }
            }
            best[t] = bestValue
            last[t] = bestStart
            // Pruning: a start that cannot beat the best now can never win later.
            candidates = candidates.filter { s in t - s < minimumSegment || best[s] + cost(s, t) <= bestValue }
            if t + 1 - minimumSegment >= minimumSegment { candidates.append(t + 1 - minimumSegment) }
        }
        var cuts: [Int] = []
        var t = n
        while t > 0 {
            let s = last[t]
            if s > 0 { cuts.append(s) }
            t = s
        }
        cuts.reverse()
        let bounds = [0] + cuts + [n]
        return cuts.enumerated().map { i, cut in
            Change(index: cut, meanBefore: Self.mean(values[bounds[i]..<cut]), meanAfter: Self.mean(values[cut..<bounds[i + 2]]))
        }
    }

    /// σ from the median absolute deviation of the first differences (each difference has variance 2σ²); where most
    /// differences are equal (a series without noise) that is zero, and their standard deviation stands in for it.
    static func noise(_ values: [Double]) -> Double {
        let differences = zip(values.dropFirst(), values).map { $0 - $1 }
        guard differences.count > 1 else { return 0 }
        let median = Self.median(differences)
        let robust = 1.4826 * Self.median(differences.map { abs($0 - median) }) / 2.0.squareRoot()
        return robust > 0 ? robust : Decomposition.variance(differences).squareRoot() / 2.0.squareRoot()
    }

    static func mean(_ values: ArraySlice<Double>) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

extension ChangePoints {
    /// Series up to this long with a season are searched jointly with it (below); longer ones, where the season is
    /// estimated from many cycles, by PELT on the classically adjusted series.
    static let jointSearchLengthMax = 200

    /// The level shifts of a seasonal series, found together with its season: levels constant between the changes
    /// plus one index per position of the season (summing to zero), fitted by least squares. A change is added where
    /// it lowers the squared error most, while that gain beats twice BIC's penalty (4·σ²·ln n, σ² from the fit with
    /// the change). Estimating the season first and the shifts after cannot work on a few years of data: a shift
    /// biases a classical season (its moving average smears the shift over a year), and the biased season then looks
    /// like shifts of its own.
    static func detect(_ values: [Double], seasonPeriods period: Int, minimumSegment: Int = 2, changesMax: Int = 20, penaltyScale: Double = 2)
        -> [Change]
    {
        let n = values.count
        guard period >= 2, n >= 2 * period, n <= Self.jointSearchLengthMax else {
            let adjusted = Decomposition.classical(values, period: period).map { d in
                d.seasonal.isEmpty ? values : zip(values, d.seasonal).map { $0 - $1 }
            } ?? values
            return Self.detect(adjusted, minimumSegment: minimumSegment, penaltyScale: penaltyScale)
        }
        var cuts: [Int] = []
        var error = Self.fit(values, cuts: cuts, period: period).error
        while cuts.count < changesMax {
            var best: (error: Double, cuts: [Int])?
            for t in minimumSegment...(n - minimumSegment) where !cuts.contains(t) {
                let candidate = (cuts + [t]).sorted()
                let bounds = [0] + candidate + [n]
                guard zip(bounds, bounds.dropFirst()).allSatisfy({ $1 - $0 >= minimumSegment }) else { continue }
                let fitted = Self.fit(values, cuts: candidate, period: period).error
                if fitted < (best?.error ?? .infinity) { best = (fitted, candidate) }
            }
            guard let best else { break }
            let parameters = best.cuts.count + 1 + period - 1
            guard n > parameters else { break }
            let variance = best.error / Double(n - parameters)
            guard error - best.error > penaltyScale * 2 * variance * log(Double(n)) else { break }
            (error, cuts) = (best.error, best.cuts)
        }
        let levels = Self.fit(values, cuts: cuts, period: period).levels
        return cuts.enumerated().map { i, cut in Change(index: cut, meanBefore: levels[i], meanAfter: levels[i + 1]) }
    }

    /// The least-squares levels (one per segment) and season of `values` with changes at `cuts`, by alternating the
    /// two (block coordinate descent on a convex quadratic, which converges); and the squared error left.
    static func fit(_ values: [Double], cuts: [Int], period: Int, rounds: Int = 25) -> (levels: [Double], error: Double) {
        let n = values.count
        let bounds = [0] + cuts + [n]
        var seasonal = [Double](repeating: 0, count: period)
        var levels = [Double](repeating: 0, count: bounds.count - 1)
        for _ in 0..<rounds {
            for s in 0..<levels.count {
                var sum = 0.0
                for t in bounds[s]..<bounds[s + 1] { sum += values[t] - seasonal[t % period] }
                levels[s] = sum / Double(bounds[s + 1] - bounds[s])
            }
            var sums = [Double](repeating: 0, count: period)
            var counts = [Double](repeating: 0, count: period)
            for s in 0..<levels.count {
                for t in bounds[s]..<bounds[s + 1] {
                    sums[t % period] += values[t] - levels[s]
                    counts[t % period] += 1
                }
            }
            seasonal = (0..<period).map { counts[$0] > 0 ? sums[$0] / counts[$0] : 0 }
            let mean = seasonal.reduce(0, +) / Double(period)
            seasonal = seasonal.map { $0 - mean }
        }
        var error = 0.0
        for s in 0..<levels.count {
            for t in bounds[s]..<bounds[s + 1] {
                let residual = values[t] - levels[s] - seasonal[t % period]
                error += residual * residual
            }
        }
        return (levels, error)
    }
}
