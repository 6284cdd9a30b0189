import FinFlowCore
import Foundation
import SQLKit

/// One account's row of a trial balance; amounts are debit-positive.
struct TrialBalanceRow: Sendable {
    let account: AccountRow
    let openingMinor: Int64
    let debitsMinor: Int64
    let creditsMinor: Int64
    /// The same figures over the comparative range, when one was asked for.
    let compare: (openingMinor: Int64, debitsMinor: Int64, creditsMinor: Int64)?
    let closingMinor: Int64
    let compareClosingMinor: Int64?

    /// A row whose closing figures are worked out with overflow checks.
    init(account: AccountRow, openingMinor: Int64, debitsMinor: Int64, creditsMinor: Int64,
         compare: (openingMinor: Int64, debitsMinor: Int64, creditsMinor: Int64)?) throws {
        self.account = account
        self.openingMinor = openingMinor
        self.debitsMinor = debitsMinor
        self.creditsMinor = creditsMinor
        self.compare = compare
        self.closingMinor = try MinorUnits.narrow(Int128(openingMinor) + Int128(debitsMinor) - Int128(creditsMinor))
        self.compareClosingMinor = try compare.map {
            try MinorUnits.narrow(Int128($0.openingMinor) + Int128($0.debitsMinor) - Int128($0.creditsMinor))
        }
    }
}

/// A trial balance of one currency: it balances when the closing column sums to zero.
struct TrialBalance: Sendable {
    let currency: String
    let rows: [TrialBalanceRow]
    let totalDebitsMinor: Int64
    let totalCreditsMinor: Int64
    let closingDebitsMinor: Int64
    let closingCreditsMinor: Int64

    /// The balance of `rows`, totals checked for overflow and the closing column for summing to zero.
    init(currency: String, rows: [TrialBalanceRow]) throws {
        self.currency = currency
        self.rows = rows
        self.totalDebitsMinor = try MinorUnits.sum(rows) { $0.debitsMinor }
        self.totalCreditsMinor = try MinorUnits.sum(rows) { $0.creditsMinor }
        self.closingDebitsMinor = try MinorUnits.sum(rows) { max($0.closingMinor, 0) }
        self.closingCreditsMinor = try MinorUnits.sum(rows) { $0.closingMinor < 0 ? try MinorUnits.negate($0.closingMinor) : 0 }
        try InvariantViolation.check(try MinorUnits.sum(rows) { $0.closingMinor } == 0, "the trial balance of \(currency) does not sum to zero")
        try InvariantViolation.check(try MinorUnits.sum(rows) { $0.compareClosingMinor ?? 0 } == 0,
                                     "the comparative trial balance of \(currency) does not sum to zero")
    }
}

/// A line of a statement: an account (rolled up with its sub-accounts) or a computed line such as earnings.
struct ReportItem: Sendable {
    let accountId: String?
    let code: String?
    let name: String
    let level: Int
    let amountMinor: Int64
    let compareAmountMinor: Int64?
}

/// A section of a statement (assets, revenue…) with its total.
struct ReportSection: Sendable {
    let name: String
    let items: [ReportItem]
    let totalMinor: Int64
    let compareTotalMinor: Int64?
}

/// A balance sheet or income statement in one currency.
struct CurrencyReport: Sendable {
    let currency: String
    let sections: [ReportSection]
    /// The figure that sums the report up: net income, or assets minus liabilities and equity (zero when it balances).
    let resultMinor: Int64
    let compareResultMinor: Int64?
}

/// A date range of a report; `from` nil means since the first entry.
struct ReportRange: Sendable {
    let from: LedgerDate?
    let to: LedgerDate
}

extension Ledger {
    /// Posted debit and credit sums per account over a range, from the day totals.
    static func movements(tenantId: String, from: LedgerDate?, to: LedgerDate, excludingClose: Bool = false, db: any SQLDatabase)
        async throws -> [String: (debits: Int64, credits: Int64)]
    {
        let minus = excludingClose ? ("- close_debits_minor", "- close_credits_minor") : ("", "")
        var query = SQLQueryString("""
            SELECT account_id, CAST(SUM(debits_minor \(unsafeRaw: minus.0)) AS BIGINT) AS debits,
                CAST(SUM(credits_minor \(unsafeRaw: minus.1)) AS BIGINT) AS credits
            FROM account_day_totals WHERE tenant_id = \(bind: tenantId) AND accounting_date <= \(bind: to.description)
            """)
        if let from {
            query.appendInterpolation(unsafeRaw: " AND accounting_date >= ")
            query.appendInterpolation(bind: from.description)
        }
        query.appendInterpolation(unsafeRaw: " GROUP BY account_id")
        let rows = try await db.raw(query).all(decoding: MovementRow.self)
        return Dictionary(uniqueKeysWithValues: rows.compactMap { row in
            let moves = (debits: row.debits ?? 0, credits: row.credits ?? 0)
            return moves.debits == 0 && moves.credits == 0 ? nil : (row.account_id, moves)
        })
    }

    /// The trial balance over `range` (and the comparative range), one per currency.
    func trialBalance(principal: Principal, range: ReportRange, compare: ReportRange? = nil) async throws -> [TrialBalance] {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            let accounts = try await LedgerStore.allAccounts(tenantId: principal.tenantId, db: db)
            func figures(_ range: ReportRange) async throws -> (opening: [String: Int64], moves: [String: (debits: Int64, credits: Int64)]) {
                let opening = try await range.from.asyncMap {
                    try await Self.movements(tenantId: principal.tenantId, from: nil, to: $0.addingDays(-1), db: db)
                } ?? [:]
                return (try opening.mapValues { try MinorUnits.subtract($0.debits, $0.credits) },
                        try await Self.movements(tenantId: principal.tenantId, from: range.from, to: range.to, db: db))
            }
            let main = try await figures(range)
            let other = try await compare.asyncMap { try await figures($0) }
            let rows = try accounts.compactMap { account -> TrialBalanceRow? in
                let open = main.opening[account.id] ?? 0
                let move = main.moves[account.id] ?? (0, 0)
                let compared = other.map { ($0.opening[account.id] ?? 0, $0.moves[account.id]?.debits ?? 0, $0.moves[account.id]?.credits ?? 0) }
                let active = open != 0 || move.debits != 0 || move.credits != 0
                let comparedActive = compared.map { $0.0 != 0 || $0.1 != 0 || $0.2 != 0 } ?? false
                guard active || comparedActive else { return nil }
                return try TrialBalanceRow(account: account, openingMinor: open, debitsMinor: move.debits, creditsMinor: move.credits,
                                       compare: compared.map { (openingMinor: $0.0, debitsMinor: $0.1, creditsMinor: $0.2) })
            }
            let balances = try Dictionary(grouping: rows, by: \.account.currency).map { try TrialBalance(currency: $0.key, rows: $0.value) }
            return balances.sorted { $0.currency < $1.currency }
        }
    }

    /// The balance sheet at `asOf`, with current-year earnings (and earlier years' not yet closed) in equity.
    func balanceSheet(principal: Principal, asOf: LedgerDate, compareAsOf: LedgerDate?) async throws -> [CurrencyReport] {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            let ledger = try await LedgerStore.ledger(tenantId: principal.tenantId, db: db)
            let accounts = try await LedgerStore.allAccounts(tenantId: principal.tenantId, db: db)
            let calendar = FiscalCalendar(startMonth: ledger.fiscal_year_start_month)
            func figures(_ date: LedgerDate) async throws -> (balances: [String: Int64], current: [String: Int64], prior: [String: Int64]) {
                let all = try await Self.movements(tenantId: principal.tenantId, from: nil, to: date, db: db)
                let yearStart = calendar.yearStart(calendar.fiscalYear(of: date))
                let year = try await Self.movements(tenantId: principal.tenantId, from: yearStart, to: date, db: db)
                var current: [String: Int64] = [:]
                var prior: [String: Int64] = [:]
                for account in accounts where !account.accountType.isBalanceSheet {
                    let total = try all[account.id].map { try MinorUnits.subtract($0.credits, $0.debits) } ?? 0
                    let inYear = try year[account.id].map { try MinorUnits.subtract($0.credits, $0.debits) } ?? 0
                    current[account.currency] = try MinorUnits.add(current[account.currency] ?? 0, inYear)
                    prior[account.currency] = try MinorUnits.add(prior[account.currency] ?? 0, try MinorUnits.subtract(total, inYear))
                }
                return (try all.mapValues { try MinorUnits.subtract($0.debits, $0.credits) }, current, prior)
            }
            let main = try await figures(asOf)
            let compare = try await compareAsOf.asyncMap { try await figures($0) }
            let currencies = Set(accounts.map(\.currency)).sorted()
            return try currencies.compactMap { currency -> CurrencyReport? in
                let inCurrency = accounts.filter { $0.currency == currency }
                func section(_ name: String, _ type: AccountType, extra: [ReportItem] = []) throws -> ReportSection {
                    let sign: Int64 = type.naturalSide == .debit ? 1 : -1
                    return try Self.section(name, accounts: inCurrency.filter { $0.accountType == type }, sign: sign,
                                        amounts: main.balances, compare: compare?.balances, extra: extra)
                }
                let earnings = [
                    ReportItem(accountId: nil, code: nil, name: "Retained earnings not yet closed", level: 0,
                               amountMinor: main.prior[currency] ?? 0, compareAmountMinor: compare.map { $0.prior[currency] ?? 0 }),
                    ReportItem(accountId: nil, code: nil, name: "Current-year earnings", level: 0,
                               amountMinor: main.current[currency] ?? 0, compareAmountMinor: compare.map { $0.current[currency] ?? 0 }),
                ]
                let assets = try section("assets", .asset)
                let liabilities = try section("liabilities", .liability)
                let equity = try section("equity", .equity, extra: earnings)
                let used = assets.items.count + liabilities.items.count + equity.items.count
                if used == 0 && earnings.allSatisfy({ $0.amountMinor == 0 }) && currency != ledger.base_currency { return nil }
                let result = try MinorUnits.narrow(Int128(assets.totalMinor) - Int128(liabilities.totalMinor) - Int128(equity.totalMinor))
                try InvariantViolation.check(result == 0, "the balance sheet of \(currency) does not balance by \(result)")
                return CurrencyReport(
                    currency: currency, sections: [assets, liabilities, equity], resultMinor: result,
                    compareResultMinor: try compare.map { _ in
                        try MinorUnits.narrow(Int128(assets.compareTotalMinor ?? 0) - Int128(liabilities.compareTotalMinor ?? 0)
                                              - Int128(equity.compareTotalMinor ?? 0))
                    })
            }
        }
    }

    /// The income statement over `range` (and `compare`): revenue, expenses, net income.
    func incomeStatement(principal: Principal, range: ReportRange, compare: ReportRange?) async throws -> [CurrencyReport] {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            let ledger = try await LedgerStore.ledger(tenantId: principal.tenantId, db: db)
            let accounts = try await LedgerStore.allAccounts(tenantId: principal.tenantId, db: db)
            let main = try await Self.movements(tenantId: principal.tenantId, from: range.from, to: range.to, excludingClose: true, db: db)
                .mapValues { try MinorUnits.subtract($0.debits, $0.credits) }
            let other = try await compare.asyncMap {
                try await Self.movements(tenantId: principal.tenantId, from: $0.from, to: $0.to, excludingClose: true, db: db)
                    .mapValues { try MinorUnits.subtract($0.debits, $0.credits) }
            }
            return try Set(accounts.map(\.currency)).sorted().compactMap { currency -> CurrencyReport? in
                let inCurrency = accounts.filter { $0.currency == currency }
                let revenue = try Self.section("revenue", accounts: inCurrency.filter { $0.accountType == .revenue }, sign: -1,
                                           amounts: main, compare: other)
                let expenses = try Self.section("expenses", accounts: inCurrency.filter { $0.accountType == .expense }, sign: 1,
                                            amounts: main, compare: other)
                if revenue.items.isEmpty && expenses.items.isEmpty && currency != ledger.base_currency { return nil }
                return CurrencyReport(
                    currency: currency, sections: [revenue, expenses], resultMinor: try MinorUnits.subtract(revenue.totalMinor, expenses.totalMinor),
                    compareResultMinor: try other.map { _ in try MinorUnits.subtract(revenue.compareTotalMinor ?? 0, expenses.compareTotalMinor ?? 0) })
            }
        }
    }

    /// A section of accounts as a tree: each item rolled up with its descendants, the total over the roots.
    static func section(
        _ name: String, accounts: [AccountRow], sign: Int64, amounts: [String: Int64], compare: [String: Int64]?,
        extra: [ReportItem] = []
    ) throws -> ReportSection {
        let ids = Set(accounts.map(\.id))
        let children = Dictionary(grouping: accounts.filter { $0.parent_id.map(ids.contains) ?? false }, by: { $0.parent_id ?? "" })
        // Rolled up in 128 bits and narrowed once per figure, so no partial sum can trap.
        func rolled(_ account: AccountRow, _ values: [String: Int64]) -> Int128 {
            Int128(values[account.id] ?? 0) * Int128(sign) + (children[account.id] ?? []).reduce(Int128(0)) { $0 + rolled($1, values) }
        }
        var items: [ReportItem] = []
        func visit(_ account: AccountRow, level: Int) throws {
            let amount = try MinorUnits.narrow(rolled(account, amounts))
            let compared = try compare.map { try MinorUnits.narrow(rolled(account, $0)) }
            let hasActivity = amount != 0 || (compared ?? 0) != 0
            guard hasActivity else { return }
            items.append(ReportItem(accountId: account.id, code: account.code, name: account.name, level: level,
                                    amountMinor: amount, compareAmountMinor: compared))
            for child in (children[account.id] ?? []).sorted(by: { $0.code < $1.code }) { try visit(child, level: level + 1) }
        }
        let roots = accounts.filter { !($0.parent_id.map(ids.contains) ?? false) }.sorted { $0.code < $1.code }
        for root in roots { try visit(root, level: 0) }
        let total = try MinorUnits.narrow(
            roots.reduce(Int128(0)) { $0 + rolled($1, amounts) } + extra.reduce(Int128(0)) { $0 + Int128($1.amountMinor) })
        let compareTotal = try compare.map { values in
            try MinorUnits.narrow(
                roots.reduce(Int128(0)) { $0 + rolled($1, values) } + extra.reduce(Int128(0)) { $0 + Int128($1.compareAmountMinor ?? 0) })
        }
        return ReportSection(name: name, items: items + extra.filter { $0.amountMinor != 0 || ($0.compareAmountMinor ?? 0) != 0 },
                             totalMinor: total, compareTotalMinor: compareTotal)
    }
}

/// Per-account sums of a range.
struct MovementRow: Decodable, Sendable {
    let account_id: String
    let debits: Int64?
    let credits: Int64?
}
