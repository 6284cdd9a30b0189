/// A length of calendar period that reports and series are cut into: days, ISO weeks (from Monday), months,
/// quarters and years (from January).
public enum CalendarPeriod: String, Sendable, CaseIterable, Codable {
    case day, week, month, quarter, year

    /// The first day of the period holding `day`.
    public func start(of day: CalendarDay) -> CalendarDay {
        switch self {
        case .day: return day
        // 1970-01-01 was a Thursday: Monday is three days before a day number divisible by 7.
        case .week: return day.addingDays(-(((day.dayNumber + 3) % 7 + 7) % 7))
        case .month: return day.startOfMonth
        case .quarter: return CalendarDay(year: day.year, month: (day.month - 1) / 3 * 3 + 1, day: 1) ?? day.startOfMonth
        case .year: return CalendarDay(year: day.year, month: 1, day: 1) ?? day.startOfMonth
        }
    }

    /// The first day of the period after the one starting on `start`.
    public func next(_ start: CalendarDay) -> CalendarDay {
        switch self {
        case .day: start.addingDays(1)
        case .week: start.addingDays(7)
        case .month: start.addingMonths(1)
        case .quarter: start.addingMonths(3)
        case .year: start.addingMonths(12)
        }
    }

    /// The period starting on `start`'s last day.
    public func last(_ start: CalendarDay) -> CalendarDay { self.next(start).addingDays(-1) }

    /// The starts of the periods overlapping `from...to`, at most `limit` of them.
    public func starts(from: CalendarDay, to: CalendarDay, limit: Int) -> [CalendarDay] {
        var result: [CalendarDay] = []
        var period = self.start(of: from)
        while period <= to && result.count < limit {
            result.append(period)
            let next = self.next(period)
            guard next > period else { break }
            period = next
        }
        return result
    }
}
