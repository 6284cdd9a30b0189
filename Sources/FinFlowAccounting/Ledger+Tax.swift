import FinFlowCore
import Foundation
import SQLKit

/// The accounting service's copy of a tax calculation the tax service committed.
struct TaxRecordRow: Codable, Sendable {
    let tenant_id: String
    let document_id: String
    let code: String
    let document_type: String
    let document_date: String
    let currency: String
    let net_minor: Int64
    let tax_minor: Int64
    let self_assessed_minor: Int64
    let total_minor: Int64
    /// `[TaxCommitted.Amount]` as JSON.
    let amounts: String
    /// `[TaxCommitted.Line]` as JSON.
    let lines: String
    /// committed or voided.
    let status: String
    let received_at_ms: Int64
}

/// A committed calculation as an invoice or bill uses it.
struct TaxRecord: Sendable {
    let row: TaxRecordRow
    let amounts: [TaxCommitted.Amount]
    let lines: [TaxCommitted.Line]
}

/// Output tax (owed) or input tax (reclaimable).
enum TaxSide: String, Sendable {
    case output, input
}

/// The ledger's side of tax: invoices and bills take their tax from the tax service's committed calculations and post
/// it to one account per jurisdiction and side (role `tax:output:DE`, `tax:input:DE`, made under the sales tax or input
/// tax account on first use); every entry that moves such an account is announced to the tax service, which reconciles
/// its returns against them; a filed return is settled here.
extension Ledger {
    static let taxRolePrefix = "tax:"

    static func taxRole(_ side: TaxSide, _ key: String) -> String { "\(Self.taxRolePrefix)\(side.rawValue):\(key)" }

    private static let taxCoder = (JSONEncoder(), JSONDecoder())

    /// Keeps a copy of a committed calculation; one seen before is left as it is.
    func keep(committed: TaxCommitted, on db: any SQLDatabase) async throws {
        guard CalendarDay(committed.documentDate) != nil, Currency(code: committed.currency) != nil, UUID(uuidString: committed.documentId) != nil,
            ["sales-invoice", "purchase-invoice", "credit-note"].contains(committed.documentType), committed.lines.count <= 1_000,
            committed.amounts.count <= 10_000
        else { throw AppError.invalid("the committed calculation is malformed") }
        let row = TaxRecordRow(
            tenant_id: committed.tenantId, document_id: committed.documentId.lowercased(), code: String(committed.code.prefix(200)),
            document_type: committed.documentType, document_date: committed.documentDate, currency: committed.currency,
            net_minor: committed.netMinor, tax_minor: committed.taxMinor, self_assessed_minor: committed.selfAssessedTaxMinor,
            total_minor: committed.totalMinor, amounts: String(decoding: try Self.taxCoder.0.encode(committed.amounts), as: UTF8.self),
            lines: String(decoding: try Self.taxCoder.0.encode(committed.lines), as: UTF8.self), status: "committed", received_at_ms: self.now)
        try await db.insert(into: "tax_records").model(row).ignoringConflicts().run()
    }

    /// Marks a calculation voided: no invoice or bill can take its tax from it any more.
    func withdraw(voided: TaxVoided, on db: any SQLDatabase) async throws {
        try await db.update("tax_records").set("status", to: "voided").where("tenant_id", .equal, voided.tenantId)
            .where("document_id", .equal, voided.documentId.lowercased()).run()
    }

    /// The committed calculation `id`, in force.
    func taxRecord(id: String, tenantId: String, db: any SQLDatabase) async throws -> TaxRecord {
        guard let row = try await db.select().column("*").from("tax_records").where("tenant_id", .equal, tenantId).where("document_id", .equal, id)
            .first(decoding: TaxRecordRow.self)
        else {
            throw AppError.conflict(
                code: "tax-calculation-unknown",
                "tax calculation \(id) is not committed, or its commit has not reached the ledger yet: commit it in the tax service and retry")
        }
        guard row.status == "committed" else { throw AppError.conflict(code: "tax-calculation-voided", "tax calculation \(row.code) is voided") }
        return TaxRecord(
            row: row, amounts: try Self.taxCoder.1.decode([TaxCommitted.Amount].self, from: Data(row.amounts.utf8)),
            lines: try Self.taxCoder.1.decode([TaxCommitted.Line].self, from: Data(row.lines.utf8)))
    }

    /// The calculation `id` an invoice or bill of `type` takes its tax from, checked against the document: same type,
    /// currency and date, one line per line each netting to the calculation's, and no other document using it.
    func taxRecord(
        id: String, type: String, currency: String, date: String, nets: [Int64], tenantId: String, db: any SQLDatabase
    ) async throws -> TaxRecord {
        let record = try await self.taxRecord(id: id, tenantId: tenantId, db: db)
        let row = record.row
        func mismatch(_ message: String) -> AppError { AppError.conflict(code: "tax-calculation-mismatch", "tax calculation \(row.code) \(message)") }
        guard row.document_type == type else { throw mismatch("is a \(row.document_type), not a \(type)") }
        guard row.currency == currency else { throw mismatch("is in \(row.currency), not \(currency)") }
        guard row.document_date == date else { throw mismatch("is dated \(row.document_date), not \(date): the tax of a date is the tax of that day's rules") }
        guard record.lines.count == nets.count else { throw mismatch("has \(record.lines.count) lines, the document \(nets.count)") }
        for (index, (line, net)) in zip(record.lines, nets).enumerated() where line.amountMinor != net {
            throw mismatch("line \(index + 1) is \(line.amountMinor), the document's line nets to \(net)")
        }
        let taken = try await db.raw("""
            SELECT number FROM invoices WHERE tenant_id = \(bind: tenantId) AND tax_document_id = \(bind: id)
            UNION ALL SELECT number FROM bills WHERE tenant_id = \(bind: tenantId) AND tax_document_id = \(bind: id)
            """).first(decoding: NumberOnly.self)
        if let taken { throw AppError.conflict(code: "tax-calculation-used", "tax calculation \(row.code) is the tax of \(taken.number) already") }
        return record
    }

    private struct NumberOnly: Decodable { let number: String }

    /// The tenant's account for `side` tax of `key` (`DE`, `OSS-FR`, `US-CA`), made on first use as a child of the
    /// sales tax (role `sales_tax`) or input tax (`input_tax`) account, with its code and currency.
    func taxAccount(_ side: TaxSide, key: String, tenantId: String, db: any SQLDatabase) async throws -> String {
        let role = Self.taxRole(side, key)
        if self.kind == .postgres {
            // Two documents of a new jurisdiction at once: the second waits and finds the account the first made.
            try await db.raw("SELECT pg_advisory_xact_lock(hashtext(\(bind: "tax-account:\(tenantId):\(role)")))").run()
        }
        if let account = try await LedgerStore.accountBySystemRole(tenantId: tenantId, role: role, db: db) { return account.id }
        let parentRole = side == .output ? SystemRole.salesTax : SystemRole.inputTax
        guard let parent = try await LedgerStore.accountBySystemRole(tenantId: tenantId, role: parentRole.rawValue, db: db) else {
            throw AppError.conflict(code: "system-account-missing", "the chart has no \(side.rawValue) tax account (role \(parentRole.rawValue))")
        }
        var code = String("\(parent.code)-\(key)".prefix(20))
        for suffix in 2...10 {
            let taken = try await db.raw("SELECT COUNT(*) AS n FROM accounts WHERE tenant_id = \(bind: tenantId) AND code = \(bind: code)")
                .first(decoding: CountRow.self)?.n ?? 0
            guard taken > 0 else { break }
            code = String("\(parent.code)-\(key)".prefix(17)) + "-\(suffix)"
        }
        let now = self.now
        let row = AccountRow(
            id: self.env.ids.nextString(), tenant_id: tenantId, code: code, name: String("\(parent.name) \(key)".prefix(120)), type: parent.type,
            contra: parent.contra, normal_side: parent.normal_side, parent_id: parent.id, currency: parent.currency, cash_flow_tag: parent.cash_flow_tag,
            balance_constraint: BalanceConstraint.none.rawValue, status: AccountStatus.active.rawValue, system_role: role, posted_debits_minor: 0,
            posted_credits_minor: 0, pending_debits_minor: 0, pending_credits_minor: 0, created_at_ms: now, updated_at_ms: now)
        try await LedgerStore.insert(account: row, db: db)
        try await self.announce(row, on: db)
        return row.id
    }

    /// The tax lines of an invoice (or customer credit note, `credit`) taken from its calculation: each jurisdiction's
    /// charged tax to its output account.
    func invoiceTaxLines(_ record: TaxRecord, credit: Bool, currency: String, tenantId: String, db: any SQLDatabase) async throws -> [LineRequest] {
        var byAccount: [String: Int64] = [:]
        for amount in record.amounts where !amount.selfAssessed && amount.taxMinor != 0 {
            byAccount[amount.account] = try MinorUnits.add(byAccount[amount.account] ?? 0, amount.taxMinor)
        }
        var lines: [LineRequest] = []
        for (key, tax) in byAccount.sorted(by: { $0.key < $1.key }) {
            lines.append(LineRequest(accountId: try await self.taxAccount(.output, key: key, tenantId: tenantId, db: db), side: credit ? .debit : .credit,
                                     amountMinor: tax, currency: currency, memo: "output tax \(key)"))
        }
        return lines
    }

    /// The tax lines of a bill taken from its calculation: recoverable tax (charged or self-assessed) to each
    /// jurisdiction's input account, self-assessed tax owed to its output account. Tax that is not recoverable is
    /// part of the lines' expense (see `billTaxCost`).
    func billTaxLines(_ record: TaxRecord, currency: String, tenantId: String, db: any SQLDatabase) async throws -> [LineRequest] {
        var entries: [String: Int64] = [:]
        func add(_ side: TaxSide, _ key: String, _ amount: Int64) throws {
            let id = "\(side.rawValue)|\(key)"
            entries[id] = try MinorUnits.add(entries[id] ?? 0, amount)
        }
        for amount in record.amounts where amount.taxMinor != 0 {
            if amount.recoverable { try add(.input, amount.account, amount.taxMinor) }
            if amount.selfAssessed { try add(.output, amount.account, amount.taxMinor) }
        }
        var lines: [LineRequest] = []
        for (id, amount) in entries.sorted(by: { $0.key < $1.key }) {
            let parts = id.split(separator: "|", maxSplits: 1).map(String.init)
            let side = TaxSide(rawValue: parts[0])!
            lines.append(LineRequest(
                accountId: try await self.taxAccount(side, key: parts[1], tenantId: tenantId, db: db), side: side == .input ? .debit : .credit,
                amountMinor: amount, currency: currency, memo: "\(side.rawValue) tax \(parts[1])"))
        }
        return lines
    }

    /// Announces the movements of per-jurisdiction tax accounts in `posted` entries to the tax service. Nothing is
    /// read unless the posting touched such an account.
    func announceTaxMovements(context: PostingContext, posted: [EntryRow], db: any SQLDatabase) async throws {
        let taxAccounts = context.accounts.values.filter { $0.system_role?.hasPrefix(Self.taxRolePrefix) == true }
        guard !taxAccounts.isEmpty, !posted.isEmpty else { return }
        let byId = Dictionary(uniqueKeysWithValues: taxAccounts.map { ($0.id, $0) })
        let lines = try await LedgerStore.lines(entryIds: posted.map(\.id), db: db)
        for entry in posted {
            var movements: [String: Int64] = [:]
            var currencies: [String: String] = [:]
            for line in lines[entry.id] ?? [] {
                guard let account = byId[line.account_id], let role = account.system_role else { continue }
                let parts = role.dropFirst(Self.taxRolePrefix.count).split(separator: ":", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { continue }
                let id = "\(parts[0])|\(parts[1])"
                let signed = parts[0] == TaxSide.output.rawValue ? line.credit_minor - line.debit_minor : line.debit_minor - line.credit_minor
                movements[id] = try MinorUnits.add(movements[id] ?? 0, signed)
                currencies[id] = account.currency
            }
            guard !movements.isEmpty else { continue }
            var metadata = (try? Self.taxCoder.1.decode([String: String].self, from: Data(entry.metadata.utf8))) ?? [:]
            if metadata["taxDocumentId"] == nil, let reversed = entry.reverses_id,
                let original = try await LedgerStore.entry(tenantId: entry.tenant_id, id: reversed, forUpdate: false, db: db)
            {
                // A reversal answers for what its entry posted.
                metadata = (try? Self.taxCoder.1.decode([String: String].self, from: Data(original.metadata.utf8))) ?? [:]
            }
            try await self.outbox.enqueue(
                TaxLedgerPosted(
                    entryId: entry.id, tenantId: entry.tenant_id, accountingDate: entry.accounting_date, taxDocumentId: metadata["taxDocumentId"],
                    filingId: metadata["taxFilingId"],
                    movements: movements.sorted(by: { $0.key < $1.key }).map { id, amount in
                        let parts = id.split(separator: "|", maxSplits: 1).map(String.init)
                        return .init(jurisdiction: parts[1], kind: parts[0], currency: currencies[id] ?? "", amountMinor: amount)
                    }),
                subject: entry.id, tenantId: entry.tenant_id, on: db)
        }
    }

    /// Settles a filed return: each account's declared output tax debited, its input tax credited, the net to the
    /// sales tax account (what is owed to the authority) on the last day of the period. A refusal (closed period,
    /// no sales tax account) is answered with `JournalEntryRejected`.
    func settle(filed: TaxReturnFiled, on db: any SQLDatabase) async throws {
        // A return that declares no tax (a quiet quarter) has nothing to settle.
        guard filed.accounts.contains(where: { $0.outputTaxMinor != 0 || $0.inputTaxMinor != 0 }) else { return }
        let principal = Principal.system(tenantId: filed.tenantId)
        try await self.postAnswering(source: .tax, sourceId: filed.filingId, principal: principal, on: db) {
            guard let owed = try await LedgerStore.accountBySystemRole(tenantId: filed.tenantId, role: SystemRole.salesTax.rawValue, db: db) else {
                throw AppError(.rejected, code: "system-account-missing", "the chart has no sales tax account (role sales_tax)")
            }
            guard filed.accounts.allSatisfy({ $0.outputTaxMinor != Int64.min && $0.inputTaxMinor != Int64.min }) else {
                throw AppError.invalid("the return's amounts are out of range")
            }
            var lines: [LineRequest] = []
            var net: Int64 = 0
            for account in filed.accounts.prefix(1_000) {
                if account.outputTaxMinor != 0 {
                    let id = try await self.taxAccount(.output, key: account.account, tenantId: filed.tenantId, db: db)
                    lines.append(LineRequest(accountId: id, side: account.outputTaxMinor > 0 ? .debit : .credit,
                                             amountMinor: abs(account.outputTaxMinor),
                                             currency: filed.currency, memo: "output tax \(account.account) declared"))
                    net = try MinorUnits.add(net, account.outputTaxMinor)
                }
                if account.inputTaxMinor != 0 {
                    let id = try await self.taxAccount(.input, key: account.account, tenantId: filed.tenantId, db: db)
                    lines.append(LineRequest(accountId: id, side: account.inputTaxMinor > 0 ? .credit : .debit, amountMinor: abs(account.inputTaxMinor),
                                             currency: filed.currency, memo: "input tax \(account.account) declared"))
                    net = try MinorUnits.subtract(net, account.inputTaxMinor)
                }
            }
            if net != 0 {
                lines.append(LineRequest(accountId: owed.id, side: net > 0 ? .credit : .debit, amountMinor: abs(net), currency: filed.currency,
                                         memo: net > 0 ? "owed to the authority" : "to be reclaimed from the authority"))
            }
            return try EntryRequest.validated(
                id: nil, date: filed.periodEnd,
                description: "Tax return \(filed.kind) \(filed.jurisdiction) \(filed.periodStart) to \(filed.periodEnd)".prefix(LedgerLimits.descriptionLengthMax).description,
                reference: nil, metadata: ["taxFilingId": String(filed.filingId.prefix(64))], lines: lines, source: .tax, sourceId: filed.filingId,
                mode: .post, timeoutSeconds: nil)
        }
    }
}
