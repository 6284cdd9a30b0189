import ArgumentParser
import FinFlowCompliance
import FinFlowCore
import FinFlowServer
import Foundation
import Logging

/// `finflow privacy-bench`: how long an access request takes for a subject with many transactions, every service in
/// one process on SQLite (or PostgreSQL), the events carried by the in-process bus.
struct PrivacyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "privacy-bench", abstract: "Measure a data subject access request over a large history.", shouldDisplay: false)

    @Option(help: "Transactions naming the subject.") var transactions = 100_000
    @Option(help: "Transactions of other counterparties in the same tenant.") var others = 100_000
    @Option(help: "PostgreSQL URL (default: SQLite in a temporary directory).") var databaseUrl: String?

    func run() async throws {
        guard (1...2_000_000).contains(self.transactions), (0...5_000_000).contains(self.others) else {
            throw ValidationError("--transactions 1–2000000, --others 0–5000000")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("finflow-privacy-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var flags = ["dataDirectory": directory.path, "logLevel": "error"]
        if let url = self.databaseUrl { flags["databaseUrl"] = url; flags["migrate"] = "true" }
        let settings = try loadSettings(flags)
        JSONLogHandler.bootstrap(format: "text", level: "error")
        let system = try await FinFlowSystem.build(settings: settings, clock: SystemClock(), logger: Logger(label: "finflow.bench"))
        do {
            try await self.measure(system: system, settings: settings)
        } catch {
            try? await system.shutdown()
            throw error
        }
        try await system.shutdown()
    }

    func measure(system: FinFlowSystem, settings: Settings) async throws {
        guard let transactions = system.databases["transactions"], let compliance = system.databases["compliance"] else {
            throw ValidationError("the benchmark needs the transactions and compliance services")
        }
        let tenantId = UUID().uuidString.lowercased()
        let clock = ContinuousClock()
        let seeding = clock.now
        let total = self.transactions + self.others
        var written = 0
        var subjectRows = 0
        let every = max(1, total / self.transactions)
        while written < total {
            let count = min(5_000, total - written)
            let rows: [[SQLCell]] = (written..<(written + count)).map { index in
                let subject = index % every == 0 && index / every < self.transactions
                if subject { subjectRows += 1 }
                let name = subject ? "Ada Lovelace" : "Counterparty \(index % 5_000)"
                return [
                    SQLCell(UUID().uuidString.lowercased()), SQLCell(tenantId), SQLCell("expense"), SQLCell("posted"), SQLCell(Int64(100 + index % 90_000)),
                    SQLCell("EUR"), SQLCell("2026-03-03"), SQLCell("acc-a"), SQLCell("acc-b"), SQLCell(name), SQLCell(name.lowercased()),
                    SQLCell("Invoice \(index)"), SQLCell("ref-\(index)"), SQLCell("{}"), SQLCell("h"), SQLCell("bench"), SQLCell(Int64(index)), SQLCell(Int64(index)),
                ]
            }
            try await transactions.transaction { db in
                try await db.insertRows(
                    into: "transactions",
                    columns: [
                        "id", "tenant_id", "kind", "status", "amount_minor", "currency", "value_date", "source_account_id", "destination_account_id",
                        "counterparty", "counterparty_key", "description", "reference_key", "metadata", "request_hash", "created_by", "created_at_ms",
                        "updated_at_ms",
                    ],
                    rows: rows)
            }
            written += count
        }
        print(String(format: "seeded %d transactions (%d naming the subject) in %.1f s", total, subjectRows, (clock.now - seeding).inSeconds))

        let began = clock.now
        let id = try await ComplianceService.openAccessRequest(
            database: compliance, settings: settings, tenantId: tenantId, userId: nil, customerId: "cust-ada", email: nil, names: ["Ada Lovelace"],
            actor: "bench")
        try await system.deliverEvents()
        let status = try await ComplianceService.accessRequestStatus(database: compliance, settings: settings, tenantId: tenantId, id: id)
        let answered = (clock.now - began).inSeconds
        guard status.status == "ready" else { throw ValidationError("the request is \(status.status), waiting for \(status.waiting)") }
        print(String(format: "access request answered by %d services and assembled in %.2f s (transactions part: %lld records)",
                     status.records.count, answered, status.records["transactions"] ?? 0))
        let downloading = clock.now
        let bytes = try await ComplianceService.writeAccessArchive(
            database: compliance, settings: settings, tenantId: tenantId, id: id, actor: "bench", write: { _ in })
        let downloaded = (clock.now - downloading).inSeconds
        print(String(format: "archive: %.1f MB streamed in %.2f s; open to archive in hand %.2f s", Double(bytes) / 1_048_576, downloaded, answered + downloaded))
    }

}
