import Foundation

/// Annuity loans in minor units: the level payment, the schedule, the APR.
///
/// Interest accrues monthly at the nominal annual rate / 12 on the outstanding balance and is rounded half-up to the
/// minor unit each period; the level payment is rounded to the minor unit; the last payment absorbs what rounding
/// left, so the principal parts add up to the principal exactly and the payments to principal plus interest exactly.
public enum Amortization {
    /// One line of a schedule.
    public struct Installment: Sendable, Equatable, Codable {
        public let number: Int
        public let payment: Int64
        public let interest: Int64
        public let principal: Int64
        /// Outstanding principal after this payment.
        public let balance: Int64
    }

    /// Bounds that keep the arithmetic exact in 64 bits and the schedules short.
    public static let principalMax: Int64 = 1_000_000_000_000
    public static let rateBpsMax = 10_000
    public static let termMonthsMax = 480

    /// The level monthly payment for `principal` over `months` at `rateBps` a year, rounded to the minor unit.
    public static func payment(principal: Int64, rateBps: Int, months: Int) -> Int64 {
        precondition(principal > 0 && principal <= principalMax && months > 0 && months <= termMonthsMax && (0...rateBpsMax).contains(rateBps))
        let i = Double(rateBps) / 120_000
        guard i > 0 else { return (principal + Int64(months) - 1) / Int64(months) }
        let payment = Double(principal) * i / (1 - pow(1 + i, -Double(months)))
        return Int64(payment.rounded())
    }

    /// The schedule of `principal` over `months` at `rateBps` a year.
    public static func schedule(principal: Int64, rateBps: Int, months: Int) -> [Installment] {
        let level = self.payment(principal: principal, rateBps: rateBps, months: months)
        var balance = principal
        var lines: [Installment] = []
        lines.reserveCapacity(months)
        for number in 1...months {
            // balance × bps / 120,000 rounded half up, in integers: balance ≤ 10^12 and bps ≤ 10^4 stay within Int64.
            let interest = (balance * Int64(rateBps) * 2 + 120_000) / 240_000
            let principalPart = number == months ? balance : min(max(level - interest, 0), balance)
            balance -= principalPart
            lines.append(Installment(number: number, payment: principalPart + interest, interest: interest, principal: principalPart, balance: balance))
        }
        return lines
    }

    /// The largest principal whose level payment over `months` at `rateBps` is at most `payment` (0 when none). The
    /// rounded payment rises by at most a minor unit per minor unit of principal, so a bisection finds it exactly.
    public static func principal(affordingPayment payment: Int64, rateBps: Int, months: Int) -> Int64 {
        guard payment > 0 else { return 0 }
        var low: Int64 = 0, high = principalMax
        while low < high {
            let middle = low + (high - low + 1) / 2
            if self.payment(principal: middle, rateBps: rateBps, months: months) <= payment { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// The monthly rate `i` at which the payments, discounted monthly, equal `advance` (the amount paid out): the
    /// actuarial method. `apr` is 12 × i (as Regulation Z states it), `effective` (1 + i)^12 − 1 (as the EU's
    /// Consumer Credit Directive does), both as fractions.
    public static func annualRates(advance: Int64, payments: [Int64]) -> (apr: Double, effective: Double) {
        precondition(advance > 0 && !payments.isEmpty)
        func presentValue(_ i: Double) -> Double {
            var total = 0.0, factor = 1.0
            for payment in payments {
                factor /= 1 + i
                total += Double(payment) * factor
            }
            return total
        }
        // Present value falls as the rate rises: bisect between 0 and a rate no loan reaches, then polish.
        var low = 0.0, high = 1.0
        if presentValue(0) <= Double(advance) { return (0, 0) }
        for _ in 0..<200 {
            let middle = (low + high) / 2
            if presentValue(middle) > Double(advance) { low = middle } else { high = middle }
            if high - low < 1e-15 { break }
        }
        let i = (low + high) / 2
        return (12 * i, pow(1 + i, 12) - 1)
    }
}
