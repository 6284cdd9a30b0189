/// Whether a series is seasonal, and its classical multiplicative decomposition.
enum Seasonality {
    /// The test the Theta method uses (Assimakopoulos and Nikolopoulos; R's `forecast::thetaf`): the autocorrelation at
    /// the seasonal lag exceeds 1.645 times its standard error under Bartlett's formula (90 %, one-sided). Needs at
    /// least three seasons.
    static func isSeasonal(_ y: [Double], period: Int) -> Bool {
        guard period > 1, period <= y.count / 3 else { return false }
        let r = Statistics.autocorrelations(y, maxLag: period)
        let spread = 1 + 2 * r.prefix(period - 1).reduce(0) { $0 + $1 * $1 }
        return abs(r[period - 1]) > 1.645 * (spread / Double(y.count)).squareRoot()
    }

    /// The seasonal indices of a classical multiplicative decomposition: each value over its centred moving average
    /// (2×m for an even period), averaged per position, scaled to mean 1. Index `i` belongs to positions `t % period == i`.
    static func multiplicativeIndices(_ y: [Double], period: Int) -> [Double] {
        Self.indices(y, period: period, multiplicative: true)
    }

    /// A classical decomposition's seasonal figure (R's `decompose`): each value over (or less) its centred moving
    /// average, averaged per position, scaled to mean 1 (or centred on 0). Positions without a value get the neutral one.
    static func indices(_ y: [Double], period: Int, multiplicative: Bool) -> [Double] {
        let n = y.count, half = period / 2
        var ratios = Array(repeating: [Double](), count: period)
        if n > 2 * half {
            for t in half..<(n - half) {
                var trend: Double
                if period % 2 == 0 {
                    trend = (y[t - half] + y[t + half]) / 2
                    for k in (t - half + 1)..<(t + half) { trend += y[k] }
                    trend /= Double(period)
                } else {
                    trend = y[(t - half)...(t + half)].reduce(0, +) / Double(period)
                }
                if !multiplicative {
                    ratios[t % period].append(y[t] - trend)
                } else if trend != 0 {
                    ratios[t % period].append(y[t] / trend)
                }
            }
        }
        let neutral = multiplicative ? 1.0 : 0.0
        let raw = ratios.map { $0.isEmpty ? neutral : Statistics.mean($0) }
        let centre = Statistics.mean(raw)
        if !multiplicative { return raw.map { $0 - centre } }
        return raw.map { centre == 0 ? 1 : $0 / centre }
    }
}
