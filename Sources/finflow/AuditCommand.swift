import ArgumentParser
import FinFlowCompliance
import FinFlowCore
import FinFlowServer
import Foundation
import Logging

/// `finflow audit`: verify every service's audit chains, or an export away from the system; export the trail.
struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Work with the audit trail.", subcommands: [Verify.self, Export.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every service's audit hash chains and signed checkpoints (with the compliance service's copies, a cut tail shows too), or an exported file with --export; exits 1 and names the first break.")

        @OptionGroup var storage: StorageOptions
        @Option(help: "Check this export (JSON lines or CSV from the audit-trail export) instead of the databases.") var export: String?
        @Option(name: .customLong("trusted-key"), help: "A public key (base64) whose checkpoints count in an export; repeat for more. Without one, each checkpoint's own key is used, and the keys are printed to compare.")
        var trustedKeys: [String] = []

        func run() async throws {
            if let export { return try self.verify(exportAt: export) }
            let settings = try loadSettings(self.storage.flags)
            JSONLogHandler.bootstrap(format: "text", level: settings.logLevel)
            let logger = Logger(label: "finflow.audit")
            let descriptors = try ServiceCatalog.select(settings.services)
            // The compliance service keeps every other service's checkpoints: those show a tail cut with its own.
            var received: [AuditCheckpoint] = []
            if descriptors.contains(where: { $0.name == ComplianceService.descriptor.name }) {
                let database = try await ServiceDatabases.open(ComplianceService.descriptor, settings: settings, logger: logger)
                received = (try? await ComplianceService.receivedAuditCheckpoints(database: database)) ?? []
                try await database.shutdown()
            }
            var broken = false
            for descriptor in descriptors {
                let database = try await ServiceDatabases.open(descriptor, settings: settings, logger: logger)
                let result = try await AuditVerifier(database: database, serviceName: descriptor.name).verify(externalCheckpoints: received)
                if let firstBreak = result.firstBreak {
                    print("\(descriptor.name): BROKEN at \(firstBreak)")
                    broken = true
                } else {
                    print("\(descriptor.name): intact (\(result.recordsChecked) records in \(result.chains) chains, \(result.checkpointsChecked) signed checkpoints)")
                }
                try await database.shutdown()
            }
            if broken { throw ExitCode(1) }
        }

        func verify(exportAt path: String) throws {
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
            guard let text = String(data: data, encoding: .utf8) else { throw ValidationError("\(path) is not UTF-8 text") }
            for key in self.trustedKeys where AuditCheckpoint.keyId(publicKey: Data(base64Encoded: key) ?? Data()).isEmpty || Data(base64Encoded: key)?.count != 32 {
                throw ValidationError("--trusted-key \(key.prefix(60)) is not a base64 Ed25519 public key")
            }
            let report: AuditExportReport
            do {
                report = try AuditExportVerifier.verify(text, trustedKeys: self.trustedKeys.isEmpty ? nil : Set(self.trustedKeys))
            } catch let error as AuditExportVerifier.Unreadable {
                throw ValidationError("\(path): \(error)")
            }
            print("\(report.records) records in \(report.chains) chains, \(report.links) links and \(report.checkpoints) signed checkpoints checked")
            for gap in report.gaps.prefix(20) { print("gap: \(gap)") }
            for note in report.beyondExport.prefix(20) { print("beyond the export: \(note)") }
            if self.trustedKeys.isEmpty, report.checkpoints > 0 {
                print("checkpoints were checked against their own keys; pass --trusted-key to require the service's (`finflow audit verify` prints none; they are in each service's audit_signing_keys)")
            }
            guard report.intact else {
                for problem in report.problems { print("BROKEN: \(problem)") }
                throw ExitCode(1)
            }
            print("intact")
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the compliance service's audit trail (every service's records, with chain data and signed checkpoints) as JSON lines or CSV.")

        @OptionGroup var storage: StorageOptions
        @Option(help: "jsonl or csv.") var format = "jsonl"
        @Option(help: "Only this tenant (default: every tenant).") var tenant: String?
        @Option(help: "Only this service's chains.") var service: String?
        @Option(help: "Only records of this actor.") var actor: String?
        @Option(help: "Only records of this action.") var action: String?
        @Option(help: "Only records about this resource.") var resource: String?
        @Option(help: "From this instant (ISO 8601), inclusive.") var from: String?
        @Option(help: "Until this instant (ISO 8601), exclusive.") var to: String?
        @Option(help: "The file to write (default: standard output).") var output: String?

        func run() async throws {
            guard let format = AuditExport.Format(rawValue: self.format) else { throw ValidationError("--format must be jsonl or csv") }
            let instants = try [("--from", self.from), ("--to", self.to)].map { flag, text -> Int64? in
                guard let text else { return nil }
                guard let date = ISO8601DateFormatter().date(from: text) else { throw ValidationError("\(flag) '\(text.prefix(40))' is not an ISO 8601 instant") }
                return date.unixMillis
            }
            let settings = try loadSettings(self.storage.flags)
            JSONLogHandler.bootstrap(format: "text", level: settings.logLevel)
            let database = try await ServiceDatabases.open(ComplianceService.descriptor, settings: settings, logger: Logger(label: "finflow.audit"))
            let handle: FileHandle
            if let output = self.output {
                guard FileManager.default.createFile(atPath: output, contents: nil), let file = FileHandle(forWritingAtPath: output) else {
                    try await database.shutdown()
                    throw ValidationError("cannot write \(output)")
                }
                handle = file
            } else {
                handle = FileHandle.standardOutput
            }
            do {
                try await ComplianceService.exportAuditTrail(
                    database: database, settings: settings, tenantId: self.tenant, service: self.service, actorId: self.actor, action: self.action,
                    target: self.resource, fromMillis: instants[0], toMillis: instants[1], format: format
                ) { piece in try handle.write(contentsOf: piece) }
                try handle.close()
            } catch {
                try await database.shutdown()
                throw error
            }
            try await database.shutdown()
        }
    }
}
