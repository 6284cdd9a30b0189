import FinFlowCore
import Foundation
import OpenAPIRuntime

extension TransactionsAPI {
    func importStatement(_ input: Operations.ImportStatement.Input) async throws -> Operations.ImportStatement.Output {
        throw AppError(.unavailable, code: "not-ready", "not yet")
    }
}
