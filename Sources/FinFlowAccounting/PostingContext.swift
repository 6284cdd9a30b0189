import FinFlowCore
import SQLKit

/// Everything one posting transaction decides with: the tenant's ledger settings, the touched accounts (locked on
/// PostgreSQL in id order, so concurrent posters never deadlock; SQLite's write lock serialises writers) and the
/// status of the touched periods. Totals change in memory as entries apply and are written once at the end.
final class PostingContext {
    let ledger: LedgerRow
    /// Who posts: the caller of the submission being staged.
    private(set) var principal: Principal
    private(set) var accounts: [String: AccountRow]
    /// The accounts as last written.
    private var original: [String: AccountRow]
    private let periods: [String: PeriodStatus]
    /// Closed periods posted into by a holder of `periods:reopen`, for the audit log.
    private(set) var closedPeriodsUsed: Set<String> = []
    /// What the postings added to each account's totals of each day, written by `flush`.
    private var dayTotals: [DayKey: DayTotals] = [:]
    /// The day totals written since the last `takeMovements`, closing amounts left out: what the posting announces.
    private var written: [DayKey: (debits: Int64, credits: Int64)] = [:]
    /// The first entries behind each day total, in posting order (at most `LedgerMovementsRecorded.entriesPerMovementMax`).
    private var dayEntries: [DayKey: [String]] = [:]
    private var writtenEntries: [DayKey: [String]] = [:]

    var tenantId: String { self.ledger.tenant_id }

    private init(ledger: LedgerRow, principal: Principal, accounts: [String: AccountRow], periods: [String: PeriodStatus]) {
        self.ledger = ledger
        self.principal = principal
        self.accounts = accounts
        self.original = accounts
        self.periods = periods
    }

    /// The state staging can roll back to when a submission of a group is refused.
    struct Mark {
        fileprivate let accounts: [String: AccountRow]
        fileprivate let dayTotals: [DayKey: DayTotals]
        fileprivate let dayEntries: [DayKey: [String]]
        fileprivate let closedPeriodsUsed: Set<String>
    }

    /// Takes a mark and makes `principal` the one posting; `restore` undoes everything applied since.
    func mark(as principal: Principal) -> Mark {
        self.principal = principal
        return Mark(accounts: self.accounts, dayTotals: self.dayTotals, dayEntries: self.dayEntries, closedPeriodsUsed: self.closedPeriodsUsed)
    }

    func restore(_ mark: Mark) {
        self.accounts = mark.accounts
        self.dayTotals = mark.dayTotals
        self.dayEntries = mark.dayEntries
        self.closedPeriodsUsed = mark.closedPeriodsUsed
    }

    /// Loads (and on PostgreSQL locks) `accountIds` and the status of the months of `dates`, which no one changes until
    /// the transaction ends.
    /// `periodsLocked`: the transaction holds the tenant's periods shared already (a group commit takes the lock as it
    /// names the tenant).
    static func load(
        principal: Principal, accountIds: Set<String>, dates: Set<LedgerDate>, db: any SQLDatabase, kind: DatabaseKind,
        periodsLocked: Bool = false
    ) async throws -> PostingContext {
        let months = Set(dates.map(FiscalCalendar.periodKey)).sorted()
        if kind == .postgres, !accountIds.isEmpty {
            if !periodsLocked {
                try await db.raw("SELECT pg_advisory_xact_lock_shared(hashtext(\(bind: LedgerStore.periodsLockKey(tenantId: principal.tenantId))))").run()
            }
            if let context = try await Self.loadTogether(principal: principal, accountIds: accountIds.sorted(), months: months, db: db) {
                return context
            }
        }
        let ledger = try await LedgerStore.ledger(tenantId: principal.tenantId, locking: .shared, kind: kind, db: db)
        var periods: [String: PeriodStatus] = [:]
        for chunk in months.chunked(LedgerLimits.insertChunkRows) {
            let rows = try await db.raw("""
                SELECT period, status FROM fiscal_periods WHERE tenant_id = \(bind: principal.tenantId) AND period IN (\(binds: Array(chunk)))
                """).all(decoding: PeriodRow.self)
            for row in rows { periods[row.period] = PeriodStatus(rawValue: row.status) ?? .open }
        }
        // The accounts last: their locks are then held only while the postings are written.
        let accounts = try await LedgerStore.accounts(
            tenantId: principal.tenantId, ids: accountIds.sorted(), forUpdate: kind == .postgres, db: db)
        return PostingContext(
            ledger: ledger, principal: principal, accounts: Dictionary(uniqueKeysWithValues: accounts.map { ($0.id, $0) }),
            periods: periods)
    }

    /// `load` on PostgreSQL, once the periods are held: the ledger, the periods' statuses and the accounts locked in
    /// id order in one statement instead of three, since under load a round trip costs as much as the work. The
    /// statement starts after the periods' lock is held, so a close committed while it waited is seen. Nil when it
    /// finds no row (no ledger yet, or none of the accounts): the step-by-step load then says what is missing.
    private static func loadTogether(principal: Principal, accountIds: [String], months: [String], db: any SQLDatabase) async throws
        -> PostingContext?
    {
        let tenantId = principal.tenantId
        let rows = try await db.queryPrepared(ContextQuery.self, binds: [.text(tenantId), .texts(accountIds), .texts(months)])
        guard let first = rows.first else { return nil }
        let together = try first.decode(model: LoadedTogether.self)
        let ledger = LedgerRow(
            tenant_id: tenantId, base_currency: together.ledger_base_currency, fiscal_year_start_month: together.ledger_fiscal_year_start_month,
            approval_threshold_minor: together.ledger_approval_threshold_minor, created_at_ms: together.ledger_created_at_ms,
            updated_at_ms: together.ledger_updated_at_ms, books_pushed: together.ledger_books_pushed)
        var periods: [String: PeriodStatus] = [:]
        for pair in (together.periods ?? "").split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { periods[String(parts[0])] = PeriodStatus(rawValue: String(parts[1])) ?? .open }
        }
        let accounts = try rows.map { try $0.decode(model: AccountRow.self) }
        return PostingContext(
            ledger: ledger, principal: principal, accounts: Dictionary(uniqueKeysWithValues: accounts.map { ($0.id, $0) }), periods: periods)
    }

    /// `loadTogether`'s statement: the accounts ($2) of the tenant ($1) locked, with the ledger and the statuses of the
    /// periods ($3) on every row.
    private enum ContextQuery: PreparedQueryShape {
        static let name = "posting_context"
        static let sql = """
            SELECT a.*, l.base_currency AS ledger_base_currency, l.fiscal_year_start_month AS ledger_fiscal_year_start_month,
                   l.approval_threshold_minor AS ledger_approval_threshold_minor, l.created_at_ms AS ledger_created_at_ms,
                   l.updated_at_ms AS ledger_updated_at_ms, l.books_pushed AS ledger_books_pushed,
                   (SELECT string_agg(p.period || '=' || p.status, ',') FROM fiscal_periods p
                    WHERE p.tenant_id = $1 AND p.period = ANY($3::text[])) AS periods
            FROM (SELECT \(AccountRow.columns) FROM accounts WHERE tenant_id = $1 AND id = ANY($2::text[]) ORDER BY id FOR UPDATE) a
            JOIN ledgers l ON l.tenant_id = a.tenant_id
            ORDER BY a.id
            """
    }

    /// The ledger's and the periods' columns of `loadTogether`'s rows.
    private struct LoadedTogether: Decodable {
        let ledger_base_currency: String
        let ledger_fiscal_year_start_month: Int
        let ledger_approval_threshold_minor: Int64?
        let ledger_created_at_ms: Int64
        let ledger_updated_at_ms: Int64
        let ledger_books_pushed: Int?
        let periods: String?
    }

    /// Checks that every line names an existing account in its currency (active unless `allowArchived`) and that
    /// the lines balance in each currency.
    func check(lines: [LineRequest], prefix: String, allowArchived: Bool = false) throws {
        var net: [String: Int64] = [:]
        for (index, line) in lines.enumerated() {
            let field = prefix + "lines[\(index)]"
            guard let account = self.accounts[line.accountId.lowercased()] else {
                throw AccountingError.unknownAccount(field: field + ".accountId")
            }
            if !allowArchived && !account.isActive { throw AccountingError.archivedAccount(field: field + ".accountId", code: account.code) }
            if let currency = line.currency, currency != account.currency {
                throw AccountingError.currencyMismatch(field: field + ".currency", expected: account.currency, got: currency)
            }
            let signed = line.side == .debit ? line.amountMinor : -line.amountMinor
            let (sum, overflow) = net[account.currency, default: 0].addingReportingOverflow(signed)
            if overflow { throw AppError.invalid(code: "amount-overflow", "the entry's amounts exceed the representable range") }
            net[account.currency] = sum
        }
        let off = net.filter { $0.value != 0 }.sorted { $0.key < $1.key }
        if !off.isEmpty {
            throw AccountingError.unbalanced(off.map { "\($0.key) debits exceed credits by \($0.value) minor units" }.joined(separator: "; "))
        }
    }

    /// Refuses a date in a locked period, or in a closed one unless the principal may reopen periods.
    func checkPeriod(_ date: LedgerDate) throws {
        let key = FiscalCalendar.periodKey(date)
        switch self.periods[key] ?? .open {
        case .open: return
        case .locked: throw AccountingError.periodLocked(key)
        case .closed:
            guard self.principal.has(Permissions.reopenPeriods) else { throw AccountingError.periodClosed(key) }
            self.closedPeriodsUsed.insert(key)
        }
    }

    /// How lines change the running totals: posting on a day (which also adds to the day totals), reserving
    /// pending amounts, or releasing them.
    enum Phase: Equatable {
        case post(PostingDay), reserve, release
    }

    /// The accounting date of a posting, and whether it closes a year (kept apart in the day totals, as the
    /// income statement leaves closing entries out).
    struct PostingDay: Equatable {
        let date: String
        let closing: Bool
        /// The entry posting, named in the movements announced for insights.
        let entryId: String?

        init(date: String, source: String, entryId: String? = nil) {
            self.date = date
            self.closing = source == EntrySource.close.rawValue
            self.entryId = entryId
        }
    }

    fileprivate struct DayKey: Hashable, Comparable {
        let date: String
        let accountId: String
        static func < (a: DayKey, b: DayKey) -> Bool { (a.date, a.accountId) < (b.date, b.accountId) }
    }

    fileprivate struct DayTotals {
        var debits: Int64 = 0, credits: Int64 = 0, closeDebits: Int64 = 0, closeCredits: Int64 = 0

        mutating func add(_ amount: Int64, debit: Bool, closing: Bool) {
            // Bounded by the account's totals, which `apply` checked against overflow first.
            if debit { self.debits += amount } else { self.credits += amount }
            if closing { if debit { self.closeDebits += amount } else { self.closeCredits += amount } }
        }
    }

    /// Applies `lines` to the totals in memory, then checks the touched accounts' balance constraints.
    func apply(_ lines: [(accountId: String, side: Side, amountMinor: Int64)], phase: Phase) throws {
        for line in lines {
            guard var account = self.accounts[line.accountId] else {
                throw InvariantViolation("a checked line names account \(line.accountId), which the context did not load")
            }
            func add(_ value: inout Int64, _ amount: Int64) throws {
                let (sum, overflow) = value.addingReportingOverflow(amount)
                guard !overflow, sum <= LedgerLimits.amountMinorMax else {
                    throw AppError.invalid(code: "amount-overflow", "the account's totals would exceed \(LedgerLimits.amountMinorMax) minor units")
                }
                value = sum
            }
            switch (phase, line.side) {
            case (.post(let day), .debit):
                try add(&account.posted_debits_minor, line.amountMinor)
                self.dayTotals[DayKey(date: day.date, accountId: line.accountId), default: DayTotals()].add(line.amountMinor, debit: true, closing: day.closing)
                self.note(day, accountId: line.accountId)
            case (.post(let day), .credit):
                try add(&account.posted_credits_minor, line.amountMinor)
                self.dayTotals[DayKey(date: day.date, accountId: line.accountId), default: DayTotals()].add(line.amountMinor, debit: false, closing: day.closing)
                self.note(day, accountId: line.accountId)
            case (.reserve, .debit): try add(&account.pending_debits_minor, line.amountMinor)
            case (.reserve, .credit): try add(&account.pending_credits_minor, line.amountMinor)
            case (.release, .debit): try add(&account.pending_debits_minor, -line.amountMinor)
            case (.release, .credit): try add(&account.pending_credits_minor, -line.amountMinor)
            }
            try InvariantViolation.check(account.pending_debits_minor >= 0 && account.pending_credits_minor >= 0,
                                         "account \(line.accountId) released more than was pending")
            self.accounts[line.accountId] = account
        }
        guard phase != .release else { return }
        for accountId in Set(lines.map(\.accountId)) {
            guard let account = self.accounts[accountId] else { continue }
            try Self.checkConstraint(account)
        }
    }

    /// Remembers the entry behind a trading day total, up to the cap.
    private func note(_ day: PostingDay, accountId: String) {
        guard let entryId = day.entryId, !day.closing else { return }
        let key = DayKey(date: day.date, accountId: accountId)
        var entries = self.dayEntries[key] ?? []
        guard entries.count < LedgerMovementsRecorded.entriesPerMovementMax, entries.last != entryId else { return }
        entries.append(entryId)
        self.dayEntries[key] = entries
    }

    static func checkConstraint(_ account: AccountRow) throws {
        switch account.constraint {
        case .none: return
        case .debitsMustNotExceedCredits:
            if account.posted_debits_minor.addingReportingOverflow(account.pending_debits_minor).partialValue > account.posted_credits_minor {
                throw account.normalSide == .credit
                    ? AccountingError.insufficientFunds(code: account.code) : AccountingError.balanceConstraint(code: account.code)
            }
        case .creditsMustNotExceedDebits:
            if account.posted_credits_minor.addingReportingOverflow(account.pending_credits_minor).partialValue > account.posted_debits_minor {
                throw account.normalSide == .debit
                    ? AccountingError.insufficientFunds(code: account.code) : AccountingError.balanceConstraint(code: account.code)
            }
        }
    }

    /// Writes the totals of every account that changed, and adds the postings to the day totals.
    func flush(db: any SQLDatabase, nowMillis: Int64) async throws {
        if db.writesTogether {
            _ = try await db.writeTogether(self.takeWrites(nowMillis: nowMillis))
            return
        }
        let (days, changed) = self.takeChanges()
        try await db.insertRows(into: "account_day_totals", columns: Self.dayColumns.map(\.0), rows: days, suffix: Self.dayUpsert)
        // One statement for every changed account.
        for chunk in changed.chunked(LedgerLimits.insertChunkRows / 8) {
            var query = SQLQueryString("WITH totals (id, pd, pc, qd, qc) AS (VALUES ")
            for (index, account) in chunk.enumerated() {
                query.appendInterpolation(unsafeRaw: index == 0 ? "(" : ", (")
                query.appendInterpolation(bind: account.id)
                query.appendInterpolation(unsafeRaw: ", ")
                query.appendInterpolation(binds: [account.posted_debits_minor, account.posted_credits_minor,
                                                  account.pending_debits_minor, account.pending_credits_minor])
                query.appendInterpolation(unsafeRaw: ")")
            }
            query.appendInterpolation(unsafeRaw: """
                ) UPDATE accounts SET posted_debits_minor = totals.pd, posted_credits_minor = totals.pc,
                    pending_debits_minor = totals.qd, pending_credits_minor = totals.qc, updated_at_ms = 
                """)
            query.appendInterpolation(bind: nowMillis)
            query.appendInterpolation(unsafeRaw: " FROM totals WHERE accounts.id = totals.id AND accounts.tenant_id = ")
            query.appendInterpolation(bind: self.tenantId)
            try await db.raw(query).run()
        }
    }

    /// What `flush` writes, as parts of PostgreSQL's `writeTogether`, for a caller that sends them with writes of
    /// its own; they count as written from here on.
    func takeWrites(nowMillis: Int64) -> [RowWrite] {
        let (days, totals) = self.takeRows(nowMillis: nowMillis)
        return [
            .insert(into: "account_day_totals", columns: Self.dayColumns.map(\.0), rows: days, suffix: Self.dayUpsert),
            RowWrite(columns: Self.totalsColumns.map(\.0), rows: totals, statement: Self.totalsStatement),
        ]
    }

    /// What `takeWrites` writes, as rows: the day totals to add and the accounts' new totals (the last two parts of
    /// `PostingWrite`).
    func takeRows(nowMillis: Int64) -> (days: [[SQLCell]], totals: [[SQLCell]]) {
        let (days, changed) = self.takeChanges()
        let totals: [[SQLCell]] = changed.map { account in
            [.init(account.id), .init(account.posted_debits_minor), .init(account.posted_credits_minor),
             .init(account.pending_debits_minor), .init(account.pending_credits_minor), .init(self.tenantId), .init(nowMillis)]
        }
        return (days, totals)
    }

    /// The parts writing the day totals and the accounts' totals.
    static let totalsParts = [
        PreparedWritePart.insert(into: "account_day_totals", columns: dayColumns, suffix: dayUpsert),
        PreparedWritePart(columns: totalsColumns, statement: totalsStatement),
    ]

    private static let totalsColumns: [(String, integer: Bool)] = [
        ("id", false), ("pd", true), ("pc", true), ("qd", true), ("qc", true), ("tenant_id", false), ("now", true),
    ]

    private static let totalsStatement: @Sendable ([String], String) -> String = { _, source in
        """
        UPDATE accounts SET posted_debits_minor = u.c1, posted_credits_minor = u.c2, pending_debits_minor = u.c3,
            pending_credits_minor = u.c4, updated_at_ms = u.c6
        FROM \(source) WHERE accounts.id = u.c0 AND accounts.tenant_id = u.c5
        """
    }

    /// The day-total rows to add and the accounts whose totals changed since the last write (in id order), which
    /// count as written from here on.
    private func takeChanges() -> (days: [[SQLCell]], accounts: [AccountRow]) {
        let days: [[SQLCell]] = self.dayTotals.sorted(by: { $0.key < $1.key }).map { key, totals in
            [.init(self.tenantId), .init(key.date), .init(key.accountId), .init(totals.debits), .init(totals.credits),
             .init(totals.closeDebits), .init(totals.closeCredits)]
        }
        let changed = self.accounts.sorted(by: { $0.key < $1.key }).compactMap { id, account -> AccountRow? in
            guard let before = self.original[id] else { return nil }
            let same = before.posted_debits_minor == account.posted_debits_minor && before.posted_credits_minor == account.posted_credits_minor
                && before.pending_debits_minor == account.pending_debits_minor && before.pending_credits_minor == account.pending_credits_minor
            return same ? nil : account
        }
        for (key, totals) in self.dayTotals {
            let trading = (debits: totals.debits - totals.closeDebits, credits: totals.credits - totals.closeCredits)
            guard trading.debits != 0 || trading.credits != 0 else { continue }
            let before = self.written[key] ?? (0, 0)
            // Bounded by the account's totals, which `apply` checked against overflow.
            self.written[key] = (before.debits + trading.debits, before.credits + trading.credits)
        }
        for (key, entries) in self.dayEntries {
            let known = self.writtenEntries[key] ?? []
            self.writtenEntries[key] = Array((known + entries.filter { !known.contains($0) }).prefix(LedgerMovementsRecorded.entriesPerMovementMax))
        }
        self.dayEntries = [:]
        self.dayTotals = [:]
        self.original = self.accounts
        return (days, changed)
    }

    /// The trading movements written since the last call, per day and account, in order, with each account's details.
    func takeMovements() -> [LedgerMovementsRecorded.Movement] {
        defer {
            self.written = [:]
            self.writtenEntries = [:]
        }
        return self.written.sorted(by: { $0.key < $1.key }).compactMap { key, totals in
            guard let account = self.accounts[key.accountId] else { return nil }
            return LedgerMovementsRecorded.Movement(
                accountingDate: key.date, accountId: account.id, code: account.code, name: account.name, type: account.type,
                cashFlowTag: account.cash_flow_tag, role: account.system_role, currency: account.currency, debitMinor: totals.debits, creditMinor: totals.credits,
                entryIds: self.writtenEntries[key])
        }
    }

    private static let dayColumns: [(String, integer: Bool)] = [
        ("tenant_id", false), ("accounting_date", false), ("account_id", false), ("debits_minor", true), ("credits_minor", true),
        ("close_debits_minor", true), ("close_credits_minor", true),
    ]

    private static let dayUpsert = """
         ON CONFLICT (tenant_id, accounting_date, account_id) DO UPDATE SET
            debits_minor = account_day_totals.debits_minor + excluded.debits_minor,
            credits_minor = account_day_totals.credits_minor + excluded.credits_minor,
            close_debits_minor = account_day_totals.close_debits_minor + excluded.close_debits_minor,
            close_credits_minor = account_day_totals.close_credits_minor + excluded.close_credits_minor
        """
}

/// A period's stored status.
struct PeriodRow: Codable, Sendable {
    let period: String
    let status: String
}
