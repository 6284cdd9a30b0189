import FinFlowCore
import Foundation
import SQLKit

/// The insights service's copy of the books: accounts, each account's movements per day, and the receivables and
/// payables still open. Kept from the ledger's events; each event is applied once (the consumer's inbox).
enum ReadModel {
    static let accountTypes: Set<String> = ["asset", "liability", "equity", "revenue", "expense"]

    /// Whether `text` is a three-letter currency code.
    static func isCurrency(_ text: String) -> Bool { text.count == 3 && text.allSatisfy { $0.isASCII && $0.isUppercase } }

    static func record(_ event: LedgerMovementsRecorded, db: any SQLDatabase) async throws {
        for movement in event.movements.prefix(LedgerMovementsRecorded.movementsMax) {
            // A movement the service cannot read is left out rather than stopping the consumer.
            guard CalendarDay(movement.accountingDate) != nil, Self.accountTypes.contains(movement.type), Self.isCurrency(movement.currency),
                (1...64).contains(movement.accountId.count), movement.debitMinor >= 0, movement.creditMinor >= 0
            else { continue }
            try await db.raw("""
                INSERT INTO insights_accounts (tenant_id, account_id, code, name, type, cash_flow_tag, currency)
                VALUES (\(bind: event.tenantId), \(bind: movement.accountId), \(bind: String(movement.code.prefix(64))),
                    \(bind: String(movement.name.prefix(200))), \(bind: movement.type), \(bind: movement.cashFlowTag), \(bind: movement.currency))
                ON CONFLICT (tenant_id, account_id) DO UPDATE SET code = excluded.code, name = excluded.name, type = excluded.type,
                    cash_flow_tag = excluded.cash_flow_tag, currency = excluded.currency
                """).run()
            try await db.raw("""
                INSERT INTO insights_movements (tenant_id, account_id, accounting_date, debit_minor, credit_minor)
                VALUES (\(bind: event.tenantId), \(bind: movement.accountId), \(bind: movement.accountingDate), \(bind: movement.debitMinor),
                    \(bind: movement.creditMinor))
                ON CONFLICT (tenant_id, account_id, accounting_date) DO UPDATE SET
                    debit_minor = insights_movements.debit_minor + excluded.debit_minor,
                    credit_minor = insights_movements.credit_minor + excluded.credit_minor
                """).run()
            try await Self.keep(movement.entryIds ?? [], tenantId: event.tenantId, movement: movement, db: db)
        }
    }

    /// Keeps the entries behind an account's day, up to the first twenty: one count and one insert.
    static func keep(_ entryIds: [String], tenantId: String, movement: LedgerMovementsRecorded.Movement, db: any SQLDatabase) async throws {
        var seen = Set<String>()
        let ids = entryIds.prefix(LedgerMovementsRecorded.entriesPerMovementMax).filter { (1...64).contains($0.count) && seen.insert($0).inserted }
        guard !ids.isEmpty else { return }
        struct Count: Decodable { let n: Int }
        let kept = try await db.raw("""
            SELECT COUNT(*) AS n FROM insights_movement_entries
            WHERE tenant_id = \(bind: tenantId) AND account_id = \(bind: movement.accountId) AND accounting_date = \(bind: movement.accountingDate)
            """).first(decoding: Count.self)?.n ?? 0
        let room = LedgerMovementsRecorded.entriesPerMovementMax - kept
        guard room > 0 else { return }
        var query = SQLQueryString("INSERT INTO insights_movement_entries (tenant_id, account_id, accounting_date, entry_id) VALUES ")
        for (index, entryId) in ids.prefix(room).enumerated() {
            query.appendInterpolation(unsafeRaw: index == 0 ? "(" : ", (")
            query.appendInterpolation(binds: [tenantId, movement.accountId, movement.accountingDate, entryId])
            query.appendInterpolation(unsafeRaw: ")")
        }
        query.appendInterpolation(unsafeRaw: " ON CONFLICT (tenant_id, account_id, accounting_date, entry_id) DO NOTHING")
        try await db.raw(query).run()
    }

    /// The first entries behind an account's movements between two dates (inclusive), by date.
    static func entries(tenantId: String, accountId: String, from: CalendarDay, to: CalendarDay, limit: Int, db: any SQLDatabase) async throws
        -> [(day: String, entryId: String)]
    {
        struct Row: Decodable { let accounting_date: String; let entry_id: String }
        return try await db.raw("""
            SELECT accounting_date, entry_id FROM insights_movement_entries
            WHERE tenant_id = \(bind: tenantId) AND account_id = \(bind: accountId) AND accounting_date >= \(bind: from.description)
                AND accounting_date <= \(bind: to.description)
            ORDER BY accounting_date, entry_id LIMIT \(bind: limit)
            """).all(decoding: Row.self).map { ($0.accounting_date, $0.entry_id) }
    }

    /// A new receivable or payable; a credit note lowers what its invoice (or bill) still owes instead.
    static func open(
        tenantId: String, id: String, kind: String, partyId: String, currency: String, totalMinor: Int64, issueDate: String, dueDate: String,
        credits: String?, db: any SQLDatabase
    ) async throws {
        guard CalendarDay(issueDate) != nil, CalendarDay(dueDate) != nil, Self.isCurrency(currency), totalMinor >= 0 else { return }
        if let credits {
            try await Self.apply(tenantId: tenantId, id: credits, amountMinor: totalMinor, currency: currency, db: db)
            return
        }
        try await db.raw("""
            INSERT INTO insights_documents (tenant_id, id, kind, party_id, currency, total_minor, applied_minor, issue_date, due_date, status)
            VALUES (\(bind: tenantId), \(bind: id), \(bind: kind), \(bind: String(partyId.prefix(128))), \(bind: currency), \(bind: totalMinor), 0,
                \(bind: issueDate), \(bind: dueDate), 'open')
            ON CONFLICT (tenant_id, id) DO NOTHING
            """).run()
    }

    /// A payment (negative: a refund) or credit applied to an open document in its currency.
    static func apply(tenantId: String, id: String, amountMinor: Int64, currency: String, db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE insights_documents SET applied_minor = applied_minor + \(bind: amountMinor)
            WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id) AND currency = \(bind: currency)
            """).run()
    }

    static func settle(tenantId: String, id: String, date: String, db: any SQLDatabase) async throws {
        guard CalendarDay(date) != nil else { return }
        try await db.raw("""
            UPDATE insights_documents SET status = 'settled', settled_date = \(bind: date)
            WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id) AND status = 'open'
            """).run()
    }

    static func void(tenantId: String, id: String, db: any SQLDatabase) async throws {
        try await db.raw("UPDATE insights_documents SET status = 'void' WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id)").run()
    }

    // MARK: reading

    /// What a series sums.
    enum Metric: String, Sendable, CaseIterable {
        case netCashFlow = "net-cash-flow", cashBalance = "cash-balance", revenue, expenses
    }

    /// The tenant's movement per day in `currency` for `metric` (signed so that inflow, revenue and expense are
    /// positive), from its first movement on.
    static func daily(tenantId: String, metric: Metric, currency: String, accountId: String?, db: any SQLDatabase) async throws
        -> [(day: CalendarDay, value: Int64)]
    {
        struct Row: Decodable { let accounting_date: String; let debits: Int64; let credits: Int64 }
        var query = SQLQueryString("""
            SELECT m.accounting_date, CAST(SUM(m.debit_minor) AS BIGINT) AS debits, CAST(SUM(m.credit_minor) AS BIGINT) AS credits
            FROM insights_movements m JOIN insights_accounts a ON a.tenant_id = m.tenant_id AND a.account_id = m.account_id
            WHERE m.tenant_id = \(bind: tenantId) AND a.currency = \(bind: currency)
            """)
        switch metric {
        case .netCashFlow, .cashBalance: query.appendInterpolation(unsafeRaw: " AND a.cash_flow_tag = 'cash'")
        case .revenue: query.appendInterpolation(unsafeRaw: " AND a.type = 'revenue'")
        case .expenses: query.appendInterpolation(unsafeRaw: " AND a.type = 'expense'")
        }
        if let accountId {
            query.appendInterpolation(unsafeRaw: " AND a.account_id = ")
            query.appendInterpolation(bind: accountId)
        }
        query.appendInterpolation(unsafeRaw: " GROUP BY m.accounting_date ORDER BY m.accounting_date")
        return try await db.raw(query).all(decoding: Row.self).compactMap { row in
            guard let day = CalendarDay(row.accounting_date) else { return nil }
            let (net, overflow) = metric == .revenue ? row.credits.subtractingReportingOverflow(row.debits) : row.debits.subtractingReportingOverflow(row.credits)
            return overflow ? nil : (day, net)
        }
    }

    /// The currency with the most movement rows, when the caller names none.
    static func mainCurrency(tenantId: String, db: any SQLDatabase) async throws -> String? {
        struct Row: Decodable { let currency: String }
        return try await db.raw("""
            SELECT a.currency FROM insights_movements m JOIN insights_accounts a ON a.tenant_id = m.tenant_id AND a.account_id = m.account_id
            WHERE m.tenant_id = \(bind: tenantId) GROUP BY a.currency ORDER BY COUNT(*) DESC, a.currency LIMIT 1
            """).first(decoding: Row.self)?.currency
    }

    /// An account's type, when the read model knows it.
    static func accountType(tenantId: String, accountId: String, db: any SQLDatabase) async throws -> String? {
        struct Row: Decodable { let type: String }
        return try await db.raw("SELECT type FROM insights_accounts WHERE tenant_id = \(bind: tenantId) AND account_id = \(bind: accountId)")
            .first(decoding: Row.self)?.type
    }

    struct DocumentRow: Decodable, Sendable {
        let id: String
        let kind: String
        let party_id: String
        let total_minor: Int64
        let applied_minor: Int64
        let issue_date: String
        let due_date: String
        let status: String
        let settled_date: String?
    }

    /// Every invoice and bill in `currency` that was not voided, oldest issued first.
    static func documents(tenantId: String, currency: String, db: any SQLDatabase) async throws -> [DocumentRow] {
        try await db.raw("""
            SELECT id, kind, party_id, total_minor, applied_minor, issue_date, due_date, status, settled_date FROM insights_documents
            WHERE tenant_id = \(bind: tenantId) AND currency = \(bind: currency) AND status <> 'void'
            ORDER BY issue_date, id LIMIT 200000
            """).all(decoding: DocumentRow.self)
    }

    struct AccountRow: Decodable, Sendable {
        let account_id: String
        let code: String
        let name: String
        let type: String
    }

    /// Each expense account's movement per day in `currency` (debits less credits), and the accounts.
    static func expenseDays(tenantId: String, currency: String, db: any SQLDatabase) async throws
        -> (days: [(account: String, day: CalendarDay, value: Int64)], accounts: [AccountRow])
    {
        struct Row: Decodable { let account_id: String; let accounting_date: String; let debit_minor: Int64; let credit_minor: Int64 }
        let rows = try await db.raw("""
            SELECT m.account_id, m.accounting_date, m.debit_minor, m.credit_minor
            FROM insights_movements m JOIN insights_accounts a ON a.tenant_id = m.tenant_id AND a.account_id = m.account_id
            WHERE m.tenant_id = \(bind: tenantId) AND a.currency = \(bind: currency) AND a.type = 'expense'
            ORDER BY m.accounting_date LIMIT 500000
            """).all(decoding: Row.self)
        let accounts = try await db.raw("""
            SELECT account_id, code, name, type FROM insights_accounts WHERE tenant_id = \(bind: tenantId) AND type = 'expense'
            """).all(decoding: AccountRow.self)
        return (rows.compactMap { row in
            CalendarDay(row.accounting_date).map { (row.account_id, $0, row.debit_minor &- row.credit_minor) }
        }, accounts)
    }
}

/// A series' periods: days, ISO weeks from Monday, or calendar months, each named by its first day.
enum Interval: String, Sendable, CaseIterable {
    case day, week, month

    /// The seasonal period the forecasting methods test for: a week of days, a year of weeks or of months.
    var seasonalPeriod: Int {
        switch self {
        case .day: 7
        case .week: 52
        case .month: 12
        }
    }

    /// The most recent periods a forecast fits on: three years of days, ten years of weeks, thirty of months.
    var historyMax: Int {
        switch self {
        case .day: 1_098
        case .week: 520
        case .month: 360
        }
    }

    /// The first day of the period holding `day`.
    func start(of day: CalendarDay) -> CalendarDay { CalendarPeriod(rawValue: self.rawValue)?.start(of: day) ?? day }

    /// The first day of the period after the one starting on `start`.
    func next(_ start: CalendarDay) -> CalendarDay { CalendarPeriod(rawValue: self.rawValue)?.next(start) ?? start.addingDays(1) }

    /// Sums `daily` into periods from the first one with a movement through the period before the one holding
    /// `before` (the period in progress is not complete). Periods without movements are zero.
    func periods(_ daily: [(day: CalendarDay, value: Int64)], before: CalendarDay) -> [(period: CalendarDay, value: Int64)] {
        guard let first = daily.first else { return [] }
        let end = self.start(of: before)
        var sums: [CalendarDay: Int64] = [:]
        for (day, value) in daily { sums[self.start(of: day), default: 0] &+= value }
        var result: [(CalendarDay, Int64)] = []
        var period = self.start(of: first.day)
        while period < end && result.count < 200_000 {
            result.append((period, sums[period] ?? 0))
            period = self.next(period)
        }
        return result
    }
}
