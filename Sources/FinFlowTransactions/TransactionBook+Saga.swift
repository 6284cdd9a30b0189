import FinFlowCore
import Foundation
import SQLKit

extension TransactionBook {
    /// Keeps the read model of ledger accounts: the newest announcement of each account wins.
    func apply(account event: LedgerAccountChanged, on db: any SQLDatabase) async throws {
        try await TransactionStore.upsert(
            account: AccountRow(
                tenant_id: event.tenantId, id: event.accountId.lowercased(), code: event.code, name: event.name, type: event.type,
                currency: event.currency, status: event.status, changed_at_ms: event.changedAtMillis),
            db: db)
    }

    /// The ledger posted a transaction (it becomes `posted`) or the reversal of one (`reversed`). Entries for other
    /// sources, unknown transactions and answers that come too late for the status are ignored.
    func apply(posted event: JournalEntryPosted, on db: any SQLDatabase) async throws {
        guard event.source == "transaction", let id = event.sourceId else { return }
        if let reversed = event.reversesEntryId {
            try await self.change(tenantId: event.tenantId, id: id, from: [.posted, .reversalRequested], to: .reversed, db: db) { row in
                row.reversal_entry_id = event.entryId
                if row.entry_id == nil { row.entry_id = reversed }
            }
        } else {
            try await self.change(tenantId: event.tenantId, id: id, from: [.pending], to: .posted, db: db) { row in
                row.entry_id = event.entryId
                row.status_code = nil  // the release's note, when compliance held it, stays in the history
                row.status_reason = nil
            }
        }
    }

    /// The ledger refused a transaction (it becomes `rejected` with the code and reason), or refused to reverse one
    /// (it is `posted` again, the refusal kept as its status code and reason).
    func apply(rejected event: JournalEntryRejected, on db: any SQLDatabase) async throws {
        guard event.source == "transaction" else { return }
        let reason = String(event.reason.prefix(1_000))
        guard let row = try await TransactionStore.transaction(tenantId: event.tenantId, id: event.sourceId, forUpdate: self.kind == .postgres, db: db)
        else { return }
        let next: TransactionStatus = row.transactionStatus == .reversalRequested ? .posted : .rejected
        let changed = try await self.change(tenantId: event.tenantId, id: event.sourceId, from: [.pending, .reversalRequested], to: next, db: db) { row in
            row.status_code = String(event.code.prefix(100))
            row.status_reason = reason
        }
        if changed && next == .rejected {
            // A transaction the ledger refused no longer counts towards velocity.
            try await TransactionStore.count(
                [(row.source_account_id, row.currency, row.amount_minor, row.created_at_ms)], sign: -1, tenantId: row.tenant_id, db: db)
        }
    }

    /// The compliance service decided a held transaction: approved, it becomes `pending` and the ledger is asked to
    /// post it (`TransactionPostingRequested`); declined, it is `rejected` with the code `compliance-declined` and no
    /// longer counts towards velocity. A transaction no longer held (a repeated decision) is left as it is.
    func apply(decided event: ComplianceTransactionDecided, on db: any SQLDatabase) async throws {
        guard let row = try await TransactionStore.transaction(
            tenantId: event.tenantId, id: event.transactionId.lowercased(), forUpdate: self.kind == .postgres, db: db),
            row.transactionStatus == .held
        else { return }
        let reason = event.reason.map { String($0.prefix(1_000)) }
        switch event.outcome {
        case "approve":
            try await self.change(tenantId: row.tenant_id, id: row.id, from: [.held], to: .pending, db: db) { row in
                row.status_code = "compliance-approved"
                row.status_reason = reason
            }
            try await self.outbox.enqueue(TransactionPostingRequested(row.created), subject: row.id, tenantId: row.tenant_id, on: db)
        case "decline":
            try await self.change(tenantId: row.tenant_id, id: row.id, from: [.held], to: .rejected, db: db) { row in
                row.status_code = "compliance-declined"
                row.status_reason = reason ?? "declined by compliance"
            }
            try await TransactionStore.count(
                [(row.source_account_id, row.currency, row.amount_minor, row.created_at_ms)], sign: -1, tenantId: row.tenant_id, db: db)
        default:
            // Not an outcome this version knows: the consumer's retries and dead letters keep it for an operator.
            throw AppError.invalid(code: "unknown-outcome", "a compliance decision's outcome must be approve or decline")
        }
    }

    /// Asks the ledger to reverse a posted transaction: it becomes `reversal-requested` until the ledger answers.
    func reverse(principal: Principal, id: String, date: String?, reason: String?) async throws -> TransactionRecord {
        var validator = Validator()
        validator.check(UUID(uuidString: id) != nil, "transactionId", "must be a UUID")
        let reversalDate = date.map(ValueDate.init) ?? ValueDate(instant: self.env.clock.now())
        validator.check(reversalDate != nil, "date", "must be a date YYYY-MM-DD")
        let reason = reason?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let reason {
            validator.check((1...TransactionLimitsBounds.reasonLengthMax).contains(reason.count), "reason", "must be 1–\(TransactionLimitsBounds.reasonLengthMax) characters")
        }
        try validator.throwIfInvalid()
        let tenantId = principal.tenantId
        return try await self.database.tenantTransaction(tenantId: tenantId) { db in
            guard let row = try await TransactionStore.transaction(tenantId: tenantId, id: id.lowercased(), forUpdate: self.kind == .postgres, db: db)
            else { throw AppError.notFound("transaction") }
            // A keyed retry of a reversal asked for already (its first run committed, its answer was lost).
            if RequestScope.isKeyed, [.reversalRequested, .reversed].contains(row.transactionStatus) {
                return try await self.record(tenantId: tenantId, id: row.id, db: db)
            }
            guard row.transactionStatus == .posted else { throw TransactionsError.wrongStatus(row.transactionStatus, "reversed") }
            try await self.change(tenantId: tenantId, id: row.id, from: [.posted], to: .reversalRequested, db: db) { row in
                row.status_code = nil
                row.status_reason = reason
            }
            try await self.outbox.enqueue(
                TransactionReversalRequested(transactionId: row.id, tenantId: tenantId, reversalDate: reversalDate!.description, reason: reason),
                subject: row.id, tenantId: tenantId, on: db)
            return try await self.record(tenantId: tenantId, id: row.id, db: db)
        }
    }

    /// Moves a transaction from one of `from` to `to`, records the change in its history and announces it with
    /// `TransactionStatusChanged`. A transaction in another status is left as it is (a late or repeated answer).
    @discardableResult
    func change(
        tenantId: String, id: String, from: Set<TransactionStatus>, to: TransactionStatus, db: any SQLDatabase,
        _ edit: (inout TransactionRow) -> Void
    ) async throws -> Bool {
        guard var row = try await TransactionStore.transaction(tenantId: tenantId, id: id, forUpdate: self.kind == .postgres, db: db),
            from.contains(row.transactionStatus)
        else { return false }
        let previous = row.status
        let now = self.now
        row.status = to.rawValue
        row.updated_at_ms = now
        edit(&row)
        try await TransactionStore.update(row, db: db)
        let entryId = to == .reversed ? row.reversal_entry_id : row.entry_id
        let history = HistoryRow(
            id: self.env.ids.nextString(), tenant_id: tenantId, transaction_id: id, status: to.rawValue, code: row.status_code,
            reason: row.status_reason, entry_id: entryId, at_ms: now)
        try await db.insertRows(into: "transaction_history", columns: HistoryRow.columns, rows: [history.cells])
        try await self.outbox.enqueue(
            TransactionStatusChanged(
                transactionId: id, tenantId: tenantId, status: to.rawValue, previousStatus: previous, code: row.status_code,
                reason: row.status_reason, entryId: entryId, changedAtMillis: now),
            subject: id, tenantId: tenantId, on: db)
        return true
    }

    /// A transaction with its history.
    func record(tenantId: String, id: String, db: any SQLDatabase) async throws -> TransactionRecord {
        guard let row = try await TransactionStore.transaction(tenantId: tenantId, id: id, forUpdate: false, db: db) else {
            throw AppError.notFound("transaction")
        }
        let history = try await TransactionStore.history(tenantId: tenantId, transactionIds: [id], db: db)[id] ?? []
        return TransactionRecord(row: row, history: history)
    }
}
