import FinFlowCore
import Foundation
import SQLKit

extension Ledger {
    /// Posts, saves as drafts or reserves `requests` all-or-nothing; an entry whose client id exists with the same
    /// content is returned as it is (a retry), with different content refused (`id-reused`).
    func submit(_ requests: [EntryRequest], principal: Principal, batchId: String? = nil) async throws -> [EntryRecord] {
        try await self.committer.run(tenantId: principal.tenantId) { db in
            try await self.submit(requests, principal: principal, batchId: batchId, on: db)
        }
    }

    /// `submit` inside the caller's transaction (event consumers).
    func submit(_ requests: [EntryRequest], principal: Principal, batchId: String?, on db: any SQLDatabase) async throws
        -> [EntryRecord]
    {
        let tenantId = principal.tenantId
        // The accounts are locked (PostgreSQL) before the client ids are looked up: a request racing an identical
        // one waits for it here, then finds its entry and replays it instead of colliding with it.
        let context = try await PostingContext.load(
            principal: principal, accountIds: Set(requests.flatMap { $0.lines.map { $0.accountId.lowercased() } }),
            dates: Set(requests.filter { $0.mode != .draft }.map(\.date)), db: db, kind: self.kind)
        let clientIds = requests.compactMap(\.id)
        var existing: [String: EntryRow] = [:]
        for chunk in clientIds.chunked(LedgerLimits.insertChunkRows) {
            let rows = try await db.raw("SELECT * FROM journal_entries WHERE id IN (\(binds: Array(chunk)))")
                .all(decoding: EntryRow.self)
            for row in rows { existing[row.id] = row }
        }
        let fresh = try requests.filter { request in
            guard let id = request.id, let row = existing[id] else { return true }
            guard row.tenant_id == tenantId, row.request_hash == request.fingerprint else { throw AccountingError.idReused() }
            return false
        }
        let written = fresh.isEmpty ? [] : try await self.write(fresh, context: context, batchId: batchId, on: db)
        let replayIds = clientIds.filter { id in !fresh.contains { $0.id == id } }
        let replayLines = replayIds.isEmpty ? [:] : try await LedgerStore.lines(entryIds: replayIds, db: db)
        var next = written.makeIterator()
        return requests.map { request in
            if let id = request.id, let row = existing[id] { return EntryRecord(entry: row, lines: replayLines[id] ?? []) }
            return next.next()!
        }
    }

    private func write(_ requests: [EntryRequest], context: PostingContext, batchId: String?, on db: any SQLDatabase) async throws
        -> [EntryRecord]
    {
        let now = self.now
        let principal = context.principal
        let many = requests.count > 1
        var entries: [EntryRow] = []
        var lines: [LineRow] = []
        var records: [EntryRecord] = []
        for (index, request) in requests.enumerated() {
            let prefix = many ? "entries[\(index)]." : ""
            try context.check(lines: request.lines, prefix: prefix)
            var status: EntryStatus
            switch request.mode {
            case .draft: status = .draft
            case .pending:
                try context.checkPeriod(request.date)
                try context.apply(request.lines.map { ($0.accountId.lowercased(), $0.side, $0.amountMinor) }, phase: .reserve)
                status = .pending
            case .post:
                try context.checkPeriod(request.date)
                if self.needsApproval(request.lines, source: request.source, context: context) {
                    status = .awaitingApproval
                } else {
                    try context.apply(
                        request.lines.map { ($0.accountId.lowercased(), $0.side, $0.amountMinor) },
                        phase: .post(.init(date: request.date.description, source: request.source.rawValue)))
                    status = .posted
                }
            }
            let entry = EntryRow(
                id: request.id ?? self.env.ids.nextString(), tenant_id: principal.tenantId, status: status.rawValue,
                source: request.source.rawValue, source_id: request.sourceId, accounting_date: request.date.description,
                description: request.description, reference: request.reference, metadata: Self.json(request.metadata),
                // The fingerprint tells a retry of a client-named entry from another request reusing its name; an
                // entry named here cannot be retried by name, so it keeps none.
                request_hash: request.id == nil ? "" : request.fingerprint, reverses_id: nil, reversed_by_id: nil, pending_id: nil,
                resolved_by_id: nil, timeout_at_ms: request.timeoutSeconds.map { now + $0 * 1000 }, batch_id: batchId,
                created_by: principal.subject, approved_by: nil, created_at_ms: now,
                posted_at_ms: status == .posted ? now : nil, resolved_at_ms: nil)
            let entryLines = self.lineRows(
                request.lines.map { ($0.accountId.lowercased(), $0.side, $0.amountMinor, $0.memo) }, entry: entry,
                state: status == .posted ? "posted" : (status == .pending ? "pending" : "draft"), context: context, now: now)
            entries.append(entry)
            lines += entryLines
            records.append(EntryRecord(entry: entry, lines: entryLines))
        }
        // Entries named by their client are inserted with a conflict check (a concurrent request may have taken the
        // id since it was looked up); ids generated here cannot exist and take the bulk path.
        let named = Set(requests.compactMap(\.id))
        let clientNamed = entries.filter { named.contains($0.id) }
        let inserted = try await LedgerStore.insert(entries: clientNamed, db: db)
        guard inserted.count == clientNamed.count else { throw AccountingError.idReused() }
        try await LedgerStore.insert(generatedEntries: entries.filter { !named.contains($0.id) }, db: db)
        try await LedgerStore.insert(lines: lines, db: db)
        try await self.finish(context: context, posted: records.map(\.entry).filter { $0.status == EntryStatus.posted.rawValue }, db: db)
        return records
    }

    /// Whether a manual posting needs a second person: the tenant set a threshold and the entry's debits exceed it
    /// in the base currency (an entry in another currency always needs approval then, as it cannot be compared).
    func needsApproval(_ lines: [LineRequest], source: EntrySource, context: PostingContext) -> Bool {
        guard source == .manual, let threshold = context.ledger.approval_threshold_minor else { return false }
        var total: Int64 = 0
        for line in lines where line.side == .debit {
            guard context.accounts[line.accountId.lowercased()]?.currency == context.ledger.base_currency else { return true }
            total = total.addingReportingOverflow(line.amountMinor).partialValue
        }
        return total > threshold
    }

    /// Line rows for `entry` from (account, side, amount, memo) tuples.
    func lineRows(
        _ lines: [(accountId: String, side: Side, amountMinor: Int64, memo: String?)], entry: EntryRow, state: String,
        context: PostingContext, now: Int64
    ) -> [LineRow] {
        lines.enumerated().map { index, line in
            LineRow(
                entry_id: entry.id, line_no: index + 1, tenant_id: entry.tenant_id, account_id: line.accountId, state: state,
                source: entry.source,
                accounting_date: entry.accounting_date, posted_at_ms: now,
                debit_minor: line.side == .debit ? line.amountMinor : 0, credit_minor: line.side == .credit ? line.amountMinor : 0,
                currency: context.accounts[line.accountId]!.currency, memo: line.memo)
        }
    }

    /// Writes the totals, announces the postings other services wait for, and records postings into closed periods.
    func finish(context: PostingContext, posted: [EntryRow], db: any SQLDatabase) async throws {
        try await context.flush(db: db, nowMillis: self.now)
        // Only entries answering another service's record are announced: that producer waits for the outcome.
        for entry in posted where entry.source_id != nil && [EntrySource.transaction.rawValue, EntrySource.payment.rawValue].contains(entry.source) {
            try await self.outbox.enqueue(
                JournalEntryPosted(
                    entryId: entry.id, tenantId: entry.tenant_id, source: entry.source, sourceId: entry.source_id,
                    accountingDate: entry.accounting_date, reversesEntryId: entry.reverses_id),
                subject: entry.id, tenantId: entry.tenant_id, on: db)
        }
        for period in context.closedPeriodsUsed.sorted() {
            try await self.env.audit.append(
                AuditEntry(tenantId: context.tenantId, actorId: context.principal.subject,
                           action: "accounting.closed-period.posted", target: period,
                           details: ["entries": posted.map(\.id).joined(separator: ",")]),
                on: db, kind: self.kind)
        }
    }

    /// Encodes metadata with sorted keys; one encoder serves every posting (JSONEncoder is safe to share).
    static let metadataEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static func json(_ metadata: [String: String]) -> String {
        String(decoding: (try? Self.metadataEncoder.encode(metadata)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
