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

            """
    }

    func run() async throws {
        let settings = try loadSettings(self.storage.flags)
        JSONLogHandler.bootstrap(format: "text", level: "warning")
        let system: FinFlowSystem
        do { system = try await FinFlowSystem.build(settings: settings, logger: Logger(label: "finflow.demo")) } catch let error as AppError {
            throw ValidationError(error.message)
        }
        let text = try await Self.create(system)
        print(text + "Start the server with `finflow serve` to use it.")
        try await system.shutdown()
    }
}
