import Foundation

/// Picks a forecasting method for a series by rolling-origin backtest and forecasts with it, intervals calibrated
/// conformally on its own backtest errors.
enum Forecaster {
    /// The methods a forecast chooses from, by the names the API uses.
    static let methods: [(name: String, method: any ForecastMethod)] = [
        ("auto-ets", AutoETS()), ("auto-theta", AutoTheta()), ("theta", Theta()),
        ("ensemble", Ensemble([AutoETS(), AutoTheta(), Theta()])), ("seasonal-naive", Baseline(.seasonalNaive)), ("drift", Baseline(.drift)),
    ]
    static let minimumHistory = 8
    static let backtestWindows = 3

    struct Scored: Codable, Sendable, Equatable {
        var method: String
        var windows: Int
        /// Nil when the method could not be scored (then `error` says why).
        var mase: Double?
        var smape: Double?
        var coverage: [Int: Double]
        var error: String?
    }

    struct Outcome: Sendable {
        var method: String
        var reason: String
        var forecast: Forecast
        var backtests: [Scored]
        var period: Int
    }

    /// Forecasts `values` `horizon` periods ahead. `requested`: a method's name, or nil to choose by backtest.
    static func run(_ values: [Double], period: Int, horizon: Int, levels: [Int], requested: String?) throws -> Outcome {
        guard values.count >= Self.minimumHistory else {
            throw ForecastError(description: "a forecast needs at least \(Self.minimumHistory) complete periods of history, the books hold \(values.count)")
        }
        // A season is only tested for when two of them fit in what the backtest trains on.
        let minimumTraining = max(Self.minimumHistory, min(2 * period, values.count / 2))
        let origins = Backtest.origins(count: values.count, horizon: horizon, windows: Self.backtestWindows, minimumTraining: minimumTraining)
        var scored: [Scored] = []
        for (name, method) in Self.methods where !origins.isEmpty {
            do {
                let result = try Backtest.run(method, history: values, period: period, horizon: horizon, origins: origins, levels: levels)
                let finite = result.MASE.isFinite && result.sMAPE.isFinite
                scored.append(Scored(
                    method: name, windows: result.windows.count, mase: finite ? result.MASE : nil, smape: finite ? result.sMAPE : nil,
                    coverage: result.coverage, error: finite ? nil : "the history does not vary, so there is no error to scale by"))
            } catch {
                scored.append(Scored(method: name, windows: 0, mase: nil, smape: nil, coverage: [:], error: "\(error)"))
            }
        }
        let usable = scored.compactMap { score in score.mase.map { (score.method, $0, score.windows) } }
        let chosen: String
        let reason: String
        if let requested {
            chosen = requested
            reason = "\(requested) was asked for."
        } else if let best = usable.min(by: { $0.1 < $1.1 }) {
            chosen = best.0
            let runnerUp = usable.filter { $0.0 != best.0 }.min(by: { $0.1 < $1.1 })
            reason = "\(best.0) had the smallest error over \(best.2) backtest window\(best.2 == 1 ? "" : "s") (MASE \(Self.figure(best.1))"
                + (runnerUp.map { ", against \(Self.figure($0.1)) for \($0.0))." } ?? ").")
        } else {
            chosen = "ensemble"
            reason = origins.isEmpty
                ? "The history is too short to hold back a window of \(horizon) periods, so the ensemble of exponential smoothing and Theta forecasts it, with its own intervals."
                : "No method could be scored on the backtest windows (a constant history has no error to scale by), so the ensemble forecasts it."
        }
        guard let method = Self.methods.first(where: { $0.name == chosen })?.method else {
            throw ForecastError(description: "unknown method \(chosen)")
        }
        let forecast = try Conformal(method).forecast(values, period: period, horizon: horizon, levels: levels)
        return Outcome(method: chosen, reason: reason, forecast: forecast, backtests: scored, period: period)
    }

    static func figure(_ value: Double) -> String { String(format: "%.3f", value) }
}
