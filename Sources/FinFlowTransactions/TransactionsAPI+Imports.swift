import FinFlowCore
import Foundation
import OpenAPIRuntime

extension TransactionsAPI {
    func importStatement(_ input: Operations.ImportStatement.Input) async throws -> Operations.ImportStatement.Output {
        let principal = try RequestScope.require("transactions:create")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var mapping: CSVMapping?
        if let csv = body.csv {
            var validator = Validator()
            func character(_ text: String?, _ field: String, default value: Character) -> Character {
                guard let text else { return value }
                if text == "\\t" || text == "\t" { return "\t" }
                validator.check(text.count == 1, "csv.\(field)", "must be one character")
                return text.first ?? value
            }
            var built = CSVMapping(dateColumn: csv.dateColumn)
            built.delimiter = character(csv.delimiter, "delimiter", default: ",")
            built.hasHeader = csv.hasHeader ?? true
            built.dateFormat = csv.dateFormat.flatMap { CSVMapping.DateFormat(rawValue: $0.rawValue) } ?? .iso
            built.amountColumn = csv.amountColumn
            built.debitColumn = csv.debitColumn
            built.creditColumn = csv.creditColumn
            built.decimalSeparator = csv.decimalSeparator.map { $0 == ._comma_ ? "," : "." } ?? "."
            built.descriptionColumn = csv.descriptionColumn
            built.counterpartyColumn = csv.counterpartyColumn
            built.referenceColumn = csv.referenceColumn
            built.currencyColumn = csv.currencyColumn
            try validator.throwIfInvalid()
            mapping = built
        }
        if let category = body.category {
            guard (1...TransactionLimitsBounds.categoryLengthMax).contains(category.count) else {
                throw AppError.validation([.init(field: "category", message: "must be 1–\(TransactionLimitsBounds.categoryLengthMax) characters")])
            }
        }
        let summary = try await self.book.importStatement(
            principal: principal,
            StatementImportRequest(
                format: StatementFormat(rawValue: body.format.rawValue) ?? .csv, accountId: body.accountId, offsetAccountId: body.offsetAccountId,
                content: body.content, currency: body.currency, category: body.category, csv: mapping))
        return .created(.init(body: .json(.init(
            importId: summary.importId, format: summary.format.rawValue, created: summary.count(.created),
            duplicates: summary.count(.duplicate), invalid: summary.count(.invalid),
            rows: summary.rows.map {
                .init(line: $0.line, status: .init(rawValue: $0.status.rawValue) ?? .invalid, transactionId: $0.transactionId, code: $0.code,
                      reason: $0.reason)
            }))))
    }
}
