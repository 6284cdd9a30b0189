import FinFlowCore
import Foundation
import SQLKit

/// A fiscal month and its state.
struct PeriodView: Sendable {
    let key: String
    let fiscalYear: Int
    let start: LedgerDate
    let end: LedgerDate
    let status: PeriodStatus
}

extension Ledger {
    /// The twelve periods of fiscal year `year` (the current one when nil).
    func periods(principal: Principal, fiscalYear year: Int?) async throws -> [PeriodView] {
        let today = LedgerDate(instant: self.env.clock.now())
        return try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            let ledger = try await LedgerStore.ledger(tenantId: principal.tenantId, db: db)
            let calendar = FiscalCalendar(startMonth: ledger.fiscal_year_start_month)
            let fiscalYear = year ?? calendar.fiscalYear(of: today)
            guard LedgerDate.yearRange.contains(fiscalYear) else {
                throw AppError.validation([.init(field: "fiscalYear", message: "is out of range")])
            }
            let statuses = try await LedgerStore.periodStatuses(tenantId: principal.tenantId, db: db)
            return calendar.periods(ofYear: fiscalYear).map { key in
                let start = FiscalCalendar.periodStart(key)!
                return PeriodView(key: key, fiscalYear: fiscalYear, start: start, end: start.endOfMonth, status: statuses[key] ?? .open)
            }
        }
    }

    /// Moves a period to `status`: open → closed → locked, closed → open with `periods:reopen`; locked is final.
    func setPeriod(principal: Principal, key: String, to status: PeriodStatus) async throws -> PeriodView {
        guard let start = FiscalCalendar.periodStart(key) else {
            throw AppError.validation([.init(field: "period", message: "must be a month YYYY-MM")])
        }
        let now = self.now
        let kind = self.kind
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            let ledger = try await LedgerStore.ledger(tenantId: principal.tenantId, locking: .exclusive, kind: kind, db: db)
            let current = try await db.raw("""
                SELECT period, status FROM fiscal_periods WHERE tenant_id = \(bind: principal.tenantId) AND period = \(bind: key)
                \(unsafeRaw: kind == .postgres ? "FOR UPDATE" : "")
                """).first(decoding: PeriodRow.self).flatMap { PeriodStatus(rawValue: $0.status) } ?? .open
            switch (current, status) {
            case (.locked, _): throw AppError.conflict(code: "period-locked", "period \(key) is locked for good")
            case (.open, .open), (.closed, .closed): break
            case (.closed, .open):
                guard principal.has(Permissions.reopenPeriods) else {
                    throw AppError.forbidden("reopening a period needs the \(Permissions.reopenPeriods) permission")
                }
            default: break
            }
            if status != .open {
                let pending = try await db.raw("""
                    SELECT COUNT(*) AS n FROM journal_entries WHERE tenant_id = \(bind: principal.tenantId) AND status = 'pending'
                    AND accounting_date >= \(bind: start.description) AND accounting_date <= \(bind: start.endOfMonth.description)
                    """).first(decoding: CountRow.self)?.n ?? 0
                if pending > 0 {
                    throw AppError.conflict(code: "pending-entries", "\(pending) pending entries of \(key) must be posted or voided first")
                }
            }
            try await LedgerStore.setPeriod(
                tenantId: principal.tenantId, key: key, status: status, by: principal.subject, nowMillis: now, db: db)
            if current != status {
                try await self.env.audit.append(
                    AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "accounting.period.\(status.rawValue)",
                               target: key, details: ["from": current.rawValue]),
                    on: db, kind: kind)
            }
            let calendar = FiscalCalendar(startMonth: ledger.fiscal_year_start_month)
            return PeriodView(key: key, fiscalYear: calendar.fiscalYear(of: start), start: start, end: start.endOfMonth, status: status)
        }
    }
}
