import ArgumentParser
import FinFlowCompliance
import FinFlowCore
import FinFlowServer
import Foundation
import Logging

/// `finflow audit-bench`: the audit trail's query latency and export speed over a large trail.
struct AuditBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit-bench", abstract: "Measure audit trail queries and exports in process.", shouldDisplay: false)

    @Option(help: "Records seeded into the trail.") var records = 1_000_000
    @Option(help: "Runs of each query.") var repeats = 200
    @Option(help: "PostgreSQL URL (default: SQLite in a temporary directory).") var databaseUrl: String?

    func run() async throws {
        guard (1_000...5_000_000).contains(self.records), (10...10_000).contains(self.repeats) else {
            throw ValidationError("--records 1000–5000000, --repeats 10–10000")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("finflow-audit-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var flags = ["dataDirectory": directory.path, "logLevel": "error"]
        if let url = self.databaseUrl { flags["databaseUrl"] = url }
        let settings = try loadSettings(flags)
        let database = try await ServiceDatabases.open(ComplianceService.descriptor, settings: settings, logger: Logger(label: "finflow.bench"))
        do {
            try await ServiceDatabases.migrate(ComplianceService.descriptor, database: database, clock: SystemClock())
            print("audit trail on \(self.databaseUrl == nil ? "SQLite" : "PostgreSQL"), \(ProcessInfo.processInfo.activeProcessorCount) cores")
            try await ComplianceService.auditTrailBenchmark(
                database: database, settings: settings, records: self.records, repeats: self.repeats, emit: { print($0) })
        } catch {
            try await database.shutdown()
            throw error
        }
        try await database.shutdown()
    }
}
