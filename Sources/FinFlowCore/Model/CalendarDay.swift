import Foundation

/// A calendar date (`2026-03-31`), with no time and no zone: an entry's accounting date, a period's bounds, a tax
/// document's date, a rule's effective dates. Sorts and compares as its ISO 8601 text, which is how it is stored.
public struct CalendarDay: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// The earliest and latest years accepted; dates outside are typing mistakes.
    public static let yearRange = 1900...2999

    /// A validated date; nil for a day that does not exist (`2026-02-30`).
    public init?(year: Int, month: Int, day: Int) {
        guard Self.yearRange.contains(year), (1...12).contains(month), day >= 1,
            day <= Self.daysIn(year: year, month: month)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses `YYYY-MM-DD` strictly.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// A date read back from the database: one no write can store is an invariant violation (a 500 for that
    /// request), never a trap.
    public static func stored(_ text: String) throws -> CalendarDay {
        guard let date = CalendarDay(text) else { throw InvariantViolation("a stored date '\(text.prefix(32))' is not YYYY-MM-DD") }
        return date
    }

    /// The UTC date of an instant.
    public init(instant: Date) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: instant)
        self.year = parts.year!
        self.month = parts.month!
        self.day = parts.day!
    }

    public static func daysIn(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// `YYYY-MM-DD`, built digit by digit: dates are formatted several times for every posted line.
    public var description: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(10)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = max(0, value)
            if rest >= divisor * 10 { bytes.append(contentsOf: String(rest).utf8); return }
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(self.year, 4)
        bytes.append(UInt8(ascii: "-"))
        digits(self.month, 2)
        bytes.append(UInt8(ascii: "-"))
        digits(self.day, 2)
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func < (lhs: CalendarDay, rhs: CalendarDay) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    /// The first day of this date's month.
    public var startOfMonth: CalendarDay { CalendarDay(year: self.year, month: self.month, day: 1)! }

    /// The last day of this date's month.
    public var endOfMonth: CalendarDay {
        CalendarDay(year: self.year, month: self.month, day: Self.daysIn(year: self.year, month: self.month))!
    }

    /// The same day `months` months later (clamped to the month's length).
    public func addingMonths(_ months: Int) -> CalendarDay {
        let index = self.year * 12 + (self.month - 1) + months
        let year = index / 12
        let month = index % 12 + 1
        return CalendarDay(year: year, month: month, day: min(self.day, Self.daysIn(year: year, month: month)))
            ?? CalendarDay(year: Self.yearRange.upperBound, month: 12, day: 31)!
    }

    /// Days since 1970-01-01 (negative before), for day arithmetic.
    public var dayNumber: Int {
        // Howard Hinnant's days_from_civil.
        let y = self.month <= 2 ? self.year - 1 : self.year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (self.month + 9) % 12
        let doy = (153 * mp + 2) / 5 + self.day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date `days` days later.
    public func addingDays(_ days: Int) -> CalendarDay {
        let z = self.dayNumber + days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return CalendarDay(year: year, month: month, day: day)
            ?? (days < 0 ? CalendarDay(year: Self.yearRange.lowerBound, month: 1, day: 1)!
                : CalendarDay(year: Self.yearRange.upperBound, month: 12, day: 31)!)
    }

    /// Parses a caller's date, recording a field error when it is not one.
    public static func parse(_ text: String?, field: String, into validator: inout Validator) -> CalendarDay? {
        guard let text else { return nil }
        guard let date = CalendarDay(text) else {
            validator.fail(field, "must be a date YYYY-MM-DD between \(Self.yearRange.lowerBound) and \(Self.yearRange.upperBound)")
            return nil
        }
        return date
    }
}
