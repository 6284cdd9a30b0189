import FinFlowCore
import Foundation
import SQLKit

/// One caller's entries, posted (or saved, or reserved) all or nothing.
struct Submission: Sendable {
    let requests: [EntryRequest]
    let principal: Principal
    let batchId: String?
}

extension Ledger {
    /// Posts, saves as drafts or reserves `requests` all-or-nothing; an entry whose client id exists with the same
    /// content is returned as it is (a retry), with different content refused (`id-reused`). Concurrent calls
    /// share a group commit.
    func submit(_ requests: [EntryRequest], principal: Principal, batchId: String? = nil) async throws -> [EntryRecord] {
        let submission = Submission(requests: requests, principal: principal, batchId: batchId)
        guard let committer = self.committer else {
            return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
                try await self.submitGroup([submission], on: db)[0].get()
            }
        }
        return try await committer.run(tenantId: principal.tenantId, submission)
    }

    /// `submit` inside the caller's transaction (event consumers, imports).
    func submit(_ requests: [EntryRequest], principal: Principal, batchId: String?, on db: any SQLDatabase) async throws
        -> [EntryRecord]
    {
        try await self.submitGroup([Submission(requests: requests, principal: principal, batchId: batchId)], on: db)[0].get()
    }

    /// Posts several submissions of one tenant together: one lock of all their accounts, one look-up of their
    /// client ids, one insert of all their rows and one write of the totals. Each submission is staged in memory
    /// against the totals left by the ones before it, and a submission a rule refuses is undone alone, with its
    /// own error. `optimistic` (a group commit's first attempt, where the rows go in one statement) leaves out the
    /// look-up of the clients' ids: a new id, the usual case, then costs no extra round trip. An id that exists makes
    /// the write conflict, and the group commit runs the submissions again, carefully, to replay or refuse it.
    /// `periodsLocked`: the transaction holds the tenant's periods shared already (the group commit's naming of the tenant).
    func submitGroup(_ submissions: [Submission], on db: any SQLDatabase, optimistic: Bool = false, periodsLocked: Bool = false) async throws
        -> [Result<[EntryRecord], any Error>]
    {
        guard let first = submissions.first else { return [] }
        precondition(submissions.allSatisfy { $0.principal.tenantId == first.principal.tenantId }, "a group holds one tenant's submissions")
        let requests = submissions.flatMap(\.requests)
        // The accounts are locked (PostgreSQL) before the client ids are looked up: a request racing an identical
        // one waits for it here, then finds its entry and replays it instead of colliding with it.
        let context = try await self.context(for: requests, principal: first.principal, db: db, periodsLocked: periodsLocked)
        var existing: [String: EntryRow] = [:]
        let optimistic = optimistic && db.writesTogether
        for chunk in Array(Set(requests.compactMap(\.id))).chunked(LedgerLimits.insertChunkRows) where !optimistic {
            let rows = try await db.raw("SELECT * FROM journal_entries WHERE id IN (\(binds: Array(chunk)))")
                .all(decoding: EntryRow.self)
            for row in rows { existing[row.id] = row }
        }
        var staged = StagedPostings()
        var outcomes: [Result<[StagedRecord], any Error>] = []
        for submission in submissions {
            let mark = context.mark(as: submission.principal)
            let stagedMark = staged.mark
            do {
                outcomes.append(.success(try self.stage(submission, existing: existing, context: context, into: &staged)))
            } catch let error as AppError {
                context.restore(mark)
                staged.restore(stagedMark)
                outcomes.append(.failure(error))
            }
        }
        // Entries named by their client are inserted with a conflict check (a concurrent request may have taken the
        // id since it was looked up: the group then fails and its submissions run alone); ids generated here cannot
        // exist and take the bulk path.
        try await self.write(staged, context: context, optimistic: optimistic, db: db)
        try await self.finish(context: context, posted: staged.posted, closedPeriods: staged.closedPeriods, db: db)
        let replayIds = Set(outcomes.flatMap { (try? $0.get()) ?? [] }.compactMap { if case .replay(let id) = $0 { id } else { nil } })
        let replayLines = replayIds.isEmpty ? [:] : try await LedgerStore.lines(entryIds: Array(replayIds), db: db)
        return outcomes.map { outcome in
            outcome.map { records in
                records.map { record in
                    switch record {
                    case .written(let written): written
                    case .replay(let id): EntryRecord(entry: existing[id] ?? staged.byId[id]!.entry,
                                                      lines: replayLines[id] ?? staged.byId[id]?.lines ?? [])
                    }
                }
            }
        }
    }

    /// The posting context of `requests`: their accounts (locked on PostgreSQL) and the periods of the dates they post on.
    private func context(for requests: [EntryRequest], principal: Principal, db: any SQLDatabase, periodsLocked: Bool = false) async throws
        -> PostingContext
    {
        try await PostingContext.load(
            principal: principal, accountIds: Set(requests.flatMap { $0.lines.map { $0.accountId.lowercased() } }),
            dates: Set(requests.filter { $0.mode != .draft }.map(\.date)), db: db, kind: self.kind, periodsLocked: periodsLocked)
    }

    /// Writes what a group staged: entries named by their client with a conflict check (a concurrent request may have
    /// taken the id since it was looked up: the group then fails and its submissions run alone), generated ones and
    /// the lines on the bulk path.
    private static func write(_ staged: StagedPostings, db: any SQLDatabase) async throws {
        let inserted = try await LedgerStore.insert(entries: staged.named, db: db)
        guard inserted.count == staged.named.count else { throw AccountingError.idReused() }
        try await LedgerStore.insert(generatedEntries: staged.generated, db: db)
        try await LedgerStore.insert(lines: staged.lines, db: db)
    }

    /// Writes what a group staged and, on PostgreSQL, the context's totals with it: there every row of the group goes
    /// in one statement, one round trip while the accounts are locked instead of one per table.
    private func write(_ staged: StagedPostings, context: PostingContext, optimistic: Bool, db: any SQLDatabase) async throws {
        guard db.writesTogether else { return try await Self.write(staged, db: db) }
        let written: [Int]
        do {
            let (days, totals) = context.takeRows(nowMillis: self.now)
            let rows = [staged.named.map(LedgerStore.cells), staged.generated.map(LedgerStore.cells), staged.lines.map(LedgerStore.cells), days, totals]
            if db.fitsPreparedWrite(rows) {
                written = try await db.writePrepared(PostingWrite.self, rows: rows)
            } else {
                written = try await db.writeTogether(zip(PostingWrite.parts, rows).map { part, rows in
                    RowWrite(columns: part.columns, rows: rows, statement: part.statement)
                })
            }
        } catch where ["journal_entries_pkey", "journal_lines_pkey"].contains(violatedConstraint(error) ?? "") {
            // A client's id exists (not looked up, optimistically), or a concurrent request took it since it was looked
            // up: its lines collide with this entry's.
            throw optimistic ? GroupCommit<Submission, [EntryRecord]>.RetryCarefully() : AccountingError.idReused()
        }
        // An entry named by its client that a concurrent request stored first was left alone.
        guard written[0] == staged.named.count else {
            throw optimistic ? GroupCommit<Submission, [EntryRecord]>.RetryCarefully() : AccountingError.idReused()
        }
    }

    /// Posts many entries the ledger names itself (an import) inside the caller's transaction, all or nothing: one
    /// context (one lock and one read of the accounts) for all of them, staged in chunks of `batchEntriesMax`, each
    /// chunk's rows written while the next one stages, so the staging and the database's work overlap instead of
    /// taking turns. The totals are written once at the end.
    func submitStream(_ requests: [EntryRequest], principal: Principal, on db: any SQLDatabase) async throws {
        precondition(requests.allSatisfy { $0.id == nil }, "a stream posts entries the ledger names")
        let context = try await self.context(for: requests, principal: principal, db: db)
        var announced: [EntryRow] = []
        // Entries moving a per-jurisdiction tax account are reported to the tax service, whatever their source.
        let taxAccounts = Set(context.accounts.values.filter { $0.system_role?.hasPrefix(Self.taxRolePrefix) == true }.map(\.id))
        var taxed: [EntryRow] = []
        var closedPeriods: [(Principal, [String], [String])] = []
        var written: (ids: [String], count: Int) = ([], 0)
        var shared: [EntryRow] = []
        var writing: Task<Void, any Error>?
        do {
            for chunk in requests.chunked(LedgerLimits.batchEntriesMax) {
                var staged = StagedPostings()
                let submission = Submission(requests: Array(chunk), principal: principal, batchId: nil)
                _ = try self.stage(submission, existing: [:], context: context, into: &staged)
                announced += staged.posted.filter { $0.source_id != nil }
                if context.ledger.books_pushed == 1 { shared += staged.posted }
                written.ids += staged.posted.prefix(100 - written.ids.count).map(\.id)
                written.count += staged.posted.count
                if !taxAccounts.isEmpty {
                    let entries = Set(staged.lines.filter { taxAccounts.contains($0.account_id) }.map(\.entry_id))
                    taxed += staged.posted.filter { entries.contains($0.id) }
                }
                closedPeriods += staged.closedPeriods
                try await writing?.value
                writing = Task { [staged] in try await Self.write(staged, db: db) }
            }
            try await writing?.value
        } catch {
            // The connection is the caller's transaction: no write may still be running on it when the error leaves.
            _ = try? await writing?.value
            throw error
        }
        try await self.finish(context: context, posted: announced, taxPosted: taxed, closedPeriods: closedPeriods, written: written,
                             shared: shared, db: db)
    }

    /// Stages one submission's entries in memory: checks them, applies them to the context's totals and adds their
    /// rows to `staged`. Throws the first rule it breaks; the caller undoes the context and `staged`.
    private func stage(_ submission: Submission, existing: [String: EntryRow], context: PostingContext, into staged: inout StagedPostings)
        throws -> [StagedRecord]
    {
        let now = self.now
        let principal = submission.principal
        let many = submission.requests.count > 1
        let closedBefore = context.closedPeriodsUsed
        var records: [StagedRecord] = []
        var posted: [String] = []
        for (index, request) in submission.requests.enumerated() {
            if let id = request.id {
                // A retry of an entry stored before, or staged by an earlier submission of this group, replays it.
                let known = existing[id].map { ($0.tenant_id, $0.request_hash) } ?? staged.byId[id].map { ($0.entry.tenant_id, $0.entry.request_hash) }
                if let (owner, hash) = known {
                    guard owner == principal.tenantId, hash == request.fingerprint else { throw AccountingError.idReused() }
                    records.append(.replay(id))
                    continue
                }
            }
            let prefix = many ? "entries[\(index)]." : ""
            try context.check(lines: request.lines, prefix: prefix)
            var status: EntryStatus
            let entryId = request.id ?? self.env.ids.nextString()
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
                        phase: .post(.init(date: request.date.description, source: request.source.rawValue, entryId: entryId)))
                    status = .posted
                }
            }
            let entry = EntryRow(
                id: entryId, tenant_id: principal.tenantId, status: status.rawValue,
                source: request.source.rawValue, source_id: request.sourceId, accounting_date: request.date.description,
                description: request.description, reference: request.reference, metadata: Self.json(request.metadata),
                // The fingerprint tells a retry of a client-named entry from another request reusing its name; an
                // entry named here cannot be retried by name, so it keeps none.
                request_hash: request.id == nil ? "" : request.fingerprint, reverses_id: nil, reversed_by_id: nil, pending_id: nil,
                resolved_by_id: nil, timeout_at_ms: request.timeoutSeconds.map { now + $0 * 1000 }, batch_id: submission.batchId,
                created_by: principal.subject, approved_by: nil, created_at_ms: now,
                posted_at_ms: status == .posted ? now : nil, resolved_at_ms: nil)
            let entryLines = self.lineRows(
                request.lines.map { ($0.accountId.lowercased(), $0.side, $0.amountMinor, $0.memo) }, entry: entry,
                state: status == .posted ? "posted" : (status == .pending ? "pending" : "draft"), context: context, now: now)
            let record = EntryRecord(entry: entry, lines: entryLines)
            staged.add(record, named: request.id != nil)
            if status == .posted { posted.append(entry.id) }
            records.append(.written(record))
        }
        let closedNow = context.closedPeriodsUsed.subtracting(closedBefore)
        if !closedNow.isEmpty { staged.closedPeriods.append((principal, closedNow.sorted(), posted)) }
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

    /// Writes the totals, announces the postings other services wait for, and records postings into closed periods
    /// (by default the context's, made by its principal).
    /// `taxPosted`: the entries whose tax account movements are announced, when not all of `posted` (a stream).
    /// `written`: the first entries written and their count, when not all of them are in `posted` (a stream).
    /// `shared`: the entries shared with pushing connections, when not all of them are in `posted` (a stream).
    func finish(
        context: PostingContext, posted: [EntryRow], taxPosted: [EntryRow]? = nil, closedPeriods: [(Principal, [String], [String])]? = nil,
        written: (ids: [String], count: Int)? = nil, shared: [EntryRow]? = nil, db: any SQLDatabase
    ) async throws {
        try await context.flush(db: db, nowMillis: self.now)
        try await self.shareIfPushed(shared ?? posted, context: context, db: db)
        try await self.announceTaxMovements(context: context, posted: taxPosted ?? posted, db: db)
        try await self.announceMovements(context: context, entries: written ?? (posted.prefix(100).map(\.id), posted.count), db: db)
        // Only entries answering another service's record are announced: that producer waits for the outcome.
        for entry in posted where entry.source_id != nil && Self.answeredSources.contains(entry.source) {
            try await self.outbox.enqueue(
                JournalEntryPosted(
                    entryId: entry.id, tenantId: entry.tenant_id, source: entry.source, sourceId: entry.source_id,
                    accountingDate: entry.accounting_date, reversesEntryId: entry.reverses_id),
                subject: entry.id, tenantId: entry.tenant_id, on: db)
        }
        let audits = closedPeriods ?? [(context.principal, context.closedPeriodsUsed.sorted(), posted.map(\.id))]
        for (principal, periods, entryIds) in audits {
            for period in periods {
                try await self.env.audit.append(
                    AuditEntry(tenantId: context.tenantId, actorId: principal.subject,
                               action: "accounting.closed-period.posted", target: period,
                               details: ["entries": entryIds.joined(separator: ",")]),
                    on: db, kind: self.kind)
            }
        }
    }

    /// Announces what the posting did to each account on each day (insights and analytics keep their read models by
    /// it), in events of at most `LedgerMovementsRecorded.movementsMax` movements.
    func announceMovements(context: PostingContext, entries: (ids: [String], count: Int), db: any SQLDatabase) async throws {
        let movements = context.takeMovements()
        guard !movements.isEmpty else { return }
        for chunk in movements.chunked(LedgerMovementsRecorded.movementsMax) {
            try await self.outbox.enqueue(
                LedgerMovementsRecorded(tenantId: context.tenantId, entryIds: entries.ids, entryCount: entries.count, movements: Array(chunk)),
                subject: entries.ids.first ?? context.tenantId, tenantId: context.tenantId, on: db)
        }
    }

    /// Encodes metadata with sorted keys; one encoder serves every posting (JSONEncoder is safe to share).
    static let metadataEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static func json(_ metadata: [String: String]) -> String {
        // Most entries carry none; an encoder run per entry is a tenth of bulk posting's staging.
        guard !metadata.isEmpty else { return "{}" }
        return String(decoding: (try? Self.metadataEncoder.encode(metadata)) ?? Data("{}".utf8), as: UTF8.self)
    }
}

/// Everything a posting group writes on PostgreSQL, as one prepared statement: entries named by their client (a
/// taken id is left alone and shows in the count), entries the ledger named, lines, day totals and account totals.
enum PostingWrite: PreparedWriteShape {
    static let name = "posting_write"
    static let parts = [
        PreparedWritePart.insert(into: "journal_entries", columns: LedgerStore.entryColumnTypes, suffix: " ON CONFLICT (id) DO NOTHING"),
        PreparedWritePart.insert(into: "journal_entries", columns: LedgerStore.entryColumnTypes),
        PreparedWritePart.insert(into: "journal_lines", columns: LedgerStore.lineColumnTypes),
    ] + PostingContext.totalsParts
}

/// What a submission stages: an entry written now, or the replay of one stored or staged before.
enum StagedRecord {
    case written(EntryRecord)
    case replay(String)
}

/// The rows a group of submissions writes, in order, with marks to undo a refused submission's part.
struct StagedPostings {
    private(set) var named: [EntryRow] = []
    private(set) var generated: [EntryRow] = []
    private(set) var lines: [LineRow] = []
    private(set) var posted: [EntryRow] = []
    private(set) var byId: [String: EntryRecord] = [:]
    /// Closed periods posted into: by whom, which, and the entries.
    var closedPeriods: [(Principal, [String], [String])] = []

    struct Mark {
        fileprivate let counts: (named: Int, generated: Int, lines: Int, posted: Int, closed: Int)
        fileprivate let byId: [String: EntryRecord]
    }

    var mark: Mark {
        Mark(counts: (self.named.count, self.generated.count, self.lines.count, self.posted.count, self.closedPeriods.count), byId: self.byId)
    }

    mutating func restore(_ mark: Mark) {
        self.named.removeLast(self.named.count - mark.counts.named)
        self.generated.removeLast(self.generated.count - mark.counts.generated)
        self.lines.removeLast(self.lines.count - mark.counts.lines)
        self.posted.removeLast(self.posted.count - mark.counts.posted)
        self.closedPeriods.removeLast(self.closedPeriods.count - mark.counts.closed)
        self.byId = mark.byId
    }

    mutating func add(_ record: EntryRecord, named: Bool) {
        if named { self.named.append(record.entry) } else { self.generated.append(record.entry) }
        self.lines += record.lines
        if record.entry.status == EntryStatus.posted.rawValue { self.posted.append(record.entry) }
        self.byId[record.entry.id] = record
    }
}
