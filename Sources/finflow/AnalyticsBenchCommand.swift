import ArgumentParser
import FinFlowAnalytics
import Foundation

/// Measures the dashboard's answer time over a year of a busy tenant (`Benchmarks/analytics.sh`), worked out and cached.
struct AnalyticsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analytics-bench", abstract: "Measure the analytics dashboard's answer time.", shouldDisplay: false)

    @Option(help: "Transactions in the year.") var transactions = 1_000_000
    @Option(help: "Dashboard questions of each kind (distinct ranges, then one range again).") var questions = 200

    func run() async throws {
        guard (3_650...20_000_000).contains(self.transactions), (10...365).contains(self.questions) else {
            throw ValidationError("--transactions is 3,650 to 20,000,000, --questions 10 to 365")
        }
        let directory = NSTemporaryDirectory() + "finflow-analytics-bench-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let r = try await AnalyticsBenchmark.run(transactions: self.transactions, questions: self.questions, directory: directory)
        print(String(format: "analytics: a year of %d transactions (%d fact rows, loaded at %.0f/s) on SQLite", r.transactions, r.factRows, r.loadPerSecond))
        print(String(format: "dashboard worked out (%d distinct ranges): p50 %.1f ms, p99 %.1f ms, max %.1f ms", r.questions, r.uncached.p50, r.uncached.p99, r.uncached.max))
        print(String(format: "dashboard from the cache (%d repeats):      p50 %.2f ms, p99 %.2f ms, max %.2f ms", r.questions, r.cached.p50, r.cached.p99, r.cached.max))
    }
}
