import FinFlowCore
import Foundation
import SQLKit

extension Ledger {
    /// The balance sheet in the base currency: balance-sheet accounts at the closing rate of `asOf`, the
    /// current year's earnings at the year's average rate, and the currency translation adjustment that the two
    /// rates leave, in equity.
    func translatedBalanceSheet(principal: Principal, asOf: LedgerDate, compareAsOf: LedgerDate?) async throws -> CurrencyReport {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            let ledger = try await LedgerStore.ledger(tenantId: principal.tenantId, db: db)
            let accounts = try await LedgerStore.allAccounts(tenantId: principal.tenantId, db: db)
            let book = try await Self.rateBook(tenantId: principal.tenantId, base: ledger.base_currency, db: db)
            let calendar = FiscalCalendar(startMonth: ledger.fiscal_year_start_month)
            func figures(_ date: LedgerDate) async throws -> (balances: [String: Int64], current: Int64, prior: Int64) {
                let all = try await Self.movements(tenantId: principal.tenantId, from: nil, to: date, db: db)
                let yearStart = calendar.yearStart(calendar.fiscalYear(of: date))
                let year = try await Self.movements(tenantId: principal.tenantId, from: yearStart, to: date, db: db)
                var balances: [String: Int64] = [:]
                var current: Int64 = 0, prior: Int64 = 0
                for account in accounts {
                    let total = try all[account.id].map { try MinorUnits.subtract($0.debits, $0.credits) } ?? 0
                    if account.accountType.isBalanceSheet {
                        guard total != 0 else { continue }
                        balances[account.id] = try book.translate(total, from: account.currency, at: try book.closing(account.currency, on: date))
                    } else {
                        let inYear = try year[account.id].map { try MinorUnits.subtract($0.credits, $0.debits) } ?? 0
                        guard total != 0 || inYear != 0 else { continue }
                        let average = try book.average(account.currency, over: ReportRange(from: yearStart, to: date))
                        current = try MinorUnits.add(current, try book.translate(inYear, from: account.currency, at: average))
                        let earlier = try MinorUnits.narrow(-Int128(total) - Int128(inYear))
                        prior = try MinorUnits.add(
                            prior, try book.translate(earlier, from: account.currency, at: try book.closing(account.currency, on: date)))
                    }
                }
                return (balances, current, prior)
            }
            let main = try await figures(asOf)
            let compare = try await compareAsOf.asyncMap { try await figures($0) }
            func section(_ name: String, _ type: AccountType, extra: [ReportItem] = []) throws -> ReportSection {
                try Self.section(name, accounts: accounts.filter { $0.accountType == type }, sign: type.naturalSide == .debit ? 1 : -1,
                             amounts: main.balances, compare: compare?.balances, extra: extra)
            }
            let assets = try section("assets", .asset), liabilities = try section("liabilities", .liability)
            let equityAccounts = try section("equity", .equity)
            let adjustment = try MinorUnits.narrow(Int128(assets.totalMinor) - Int128(liabilities.totalMinor) - Int128(equityAccounts.totalMinor)
                                                   - Int128(main.current) - Int128(main.prior))
            let compareAdjustment = try compare.map {
                try MinorUnits.narrow(Int128(assets.compareTotalMinor ?? 0) - Int128(liabilities.compareTotalMinor ?? 0)
                                      - Int128(equityAccounts.compareTotalMinor ?? 0) - Int128($0.current) - Int128($0.prior))
            }
            let equity = try section("equity", .equity, extra: [
                ReportItem(accountId: nil, code: nil, name: "Retained earnings not yet closed", level: 0, amountMinor: main.prior,
                           compareAmountMinor: compare?.prior),
                ReportItem(accountId: nil, code: nil, name: "Current-year earnings", level: 0, amountMinor: main.current,
                           compareAmountMinor: compare?.current),
                ReportItem(accountId: nil, code: nil, name: "Currency translation adjustment", level: 0, amountMinor: adjustment,
                           compareAmountMinor: compareAdjustment),
            ])
            return CurrencyReport(currency: ledger.base_currency, sections: [assets, liabilities, equity],
                                  resultMinor: try MinorUnits.narrow(Int128(assets.totalMinor) - Int128(liabilities.totalMinor) - Int128(equity.totalMinor)),
                                  compareResultMinor: try compare.map { _ in
                                      try MinorUnits.narrow(Int128(assets.compareTotalMinor ?? 0) - Int128(liabilities.compareTotalMinor ?? 0)
                                                            - Int128(equity.compareTotalMinor ?? 0))
                                  })
        }
    }

    /// The income statement in the base currency, each foreign account's movements at the range's average rate.
    func translatedIncomeStatement(principal: Principal, range: ReportRange, compare: ReportRange?) async throws -> CurrencyReport {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            let ledger = try await LedgerStore.ledger(tenantId: principal.tenantId, db: db)
            let accounts = try await LedgerStore.allAccounts(tenantId: principal.tenantId, db: db).filter { !$0.accountType.isBalanceSheet }
            let book = try await Self.rateBook(tenantId: principal.tenantId, base: ledger.base_currency, db: db)
            func figures(_ range: ReportRange) async throws -> [String: Int64] {
                let moves = try await Self.movements(tenantId: principal.tenantId, from: range.from, to: range.to, excludingClose: true, db: db)
                var result: [String: Int64] = [:]
                for account in accounts {
                    guard let move = moves[account.id] else { continue }
                    result[account.id] = try book.translate(try MinorUnits.subtract(move.debits, move.credits), from: account.currency, at: try book.average(account.currency, over: range))
                }
                return result
            }
            let main = try await figures(range)
            let other = try await compare.asyncMap { try await figures($0) }
            let revenue = try Self.section("revenue", accounts: accounts.filter { $0.accountType == .revenue }, sign: -1, amounts: main, compare: other)
            let expenses = try Self.section("expenses", accounts: accounts.filter { $0.accountType == .expense }, sign: 1, amounts: main, compare: other)
            return CurrencyReport(currency: ledger.base_currency, sections: [revenue, expenses],
                                  resultMinor: try MinorUnits.subtract(revenue.totalMinor, expenses.totalMinor),
                                  compareResultMinor: try other.map { _ in try MinorUnits.subtract(revenue.compareTotalMinor ?? 0, expenses.compareTotalMinor ?? 0) })
        }
    }
}
