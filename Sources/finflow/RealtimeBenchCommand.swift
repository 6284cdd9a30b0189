import ArgumentParser
import FinFlowRealtime
import Foundation

/// Measures the realtime service's throughput (`Benchmarks/realtime.sh`): the detector alone, and the whole consumer
/// on SQLite.
struct RealtimeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "realtime-bench", abstract: "Measure the realtime detector and consumer.", shouldDisplay: false)

    @Option(help: "Transactions to score.") var events = 100_000
    @Option(help: "Tenants they belong to.") var tenants = 10
    @Option(help: "Events per delivery, as the bus batches them.") var batch = 500

    func run() async throws {
        guard (1_000...10_000_000).contains(self.events), (1...10_000).contains(self.tenants), (1...10_000).contains(self.batch) else {
            throw ValidationError("--events is 1,000 to 10,000,000, --tenants and --batch 1 to 10,000")
        }
        let directory = NSTemporaryDirectory() + "finflow-realtime-bench-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let report = try await RealtimeBenchmark.run(count: self.events, tenants: self.tenants, batch: self.batch, directory: directory)
        print(String(format: "realtime: %d transactions of %d tenants; detector %.0f/s; consumer on SQLite %.0f/s (batches of %d); %d anomalies",
                     report.events, self.tenants, report.detectorPerSecond, report.consumerPerSecond, self.batch, report.anomalies)
              + " (" + report.flaggedBy.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")")
    }
}
