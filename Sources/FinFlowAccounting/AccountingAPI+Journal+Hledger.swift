import FinFlowCore
import Foundation
import OpenAPIRuntime
import Synchronization

extension AccountingAPI {
    /// The most bytes of journal text one import request may carry (the body limit applies first).
    static let importTextBytesMax = 64 * 1024 * 1024

    func exportJournal(_ input: Operations.ExportJournal.Input) async throws -> Operations.ExportJournal.Output {
        let principal = try RequestScope.require(Permissions.readJournal)
        var validator = Validator()
        let from = LedgerDate.parse(input.query.from, field: "from", into: &validator)
        let to = LedgerDate.parse(input.query.to, field: "to", into: &validator)
        try validator.throwIfInvalid()
        let text = Mutex("")
        try await self.ledger.exportJournal(principal: principal, from: from, to: to) { chunk in text.withLock { $0 += chunk } }
        return .ok(.init(body: .plainText(HTTPBody(text.withLock { $0 }))))
    }

    func importJournal(_ input: Operations.ImportJournal.Input) async throws -> Operations.ImportJournal.Output {
        let principal = try RequestScope.require(Permissions.post)
        guard case .plainText(let body) = input.body else { throw AppError.invalid("expected a text/plain hledger journal") }
        let text = try await String(collecting: body, upTo: Self.importTextBytesMax)
        let summary = try await self.ledger.importJournal(principal: principal, text: text, importId: RequestScope.effectId("journal-import"))
        return .created(.init(body: .json(.init(entries: summary.entries, accountsCreated: summary.accountsCreated))))
    }
}
