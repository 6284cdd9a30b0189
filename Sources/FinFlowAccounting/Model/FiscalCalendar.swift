import FinFlowCore

/// Fiscal years and their monthly periods, from the tenant's start month. A fiscal year is named by the calendar
/// year in which it starts (a year starting in April 2026 is fiscal year 2026); a period is a calendar month,
/// keyed `YYYY-MM`.
struct FiscalCalendar: Sendable {
    let startMonth: Int

    /// The period key of `date`.
    static func periodKey(_ date: LedgerDate) -> String {
        String(date.description.prefix(7))
    }

    /// The first day of the period `key` (`2026-03`), or nil when it is not one.
    static func periodStart(_ key: String) -> LedgerDate? {
        guard key.count == 7 else { return nil }
        return LedgerDate(key + "-01")
    }

    /// The fiscal year `date` belongs to.
    func fiscalYear(of date: LedgerDate) -> Int {
        date.month >= self.startMonth ? date.year : date.year - 1
    }

    /// The first day of fiscal year `year`.
    func yearStart(_ year: Int) -> LedgerDate {
        LedgerDate(year: year, month: self.startMonth, day: 1)!
    }

    /// The last day of fiscal year `year`.
    func yearEnd(_ year: Int) -> LedgerDate {
        self.yearStart(year).addingMonths(12).addingDays(-1)
    }

    /// The twelve period keys of fiscal year `year`, in order.
    func periods(ofYear year: Int) -> [String] {
        (0..<12).map { Self.periodKey(self.yearStart(year).addingMonths($0)) }
    }
}

/// The permissions the accounting service checks.
enum Permissions {
    static let readAccounts = "accounts:read"
    static let manageAccounts = "accounts:manage"
    static let readJournal = "journal:read"
    static let post = "journal:post"
    static let approve = "journal:approve"
    static let closePeriods = "periods:close"
    static let reopenPeriods = "periods:reopen"
    static let readStatements = "statements:read"
}
