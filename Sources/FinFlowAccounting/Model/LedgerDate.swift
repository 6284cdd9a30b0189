import FinFlowCore

/// A calendar date of the books: an entry's accounting date, a period's bounds, a report's range.
typealias LedgerDate = CalendarDay
