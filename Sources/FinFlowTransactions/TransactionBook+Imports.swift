import FinFlowCore
import Foundation
import SQLKit

/// The formats of bank statements the service reads.
enum StatementFormat: String, Sendable {
    case csv, ofx, camt053
}

/// An import as a caller asked for it.
struct StatementImportRequest: Sendable {
    let format: StatementFormat
    let accountId: String
    let offsetAccountId: String
    let content: String
    let currency: String?
    let category: String?
    let csv: CSVMapping?
}

/// What became of one statement line.
struct ImportRowResult: Sendable, Equatable {
    enum Status: String, Sendable { case created, duplicate, invalid }
    let line: Int
    let status: Status
    let transactionId: String?
    let code: String?
    let reason: String?
}

/// An import's outcome, line by line.
struct ImportSummary: Sendable {
    let importId: String
    let format: StatementFormat
    let rows: [ImportRowResult]

    func count(_ status: ImportRowResult.Status) -> Int { self.rows.filter { $0.status == status }.count }
}

extension TransactionBook {
    /// Reads a bank statement and takes its lines in as transactions between the statement's account and the offset
    /// account, through the whole pipeline. Lines seen before are duplicates, lines that fail are listed with their
    /// reason, and the rest are taken in together.
    func importStatement(principal: Principal, _ request: StatementImportRequest) async throws -> ImportSummary {
        var validator = Validator()
        validator.check(UUID(uuidString: request.accountId) != nil, "accountId", "must be an account id (UUID)")
        validator.check(UUID(uuidString: request.offsetAccountId) != nil, "offsetAccountId", "must be an account id (UUID)")
        validator.check(request.accountId.lowercased() != request.offsetAccountId.lowercased(), "offsetAccountId", "must differ from accountId")
        if let currency = request.currency { validator.check(Currency(code: currency.uppercased()) != nil, "currency", "is not an ISO 4217 code") }
        validator.check(!request.content.isEmpty, "content", "must hold the statement's text")
        validator.check(!request.content.contains("\u{0}"), "content", "must not hold NUL characters")
        validator.check(request.format != .csv || request.csv != nil, "csv", "a CSV import needs its column mapping")
        try validator.throwIfInvalid()
        let accountId = request.accountId.lowercased()
        let offsetId = request.offsetAccountId.lowercased()
        let importId = self.env.ids.nextString()
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            let known = try await TransactionStore.accounts(tenantId: principal.tenantId, ids: [accountId, offsetId], db: db)
            guard let account = known.first(where: { $0.id == accountId }) else { throw TransactionsError.unknownAccount(field: "accountId") }
            guard known.contains(where: { $0.id == offsetId }) else { throw TransactionsError.unknownAccount(field: "offsetAccountId") }
            let currency = Currency(code: request.currency?.uppercased() ?? account.currency)
            let exponent = currency?.exponent ?? 2
            let statement: ParsedStatement
            switch request.format {
            case .csv: statement = try CSVStatement.parse(request.content, mapping: request.csv!, exponent: exponent)
            case .ofx: statement = try OFXStatement.parse(request.content, exponent: exponent)
            case .camt053: statement = try Camt053Statement.parse(request.content, exponent: exponent)
            }
            guard statement.lines.count <= TransactionLimitsBounds.importLinesMax else {
                throw AppError.validation([.init(field: "content", message: "holds more than \(TransactionLimitsBounds.importLinesMax) statement lines; split it")])
            }
            let defaultCurrency = statement.currency ?? currency?.code ?? account.currency
            var results: [ImportRowResult] = []
            var candidates: [(line: Int, draft: TransactionDraft)] = []
            var occurrences: [String: Int] = [:]
            for parsed in statement.lines {
                switch parsed {
                case .failure(let error):
                    results.append(ImportRowResult(line: error.line, status: .invalid, transactionId: nil, code: "unreadable-line", reason: error.reason))
                case .success(let line):
                    do {
                        var draft = try Self.draft(line, currency: line.currency ?? defaultCurrency, accountId: accountId, offsetId: offsetId,
                                                   category: request.category)
                        let identity = line.bankId.map { "\(request.format.rawValue)|id|\($0)" } ?? [
                            "line", draft.valueDate.description, String(line.amountMinor), draft.currency, line.description ?? "",
                            line.counterparty ?? "", line.reference ?? "",
                        ].joined(separator: "|")
                        let occurrence = occurrences[identity, default: 0]
                        occurrences[identity] = occurrence + 1
                        // A bank id names one line however often it appears; identical lines without one are told apart
                        // by their order in the file, so a second import of the same file finds each of them again.
                        draft.importFingerprint = Digest.sha256Hex(accountId + "|" + identity + (line.bankId == nil ? "|#\(occurrence)" : ""))
                        if line.bankId != nil, occurrence > 0 {
                            results.append(ImportRowResult(line: line.line, status: .duplicate, transactionId: nil, code: "duplicate-line",
                                                           reason: "the file holds bank id \(line.bankId!.prefix(64)) more than once"))
                            continue
                        }
                        candidates.append((line.line, draft))
                    } catch let error as AppError {
                        results.append(Self.invalid(line.line, error))
                    }
                }
            }
            let seen = try await TransactionStore.fingerprints(tenantId: principal.tenantId, candidates.compactMap(\.draft.importFingerprint), db: db)
            let fresh = candidates.filter { seen[$0.draft.importFingerprint!] == nil }
            for candidate in candidates where seen[candidate.draft.importFingerprint!] != nil {
                results.append(ImportRowResult(line: candidate.line, status: .duplicate, transactionId: seen[candidate.draft.importFingerprint!],
                                               code: "duplicate-line", reason: "imported before"))
            }
            var pipeline = try await self.pipeline(for: fresh.map(\.draft), principal: principal, db: db)
            var accepted: [(line: Int, draft: TransactionDraft)] = []
            for candidate in fresh {
                do {
                    try await pipeline.check(candidate.draft, prefix: "", db: db)
                    accepted.append(candidate)
                } catch let error as AppError where error.code == "duplicate-transaction" {
                    let twin = error.fieldErrors.first?.message.replacingOccurrences(of: "duplicates ", with: "")
                    results.append(ImportRowResult(line: candidate.line, status: .duplicate, transactionId: twin, code: error.code, reason: error.message))
                } catch let error as AppError where error.kind != .unavailable {
                    results.append(Self.invalid(candidate.line, error))
                }
            }
            // Statement lines record what the bank did already: they are monitored but never held from the books.
            let rows = try await self.insert(accepted.map(\.draft), principal: principal, importId: importId, held: false, db: db)
            for (candidate, row) in zip(accepted, rows) {
                results.append(ImportRowResult(line: candidate.line, status: .created, transactionId: row.id, code: nil, reason: nil))
            }
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "transactions.statement.imported", target: importId,
                           details: ["format": request.format.rawValue, "accountId": accountId, "created": String(rows.count),
                                     "lines": String(statement.lines.count)]),
                on: db, kind: self.kind)
            return ImportSummary(importId: importId, format: request.format, rows: results.sorted { $0.line < $1.line })
        }
    }

    /// A statement line as a draft: money in comes from the offset account, money out goes to it.
    static func draft(_ line: StatementLine, currency: String, accountId: String, offsetId: String, category: String?) throws -> TransactionDraft {
        let incoming = line.amountMinor > 0
        let bounds = TransactionLimitsBounds.self
        return try TransactionDraft.validated(
            id: nil, kind: incoming ? TransactionKind.receipt.rawValue : TransactionKind.payment.rawValue,
            amountMinor: line.amountMinor == .min ? 0 : abs(line.amountMinor), currency: currency, valueDate: line.date.description,
            sourceAccountId: incoming ? offsetId : accountId, destinationAccountId: incoming ? accountId : offsetId,
            counterpartyName: StatementText.clean(line.counterparty, max: bounds.counterpartyLengthMax),
            counterpartyCountry: line.counterpartyCountry.flatMap { $0.count == 2 ? $0 : nil },
            counterpartyAccount: StatementText.clean(line.counterpartyAccount, max: bounds.counterpartyAccountLengthMax),
            category: category, description: StatementText.clean(line.description, max: bounds.descriptionLengthMax),
            externalReference: StatementText.clean(line.reference ?? line.bankId, max: bounds.referenceLengthMax),
            metadata: line.bankId.map { ["bankId": String($0.prefix(bounds.metadataValueLengthMax))] })
    }

    static func invalid(_ line: Int, _ error: AppError) -> ImportRowResult {
        let detail = ([error.message] + error.fieldErrors.map { "\($0.field) \($0.message)" }).joined(separator: "; ")
        return ImportRowResult(line: line, status: .invalid, transactionId: nil, code: error.code, reason: detail)
    }
}
