/// A series split into trend, season and remainder by classical additive decomposition: the trend is the centred
/// moving average over one season (a 2×m average when the season is even), the seasonal index of each position is
/// the mean of the detrended values there, centred to sum to zero, and the remainder is what is left. The trend is
/// unknown (nil) for the half season at each end, as the centred average cannot be taken there.
struct Decomposition: Sendable, Equatable {
    let period: Int
    let trend: [Double?]
    /// One index per position of the season, repeated over the series; empty when the series is under two seasons.
    let seasonal: [Double]
    let remainder: [Double?]
    /// How much of the variation the season explains, 0–1: 1 − var(remainder) / var(season + remainder) (Hyndman's
    /// strength of seasonality), nil without a season.
    let seasonalStrength: Double?

    /// The decomposition of `values` with seasons of `period` values; nil when there are too few values for a
    /// trend (fewer than `period` + 1, or a period under 2).
    static func classical(_ values: [Double], period: Int) -> Decomposition? {
        guard period >= 2, values.count > period else { return nil }
        let n = values.count
        let half = period / 2
        var trend = [Double?](repeating: nil, count: n)
        for t in half..<(n - half) {
            if period % 2 == 1 {
                trend[t] = values[(t - half)...(t + half)].reduce(0, +) / Double(period)
            } else {
                // The 2×m average: the window of m + 1 values with half weight at both ends.
                let inner = values[(t - half + 1)...(t + half - 1)].reduce(0, +)
                trend[t] = (inner + 0.5 * (values[t - half] + values[t + half])) / Double(period)
            }
        }
        guard n >= 2 * period else {
            return Decomposition(
                period: period, trend: trend, seasonal: [], remainder: zip(values, trend).map { v, t in t.map { v - $0 } }, seasonalStrength: nil)
        }
        var sums = [Double](repeating: 0, count: period)
        var counts = [Int](repeating: 0, count: period)
        for t in 0..<n {
            guard let level = trend[t] else { continue }
            sums[t % period] += values[t] - level
            counts[t % period] += 1
        }
        var indices = (0..<period).map { counts[$0] > 0 ? sums[$0] / Double(counts[$0]) : 0 }
        let mean = indices.reduce(0, +) / Double(period)
        indices = indices.map { $0 - mean }
        let seasonal = (0..<n).map { indices[$0 % period] }
        let remainder = (0..<n).map { t in trend[t].map { values[t] - $0 - seasonal[t] } }
        let known = (0..<n).compactMap { t in remainder[t].map { ($0, $0 + seasonal[t]) } }
        let strength = Self.variance(known.map(\.1)) > 0
            ? max(0, 1 - Self.variance(known.map(\.0)) / Self.variance(known.map(\.1))) : nil
        return Decomposition(period: period, trend: trend, seasonal: seasonal, remainder: remainder, seasonalStrength: strength)
    }

    static func variance(_ values: [Double]) -> Double {
        guard values.count > 1 else { return 0 }
        let mean = values.reduce(0, +) / Double(values.count)
        return values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
    }
}
