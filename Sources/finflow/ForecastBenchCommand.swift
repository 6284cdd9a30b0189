import ArgumentParser
import FinFlowInsights
import Foundation

/// Scores the native forecasting methods on a competition's series (`Benchmarks/forecast.sh` exports M3 and runs
/// statsforecast beside it): sMAPE, MASE, interval coverage and series per second, per category.
struct ForecastBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast-bench", abstract: "Score the forecasting methods on competition series.", shouldDisplay: false)

    @Option(help: "Series exported by Benchmarks/support/m3_export.py.") var series: String
    @Option(help: "Rolling origins the conformal intervals calibrate on.") var conformalWindows = 8
    @Option(help: "Distance between those origins, as a share of the horizon.") var conformalSpacing = 0.5
    @Option(help: "Only these methods (comma-separated names), all when not given.") var methods: String?

    func run() async throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: self.series)) } catch {
            throw ValidationError("cannot read --series \(self.series): \(error.localizedDescription)")
        }
        let series = try JSONDecoder().decode([Competition.Series].self, from: data)
        guard !series.isEmpty, series.allSatisfy({ $0.x.count >= 3 && $0.horizon == $0.xx.count && (1...10_000).contains($0.period) }) else {
            throw ValidationError("--series holds no series, or one whose horizon, held-out values or period do not fit")
        }
        let all: [any ForecastMethod] = [Conformal(Ensemble([AutoETS(), AutoTheta(), Theta()]), windows: self.conformalWindows, spacing: self.conformalSpacing), Ensemble([AutoETS(), AutoTheta(), Theta()]), AutoETS(), AutoTheta(), Theta(), Baseline(.naive), Baseline(.seasonalNaive), Baseline(.drift)]
        guard (1...100).contains(self.conformalWindows), self.conformalSpacing > 0, self.conformalSpacing <= 10 else {
            throw ValidationError("--conformal-windows is 1 to 100 and --conformal-spacing above 0 and at most 10")
        }
        let wanted = self.methods.map { Set($0.split(separator: ",").map(String.init)) }
        let methods = all.filter { wanted?.contains($0.name) ?? true }
        guard !methods.isEmpty else { throw ValidationError("--methods names none of \(all.map(\.name).joined(separator: ", "))") }
        print("method          category    series  sMAPE   MASE   cover80  cover95  series/s")
        for score in try Competition.score(series, methods: methods) {
            func padded(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
            print(padded(score.method, 15) + " " + padded(score.category, 10) + String(
                format: " %7d %6.2f %6.3f %8.1f %8.1f %9.0f", score.series, score.sMAPE, score.MASE, score.coverage80, score.coverage95,
                score.seriesPerSecond))
        }
    }
}
