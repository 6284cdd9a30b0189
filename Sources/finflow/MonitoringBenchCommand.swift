import ArgumentParser
import FinFlowCompliance
import FinFlowCore
import FinFlowServer
import Foundation
import Logging

/// Measures transaction monitoring in process on a fresh compliance database (SQLite in a temporary directory unless
/// `--database-url` names a PostgreSQL database): events per second with ten live rules, latency at a steady offered
/// rate, and the same rules by scanning history as the baseline. `Benchmarks/monitoring.sh` runs it.
struct MonitoringBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitoring-bench", abstract: "Measure transaction monitoring in process.", shouldDisplay: false)

    @Option(help: "Events for the throughput run.") var events = 20_000
    @Option(help: "Events applied per transaction in the throughput run (the outbox relay and the Kafka consumer deliver up to 500).") var batch = 500
    @Option(help: "Events per second offered in the latency run.") var rate = 1_000
    @Option(help: "Seconds of the latency run.") var seconds = 10
    @Option(help: "Events evaluated by the history-scanning baseline.") var baseline = 5_000
    @Option(help: "PostgreSQL URL (default: SQLite in a temporary directory).") var databaseUrl: String?
    @Option(help: "Events for the run of two processes taking turns (0 leaves it out).") var turns = 20_000
    @Option(help: "Redis URL: the turns run again with the figures shared through it.") var redisUrl: String?

    func run() async throws {
        guard (100...1_000_000).contains(self.events), (1...1_000).contains(self.batch), (1...20_000).contains(self.rate),
              (1...600).contains(self.seconds), (10...100_000).contains(self.baseline), (0...1_000_000).contains(self.turns)
        else {
            throw ValidationError("--events 100–1000000, --batch 1–1000, --rate 1–20000, --seconds 1–600, --baseline 10–100000, --turns 0–1000000")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("finflow-monitoring-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var flags = ["dataDirectory": directory.path, "logLevel": "error"]
        if let url = self.databaseUrl { flags["databaseUrl"] = url }
        if let url = self.redisUrl { flags["redisUrl"] = url }
        let settings = try loadSettings(flags)
        let shared = try FinFlowSystem.sharedStore(settings: settings, logger: Logger(label: "finflow.bench"))
        let database = try await ServiceDatabases.open(ComplianceService.descriptor, settings: settings, logger: Logger(label: "finflow.bench"))
        do {
            try await ServiceDatabases.migrate(ComplianceService.descriptor, database: database, clock: SystemClock())
            print("monitoring on \(self.databaseUrl == nil ? "SQLite" : "PostgreSQL"), \(ProcessInfo.processInfo.activeProcessorCount) cores")
            try await ComplianceService.monitoringBenchmark(
                database: database, settings: settings, events: self.events, batch: self.batch, rate: self.rate, seconds: self.seconds,
                baselineEvents: self.baseline, shared: shared, turnEvents: self.turns, emit: { print($0) })
        } catch {
            try await database.shutdown()
            throw error
        }
        try await database.shutdown()
    }
}
