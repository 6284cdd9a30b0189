import FinFlowCore
import Foundation
import Logging

/// What operator tools (the demo) do with the transaction service's database directly.
extension TransactionsService {
    /// Takes a month of the demo tenant's bank activity in: a card statement imported as CSV and a few transactions
    /// entered by hand, all pending until the ledger answers. Needs the tenant's accounts in the read model (deliver
    /// the ledger's events first). Returns how many transactions it created.
    public static func seedDemo(database: any Database, settings: Settings, clock: any FinFlowClock, tenantId: String) async throws -> Int {
        let book = TransactionBook(env: .forOperator(settings: settings, database: database, clock: clock, logger: Logger(label: "finflow.transactions.demo")))
        let principal = Principal(
            subject: "operator:demo", tenantId: tenantId, roles: ["owner"], permissions: Set(Roles.allPermissions), sessionId: nil)
        let accounts = Dictionary(uniqueKeysWithValues: try await book.accounts(principal: principal).map { ($0.code, $0) })
        guard let bank = accounts["1020"], let supplies = accounts["6300"], let utilities = accounts["6200"],
            let receivables = accounts["1100"], let fees = accounts["6600"]
        else { throw AppError(.unavailable, code: "demo-accounts-missing", "the transaction service does not know the demo chart yet") }
        let today = ValueDate(instant: clock.now())
        func day(_ back: Int) -> String { today.adding(days: -back).description }
        let statement = """
            Date,Payee,Purpose,Amount,Reference
            \(day(9)),Paper & Co,Printer paper,-48.90,C-1001
            \(day(7)),Cloud Office,Office suite licences,-120.00,C-1002
            \(day(5)),Paper & Co,Toner,-86.40,C-1003
            \(day(2)),Cloud Office,Refund of one licence,30.00,C-1004
            """
        var mapping = CSVMapping(dateColumn: "Date")
        mapping.amountColumn = "Amount"
        mapping.counterpartyColumn = "Payee"
        mapping.descriptionColumn = "Purpose"
        mapping.referenceColumn = "Reference"
        let imported = try await book.importStatement(
            principal: principal,
            StatementImportRequest(format: .csv, accountId: bank.id, offsetAccountId: supplies.id, content: statement, currency: nil,
                                   category: "office", csv: mapping))
        func draft(_ kind: TransactionKind, _ amount: Int64, from: AccountRow, to: AccountRow, _ back: Int, _ party: String, _ text: String) throws
            -> TransactionDraft
        {
            try TransactionDraft.validated(
                id: nil, kind: kind.rawValue, amountMinor: amount, currency: bank.currency, valueDate: day(back), sourceAccountId: from.id,
                destinationAccountId: to.id, counterpartyName: party, counterpartyCountry: nil, counterpartyAccount: nil, category: nil,
                description: text, externalReference: nil, metadata: ["demo": "true"])
        }
        let created = try await book.create([
            try draft(.expense, 21_450, from: bank, to: utilities, 6, "City Power", "Electricity, last month"),
            try draft(.receipt, 150_000, from: receivables, to: bank, 4, "Northwind Traders", "Payment of an open invoice"),
            try draft(.fee, 1_500, from: bank, to: fees, 1, "Demo Bank", "Account fee"),
        ], principal: principal)
        return imported.count(.created) + created.count
    }
}
