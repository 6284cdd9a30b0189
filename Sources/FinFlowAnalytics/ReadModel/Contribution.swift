import FinFlowCore
import Foundation

/// What one event adds to the analytics read model: counts and sums per day and dimension, account movements, and
/// the facts about accounts, tenants and members that the figures are read with. Worked out from the event alone,
/// so applying the same events in any order, live or replayed, gives the same read model.
struct Contribution: Sendable, Equatable {
    /// One count and sum of one measure, on one day, for one value of one dimension.
    struct Fact: Sendable, Equatable {
        let measure: String
        let dimension: String
        let key: String
        /// Empty for counts that carry no money (status changes, voids).
        let currency: String
        let day: String
        let count: Int64
        let amountMinor: Int64
        let feeMinor: Int64
    }

    /// An account's trading debits and credits on one day.
    struct AccountDay: Sendable, Equatable {
        let accountId: String
        let day: String
        let debitMinor: Int64
        let creditMinor: Int64
    }

    /// How the ledger describes an account, as of `seenAtMillis`.
    struct Account: Sendable, Equatable {
        let accountId: String
        let code: String
        let name: String
        let type: String
        let cashFlowTag: String?
        let role: String?
        let currency: String
    }

    /// A tenant's name and base currency.
    struct Tenant: Sendable, Equatable {
        let name: String
        let baseCurrency: String
        let createdDay: String
    }

    /// A member's status from `changedAtMillis` on.
    struct Member: Sendable, Equatable {
        let userId: String
        let status: String
        let changedAtMillis: Int64
    }

    let tenantId: String
    /// The event's time in Unix milliseconds: the later description of an account wins.
    let atMillis: Int64
    var facts: [Fact] = []
    var accountDays: [AccountDay] = []
    var accounts: [Account] = []
    var tenant: Tenant?
    var members: [Member] = []

    /// The earliest and latest day the contribution adds figures to; nil when it adds only descriptions.
    var days: (first: String, last: String)? {
        let days = self.facts.map(\.day) + self.accountDays.map(\.day)
        guard let first = days.min(), let last = days.max() else { return nil }
        return (first, last)
    }
}

/// The bounds every figure taken from an event must keep; an event beyond them adds nothing.
enum ContributionBounds {
    /// The largest amount one event may carry, in minor units: far above any real payment, and small enough that a
    /// year of them cannot overflow a sum.
    static let amountMinorMax: Int64 = 1_000_000_000_000_000
    static let idLengthMax = 64
    /// Longer keys (counterparty names, categories) are cut to this many characters.
    static let keyLengthMax = 120
    static let nameLengthMax = 200

    static func isId(_ text: String) -> Bool { (1...Self.idLengthMax).contains(text.utf8.count) }
    static func isCurrency(_ text: String) -> Bool { text.utf8.count == 3 && text.allSatisfy { $0.isASCII && $0.isUppercase } }
    static func isAmount(_ value: Int64) -> Bool { value >= -Self.amountMinorMax && value <= Self.amountMinorMax }
    static func isDay(_ text: String) -> Bool { CalendarDay(text) != nil && text.utf8.count == 10 }

    /// A dimension's key from free text: trimmed, cut to `keyLengthMax`; nil when nothing is left.
    static func key(_ text: String?) -> String? {
        guard let text else { return nil }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : String(trimmed.prefix(Self.keyLengthMax))
    }

    /// The UTC day of a Unix-milliseconds instant, nil when it is outside the calendar's years.
    static func day(millis: Int64) -> String? {
        guard millis > 0, millis < 32_503_680_000_000 else { return nil }
        let day = CalendarDay(instant: Date(timeIntervalSince1970: Double(millis) / 1000))
        return CalendarDay.yearRange.contains(day.year) ? day.description : nil
    }
}
