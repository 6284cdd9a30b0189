import Foundation

/// What the detector keeps about one account, counterparty or tenant: a robust centre and spread of its (log) amounts,
/// exponentially weighted means and variance (a slow one and a fast one, whose gap is a drift), and its counts per
/// minute over the last ten minutes with their usual level.
struct EntityStats: Sendable, Codable, Equatable {
    /// Values seen.
    private(set) var count = 0
    /// The median and median absolute deviation: exact over the first `exactMax` values, then tracked by steps that
    /// shrink as the values accumulate (a streaming quantile estimate: one outlier moves them by one step at most).
    private(set) var median = 0.0
    private(set) var deviation = 0.0
    private var first: [Double] = []
    /// The slow (α = 0.02) and fast (α = 0.3) exponentially weighted means, and the slow variance.
    private(set) var slowMean = 0.0
    private(set) var slowVariance = 0.0
    private(set) var fastMean = 0.0
    /// Events per minute for the last `windowMinutes` minutes (a ring keyed by minute number), and the exponentially
    /// weighted count of the window as each event found it.
    private var minutes: [Int64] = []
    private var buckets: [Int] = []
    private(set) var usualWindowCount = 0.0
    private(set) var lastMillis: Int64 = 0
    /// When the entity was first seen.
    private(set) var firstMillis: Int64 = 0
    /// Page's one-sided CUSUM of the robust z-scores above the usual (less an allowance of half a deviation): it grows
    /// while amounts stay above the usual, the sign of a drift that each amount alone does not show.
    private(set) var cusum = 0.0

    /// The CUSUM's allowance per value, in robust deviations.
    static let cusumAllowance = 0.5

    static let exactMax = 32
    static let windowMinutes = 10
    /// The smallest spread a z-score divides by, in log10 units (±12 % of an amount): a rent paid to the cent every month
    /// has no spread at all, and a cent more would otherwise be infinitely unusual.
    static let spreadFloor = 0.05

    /// How far `value` is from the usual, in robust standard deviations; 0 until five values have been seen.
    func robustZ(_ value: Double) -> Double {
        guard self.count >= 5 else { return 0 }
        return (value - self.median) / max(1.4826 * self.deviation, Self.spreadFloor)
    }

    /// How far the fast mean has moved from the slow one, in slow standard deviations; 0 until ten values.
    var drift: Double {
        guard self.count >= 10 else { return 0 }
        return (self.fastMean - self.slowMean) / max(self.slowVariance.squareRoot(), Self.spreadFloor)
    }

    /// Whether the entity has been seen for two windows: before, its usual count is still being learnt, and a count
    /// above it says nothing (every account of a new tenant would look like a burst).
    func isWarm(at millis: Int64) -> Bool { self.count > 0 && millis - self.firstMillis >= 2 * Int64(Self.windowMinutes) * 60_000 }

    /// Starts the CUSUM again (after it raised a drift).
    mutating func resetDrift() { self.cusum = 0 }

    /// Events in the window ending at `millis` (this one not counted yet).
    func windowCount(at millis: Int64) -> Int {
        let minute = millis / 60_000
        return zip(self.minutes, self.buckets).reduce(0) { total, item in
            item.0 > minute - Int64(Self.windowMinutes) && item.0 <= minute ? total + item.1 : total
        }
    }

    /// Takes in one value at `millis`.
    mutating func add(_ value: Double, at millis: Int64) {
        // Capped, so one outlier adds at most what four values of a drift do.
        self.cusum = max(0, self.cusum + min(self.robustZ(value), 3) - Self.cusumAllowance)
        // The usual count learns from each window: quickly and as it comes while the entity is new (its first two
        // windows), then slowly, with a burst's counts cut to twice the usual (plus two) first, so that a burst does not
        // become the usual while it lasts.
        if self.count == 0 { self.firstMillis = millis }
        let window = Double(self.windowCount(at: millis))
        let learnt = self.isWarm(at: millis) ? min(window, 2 * self.usualWindowCount + 2) : window
        let rate = self.isWarm(at: millis) ? 0.05 : 0.3
        self.usualWindowCount = self.count == 0 ? window : self.usualWindowCount + rate * (learnt - self.usualWindowCount)
        self.count += 1
        if self.count <= Self.exactMax {
            self.first.append(value)
            self.median = Self.median(self.first)
            self.deviation = Self.median(self.first.map { abs($0 - self.median) })
            if self.count == Self.exactMax { self.first = [] }
        } else {
            let step = max(self.deviation, Self.spreadFloor) * 1.5 / Double(min(self.count, 200)).squareRoot()
            self.median += max(-step, min(step, value - self.median))
            let distance = abs(value - self.median)
            self.deviation = max(0, self.deviation + max(-step, min(step, distance - self.deviation)) / 2)
        }
        if self.count == 1 {
            (self.slowMean, self.fastMean, self.slowVariance) = (value, value, 0)
        } else {
            let delta = value - self.slowMean
            self.slowMean += 0.02 * delta
            self.slowVariance = 0.98 * (self.slowVariance + 0.02 * delta * delta)
            self.fastMean += 0.3 * (value - self.fastMean)
        }
        let minute = millis / 60_000
        if let index = self.minutes.firstIndex(of: minute) {
            self.buckets[index] += 1
        } else {
            // Minutes out of the window make room; the ring never holds more than the window.
            let keep = self.minutes.indices.filter { self.minutes[$0] > minute - Int64(Self.windowMinutes) }
            self.minutes = keep.map { self.minutes[$0] } + [minute]
            self.buckets = keep.map { self.buckets[$0] } + [1]
        }
        self.lastMillis = max(self.lastMillis, millis)
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
