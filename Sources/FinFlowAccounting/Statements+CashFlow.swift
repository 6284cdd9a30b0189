import FinFlowCore
import Foundation
import SQLKit

/// A general-ledger account block: opening balance, the period's lines with a running balance, closing balance.
struct LedgerAccountBlock: Sendable {
    let account: AccountRow
    let openingMinor: Int64
    let lines: [StatementLine]
    var closingMinor: Int64 { self.lines.last?.runningBalanceMinor ?? self.openingMinor }
}

extension Ledger {
    /// The most lines a general-ledger report carries; a larger range is refused rather than cut.
    static let generalLedgerLinesMax = 50_000

    /// The cash-flow statement over `range` by the indirect method, per currency: net income, non-cash items and
    /// working-capital changes (operating), investing and financing from the accounts' cash-flow tags, and money
    /// converted from or into other currencies (the trading accounts); balance-sheet accounts without a tag show as
    /// other operating items, so the statement always reconciles to the change in cash. Closing entries are left
    /// out on both sides.
    func cashFlow(principal: Principal, range: ReportRange, compare: ReportRange?) async throws -> [CurrencyReport] {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            let ledger = try await LedgerStore.ledger(tenantId: principal.tenantId, db: db)
            let accounts = try await LedgerStore.allAccounts(tenantId: principal.tenantId, db: db)
            // Figures are worked in 128 bits and narrowed once each, so a large book is refused with amount-overflow
            // rather than trapping on a partial sum.
            func changes(_ range: ReportRange) async throws -> (moves: [String: Int128], opening: [String: Int128]) {
                let moves = try await Self.movements(tenantId: principal.tenantId, from: range.from, to: range.to, excludingClose: true, db: db)
                    .mapValues { Int128($0.debits) - Int128($0.credits) }
                let opening = try await range.from.asyncMap {
                    try await Self.movements(tenantId: principal.tenantId, from: nil, to: $0.addingDays(-1), db: db)
                        .mapValues { Int128($0.debits) - Int128($0.credits) }
                } ?? [:]
                return (moves, opening)
            }
            let main = try await changes(range)
            let other = try await compare.asyncMap { try await changes($0) }
            let narrow = MinorUnits.narrow
            return try Set(accounts.map(\.currency)).sorted().compactMap { currency -> CurrencyReport? in
                let inCurrency = accounts.filter { $0.currency == currency }
                func item(_ name: String, _ value: ([String: Int128]) -> Int128) throws -> ReportItem {
                    ReportItem(accountId: nil, code: nil, name: name, level: 0, amountMinor: try narrow(value(main.moves)),
                               compareAmountMinor: try other.map { try narrow(value($0.moves)) })
                }
                func accountItems(_ filter: (AccountRow) -> Bool) throws -> [ReportItem] {
                    try inCurrency.filter { $0.accountType.isBalanceSheet && filter($0) }.sorted { $0.code < $1.code }.compactMap { account in
                        let amount = try narrow(-(main.moves[account.id] ?? 0))
                        let compared = try other.map { try narrow(-($0.moves[account.id] ?? 0)) }
                        guard amount != 0 || (compared ?? 0) != 0 else { return nil }
                        return ReportItem(accountId: account.id, code: account.code, name: account.name, level: 1,
                                          amountMinor: amount, compareAmountMinor: compared)
                    }
                }
                let earnings = inCurrency.filter { !$0.accountType.isBalanceSheet }.map(\.id)
                let netIncome = try item("Net income") { moves in -earnings.reduce(Int128(0)) { $0 + (moves[$1] ?? 0) } }
                let tag = { (account: AccountRow) in account.cash_flow_tag.flatMap(CashFlowTag.init(rawValue:)) }
                let trading = { (account: AccountRow) in account.code.hasPrefix("FXT-") && tag(account) == nil }
                let operating = try [netIncome] + accountItems { tag($0) == .noncash } + accountItems { tag($0) == .operating }
                    + accountItems { tag($0) == nil && !trading($0) }
                let investing = try accountItems { tag($0) == .investing }
                let financing = try accountItems { tag($0) == .financing }
                func section(_ name: String, _ items: [ReportItem]) throws -> ReportSection {
                    ReportSection(name: name, items: items.filter { $0.amountMinor != 0 || ($0.compareAmountMinor ?? 0) != 0 || $0.accountId == nil },
                                  totalMinor: try MinorUnits.sum(items) { $0.amountMinor },
                                  compareTotalMinor: try other.map { _ in try MinorUnits.sum(items) { $0.compareAmountMinor ?? 0 } })
                }
                let cash = inCurrency.filter { tag($0) == .cash }.map(\.id)
                let cashChange = { (moves: [String: Int128]) in cash.reduce(Int128(0)) { $0 + (moves[$1] ?? 0) } }
                let sections = try [section("operating", operating), section("investing", investing), section("financing", financing),
                                    section("currency-conversions", accountItems(trading))]
                let change = try MinorUnits.sum(sections) { $0.totalMinor }
                try InvariantViolation.check(Int128(change) == cashChange(main.moves), "the cash-flow statement of \(currency) does not reconcile")
                let openingCash = try narrow(cashChange(main.opening))
                let closingCash = try narrow(Int128(openingCash) + Int128(change))
                let compareClosing = try other.map { try narrow(cashChange($0.opening) + cashChange($0.moves)) }
                let reconciliation = ReportSection(name: "cash", items: [
                    ReportItem(accountId: nil, code: nil, name: "Cash at beginning", level: 0, amountMinor: openingCash,
                               compareAmountMinor: try other.map { try narrow(cashChange($0.opening)) }),
                    ReportItem(accountId: nil, code: nil, name: "Net change in cash", level: 0, amountMinor: change,
                               compareAmountMinor: try other.map { try narrow(cashChange($0.moves)) }),
                    ReportItem(accountId: nil, code: nil, name: "Cash at end", level: 0, amountMinor: closingCash,
                               compareAmountMinor: compareClosing),
                ], totalMinor: closingCash, compareTotalMinor: compareClosing)
                if inCurrency.allSatisfy({ (main.moves[$0.id] ?? 0) == 0 && (main.opening[$0.id] ?? 0) == 0 }) && currency != ledger.base_currency {
                    return nil
                }
                return CurrencyReport(currency: currency, sections: sections + [reconciliation], resultMinor: change,
                                      compareResultMinor: try other.map { try narrow(cashChange($0.moves)) })
            }
        }
    }

    /// The general ledger over `range`: every account with activity (or only `accountId`), its opening balance, its
    /// lines with a running balance, and its closing balance.
    func generalLedger(principal: Principal, range: ReportRange, accountId: String?) async throws -> [LedgerAccountBlock] {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            var accounts = try await LedgerStore.allAccounts(tenantId: principal.tenantId, db: db)
            if let accountId {
                accounts = accounts.filter { $0.id == accountId.lowercased() }
                guard !accounts.isEmpty else { throw AppError.notFound("account") }
            }
            let opening = try await range.from.asyncMap {
                try await Self.movements(tenantId: principal.tenantId, from: nil, to: $0.addingDays(-1), db: db)
            } ?? [:]
            var query = SQLQueryString("""
                SELECT l.*, e.description AS entry_description, e.reference AS entry_reference FROM journal_lines l
                JOIN journal_entries e ON e.id = l.entry_id
                WHERE l.tenant_id = \(bind: principal.tenantId) AND l.state = 'posted' AND l.accounting_date <= \(bind: range.to.description)
                """)
            if let from = range.from { query.appendInterpolation(unsafeRaw: " AND l.accounting_date >= "); query.appendInterpolation(bind: from.description) }
            // The accounts with postings in the range, from the day totals, so the lines are read through the
            // account index rather than by scanning the tenant's whole journal.
            let active: [String]
            if let accountId { active = [accountId.lowercased()] } else {
                active = try await Self.movements(tenantId: principal.tenantId, from: range.from, to: range.to, db: db).keys.sorted()
            }
            query.appendInterpolation(unsafeRaw: " AND l.account_id IN (")
            query.appendInterpolation(binds: active.isEmpty ? [""] : active)
            query.appendInterpolation(unsafeRaw: ")")
            query.appendInterpolation(unsafeRaw: " ORDER BY l.account_id, l.accounting_date, l.posted_at_ms, l.entry_id, l.line_no LIMIT \(Self.generalLedgerLinesMax + 1)")
            let rows = try await db.raw(query).all()
            guard rows.count <= Self.generalLedgerLinesMax else {
                throw AppError(.rejected, code: "report-too-large",
                               "the range holds more than \(Self.generalLedgerLinesMax) lines; narrow it or page through an account statement")
            }
            var byAccount: [String: [(LineRow, String, String?)]] = [:]
            for row in rows {
                let line = try row.decode(model: LineRow.self)
                byAccount[line.account_id, default: []].append(
                    (line, try row.decode(column: "entry_description", as: String.self), try row.decode(column: "entry_reference", as: String?.self)))
            }
            return try accounts.compactMap { account -> LedgerAccountBlock? in
                let sign: Int64 = account.normalSide == .debit ? 1 : -1
                let open = try MinorUnits.narrow(Int128(sign) * (opening[account.id].map { Int128($0.debits) - Int128($0.credits) } ?? 0))
                let lines = byAccount[account.id] ?? []
                guard open != 0 || !lines.isEmpty || accountId != nil else { return nil }
                var running = open
                return LedgerAccountBlock(account: account, openingMinor: open, lines: try lines.map { line, description, reference in
                    running = try Self.runningBalance(running, sign: sign, line)
                    return StatementLine(line: line, description: description, reference: reference, runningBalanceMinor: running)
                })
            }
        }
    }

    /// A running balance moved by one stored line, or `amount-overflow` when it leaves 64 bits.
    static func runningBalance(_ running: Int64, sign: Int64, _ line: LineRow) throws -> Int64 {
        try MinorUnits.narrow(Int128(running) + Int128(sign) * (Int128(line.debit_minor) - Int128(line.credit_minor)))
    }
}
