import FinFlowCore
import Foundation
import Testing

@testable import FinFlowInsights

/// The advisory rules on made-up books whose answers are worked out by hand, and the late-payment model.
@Suite("advice: the rules on made-up books with known answers; the late-payment model")
struct AdvisorTests {
    static let today = CalendarDay("2026-12-06")!
    /// Twelve complete months: December 2025 to November 2026.
    static let months = (0..<12).map { today.startOfMonth.addingMonths($0 - 12) }

    static func books(
        netCash: [Int64] = Array(repeating: 0, count: 12), revenue: [Int64] = Array(repeating: 0, count: 12), cashBalance: Int64 = 0,
        expenses: [String: [Int64]] = [:], documents: [BooksSnapshot.Document] = [], months: [CalendarDay] = months
    ) -> BooksSnapshot {
        BooksSnapshot(
            today: Self.today, currency: "USD", months: months, netCash: netCash, revenue: revenue, expenses: expenses,
            accounts: ["rent": .init(id: "rent", code: "6100", name: "Rent")], cashBalance: cashBalance, documents: documents)
    }

    static func invoice(_ id: String, _ customer: String, _ total: Int64, issued: CalendarDay, due: CalendarDay? = nil, settled: CalendarDay? = nil,
                        applied: Int64 = 0, kind: String = "invoice") -> BooksSnapshot.Document {
        .init(id: id, kind: kind, party: customer, total: total, applied: applied, issued: issued, due: due ?? issued.addingDays(30), settled: settled,
              open: settled == nil)
    }

    @Test("cash runway: USD 900.00 on hand burning USD 200.00 a month runs out in the fifth month")
    func runway() throws {
        let advice = Advisor.runway(Self.books(netCash: Array(repeating: -20_000, count: 12), cashBalance: 90_000))
        let runway = try #require(advice.first)
        #expect(runway.kind == "cash-runway" && runway.amountAtStake == 90_000)
        // December 2026 is the first forecast month: 90,000 − 5 × 20,000 < 0 in April 2027.
        #expect(runway.sentence.contains("April 2027") && runway.sentence.contains("5 months") && runway.sentence.contains("USD 200 a month"), "\(runway.sentence)")
        #expect(runway.evidence.first == .init(label: "cash on hand", value: 90_000, period: "2026-12-06"))
        #expect(Advisor.runway(Self.books(netCash: Array(repeating: 5_000, count: 12), cashBalance: 100_000)).isEmpty, "a growing balance has no runway")
    }

    @Test("receivables tripled while sales stood still: growth past sales, days sales outstanding up, and both invoices overdue")
    func receivables() {
        // Before (end of August): 10,000 owed; now (end of November): 30,000. Sales 50,000 every month.
        let documents = [
            Self.invoice("i1", "acme", 10_000, issued: Self.months[7]), Self.invoice("i2", "acme", 20_000, issued: Self.months[10]),
        ]
        let books = Self.books(revenue: Array(repeating: 50_000, count: 12), documents: documents)
        let advice = Advisor.receivables(books)
        #expect(advice.map(\.kind) == ["receivables-outpacing-sales", "dso-rising"])
        #expect(advice.first?.amountAtStake == 20_000, "30,000 owed where flat sales explain 10,000")
        // DSO 30,000 / 150,000 × 91 = 18.2 days against 6.07: the rise ties up 30,000 × 12.13 / 18.2 = 20,000.
        #expect(advice.last?.amountAtStake == 20_000 && advice.last?.sentence.contains("18 days") == true, "\(advice.last?.sentence ?? "")")
        let overdue = Advisor.overdue(books)
        #expect(overdue.map(\.kind) == ["overdue-invoices"] && overdue.first?.amountAtStake == 30_000)
        #expect(overdue.first?.evidence.map(\.reference) == ["i2", "i1"])
        // Receivables that grow with sales are not news.
        let steady = Self.books(revenue: Array(repeating: 50_000, count: 9) + Array(repeating: 150_000, count: 3), documents: documents)
        #expect(Advisor.receivables(steady).isEmpty)
    }

    @Test("one customer with 60 % of the year's sales is a concentration; three equal ones are not")
    func concentration() {
        let recent = Self.months[6]
        let concentrated = Advisor.concentration(Self.books(documents: [
            Self.invoice("a1", "acme", 40_000, issued: recent, settled: recent), Self.invoice("a2", "acme", 20_000, issued: recent, settled: recent),
            Self.invoice("b1", "bolt", 20_000, issued: recent, settled: recent), Self.invoice("c1", "core", 20_000, issued: recent, settled: recent),
            // Older than a year: not counted.
            Self.invoice("z1", "bolt", 900_000, issued: Self.today.addingMonths(-13), settled: Self.today.addingMonths(-13)),
        ]))
        #expect(concentrated.map(\.subject) == ["acme"] && concentrated.first?.amountAtStake == 60_000)
        #expect(concentrated.first?.sentence.contains("60 %") == true)
        let spread = Advisor.concentration(Self.books(documents: ["a", "b", "c", "d"].map { Self.invoice($0, $0, 10_000, issued: recent, settled: recent) }))
        #expect(spread.isEmpty)
    }

    @Test("an expense account 50 % above its steady six months is flagged with the excess; ordinary noise is not")
    func expenseGrowth() {
        let advice = Advisor.expenseGrowth(Self.books(expenses: [
            "rent": Array(repeating: 10_000, count: 11) + [15_000],
            "power": [900, 1_100, 1_000, 950, 1_050, 1_000, 1_000, 1_100, 900, 1_000, 1_050, 1_150],
        ]))
        #expect(advice.map(\.subject) == ["rent"] && advice.first?.amountAtStake == 5_000)
        #expect(advice.first?.sentence.contains("6100 Rent") == true && advice.first?.sentence.contains("50 %") == true, "\(advice.first?.sentence ?? "")")
        #expect(advice.first?.evidence.count == 7)
    }

    @Test("a vendor billing monthly for the last three months is a new recurring charge; another's bill rose by a quarter")
    func recurringCharges() {
        let month = { (back: Int) in Self.today.startOfMonth.addingMonths(-back).addingDays(4) }
        var documents = (1...3).map { Self.invoice("s\($0)", "saas", 1_000, issued: month($0), kind: "bill") }
        documents += (2...12).map { Self.invoice("h\($0)", "hosting", 2_000, issued: month($0), kind: "bill") }
        documents.append(Self.invoice("h1", "hosting", 2_500, issued: month(1), kind: "bill"))
        // Irregular: once.
        documents.append(Self.invoice("o1", "once", 9_000, issued: month(2), kind: "bill"))
        let advice = Advisor.recurringCharges(Self.books(documents: documents))
        #expect(advice.map(\.kind) == ["recurring-charge-rose", "recurring-charge-new"])
        #expect(advice.map(\.subject) == ["hosting", "saas"])
        #expect(advice.map(\.amountAtStake) == [6_000, 12_000])
    }

    @Test("a customer who paid 20 and 30 days late and owes 7,000 is a late payer")
    func latePayer() {
        let documents = [
            Self.invoice("p1", "slow", 5_000, issued: Self.months[2], due: Self.months[3], settled: Self.months[3].addingDays(20)),
            Self.invoice("p2", "slow", 5_000, issued: Self.months[5], due: Self.months[6], settled: Self.months[6].addingDays(30)),
            Self.invoice("p3", "slow", 7_000, issued: Self.today, due: Self.today.addingDays(30)),
            Self.invoice("q1", "prompt", 5_000, issued: Self.months[2], due: Self.months[3], settled: Self.months[3]),
            Self.invoice("q2", "prompt", 5_000, issued: Self.months[5], due: Self.months[6], settled: Self.months[6]),
            Self.invoice("q3", "prompt", 9_000, issued: Self.today, due: Self.today.addingDays(30)),
        ]
        let advice = Advisor.overdue(Self.books(documents: documents))
        #expect(advice.map(\.kind) == ["late-payer"] && advice.first?.subject == "slow" && advice.first?.amountAtStake == 7_000)
        #expect(advice.first?.sentence.contains("25 days late") == true)
    }

    @Test("three years of revenue with a winter low: the low ahead is named with the shortfall; a flat year says nothing")
    func seasonalLow() throws {
        let pattern = [0.6, 0.6, 1.0, 1.1, 1.1, 1.2, 1.2, 1.2, 1.1, 1.1, 1.1, 0.7]
        let months = (0..<36).map { Self.today.startOfMonth.addingMonths($0 - 36) }
        let revenue = months.map { Int64(100_000 * pattern[$0.month - 1]) }
        let advice = Advisor.seasonalLow(Self.books(revenue: revenue, months: months))
        let low = try #require(advice.first)
        #expect(low.kind == "seasonal-low" && low.sentence.contains("January 2027"), "\(low.sentence)")
        // The indices are the pattern over its mean (1.0 exactly): December 0.7, January and February 0.6; the
        // average month is 100,000, so the quarter falls 30,000 + 40,000 + 40,000 short.
        #expect(abs(low.amountAtStake - 110_000) <= 2, "\(low.amountAtStake)")
        #expect(Advisor.seasonalLow(Self.books(revenue: Array(repeating: 100_000, count: 36), months: months)).isEmpty)
    }

    @Test("advice is ranked by money at stake")
    func ranking() {
        let documents = [
            Self.invoice("i1", "acme", 10_000, issued: Self.months[7]), Self.invoice("i2", "bolt", 20_000, issued: Self.months[10]),
        ]
        let advice = Advisor.advise(Self.books(
            netCash: Array(repeating: -20_000, count: 12), revenue: Array(repeating: 50_000, count: 12), cashBalance: 100_000,
            expenses: ["rent": Array(repeating: 10_000, count: 11) + [15_000]], documents: documents))
        #expect(advice.map(\.amountAtStake) == advice.map(\.amountAtStake).sorted(by: >))
        #expect(advice.first?.kind == "cash-runway")
        #expect(Set(advice.map(\.kind)).isSuperset(of: ["cash-runway", "overdue-invoices", "customer-concentration", "expense-above-trend"]))
    }

    // MARK: late payments

    /// Two years of invoices from 40 customers, each with its own habit: some nearly always late, most seldom.
    static func simulatedInvoices(seed: UInt64) -> [LatePayment.Invoice] {
        var draws = NormalDraws(seed: seed)
        let propensity = (0..<40).map { $0 % 4 == 0 ? 0.85 : 0.1 }
        var invoices: [LatePayment.Invoice] = []
        for i in 0..<600 {
            let customer = Int(draws.uniform() * 40) % 40
            let issued = 20_000 + i
            let due = issued + 30
            let late = draws.uniform() < propensity[customer]
            invoices.append(.init(
                id: "inv-\(i)", customer: "c\(customer)", total: Int64(1_000 + Int(draws.uniform() * 9_000)), issued: issued, due: due,
                settled: due + (late ? 5 + Int(draws.uniform() * 40) : -Int(draws.uniform() * 10))))
        }
        return invoices
    }

    @Test("the late-payment model learns who pays late: AUC on the newest invoices, calibration bins, the same weights for the same seed")
    func latePaymentModel() {
        let invoices = Self.simulatedInvoices(seed: 5)
        let model = LatePayment.train(invoices, seed: 7)
        #expect(model.kind == "logistic" && model.trainedOn == 600 && model.weights.count == LatePayment.featureNames.count)
        #expect((model.auc ?? 0) > 0.8, "AUC \(model.auc ?? .nan)")
        #expect((model.brier ?? 1) < 0.2, "Brier \(model.brier ?? .nan)")
        #expect(!model.calibration.isEmpty && model.calibration.reduce(0) { $0 + $1.count } == 180)
        #expect(LatePayment.train(invoices, seed: 7) == model, "the same seed trains the same model")
        #expect(LatePayment.train(invoices, seed: 8).weights != model.weights, "the seed orders the batches")
        // A habitual late payer's next invoice scores well above a prompt one's.
        let next = { (customer: String) in LatePayment.Invoice(id: "n", customer: customer, total: 5_000, issued: 21_000, due: 21_030, settled: nil) }
        let histories = LatePayment.Histories(invoices)
        #expect(LatePayment.probability(model, invoice: next("c0"), histories: histories) > 0.6)
        #expect(LatePayment.probability(model, invoice: next("c1"), histories: histories) < 0.3)
    }

    @Test("with too little history the model is the customer's smoothed late share around the tenant's rate")
    func latePaymentFallback() {
        let invoices = [
            LatePayment.Invoice(id: "a", customer: "x", total: 100, issued: 0, due: 30, settled: 40),
            LatePayment.Invoice(id: "b", customer: "x", total: 100, issued: 50, due: 80, settled: 90),
            LatePayment.Invoice(id: "c", customer: "y", total: 100, issued: 0, due: 30, settled: 20),
        ]
        let model = LatePayment.train(invoices)
        #expect(model.kind == "base-rate" && model.auc == nil)
        // Tenant rate (2 + 1) / (3 + 2) = 0.6; customer x, 2 late of 2: (2 + 1.2) / 4 = 0.8.
        #expect(abs(model.baseRate - 0.6) < 1e-12)
        let open = LatePayment.Invoice(id: "d", customer: "x", total: 100, issued: 200, due: 230, settled: nil)
        let histories = LatePayment.Histories(invoices)
        #expect(abs(LatePayment.probability(model, invoice: open, histories: histories) - 0.8) < 1e-12)
        let stranger = LatePayment.Invoice(id: "e", customer: "z", total: 100, issued: 200, due: 230, settled: nil)
        #expect(abs(LatePayment.probability(model, invoice: stranger, histories: histories) - 0.6) < 1e-12)
        // The history as it stood: an invoice issued before x's first settlement sees none of it.
        let early = LatePayment.Invoice(id: "f", customer: "x", total: 100, issued: 35, due: 65, settled: nil)
        #expect(abs(LatePayment.probability(model, invoice: early, histories: histories) - 0.6) < 1e-12)
        let between = LatePayment.Invoice(id: "g", customer: "x", total: 100, issued: 60, due: 90, settled: nil)
        #expect(abs(LatePayment.probability(model, invoice: between, histories: histories) - (1 + 1.2) / 3) < 1e-12)
    }
}
