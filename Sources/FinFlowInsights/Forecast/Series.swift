import Foundation

/// A forecast: the point path and, per level (80, 95), its lower and upper bounds.
public struct Forecast: Sendable, Equatable {
    public var mean: [Double]
    public var intervals: [Int: (lower: [Double], upper: [Double])]

    public static func == (lhs: Forecast, rhs: Forecast) -> Bool {
        lhs.mean == rhs.mean && lhs.intervals.keys == rhs.intervals.keys
            && lhs.intervals.allSatisfy { level, bounds in rhs.intervals[level].map { $0.lower == bounds.lower && $0.upper == bounds.upper } ?? false }
    }
}

/// Statistics the models share.
enum Statistics {
    static func mean(_ values: some Collection<Double>) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }

    /// Ordinary least squares of `y` on `0..<n`: intercept and slope.
    static func line(_ y: [Double]) -> (intercept: Double, slope: Double) {
        let n = Double(y.count)
        guard y.count > 1 else { return (y.first ?? 0, 0) }
        let meanT = (n - 1) / 2, meanY = Self.mean(y)
        var sxy = 0.0, sxx = 0.0
        for (t, value) in y.enumerated() {
            sxy += (Double(t) - meanT) * (value - meanY)
            sxx += (Double(t) - meanT) * (Double(t) - meanT)
        }
        let slope = sxy / sxx
        return (meanY - slope * meanT, slope)
    }

    /// Autocorrelation of `y` at lags 1...`maxLag`.
    static func autocorrelations(_ y: [Double], maxLag: Int) -> [Double] {
        let mean = Self.mean(y)
        let denominator = y.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        guard denominator > 0 else { return Array(repeating: 0, count: maxLag) }
        return (1...maxLag).map { lag in
            guard lag < y.count else { return 0 }
            var sum = 0.0
            for t in lag..<y.count { sum += (y[t] - mean) * (y[t - lag] - mean) }
            return sum / denominator
        }
    }

    /// The standard normal quantile for a two-sided interval of `level` percent (Acklam's rational approximation,
    /// relative error below 1.2e-9).
    static func normalQuantile(level: Int) -> Double {
        Self.normalQuantile(0.5 + Double(level) / 200)
    }

    static func normalQuantile(_ p: Double) -> Double {
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        if p < low {
            let q = (-2 * Foundation.log(p)).squareRoot()
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        if p > 1 - low { return -Self.normalQuantile(1 - p) }
        let q = p - 0.5, r = q * q
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    }
}

/// The accuracy measures of the forecasting competitions.
public enum Accuracy {
    /// Symmetric mean absolute percentage error, in percent (the M3 competition's definition).
    public static func sMAPE(actual: [Double], forecast: [Double]) -> Double {
        let terms = zip(actual, forecast).map { y, f in abs(y) + abs(f) == 0 ? 0 : 200 * abs(y - f) / (abs(y) + abs(f)) }
        return Statistics.mean(terms)
    }

    /// Mean absolute scaled error: the forecast's mean absolute error over the in-sample seasonal naive's.
    public static func MASE(history: [Double], actual: [Double], forecast: [Double], period: Int) -> Double {
        let lag = history.count > period ? period : 1
        let scale = Statistics.mean((lag..<history.count).map { abs(history[$0] - history[$0 - lag]) })
        let error = Statistics.mean(zip(actual, forecast).map { abs($0 - $1) })
        return scale > 0 ? error / scale : .infinity
    }
}
