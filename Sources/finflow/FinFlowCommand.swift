import ArgumentParser
import FinFlowAuth
import FinFlowCore
import FinFlowServer
import FinFlowTenancy
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// The `finflow` command line.
@main
struct FinFlowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finflow",
        abstract: "FinFlow: a financial-operations backend.",
        subcommands: FinFlowCommand.commands,
        defaultSubcommand: Serve.self)
}

extension FinFlowCommand {
    /// The subcommands; the Kafka bench only in a build with the Kafka trait.
    static var commands: [any ParsableCommand.Type] {
        var commands: [any ParsableCommand.Type] = [
            Serve.self, Migrate.self, DemoCommand.self, Audit.self, AuthCommand.self, AccountingCommand.self, AnalyticsCommand.self, ComplianceCommand.self,
            TenantsCommand.self,
            IntegrationsCommand.self,
            RolesCommand.self,
            TopCommand.self,
            CreditBench.self,
            ScreeningBench.self,
            MonitoringBench.self,
            AuditBench.self,
            PrivacyBench.self,
            TaxBenchCommand.self,
            ForecastBench.self,
            RealtimeBench.self,
            AnalyticsBench.self,
            RealtimePushBench.self,
        ]
        #if Kafka
        commands.append(KafkaBench.self)
        #endif
        return commands
    }
}

/// Options every command that opens databases shares; each falls back to its `FINFLOW_*` variable.
struct StorageOptions: ParsableArguments {
    @Option(help: "Comma-separated services to run (default: all). Env: FINFLOW_SERVICES")
    var services: String?
    @Option(help: "PostgreSQL URL postgres://user:password@host:port/db (default: SQLite files). Env: FINFLOW_DATABASE_URL")
    var databaseUrl: String?
    @Option(help: "Directory of the SQLite files and keys (default: .finflow). Env: FINFLOW_DATA_DIRECTORY")
    var dataDirectory: String?
    @Option(help: "Log format: auto, json or text. Env: FINFLOW_LOG_FORMAT")
    var logFormat: String?
    @Option(help: "Log level: trace … critical (default: info). Env: FINFLOW_LOG_LEVEL")
    var logLevel: String?
    @Option(help: "Kafka brokers host:port,… to carry events between services (default: in-process). Env: FINFLOW_KAFKA_BROKERS")
    var kafkaBrokers: String?

    var flags: [String: String] {
        var flags: [String: String] = [:]
        flags["services"] = self.services
        flags["databaseUrl"] = self.databaseUrl
        flags["dataDirectory"] = self.dataDirectory
        flags["logFormat"] = self.logFormat
        flags["logLevel"] = self.logLevel
        flags["kafkaBrokers"] = self.kafkaBrokers
        return flags
    }
}

/// Loads settings or stops with a message naming the bad setting.
func loadSettings(_ flags: [String: String]) throws -> Settings {
    do {
        return try Settings.load(flags: flags, environment: ProcessInfo.processInfo.environment)
    } catch let error as SettingError {
        throw ValidationError(error.description)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the services over HTTP (all of them on SQLite by default).")

    @OptionGroup var storage: StorageOptions
    @Option(help: "Address to listen on (default: 127.0.0.1). Env: FINFLOW_HOST")
    var host: String?
    @Option(help: "Port to listen on (default: 8080). Env: FINFLOW_PORT")
    var port: String?
    @Flag(help: "Apply pending PostgreSQL migrations before starting. Env: FINFLOW_MIGRATE")
    var migrate = false
    @Flag(help: "Create a demo tenant with a year of books before serving, and print its sign-in.")
    var demo = false

    func run() async throws {
        var flags = self.storage.flags
        flags["host"] = self.host
        flags["port"] = self.port
        if self.migrate { flags["migrate"] = "true" }
        let settings = try loadSettings(flags)
        JSONLogHandler.bootstrap(format: settings.logFormat, level: settings.logLevel)
        PrometheusSetup.bootstrap()
        let logger = Logger(label: "finflow")
        let tracing: (any Service)?
        do {
            tracing = try TracingSetup.bootstrap(
                environment: ProcessInfo.processInfo.environment, services: settings.services, logger: Logger(label: "finflow.tracing"))
        } catch let error as TracingSettingError {
            throw ValidationError(error.description)
        }
        let demoText = self.demo ? try await DemoCommand.create(settings: settings, logger: logger) : ""
        let system: FinFlowSystem
        do {
            system = try await FinFlowSystem.build(settings: settings, logger: logger)
        } catch let error as AppError {
            throw ValidationError(error.message)
        }
        let services = settings.services.isEmpty ? ServiceCatalog.all.map(\.name) : settings.services
        let storageText = settings.databaseURL == nil ? "SQLite files in \(settings.dataDirectory)/" : "PostgreSQL"
        let app = system.application(alongside: tracing.map { [$0] } ?? []) { channel in
            let port = channel.localAddress?.port ?? settings.port
            let base = "http://\(settings.host):\(port)"
            // Written unbuffered, so it shows at once even when the output is a pipe.
            FileHandle.standardOutput.write(Data("""
                FinFlow is listening on \(base) (services: \(services.joined(separator: ", ")); storage: \(storageText))
                API docs: \(base)/docs (Swagger UI), \(base)/redoc, \(base)/openapi.json
                Web app: \(base)/app
                \(demoText)
                """.utf8))
        }
        try await app.runService()
        try await system.shutdown()
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations of the services.")

    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let settings = try loadSettings(self.storage.flags)
        JSONLogHandler.bootstrap(format: "text", level: settings.logLevel)
        let logger = Logger(label: "finflow.migrate")
        for descriptor in try ServiceCatalog.select(settings.services) {
            let database = try await ServiceDatabases.open(descriptor, settings: settings, logger: logger)
            let applied = try await ServiceDatabases.migrate(descriptor, database: database, clock: SystemClock())
            print("\(descriptor.name): \(applied) migration(s) applied")
            try await database.shutdown()
        }
    }
}

struct AuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth", abstract: "Operate the auth service.", subcommands: [RotateKey.self])

    struct RotateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign new access tokens with a new key; old keys verify until their tokens expire.")

        @OptionGroup var storage: StorageOptions

        func run() async throws {
            let settings = try loadSettings(self.storage.flags)
            JSONLogHandler.bootstrap(format: "text", level: settings.logLevel)
            let database = try await ServiceDatabases.open(AuthService.descriptor, settings: settings, logger: Logger(label: "finflow.auth"))
            let pending = try await ServiceDatabases.pending(AuthService.descriptor, database: database, clock: SystemClock())
            guard pending.isEmpty else { throw ValidationError("the auth database has pending migrations: run `finflow migrate` first") }
            let kid = try await AuthService.rotateSigningKey(database: database, settings: settings, clock: SystemClock())
            print("auth: new signing key \(kid); running services switch to it within a minute")
            try await database.shutdown()
        }
    }
}

struct TenantsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenants", abstract: "Operate tenants as the platform operator.", subcommands: [Reactivate.self])

    struct Reactivate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reactivate a suspended tenant: its users and clients may sign in again (audited, announced to every service).")

        @OptionGroup var storage: StorageOptions
        @Option(help: "The tenant to reactivate.") var tenant: String
        @Option(name: .customLong("operator"), help: "Who reactivates it (kept in the audit trail).") var operatorName: String
        @Option(help: "Why (kept in the audit trail).") var reason: String

        func run() async throws {
            let settings = try loadSettings(self.storage.flags)
            JSONLogHandler.bootstrap(format: "text", level: settings.logLevel)
            let database = try await ServiceDatabases.open(TenancyService.descriptor, settings: settings, logger: Logger(label: "finflow.tenancy"))
            let pending = try await ServiceDatabases.pending(TenancyService.descriptor, database: database, clock: SystemClock())
            guard pending.isEmpty else {
                try await database.shutdown()
                throw ValidationError("the tenancy database has pending migrations: run `finflow migrate` first")
            }
            let changed: Bool
            do {
                changed = try await TenancyService.reactivate(
                    tenantId: self.tenant, operatorName: self.operatorName, reason: self.reason, database: database, settings: settings)
            } catch let error as AppError {
                try await database.shutdown()
                throw ValidationError(error.fieldErrors.isEmpty ? error.message : error.fieldErrors.map { "\($0.field) \($0.message)" }.joined(separator: "; "))
            }
            try await database.shutdown()
            print(changed ? "tenancy: tenant \(self.tenant) is active again; the services let its tokens in once they have the event"
                          : "tenancy: tenant \(self.tenant) was not suspended; nothing changed")
        }
    }
}

struct RolesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roles", abstract: "Print the built-in roles and their permissions as a Markdown table.")

    func run() async throws {
        print(Roles.markdownTable())
    }
}

extension ServiceDatabases {
    /// Opens one service's database for an operator's command, refusing one with pending migrations.
    static func openMigrated(_ descriptor: ServiceDescriptor, flags: [String: String]) async throws -> (any Database, Settings) {
        let settings = try loadSettings(flags)
        JSONLogHandler.bootstrap(format: "text", level: settings.logLevel)
        let database = try await ServiceDatabases.open(descriptor, settings: settings, logger: Logger(label: "finflow.\(descriptor.name)"))
        let pending = try await ServiceDatabases.pending(descriptor, database: database, clock: SystemClock())
        guard pending.isEmpty else {
            try await database.shutdown()
            throw ValidationError("the \(descriptor.name) database has pending migrations: run `finflow migrate` first")
        }
        return (database, settings)
    }
}
