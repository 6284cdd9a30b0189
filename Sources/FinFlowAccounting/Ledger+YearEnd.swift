import FinFlowCore
import Foundation
import SQLKit

/// The outcome of a year-end close: the closing entry (none when the year had no earnings) and the balance-sheet
/// balances the next year opens with.
struct YearClose: Sendable {
    let fiscalYear: Int
    let status: String
    let closingEntry: EntryRecord?
    let openingBalances: [(account: AccountRow, balanceMinor: Int64)]
}

/// A fiscal year's stored state.
struct FiscalYearRow: Codable, Sendable {
    let fiscal_year: Int
    let status: String
    let closing_entry_id: String?
}

extension Ledger {
    /// Closes fiscal year `year`: posts the entry that moves every revenue and expense balance into retained
    /// earnings (dated the year's last day), closes its twelve periods, and opens the next year with the
    /// balance-sheet balances carried. Earlier years must be closed first; a year closes once.
    func closeYear(principal: Principal, year: Int) async throws -> YearClose {
        let today = LedgerDate(instant: self.env.clock.now())
        let now = self.now
        let kind = self.kind
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            let ledger = try await LedgerStore.ledger(tenantId: principal.tenantId, locking: .exclusive, kind: kind, db: db)
            let calendar = FiscalCalendar(startMonth: ledger.fiscal_year_start_month)
            guard LedgerDate.yearRange.contains(year), LedgerDate.yearRange.contains(year + 1) else {
                throw AppError.validation([.init(field: "fiscalYear", message: "is out of range")])
            }
            let start = calendar.yearStart(year), end = calendar.yearEnd(year)
            guard end < today else { throw AppError.conflict(code: "year-not-ended", "fiscal year \(year) ends on \(end)") }
            if try await self.fiscalYear(year, tenantId: principal.tenantId, forUpdate: kind == .postgres, db: db)?.status == "closed" {
                throw AppError.conflict(code: "year-closed", "fiscal year \(year) is already closed")
            }
            let accounts = try await LedgerStore.allAccounts(tenantId: principal.tenantId, db: db)
            let earnings = accounts.filter { !$0.accountType.isBalanceSheet }
            let before = try await Self.movements(tenantId: principal.tenantId, from: nil, to: start.addingDays(-1), db: db)
            if earnings.contains(where: { before[$0.id].map { $0.debits != $0.credits } ?? false }) {
                throw AppError.conflict(code: "earlier-year-open", "an earlier fiscal year has earnings not yet closed; close it first")
            }
            let pending = try await db.raw("""
                SELECT COUNT(*) AS n FROM journal_entries WHERE tenant_id = \(bind: principal.tenantId) AND status = 'pending'
                AND accounting_date <= \(bind: end.description)
                """).first(decoding: CountRow.self)?.n ?? 0
            guard pending == 0 else { throw AppError.conflict(code: "pending-entries", "\(pending) pending entries must be posted or voided first") }
            let totals = try await Self.movements(tenantId: principal.tenantId, from: nil, to: end, db: db)
            let book = try await Self.rateBook(tenantId: principal.tenantId, base: ledger.base_currency, db: db)
            var lines: [LineRequest] = []
            // Debit-positive earnings to move, in the base currency (foreign ones at the year's average rate).
            var net: Int64 = 0
            var foreignNet: [String: Int64] = [:]
            for account in earnings.sorted(by: { $0.code < $1.code }) {
                let debitPositive = try totals[account.id].map { try MinorUnits.subtract($0.debits, $0.credits) } ?? 0
                guard debitPositive != 0 else { continue }
                lines.append(LineRequest(accountId: account.id, side: debitPositive > 0 ? .credit : .debit, amountMinor: abs(debitPositive),
                                         currency: nil, memo: nil))
                if account.currency == ledger.base_currency {
                    net = try MinorUnits.add(net, debitPositive)
                } else {
                    foreignNet[account.currency] = try MinorUnits.add(foreignNet[account.currency] ?? 0, debitPositive)
                }
            }
            // Foreign earnings close through the currency's trading accounts: the foreign side in the currency, the
            // base side at the year's average rate, so retained earnings receive what the income statement showed.
            for (currency, amount) in foreignNet.sorted(by: { $0.key < $1.key }) where amount != 0 {
                let trading = try await self.tradingAccounts(currency: currency, ledger: ledger, principal: principal, db: db)
                lines.append(LineRequest(accountId: trading.foreign, side: amount > 0 ? .debit : .credit, amountMinor: abs(amount), currency: nil, memo: nil))
                let translated = try book.translate(amount, from: currency, at: try book.average(currency, over: ReportRange(from: start, to: end)))
                if translated != 0 {
                    lines.append(LineRequest(accountId: trading.base, side: translated > 0 ? .credit : .debit, amountMinor: abs(translated),
                                             currency: nil, memo: nil))
                }
                net = try MinorUnits.add(net, translated)
            }
            var closing: EntryRecord?
            if !lines.isEmpty {
                guard let retained = accounts.first(where: { $0.system_role == SystemRole.retainedEarnings.rawValue }) else {
                    throw AppError.conflict(code: "system-account-missing", "the chart has no retained earnings account (role retained_earnings)")
                }
                if net != 0 {
                    lines.append(LineRequest(accountId: retained.id, side: net > 0 ? .debit : .credit, amountMinor: abs(net), currency: nil, memo: nil))
                }
                let closer = Principal(
                    subject: principal.subject, tenantId: principal.tenantId, roles: principal.roles,
                    permissions: principal.permissions.union([Permissions.reopenPeriods]), sessionId: principal.sessionId)
                let request = try EntryRequest.validated(
                    id: nil, date: end.description, description: "Year-end close of fiscal year \(year)", reference: "FY\(year)",
                    metadata: ["fiscalYear": String(year)], lines: lines, source: .close, mode: .post, timeoutSeconds: nil)
                closing = try await self.submit([request], principal: closer, batchId: nil, on: db).first
            }
            for key in calendar.periods(ofYear: year) {
                try await LedgerStore.setPeriod(
                    tenantId: principal.tenantId, key: key, status: .closed, by: principal.subject, nowMillis: now, onlyIfOpen: true, db: db)
            }
            try await self.setFiscalYear(year, status: "closed", closingEntryId: closing?.entry.id, principal: principal, db: db)
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "accounting.year.closed", target: String(year),
                           details: ["closingEntry": closing?.entry.id ?? "none", "netIncomeMinor": String(-net)]),
                on: db, kind: kind)
            let after = try await Self.movements(tenantId: principal.tenantId, from: nil, to: end, db: db)
            let opening = accounts.filter(\.accountType.isBalanceSheet).compactMap { account -> (AccountRow, Int64)? in
                guard let move = after[account.id] else { return nil }
                let balance = account.normalSide == .debit ? move.debits - move.credits : move.credits - move.debits
                return balance == 0 ? nil : (account, balance)
            }
            return YearClose(fiscalYear: year, status: "closed", closingEntry: closing, openingBalances: opening)
        }
    }

    /// Reopens a closed fiscal year by reversing its closing entry; later years must be open.
    func reopenYear(principal: Principal, year: Int) async throws -> YearClose {
        let kind = self.kind
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            guard let row = try await self.fiscalYear(year, tenantId: principal.tenantId, forUpdate: kind == .postgres, db: db),
                row.status == "closed"
            else { throw AppError.conflict(code: "year-open", "fiscal year \(year) is not closed") }
            let later = try await db.raw("""
                SELECT COUNT(*) AS n FROM fiscal_years WHERE tenant_id = \(bind: principal.tenantId) AND fiscal_year > \(bind: year)
                AND status = 'closed'
                """).first(decoding: CountRow.self)?.n ?? 0
            guard later == 0 else { throw AppError.conflict(code: "later-year-closed", "reopen the later fiscal years first") }
            if let closingId = row.closing_entry_id {
                _ = try await self.reverseInTransaction(principal: principal, id: closingId, date: nil, description: "Reopening of fiscal year \(year)",
                                                        newId: nil, db: db)
            }
            try await self.setFiscalYear(year, status: "open", closingEntryId: nil, principal: principal, db: db)
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "accounting.year.reopened", target: String(year)),
                on: db, kind: kind)
            return YearClose(fiscalYear: year, status: "open", closingEntry: nil, openingBalances: [])
        }
    }

    private func fiscalYear(_ year: Int, tenantId: String, forUpdate: Bool, db: any SQLDatabase) async throws -> FiscalYearRow? {
        try await db.raw("""
            SELECT fiscal_year, status, closing_entry_id FROM fiscal_years WHERE tenant_id = \(bind: tenantId)
            AND fiscal_year = \(bind: year)\(unsafeRaw: forUpdate ? " FOR UPDATE" : "")
            """).first(decoding: FiscalYearRow.self)
    }

    private func setFiscalYear(_ year: Int, status: String, closingEntryId: String?, principal: Principal, db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO fiscal_years (tenant_id, fiscal_year, status, closing_entry_id, changed_at_ms, changed_by)
            VALUES (\(bind: principal.tenantId), \(bind: year), \(bind: status), \(bind: closingEntryId), \(bind: self.now), \(bind: principal.subject))
            ON CONFLICT (tenant_id, fiscal_year) DO UPDATE SET status = excluded.status, closing_entry_id = excluded.closing_entry_id,
                changed_at_ms = excluded.changed_at_ms, changed_by = excluded.changed_by
            """).run()
    }
}
