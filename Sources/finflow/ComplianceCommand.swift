import ArgumentParser
import FinFlowCompliance
import FinFlowCore
import FinFlowServer
import Foundation
import Logging

/// `finflow compliance …`: the platform's sanctions lists, straight on the compliance database.
struct ComplianceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compliance", abstract: "Load the platform's sanctions lists.", subcommands: [LoadList.self])

    struct LoadList: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "load-list",
            abstract: "Load a new version of a platform list (every tenant is screened against it) and screen every monitored subject against it.")

        @OptionGroup var storage: StorageOptions
        @Option(help: "The list's name (un-security-council for the UN's list).") var name = "un-security-council"
        @Option(help: "The file's format: un-xml (the UN Security Council's consolidated list XML) or csv.") var format = "un-xml"
        @Option(help: "The list file.") var file: String
        @Option(help: "Where the list comes from (shown with every version).") var source: String?

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: self.file) else { throw ValidationError("cannot read \(self.file)") }
            let settings = try loadSettings(self.storage.flags)
            JSONLogHandler.bootstrap(format: "text", level: settings.logLevel)
            let database = try await ServiceDatabases.open(ComplianceService.descriptor, settings: settings, logger: Logger(label: "finflow.compliance"))
            do {
                let pending = try await ServiceDatabases.pending(ComplianceService.descriptor, database: database, clock: SystemClock())
                guard pending.isEmpty else { throw ValidationError("the compliance database has pending migrations: run `finflow migrate` first") }
                let result = try await ComplianceService.loadPlatformList(
                    database: database, settings: settings, name: self.name, format: self.format, data: data,
                    source: self.source ?? "loaded by the operator from \(URL(fileURLWithPath: self.file).lastPathComponent)")
                print("compliance: \(self.name) version \(result.version) holds \(result.entries) entries; screened \(result.screened) monitored subjects against it, \(result.hits) matched")
            } catch let error as AppError {
                try await database.shutdown()
                throw ValidationError(error.message)
            } catch {
                try await database.shutdown()
                throw error
            }
            try await database.shutdown()
        }
    }
}
