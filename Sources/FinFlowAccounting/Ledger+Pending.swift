import FinFlowCore
import Foundation
import SQLKit

extension Ledger {
    /// Pending entries expired by one sweep, so a sweep's transaction stays short.
    static let expirySweepMax = 200

    private enum Resolution: Sendable {
        case done(EntryRecord)
        case expired
    }

    /// Posts a draft as it is (or sends it to approval), or a pending entry, fully or with smaller amounts per line
    /// (`amounts[lineNo]`, 0 drops a line): the whole reservation is released and the posted amounts go into a new
    /// entry linked to it. A pending entry resolves once; asked again with the id it resolved into (the caller's, or
    /// `keyedId`, derived from the request's idempotency key), it answers with that entry.
    func postEntry(principal: Principal, id: String, amounts: [Int: Int64], date: LedgerDate?, newId: String?, keyedId: String? = nil)
        async throws -> EntryRecord
    {
        if let newId, UUID(uuidString: newId) == nil { throw AppError.validation([.init(field: "id", message: "must be a UUID")]) }
        let result: Resolution = try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            let pending = try await self.lockedEntry(principal: principal, id: id, db: db)
            // A keyed retry of a draft's posting that went through (into the books, or to approval).
            if RequestScope.isKeyed, amounts.isEmpty, date == nil, newId == nil, pending.pending_id == nil,
                [.posted, .awaitingApproval].contains(pending.entryStatus), pending.created_by == principal.subject
            {
                return .done(try await LedgerStore.record(tenantId: principal.tenantId, id: pending.id, db: db))
            }
            if pending.entryStatus == .draft {
                guard amounts.isEmpty, date == nil, newId == nil else {
                    throw AppError.invalid("a draft posts as it is; amounts, date and id apply to pending entries")
                }
                return .done(try await self.bringIntoBooks(pending, principal: principal, approver: nil, db: db))
            }
            let resolvedId = (newId ?? keyedId)?.lowercased()
            if let resolvedId, pending.resolved_by_id == resolvedId {
                return .done(try await LedgerStore.record(tenantId: principal.tenantId, id: resolvedId, db: db))
            }
            guard pending.entryStatus == .pending else { throw AccountingError.wrongStatus(pending.status, "posted") }
            let lines = try await LedgerStore.lines(entryIds: [pending.id], db: db)[pending.id] ?? []
            if let timeout = pending.timeout_at_ms, timeout <= self.now {
                try await self.release(pending, lines: lines, to: .expired, principal: principal, db: db)
                return .expired
            }
            var validator = Validator()
            for (lineNo, amount) in amounts {
                guard let line = lines.first(where: { $0.line_no == lineNo }) else {
                    validator.fail("amounts.\(lineNo)", "names no line of the entry"); continue
                }
                validator.check((0...line.amountMinor).contains(amount), "amounts.\(lineNo)", "must be 0…\(line.amountMinor)")
            }
            try validator.throwIfInvalid()
            let posting = lines.compactMap { line -> LineRequest? in
                let amount = amounts[line.line_no] ?? line.amountMinor
                return amount == 0 ? nil : LineRequest(accountId: line.account_id, side: line.side, amountMinor: amount, currency: nil, memo: line.memo)
            }
            guard posting.count >= 2 else { throw AppError.invalid(code: "unbalanced", "a posting needs at least two lines") }
            let postingDate = try date ?? LedgerDate.stored(pending.accounting_date)
            let context = try await PostingContext.load(
                principal: principal, accountIds: Set(lines.map(\.account_id)), dates: [postingDate], db: db, kind: self.kind)
            try context.check(lines: posting, prefix: "")
            try context.checkPeriod(postingDate)
            try context.apply(lines.map { ($0.account_id, $0.side, $0.amountMinor) }, phase: .release)
            let postedId = resolvedId ?? self.env.ids.nextString()
            try context.apply(
                posting.map { ($0.accountId, $0.side, $0.amountMinor) },
                phase: .post(.init(date: postingDate.description, source: pending.source, entryId: postedId)))
            let now = self.now
            let entry = EntryRow(
                id: postedId, tenant_id: principal.tenantId, status: EntryStatus.posted.rawValue,
                source: pending.source, source_id: nil, accounting_date: postingDate.description, description: pending.description,
                reference: pending.reference, metadata: pending.metadata, request_hash: "pending:\(pending.id)",
                reverses_id: nil, reversed_by_id: nil, pending_id: pending.id, resolved_by_id: nil, timeout_at_ms: nil,
                batch_id: nil, created_by: principal.subject, approved_by: nil, created_at_ms: now, posted_at_ms: now,
                resolved_at_ms: nil)
            let rows = self.lineRows(
                posting.map { ($0.accountId, $0.side, $0.amountMinor, $0.memo) }, entry: entry, state: "posted", context: context, now: now)
            guard try await LedgerStore.insert(entries: [entry], db: db).count == 1 else { throw AccountingError.idReused() }
            try await LedgerStore.insert(lines: rows, db: db)
            try await self.markResolved(pending, status: .resolved, by: entry.id, db: db)
            try await self.finish(context: context, posted: [entry], db: db)
            return .done(EntryRecord(entry: entry, lines: rows))
        }
        switch result {
        case .done(let record): return record
        case .expired: throw AccountingError.pendingExpired()
        }
    }

    /// Releases a pending entry without posting it.
    func voidPending(principal: Principal, id: String) async throws -> EntryRecord {
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            let pending = try await self.lockedEntry(principal: principal, id: id, db: db)
            if RequestScope.isKeyed, pending.entryStatus == .voided {
                return try await LedgerStore.record(tenantId: principal.tenantId, id: pending.id, db: db)
            }
            guard pending.entryStatus == .pending else { throw AccountingError.wrongStatus(pending.status, "voided") }
            let lines = try await LedgerStore.lines(entryIds: [pending.id], db: db)[pending.id] ?? []
            try await self.release(pending, lines: lines, to: .voided, principal: principal, db: db)
            return try await LedgerStore.record(tenantId: principal.tenantId, id: pending.id, db: db)
        }
    }

    /// Expires pending entries whose timeout has passed; returns how many it released.
    @discardableResult
    func expirePending() async throws -> Int {
        let now = self.now
        let due = try await self.database.read { db in
            try await db.raw("""
                SELECT id, tenant_id FROM journal_entries WHERE status = 'pending' AND timeout_at_ms <= \(bind: now)
                ORDER BY timeout_at_ms LIMIT \(literal: Self.expirySweepMax)
                """).all(decoding: DueRow.self)
        }
        var expired = 0
        for item in due {
            let principal = Principal.system(tenantId: item.tenant_id)
            expired += try await self.database.tenantTransaction(tenantId: item.tenant_id) { db in
                guard let pending = try await LedgerStore.entry(tenantId: item.tenant_id, id: item.id, forUpdate: self.kind == .postgres, db: db),
                    pending.entryStatus == .pending
                else { return 0 }
                let lines = try await LedgerStore.lines(entryIds: [pending.id], db: db)[pending.id] ?? []
                try await self.release(pending, lines: lines, to: .expired, principal: principal, db: db)
                return 1
            }
        }
        return expired
    }

    private func release(_ pending: EntryRow, lines: [LineRow], to status: EntryStatus, principal: Principal, db: any SQLDatabase)
        async throws
    {
        let context = try await PostingContext.load(
            principal: principal, accountIds: Set(lines.map(\.account_id)), dates: [], db: db, kind: self.kind)
        try context.apply(lines.map { ($0.account_id, $0.side, $0.amountMinor) }, phase: .release)
        try await context.flush(db: db, nowMillis: self.now)
        try await self.markResolved(pending, status: status, by: nil, db: db)
    }

    private func markResolved(_ pending: EntryRow, status: EntryStatus, by entryId: String?, db: any SQLDatabase) async throws {
        let updated = try await db.raw("""
            UPDATE journal_entries SET status = \(bind: status.rawValue), resolved_by_id = \(bind: entryId),
                resolved_at_ms = \(bind: self.now)
            WHERE tenant_id = \(bind: pending.tenant_id) AND id = \(bind: pending.id) AND status = 'pending'
            RETURNING id
            """).all()
        try InvariantViolation.check(updated.count == 1, "the locked pending entry \(pending.id) resolved \(updated.count) times")
    }
}

/// A pending entry due to expire.
struct DueRow: Decodable, Sendable {
    let id: String
    let tenant_id: String
}

extension Principal {
    /// The ledger acting on its own (expiry, event postings) for `tenantId`.
    static func system(tenantId: String) -> Principal {
        Principal(subject: "system:accounting", tenantId: tenantId, roles: [], permissions: [], sessionId: nil)
    }
}
