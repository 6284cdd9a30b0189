import ArgumentParser
import FinFlowCore
import FinFlowIntegrations
import FinFlowServer
import Foundation
import Logging

/// `finflow integrations …`: the integration service's connections, straight on its database.
struct IntegrationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "integrations", abstract: "Operate tenants' connections to QuickBooks Online and Xero.", subcommands: [Sync.self])

    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queue a sync of a tenant's connection (or name one with --run) and, with --follow, show its progress until it ends.",
            discussion: """
                The run is carried by a serving FinFlow (the integration service's runner, every five seconds), within the \
                provider's limits; it resumes where it stopped if a process dies. --follow draws a progress bar and exits 0 \
                when the run succeeded, 1 when it failed.
                """)

        @OptionGroup var storage: StorageOptions
        @Option(help: "The tenant the connection belongs to.") var tenant: String
        @Option(help: "The connection to sync.") var connection: String?
        @Option(help: "Follow this run instead of queueing one.") var run: String?
        @Flag(help: "List everything again (deletions found by what is no longer listed), not only what changed.") var full = false
        @Flag(help: "Show the run's progress until it ends.") var follow = false

        func validate() throws {
            guard (self.connection == nil) != (self.run == nil) else { throw ValidationError("name --connection (to queue a run) or --run (to follow one)") }
            for (name, value) in [("--tenant", self.tenant), ("--connection", self.connection ?? "x"), ("--run", self.run ?? "x")]
            where !(1...64).contains(value.count) {
                throw ValidationError("\(name): must be 1–64 characters")
            }
        }

        func run() async throws {
            let settings = try loadSettings(self.storage.flags)
            JSONLogHandler.bootstrap(format: "text", level: settings.logLevel)
            let database = try await ServiceDatabases.open(
                IntegrationsService.descriptor, settings: settings, logger: Logger(label: "finflow.integrations"))
            var progress: IntegrationsOperator.Progress
            do {
                let pending = try await ServiceDatabases.pending(IntegrationsService.descriptor, database: database, clock: SystemClock())
                guard pending.isEmpty else { throw ValidationError("the integrations database has pending migrations: run `finflow migrate` first") }
                if let connection = self.connection {
                    progress = try await IntegrationsOperator.queueSync(
                        database: database, tenantId: self.tenant, connectionId: connection, full: self.full)
                    FileHandle.standardOutput.write(Data("integrations: sync \(progress.id) queued\n".utf8))
                } else {
                    progress = try await IntegrationsOperator.progress(database: database, tenantId: self.tenant, id: self.run ?? "")
                }
                if self.follow {
                    let terminal = isatty(STDOUT_FILENO) == 1
                    var last = ""
                    while true {
                        let line = Self.bar(progress)
                        // Unbuffered: the bar is redrawn in place on a terminal, a line per change otherwise.
                        if terminal {
                            FileHandle.standardOutput.write(Data(("\r\u{1B}[2K" + line).utf8))
                        } else if line != last {
                            FileHandle.standardOutput.write(Data((line + "\n").utf8))
                        }
                        last = line
                        if progress.finished { break }
                        try await Task.sleep(for: .seconds(1))
                        progress = try await IntegrationsOperator.progress(database: database, tenantId: self.tenant, id: progress.id)
                    }
                    if terminal { FileHandle.standardOutput.write(Data("\n".utf8)) }
                    if let error = progress.lastError { FileHandle.standardOutput.write(Data("integrations: \(error)\n".utf8)) }
                }
            } catch let error as AppError {
                try await database.shutdown()
                throw ValidationError(error.message)
            } catch {
                try await database.shutdown()
                throw error
            }
            try await database.shutdown()
            if self.follow, progress.status == "failed" { throw ExitCode.failure }
        }

        /// `[########------------] 2/5 Contacts  created 230  updated 0  deleted 1  unchanged 0  failed 0  running`.
        static func bar(_ progress: IntegrationsOperator.Progress) -> String {
            let width = 20
            let filled = progress.steps == 0 ? (progress.finished ? width : 0) : width * progress.stepsDone / progress.steps
            let counts = ["created", "updated", "deleted", "unchanged", "failed"].map { "\($0) \(progress.totals[$0] ?? 0)" }.joined(separator: "  ")
            return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] "
                + "\(progress.stepsDone)/\(progress.steps) \(progress.current ?? "")  \(counts)  \(progress.status)"
        }
    }
}
