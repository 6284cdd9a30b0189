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
    var closingMinor: Int64 { self.openingMinor + self.debitsMinor - self.creditsMinor }
    var compareClosingMinor: Int64? { self.compare.map { $0.openingMinor + $0.debitsMinor - $0.creditsMinor } }
}

/// A trial balance of one currency: it balances when the closing column sums to zero.
struct TrialBalance: Sendable {
    let currency: String
    let rows: [TrialBalanceRow]
    var totalDebitsMinor: Int64 { self.rows.reduce(0) { $0 + $1.debitsMinor } }
    var totalCreditsMinor: Int64 { self.rows.reduce(0) { $0 + $1.creditsMinor } }
    var closingDebitsMinor: Int64 { self.rows.reduce(0) { $0 + max($1.closingMinor, 0) } }
    var closingCreditsMinor: Int64 { self.rows.reduce(0) { $0 + max(-$1.closingMinor, 0) } }
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
                return (opening.mapValues { $0.debits - $0.credits },
                        try await Self.movements(tenantId: principal.tenantId, from: range.from, to: range.to, db: db))
            }
            let main = try await figures(range)
            let other = try await compare.asyncMap { try await figures($0) }
            let rows = accounts.compactMap { account -> TrialBalanceRow? in
                let open = main.opening[account.id] ?? 0
                let move = main.moves[account.id] ?? (0, 0)
                let compared = other.map { ($0.opening[account.id] ?? 0, $0.moves[account.id]?.debits ?? 0, $0.moves[account.id]?.credits ?? 0) }
                let active = open != 0 || move.debits != 0 || move.credits != 0
                let comparedActive = compared.map { $0.0 != 0 || $0.1 != 0 || $0.2 != 0 } ?? false
                guard active || comparedActive else { return nil }
                return TrialBalanceRow(account: account, openingMinor: open, debitsMinor: move.debits, creditsMinor: move.credits,
                                       compare: compared.map { (openingMinor: $0.0, debitsMinor: $0.1, creditsMinor: $0.2) })
            }
            let balances = Dictionary(grouping: rows, by: \.account.currency).map { TrialBalance(currency: $0.key, rows: $0.value) }
            for balance in balances {
                precondition(balance.rows.reduce(0) { $0 + $1.closingMinor } == 0, "the trial balance of \(balance.currency) does not sum to zero")
                precondition(balance.rows.reduce(0) { $0 + ($1.compareClosingMinor ?? 0) } == 0, "the comparative trial balance does not sum to zero")
            }
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
                    let total = all[account.id].map { $0.credits - $0.debits } ?? 0
                    let inYear = year[account.id].map { $0.credits - $0.debits } ?? 0
                    current[account.currency, default: 0] += inYear
                    prior[account.currency, default: 0] += total - inYear
                }
                return (all.mapValues { $0.debits - $0.credits }, current, prior)
            }
            let main = try await figures(asOf)
            let compare = try await compareAsOf.asyncMap { try await figures($0) }
            let currencies = Set(accounts.map(\.currency)).sorted()
            return currencies.compactMap { currency -> CurrencyReport? in
                let inCurrency = accounts.filter { $0.currency == currency }
                func section(_ name: String, _ type: AccountType, extra: [ReportItem] = []) -> ReportSection {
                    let sign: Int64 = type.naturalSide == .debit ? 1 : -1
                    return Self.section(name, accounts: inCurrency.filter { $0.accountType == type }, sign: sign,
                                        amounts: main.balances, compare: compare?.balances, extra: extra)
                }
                let earnings = [
                    ReportItem(accountId: nil, code: nil, name: "Retained earnings not yet closed", level: 0,
                               amountMinor: main.prior[currency] ?? 0, compareAmountMinor: compare.map { $0.prior[currency] ?? 0 }),
                    ReportItem(accountId: nil, code: nil, name: "Current-year earnings", level: 0,
                               amountMinor: main.current[currency] ?? 0, compareAmountMinor: compare.map { $0.current[currency] ?? 0 }),
                ]
                let assets = section("assets", .asset)
                let liabilities = section("liabilities", .liability)
                let equity = section("equity", .equity, extra: earnings)
                let used = assets.items.count + liabilities.items.count + equity.items.count
                if used == 0 && earnings.allSatisfy({ $0.amountMinor == 0 }) && currency != ledger.base_currency { return nil }
                let result = assets.totalMinor - liabilities.totalMinor - equity.totalMinor
                precondition(result == 0, "the balance sheet of \(currency) does not balance by \(result)")
                return CurrencyReport(
                    currency: currency, sections: [assets, liabilities, equity], resultMinor: result,
                    compareResultMinor: compare.map { _ in
                        (assets.compareTotalMinor ?? 0) - (liabilities.compareTotalMinor ?? 0) - (equity.compareTotalMinor ?? 0)
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
                .mapValues { $0.debits - $0.credits }
            let other = try await compare.asyncMap {
                try await Self.movements(tenantId: principal.tenantId, from: $0.from, to: $0.to, excludingClose: true, db: db)
                    .mapValues { $0.debits - $0.credits }
            }
            return Set(accounts.map(\.currency)).sorted().compactMap { currency -> CurrencyReport? in
                let inCurrency = accounts.filter { $0.currency == currency }
                let revenue = Self.section("revenue", accounts: inCurrency.filter { $0.accountType == .revenue }, sign: -1,
                                           amounts: main, compare: other)
                let expenses = Self.section("expenses", accounts: inCurrency.filter { $0.accountType == .expense }, sign: 1,
                                            amounts: main, compare: other)
                if revenue.items.isEmpty && expenses.items.isEmpty && currency != ledger.base_currency { return nil }
                return CurrencyReport(
                    currency: currency, sections: [revenue, expenses], resultMinor: revenue.totalMinor - expenses.totalMinor,
                    compareResultMinor: other.map { _ in (revenue.compareTotalMinor ?? 0) - (expenses.compareTotalMinor ?? 0) })
            }
        }
    }

    /// A section of accounts as a tree: each item rolled up with its descendants, the total over the roots.
    static func section(
        _ name: String, accounts: [AccountRow], sign: Int64, amounts: [String: Int64], compare: [String: Int64]?,
        extra: [ReportItem] = []
    ) -> ReportSection {
        let ids = Set(accounts.map(\.id))
        let children = Dictionary(grouping: accounts.filter { $0.parent_id.map(ids.contains) ?? false }, by: { $0.parent_id! })
        func rolled(_ account: AccountRow, _ values: [String: Int64]) -> Int64 {
            (values[account.id] ?? 0) * sign + (children[account.id] ?? []).reduce(0) { $0 + rolled($1, values) }
        }
        var items: [ReportItem] = []
        func visit(_ account: AccountRow, level: Int) {
            let amount = rolled(account, amounts)
            let compared = compare.map { rolled(account, $0) }
            let hasActivity = amount != 0 || (compared ?? 0) != 0
            guard hasActivity else { return }
            items.append(ReportItem(accountId: account.id, code: account.code, name: account.name, level: level,
                                    amountMinor: amount, compareAmountMinor: compared))
            for child in (children[account.id] ?? []).sorted(by: { $0.code < $1.code }) { visit(child, level: level + 1) }
        }
        let roots = accounts.filter { !($0.parent_id.map(ids.contains) ?? false) }.sorted { $0.code < $1.code }
        for root in roots { visit(root, level: 0) }
        let total = roots.reduce(0) { $0 + rolled($1, amounts) } + extra.reduce(0) { $0 + $1.amountMinor }
        let compareTotal = compare.map { values in
            roots.reduce(0) { $0 + rolled($1, values) } + extra.reduce(0) { $0 + ($1.compareAmountMinor ?? 0) }
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
