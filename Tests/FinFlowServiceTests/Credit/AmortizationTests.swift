@testable import FinFlowAccounting
@testable import FinFlowCredit
import FinFlowCore
import Foundation
import Testing

@Suite("credit: annuity schedules and APR")
struct AmortizationTests {
    @Test("schedules add up to principal plus interest exactly, the last payment absorbing the rounding", arguments: 0..<200)
    func exactSchedules(seed: Int) {
        var random = SeededRandom(seed: UInt64(seed))
        let principal = Int64.random(in: 1...50_000_000, using: &random)
        let rate = Int.random(in: 0...3_000, using: &random)
        let months = Int.random(in: 1...120, using: &random)
        let schedule = Amortization.schedule(principal: principal, rateBps: rate, months: months)
        #expect(schedule.count == months)
        #expect(schedule.reduce(0) { $0 + $1.principal } == principal)
        let interest = schedule.reduce(0) { $0 + $1.interest }
        #expect(schedule.reduce(0) { $0 + $1.payment } == principal + interest)
        #expect(schedule.last?.balance == 0)
        #expect(schedule.allSatisfy { $0.payment == $0.interest + $0.principal && $0.principal >= 0 && $0.interest >= 0 })
        // Every payment but the last is the level one; the last differs by rounding only.
        let level = Amortization.payment(principal: principal, rateBps: rate, months: months)
        #expect(schedule.dropLast().allSatisfy { $0.payment == level })
        // Each rounded payment leaves up to half a minor unit, which grows with interest until the last payment.
        #expect(Double(abs(schedule.last!.payment - level)) <= Double(months) * pow(1 + Double(rate) / 120_000, Double(months)))
    }

    @Test("a textbook loan: $5,000 at 12% over 36 months pays $166.07 a month")
    func textbookPayment() {
        #expect(Amortization.payment(principal: 500_000, rateBps: 1_200, months: 36) == 16_607)
        let schedule = Amortization.schedule(principal: 500_000, rateBps: 1_200, months: 36)
        #expect(schedule[0].interest == 5_000)
        #expect(schedule[0].principal == 11_607)
        #expect(schedule.reduce(0) { $0 + $1.interest } == 97_860)
        // $1,000 at 12% over a year: $88.85.
        #expect(Amortization.payment(principal: 100_000, rateBps: 1_200, months: 12) == 8_885)
        #expect(Amortization.payment(principal: 120_000, rateBps: 0, months: 12) == 10_000)
    }

    @Test("APR by the actuarial method reproduces known examples")
    func annualRates() {
        // Regulation Z's style of example: $5,000 advanced, 36 monthly payments of $166.07 → 12.00%.
        let plain = Amortization.annualRates(advance: 500_000, payments: Array(repeating: 16_607, count: 36))
        #expect(abs(plain.apr * 100 - 12.00) < 0.005)
        #expect(abs(plain.effective * 100 - 12.68) < 0.005)
        // $1,000 advanced, 12 payments of $88.85 → 12.00%.
        let year = Amortization.annualRates(advance: 100_000, payments: Array(repeating: 8_885, count: 12))
        #expect(abs(year.apr * 100 - 12.00) < 0.005)
        // A fee kept from the advance raises the APR above the note rate: $1,000 less $20, same payments → 15.86%.
        let withFee = Amortization.annualRates(advance: 98_000, payments: Array(repeating: 8_885, count: 12))
        #expect(abs(withFee.apr * 100 - 15.86) < 0.01)
        // Payments that only return the advance cost nothing.
        #expect(Amortization.annualRates(advance: 120_000, payments: Array(repeating: 10_000, count: 12)).apr == 0)
    }

    @Test("the affordable principal's payment fits the limit, and one minor unit more would not")
    func affordability() {
        for (payment, rate, months) in [(Int64(30_000), 900, 36), (12_345, 1_500, 60), (100, 0, 12), (99_999, 2_500, 7)] {
            let principal = Amortization.principal(affordingPayment: payment, rateBps: rate, months: months)
            #expect(principal > 0)
            #expect(Amortization.payment(principal: principal, rateBps: rate, months: months) <= payment)
            #expect(Amortization.payment(principal: principal + 1, rateBps: rate, months: months) > payment)
        }
        #expect(Amortization.principal(affordingPayment: 0, rateBps: 900, months: 12) == 0)
    }

    @Test("offers: priced by grade, sized by income, declined where the policy does not lend")
    func offers() throws {
        let policy = LendingPolicy.standard
        let request = OfferRequest(
            id: nil, decisionId: UUID().uuidString, amountMinor: 1_000_000, currency: "EUR", monthlyIncomeMinor: 300_000,
            monthlyDebtPaymentsMinor: 50_000)
        let (rate, options) = try CreditDesk.options(policy: policy, grade: "B", request: request)
        #expect(rate == 900)
        #expect(options.map(\.termMonths) == policy.termsMonths)
        for option in options {
            // 15% of 3,000.00 is 450.00; 40% less 500.00 of debt is 700.00: the payment may be at most 450.00.
            #expect(option.monthlyPaymentMinor <= 45_000)
            #expect(option.amountMinor <= 1_000_000)
            #expect(option.feeMinor == option.amountMinor / 100)
            #expect(option.apr > 9.0)
            #expect(option.totalRepayableMinor == option.schedule.reduce(0) { $0 + $1.payment })
        }
        #expect(options.first!.amountMinor < options.last!.amountMinor)
        #expect(throws: AppError.self) { _ = try CreditDesk.options(policy: policy, grade: "E", request: request) }
        let broke = OfferRequest(
            id: nil, decisionId: request.decisionId, amountMinor: 1_000_000, currency: "EUR", monthlyIncomeMinor: 100_000,
            monthlyDebtPaymentsMinor: 40_000)
        #expect(throws: AppError.self) { _ = try CreditDesk.options(policy: policy, grade: "A", request: broke) }
    }
}
