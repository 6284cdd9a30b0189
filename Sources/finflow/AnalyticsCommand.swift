import ArgumentParser
import FinFlowAnalytics
import FinFlowCore
import FinFlowServer
import Foundation

/// `finflow analytics …`: the analytics read model, straight from its database.
struct AnalyticsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analytics", abstract: "Rebuild the analytics read model from the journal of the events it read.",
        subcommands: [Replay.self])

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rebuild the figures of every day from --from on (all days when not given) from the service's event journal.",
            discussion: """
                Every event the analytics service applied is kept in its journal. A replay deletes the figures it rebuilds \
                and applies the journalled events again, in one transaction: the live consumers wait for it, so no event is \
                counted twice or lost. The result is the read model the live deliveries made (each event's contribution \
                depends on the event alone, and sums do not depend on order). Use it after a fix to how figures are worked \
                out, or to repair a read model restored from an older backup.
                """)

        @OptionGroup var storage: StorageOptions
        @Option(help: "The first day to rebuild (YYYY-MM-DD); descriptions (accounts, tenants, members) are rebuilt only without it.")
        var from: String?
        @Option(help: "Rebuild one tenant only.") var tenant: String?

        func run() async throws {
            var from: CalendarDay?
            if let text = self.from {
                guard let day = CalendarDay(text) else { throw ValidationError("--from: '\(text)' is not a date YYYY-MM-DD") }
                from = day
            }
            if let tenant, !(1...64).contains(tenant.count) { throw ValidationError("--tenant: must be 1–64 characters") }
            let (database, _) = try await ServiceDatabases.openMigrated(AnalyticsService.descriptor, flags: self.storage.flags)
            let report: AnalyticsReplay.Report
            do {
                report = try await AnalyticsReplay.run(database: database, tenantId: self.tenant, from: from)
            } catch {
                try await database.shutdown()
                throw error
            }
            try await database.shutdown()
            print("analytics: replayed \(report.eventsApplied) of \(report.eventsRead) journalled events"
                  + (from.map { " into the days from \($0)" } ?? "") + " in \(String(format: "%.3f", report.seconds)) s")
        }
    }
}
