import ArgumentParser
import FinFlowAccounting
import FinFlowCore
import FinFlowServer
import Foundation
import Logging

/// `finflow accounting …`: the books of one tenant, straight from the accounting database.
struct AccountingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accounting", abstract: "Export and import a tenant's journal; announce the accounts to other services.",
        subcommands: [Export.self, Import.self, AnnounceAccounts.self])

    /// Opens the accounting database, refusing one with pending migrations.
    static func open(_ storage: StorageOptions) async throws -> (any Database, Settings) {
        try await ServiceDatabases.openMigrated(AccountingService.descriptor, flags: storage.flags)
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a tenant's posted journal (hledger's journal format).")

        @OptionGroup var storage: StorageOptions
        @Option(help: "The tenant whose books to export.") var tenant: String
        @Option(help: "Output format (hledger).") var format: String = "hledger"
        @Option(help: "First accounting date (YYYY-MM-DD).") var from: String?
        @Option(help: "Last accounting date (YYYY-MM-DD).") var to: String?
        @Option(help: "File to write (default: standard output).") var output: String?

        func run() async throws {
            guard self.format == "hledger" else { throw ValidationError("--format: only 'hledger' is supported") }
            let (database, settings) = try await AccountingCommand.open(self.storage)
            let handle: FileHandle
            if let output {
                guard FileManager.default.createFile(atPath: output, contents: nil) else { throw ValidationError("cannot write \(output)") }
                handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            } else {
                handle = FileHandle.standardOutput
            }
            do {
                try await AccountingService.exportJournal(
                    database: database, settings: settings, tenantId: self.tenant, from: self.from, to: self.to
                ) { chunk in try handle.write(contentsOf: Data(chunk.utf8)) }
            } catch let error as AppError {
                try await database.shutdown()
                throw ValidationError(error.fieldErrors.isEmpty ? error.message : error.fieldErrors.map { "\($0.field) \($0.message)" }.joined(separator: "; "))
            }
            if self.output != nil { try handle.close() }
            try await database.shutdown()
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Post an hledger journal into a tenant's books, all or nothing.")

        @OptionGroup var storage: StorageOptions
        @Option(help: "The tenant whose books receive the journal.") var tenant: String
        @Option(help: "The journal file.") var file: String

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: self.file), let text = String(data: data, encoding: .utf8) else {
                throw ValidationError("cannot read \(self.file) as UTF-8 text")
            }
            let (database, settings) = try await AccountingCommand.open(self.storage)
            do {
                let result = try await AccountingService.importJournal(database: database, settings: settings, tenantId: self.tenant, text: text)
                print("accounting: imported \(result.entries) entries (\(result.lines) lines), opened \(result.accountsCreated) accounts;"
                      + " posting took \(String(format: "%.3f", result.postingSeconds)) s")
            } catch let error as AppError {
                try await database.shutdown()
                throw ValidationError(error.message)
            }
            try await database.shutdown()
        }
    }

    struct AnnounceAccounts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "announce-accounts",
            abstract: "Announce every account again (LedgerAccountChanged), so a service added later learns the existing chart.")

        @OptionGroup var storage: StorageOptions
        @Option(help: "Only this tenant's accounts (default: every tenant's).") var tenant: String?

        func run() async throws {
            let (database, settings) = try await AccountingCommand.open(self.storage)
            do {
                let count = try await AccountingService.announceAccounts(database: database, settings: settings, tenantId: self.tenant)
                print("accounting: announced \(count) accounts; the accounting service's relay publishes them when it runs")
            } catch let error as AppError {
                try await database.shutdown()
                throw ValidationError(error.fieldErrors.isEmpty ? error.message : error.fieldErrors.map { "\($0.field) \($0.message)" }.joined(separator: "; "))
            }
            try await database.shutdown()
        }
    }
}
