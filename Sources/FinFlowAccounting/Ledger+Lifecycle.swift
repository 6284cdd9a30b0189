import FinFlowCore
import Foundation
import SQLKit

extension Ledger {
    /// Approves and posts an entry waiting for a second person; the maker cannot approve their own entry.
    func approve(principal: Principal, id: String) async throws -> EntryRecord {
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            let entry = try await self.lockedEntry(principal: principal, id: id, db: db)
            if RequestScope.isKeyed, entry.entryStatus == .posted, entry.approved_by == principal.subject {
                return try await LedgerStore.record(tenantId: principal.tenantId, id: entry.id, db: db)
            }
            guard entry.entryStatus == .awaitingApproval else { throw AccountingError.wrongStatus(entry.status, "approved") }
            guard entry.created_by != principal.subject else {
                throw AppError.forbidden(code: "four-eyes", "an entry must be approved by someone other than its maker")
            }
            let record = try await self.bringIntoBooks(entry, principal: principal, approver: principal.subject, db: db)
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "accounting.entry.approved",
                           target: entry.id, details: ["maker": entry.created_by ?? ""]),
                on: db, kind: self.kind)
            return record
        }
    }

    /// Throws away a draft or an entry waiting for approval.
    func discard(principal: Principal, id: String) async throws -> EntryRecord {
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            let entry = try await self.lockedEntry(principal: principal, id: id, db: db)
            if RequestScope.isKeyed, entry.entryStatus == .discarded {
                return try await LedgerStore.record(tenantId: principal.tenantId, id: entry.id, db: db)
            }
            guard [.draft, .awaitingApproval].contains(entry.entryStatus) else { throw AccountingError.wrongStatus(entry.status, "discarded") }
            try await self.setStatus(entry, .discarded, db: db)
            return try await LedgerStore.record(tenantId: principal.tenantId, id: entry.id, db: db)
        }
    }

    /// Moves a draft's lines into the books, or to approval when it is above the tenant's threshold.
    func bringIntoBooks(_ entry: EntryRow, principal: Principal, approver: String?, db: any SQLDatabase) async throws
        -> EntryRecord
    {
        let lines = try await LedgerStore.lines(entryIds: [entry.id], db: db)[entry.id] ?? []
        let date = try LedgerDate.stored(entry.accounting_date)
        let context = try await PostingContext.load(
            principal: principal, accountIds: Set(lines.map(\.account_id)), dates: [date], db: db, kind: self.kind)
        let requests = lines.map {
            LineRequest(accountId: $0.account_id, side: $0.side, amountMinor: $0.amountMinor, currency: $0.currency, memo: $0.memo)
        }
        try context.check(lines: requests, prefix: "")
        try context.checkPeriod(date)
        let source = EntrySource(rawValue: entry.source) ?? .manual
        if approver == nil && self.needsApproval(requests, source: source, context: context) {
            try await self.setStatus(entry, .awaitingApproval, db: db)
            return try await LedgerStore.record(tenantId: principal.tenantId, id: entry.id, db: db)
        }
        try context.apply(
            lines.map { ($0.account_id, $0.side, $0.amountMinor) }, phase: .post(.init(date: date.description, source: entry.source, entryId: entry.id)))
        let now = self.now
        try await db.raw("""
            UPDATE journal_entries SET status = 'posted', posted_at_ms = \(bind: now), approved_by = \(bind: approver)
            WHERE tenant_id = \(bind: principal.tenantId) AND id = \(bind: entry.id)
            """).run()
        try await db.raw("""
            UPDATE journal_lines SET state = 'posted', posted_at_ms = \(bind: now) WHERE entry_id = \(bind: entry.id)
            """).run()
        let record = try await LedgerStore.record(tenantId: principal.tenantId, id: entry.id, db: db)
        try await self.finish(context: context, posted: [record.entry], db: db)
        return record
    }

    /// Reverses a posted entry with an entry of the same lines on opposite sides, linked both ways.
    func reverse(principal: Principal, id: String, date: LedgerDate?, description: String?, newId: String?) async throws -> EntryRecord {
        var validator = Validator()
        if let description { validator.check(!description.isEmpty && description.count <= LedgerLimits.descriptionLengthMax, "description", "must be 1–\(LedgerLimits.descriptionLengthMax) characters") }
        if let newId { validator.check(UUID(uuidString: newId) != nil, "id", "must be a UUID") }
        try validator.throwIfInvalid()
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            try await self.reverseInTransaction(principal: principal, id: id, date: date, description: description, newId: newId, db: db)
        }
    }

    /// `reverse` inside the caller's transaction.
    func reverseInTransaction(
        principal: Principal, id: String, date: LedgerDate?, description: String?, newId: String?, db: any SQLDatabase
    ) async throws -> EntryRecord {
        let original = try await self.lockedEntry(principal: principal, id: id, db: db)
        // Asked again with the id of the reversal it has (a retry), the answer is that reversal.
        if let newId, let reversal = original.reversed_by_id, reversal == newId.lowercased() {
            return try await LedgerStore.record(tenantId: principal.tenantId, id: reversal, db: db)
        }
        guard original.entryStatus == .posted else { throw AccountingError.wrongStatus(original.status, "reversed") }
        guard original.reversed_by_id == nil else {
            throw AppError.conflict(code: "already-reversed", "the entry was reversed by \(original.reversed_by_id!)")
        }
        let lines = try await LedgerStore.lines(entryIds: [original.id], db: db)[original.id] ?? []
        let reversalDate = try date ?? LedgerDate.stored(original.accounting_date)
        let context = try await PostingContext.load(
            principal: principal, accountIds: Set(lines.map(\.account_id)), dates: [reversalDate], db: db, kind: self.kind)
        try context.checkPeriod(reversalDate)
        let swapped = lines.map { ($0.account_id, $0.side.opposite, $0.amountMinor) }
        let reversalId = newId?.lowercased() ?? self.env.ids.nextString()
        try context.apply(swapped, phase: .post(.init(date: reversalDate.description, source: original.source, entryId: reversalId)))
        let now = self.now
        let entry = EntryRow(
            id: reversalId, tenant_id: principal.tenantId, status: EntryStatus.posted.rawValue,
            source: original.source, source_id: nil, accounting_date: reversalDate.description,
            description: description ?? "Reversal of \(original.description)".prefix(LedgerLimits.descriptionLengthMax).description,
            reference: original.reference, metadata: original.metadata, request_hash: "reversal:\(original.id)",
            reverses_id: original.id, reversed_by_id: nil, pending_id: nil, resolved_by_id: nil, timeout_at_ms: nil,
            batch_id: nil, created_by: principal.subject, approved_by: nil, created_at_ms: now, posted_at_ms: now,
            resolved_at_ms: nil)
        let rows = self.lineRows(
            lines.map { ($0.account_id, $0.side.opposite, $0.amountMinor, $0.memo) }, entry: entry, state: "posted",
            context: context, now: now)
        guard try await LedgerStore.insert(entries: [entry], db: db).count == 1 else { throw AccountingError.idReused() }
        try await LedgerStore.insert(lines: rows, db: db)
        try await db.raw("""
            UPDATE journal_entries SET reversed_by_id = \(bind: entry.id)
            WHERE tenant_id = \(bind: principal.tenantId) AND id = \(bind: original.id)
            """).run()
        try await self.finish(context: context, posted: [entry], db: db)
        // The reversal of an entry that answered another service's record is announced to that service as well.
        if let sourceId = original.source_id, Self.answeredSources.contains(original.source) {
            try await self.outbox.enqueue(
                JournalEntryPosted(
                    entryId: entry.id, tenantId: entry.tenant_id, source: original.source, sourceId: sourceId,
                    accountingDate: entry.accounting_date, reversesEntryId: original.id),
                subject: entry.id, tenantId: entry.tenant_id, on: db)
        }
        return EntryRecord(entry: entry, lines: rows)
    }

    /// The sources whose entries answer another service's record; their postings and reversals are announced.
    static let answeredSources: Set<String> = [EntrySource.transaction.rawValue, EntrySource.payment.rawValue, EntrySource.loan.rawValue]

    func lockedEntry(principal: Principal, id: String, db: any SQLDatabase) async throws -> EntryRow {
        guard UUID(uuidString: id) != nil,
            let entry = try await LedgerStore.entry(tenantId: principal.tenantId, id: id.lowercased(), forUpdate: self.kind == .postgres, db: db)
        else { throw AppError.notFound("journal entry") }
        return entry
    }

    func setStatus(_ entry: EntryRow, _ status: EntryStatus, db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE journal_entries SET status = \(bind: status.rawValue) WHERE tenant_id = \(bind: entry.tenant_id) AND id = \(bind: entry.id)
            """).run()
    }
}
