import Foundation

/// A calendar date `YYYY-MM-DD` (UTC), as transactions carry their value dates.
struct ValueDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Days since 1970-01-01.
    let dayNumber: Int
    static let yearRange = 1900...2999
    private static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// Parses `YYYY-MM-DD`; nil for anything else, or a day that does not exist.
    init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// The date of these parts; nil when no such day exists.
    init?(year: Int, month: Int, day: Int) {
        guard Self.yearRange.contains(year), (1...12).contains(month), (1...31).contains(day),
            let date = Self.calendar.date(from: DateComponents(year: year, month: month, day: day)),
            Self.calendar.component(.day, from: date) == day
        else { return nil }
        self.dayNumber = Int((date.timeIntervalSince1970 / 86_400).rounded(.down))
    }

    /// The day of an instant, in UTC.
    init(instant: Date) {
        self.dayNumber = Int((instant.timeIntervalSince1970 / 86_400).rounded(.down))
    }

    private init(dayNumber: Int) {
        self.dayNumber = dayNumber
    }

    /// The date `days` later (earlier when negative).
    func adding(days: Int) -> ValueDate { ValueDate(dayNumber: self.dayNumber + days) }

    var description: String {
        let date = Date(timeIntervalSince1970: TimeInterval(self.dayNumber) * 86_400)
        let parts = Self.calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    static func < (lhs: ValueDate, rhs: ValueDate) -> Bool { lhs.dayNumber < rhs.dayNumber }
}
