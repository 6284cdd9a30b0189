import ArgumentParser
import FinFlowCore
import FinFlowServer
import Foundation
import Logging

/// `finflow demo`: a demo tenant with a year of books, and its sign-in.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Create a demo tenant and owner with a year of realistic books, and print the sign-in.")

    @OptionGroup var storage: StorageOptions

    /// Creates the demo through a system of its own on the in-process bus, whatever `settings` say of Kafka: making
    /// it waits for each event's effect (the tenant's ledger before its entries), which only in-process delivery
    /// gives at once. Every service of `settings` runs in that system, so each applies its events there.
    static func create(settings: Settings, logger: Logger) async throws -> String {
        var local = settings
        local.kafkaBrokers = nil
        let system: FinFlowSystem
        do { system = try await FinFlowSystem.build(settings: local, logger: logger) } catch let error as AppError {
            throw ValidationError(error.message)
        }
        let text: String
        do {
            text = try await Self.create(system)
        } catch {
            try? await system.shutdown()
            throw error
        }
        try await system.shutdown()
        return text
    }

    /// Creates the demo in `system` and returns the text that tells how to use it.
    static func create(_ system: FinFlowSystem) async throws -> String {
        let demo: DemoCredentials
        do { demo = try await system.createDemo() } catch let error as AppError { throw ValidationError(error.message) }
        let base = "http://\(system.settings.host):\(system.settings.port)"
        return """

            Demo tenant \(demo.tenantId) holds \(demo.entries) journal entries over the last twelve months.
              sign in:  email \(demo.email)  password \(demo.password)
              token:    curl -s \(base)/v1/auth/login -H 'content-type: application/json' -d '{"email":"\(demo.email)","password":"\(demo.password)"}'
              then:     curl -s '\(base)/v1/accounting/statements/balance-sheet' -H "authorization: Bearer $TOKEN"
                        (also income-statement, cash-flow, trial-balance, general-ledger, receivables-aging; add ?format=csv)
                        curl -s '\(base)/v1/transactions' -H "authorization: Bearer $TOKEN"   (the last weeks' bank transactions)
                        curl -s '\(base)/v1/credit/models/german-credit-xgb-1' -H "authorization: Bearer $TOKEN"
                        (the fields a credit application needs; POST {"applicant": {…}} to /v1/credit/scores)

            """
    }

    func run() async throws {
        let settings = try loadSettings(self.storage.flags)
        JSONLogHandler.bootstrap(format: "text", level: "warning")
        let text = try await Self.create(settings: settings, logger: Logger(label: "finflow.demo"))
        print(text + "Start the server with `finflow serve` to use it.")
    }
}
