/// Nearest-rank percentiles of a set of measurements (latencies in a benchmark's report).
public struct Percentiles: Sendable {
    /// The measurements, smallest first.
    public let sorted: [Double]

    public init(_ values: [Double]) {
        self.sorted = values.sorted()
    }

    /// The value at quantile `q` (0–1) by the nearest-rank method; nil without measurements.
    public func at(_ q: Double) -> Double? {
        guard !self.sorted.isEmpty else { return nil }
        let rank = Int((Double(self.sorted.count) * q).rounded(.up))
        return self.sorted[min(self.sorted.count - 1, max(0, rank - 1))]
    }
}
