import FinFlowCore
import Foundation

/// What the advisory rules read: a tenant's books in one currency, month by month, and its invoices and bills.
struct BooksSnapshot: Sendable {
    struct Account: Sendable { var id: String; var code: String; var name: String }
    struct Document: Sendable {
        var id: String
        /// `invoice` or `bill`.
        var kind: String
        var party: String
        var total: Int64
        var applied: Int64
        var issued: CalendarDay
        var due: CalendarDay
        var settled: CalendarDay?
        var open: Bool
        var owed: Int64 { self.open ? self.total &- self.applied : 0 }
    }

    var today: CalendarDay
    var currency: String
    /// Complete months, oldest first, and each month's figures aligned with them.
    var months: [CalendarDay]
    var netCash: [Int64]
    var revenue: [Int64]
    var expenses: [String: [Int64]]
    var accounts: [String: Account]
    /// All cash movements to date (the month in progress too).
    var cashBalance: Int64
    var documents: [Document]
}

/// One piece of advice: what it is about, the money at stake, a plain sentence and the evidence behind it.
struct Advice: Codable, Sendable, Equatable {
    struct Evidence: Codable, Sendable, Equatable {
        var label: String
        var value: Int64?
        var period: String?
        /// The document or account it comes from.
        var reference: String?
    }

    var kind: String
    /// What makes it one advice rather than another of its kind (a customer, an account, a vendor).
    var subject: String
    var amountAtStake: Int64
    var sentence: String
    var evidence: [Evidence]
}

/// The advisory rules over a snapshot of the books. Each rule states its threshold; every advice carries the figures
/// it was drawn from. Ranked by money at stake.
enum Advisor {
    static func advise(_ books: BooksSnapshot) -> [Advice] {
        var advice: [Advice] = []
        advice += Self.runway(books)
        advice += Self.receivables(books)
        advice += Self.concentration(books)
        advice += Self.expenseGrowth(books)
        advice += Self.recurringCharges(books)
        advice += Self.overdue(books)
        advice += Self.seasonalLow(books)
        return advice.filter { $0.amountAtStake > 0 }.sorted { ($0.amountAtStake, $0.kind, $0.subject) > ($1.amountAtStake, $1.kind, $1.subject) }
    }

    static func money(_ minor: Int64, _ currency: String) -> String {
        let exponent = Currency(code: currency)?.exponent ?? 2
        var divisor: Int64 = 1
        for _ in 0..<exponent { divisor *= 10 }
        let whole = minor.magnitude / UInt64(divisor)
        var digits = String(whole)
        var grouped = ""
        while digits.count > 3 {
            grouped = "," + digits.suffix(3) + grouped
            digits = String(digits.dropLast(3))
        }
        return (minor < 0 ? "-" : "") + "\(currency) \(digits)\(grouped)"
    }

    static func monthName(_ day: CalendarDay) -> String {
        let names = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
        return "\(names[day.month - 1]) \(day.year)"
    }

    // MARK: cash runway

    /// The cash on hand carried forward by the forecast of monthly net cash flow (the method the backtest picks);
    /// advice when it runs out within 18 months. At stake: the cash on hand.
    static func runway(_ books: BooksSnapshot) -> [Advice] {
        guard books.netCash.count >= Forecaster.minimumHistory, books.cashBalance > 0 else { return [] }
        let horizon = 18
        guard let outcome = try? Forecaster.run(books.netCash.map(Double.init), period: 12, horizon: horizon, levels: [80], requested: nil)
        else { return [] }
        var balance = Double(books.cashBalance)
        let start = books.months.last.map { $0.addingMonths(1) } ?? books.today.startOfMonth
        for (h, flow) in outcome.forecast.mean.enumerated() {
            balance += flow
            guard balance < 0 else { continue }
            let month = start.addingMonths(h)
            let recent = Array(books.netCash.suffix(3))
            let burn = 0 &- recent.reduce(0, &+) / Int64(max(1, recent.count))
            return [Advice(
                kind: "cash-runway", subject: "cash", amountAtStake: books.cashBalance,
                sentence: "At the pace the forecast (\(outcome.method)) expects, the \(Self.money(books.cashBalance, books.currency)) of cash on hand runs out in \(Self.monthName(month)), \(h + 1) month\(h == 0 ? "" : "s") from now"
                    + (burn > 0 ? "; the last three months burned \(Self.money(burn, books.currency)) a month on average." : "."),
                evidence: [.init(label: "cash on hand", value: books.cashBalance, period: books.today.description)]
                    + zip(books.months.suffix(6), books.netCash.suffix(6)).map { .init(label: "net cash flow", value: $1, period: $0.description) }
                    + outcome.forecast.mean.prefix(h + 1).enumerated().map {
                        .init(label: "forecast net cash flow", value: InsightsDesk.minor($1), period: start.addingMonths($0).description)
                    })]
        }
        return []
    }

    // MARK: receivables and days sales outstanding

    /// What customers owed at the end of `day`: invoices issued by then and not settled by then (the open ones less
    /// what has been applied to them).
    static func receivable(_ books: BooksSnapshot, at day: CalendarDay) -> Int64 {
        books.documents.filter { $0.kind == "invoice" && $0.issued <= day && ($0.settled.map { $0 > day } ?? true) }
            .reduce(0) { $0 &+ ($1.open ? $1.total &- $1.applied : $1.total) }
    }

    /// Receivables against sales over the last three complete months and the three before: advice when receivables
    /// grew 20 points faster than sales (at stake: the excess growth), and when days sales outstanding rose by 10 days
    /// and a quarter (at stake: the receivables the rise ties up).
    static func receivables(_ books: BooksSnapshot) -> [Advice] {
        guard books.months.count >= 6, let last = books.months.last else { return [] }
        let now = last.endOfMonth, before = last.addingMonths(-3).endOfMonth
        let receivableNow = Self.receivable(books, at: now), receivableBefore = Self.receivable(books, at: before)
        let salesNow = books.revenue.suffix(3).reduce(0, &+), salesBefore = books.revenue.dropLast(3).suffix(3).reduce(0, &+)
        guard salesNow > 0, salesBefore > 0, receivableBefore > 0 else { return [] }
        var advice: [Advice] = []
        let receivableGrowth = Double(receivableNow) / Double(receivableBefore) - 1, salesGrowth = Double(salesNow) / Double(salesBefore) - 1
        let evidence: [Advice.Evidence] = [
            .init(label: "receivables", value: receivableBefore, period: before.description), .init(label: "receivables", value: receivableNow, period: now.description),
            .init(label: "sales, three months", value: salesBefore, period: last.addingMonths(-5).description),
            .init(label: "sales, three months", value: salesNow, period: last.addingMonths(-2).description),
        ]
        if receivableGrowth - salesGrowth > 0.2 {
            let excess = receivableNow &- InsightsDesk.minor(Double(receivableBefore) * (1 + salesGrowth))
            advice.append(Advice(
                kind: "receivables-outpacing-sales", subject: "receivables", amountAtStake: excess,
                sentence: "Receivables grew \(Int((receivableGrowth * 100).rounded())) % over three months while sales grew \(Int((salesGrowth * 100).rounded())) %: \(Self.money(excess, books.currency)) more is owed than sales explain.",
                evidence: evidence))
        }
        let dsoNow = Double(receivableNow) / Double(salesNow) * 91, dsoBefore = Double(receivableBefore) / Double(salesBefore) * 91
        if dsoNow - dsoBefore >= 10, dsoNow >= dsoBefore * 1.25 {
            let tied = InsightsDesk.minor(Double(receivableNow) * (dsoNow - dsoBefore) / dsoNow)
            advice.append(Advice(
                kind: "dso-rising", subject: "receivables", amountAtStake: tied,
                sentence: "Customers now take \(Int(dsoNow.rounded())) days to pay on average, up from \(Int(dsoBefore.rounded())) three months ago; the extra days tie up \(Self.money(tied, books.currency)).",
                evidence: evidence))
        }
        return advice
    }

    // MARK: customer concentration

    /// Invoiced sales of the last twelve months by customer: advice when one customer is 30 % or more of them. At
    /// stake: that customer's sales.
    static func concentration(_ books: BooksSnapshot) -> [Advice] {
        let since = books.today.addingMonths(-12)
        var byCustomer: [String: Int64] = [:]
        for document in books.documents where document.kind == "invoice" && document.issued > since { byCustomer[document.party, default: 0] &+= document.total }
        let total = byCustomer.values.reduce(0, &+)
        guard total > 0, byCustomer.count >= 2, let (customer, amount) = byCustomer.max(by: { ($0.value, $1.key) < ($1.value, $0.key) }) else { return [] }
        let share = Double(amount) / Double(total)
        guard share >= 0.3 else { return [] }
        return [Advice(
            kind: "customer-concentration", subject: customer, amountAtStake: amount,
            sentence: "Customer \(customer) accounts for \(Int((share * 100).rounded())) % of the last twelve months' invoiced sales (\(Self.money(amount, books.currency)) of \(Self.money(total, books.currency))); losing them would hurt.",
            evidence: byCustomer.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(5).map { .init(label: "invoiced, twelve months", value: $0.value, reference: $0.key) })]
    }

    // MARK: expenses past their trend

    /// Each expense account's last complete month against its six months before: advice when it is 30 % above their
    /// mean and beyond three mean absolute deviations. At stake: the excess.
    static func expenseGrowth(_ books: BooksSnapshot) -> [Advice] {
        guard books.months.count >= 7, let last = books.months.last else { return [] }
        var advice: [Advice] = []
        for (accountId, values) in books.expenses.sorted(by: { $0.key < $1.key }) {
            let prior = values.dropLast().suffix(6).map(Double.init), latest = Double(values.last ?? 0)
            let mean = prior.reduce(0, +) / Double(max(1, prior.count))
            guard mean > 0 else { continue }
            let deviation = prior.reduce(0) { $0 + abs($1 - mean) } / Double(prior.count)
            guard latest > mean * 1.3, latest > mean + 3 * deviation else { continue }
            let excess = InsightsDesk.minor(latest - mean)
            let name = books.accounts[accountId].map { "\($0.code) \($0.name)" } ?? accountId
            advice.append(Advice(
                kind: "expense-above-trend", subject: accountId, amountAtStake: excess,
                sentence: "\(name) cost \(Self.money(InsightsDesk.minor(latest), books.currency)) in \(Self.monthName(last)), \(Int(((latest / mean - 1) * 100).rounded())) % above its six-month average of \(Self.money(InsightsDesk.minor(mean), books.currency)).",
                evidence: zip(books.months.suffix(7), values.suffix(7)).map { .init(label: "expense", value: $1, period: $0.description, reference: accountId) }))
        }
        return advice
    }

    // MARK: recurring charges

    /// Vendors billed in at least three of the last four months with amounts within a fifth of their median are
    /// recurring: advice when one started within those months (at stake: a year of it) or its latest bill rose by a
    /// tenth over the median before it (at stake: a year of the rise).
    static func recurringCharges(_ books: BooksSnapshot) -> [Advice] {
        let window = books.today.startOfMonth.addingMonths(-4)
        var byVendor: [String: [BooksSnapshot.Document]] = [:]
        for document in books.documents where document.kind == "bill" { byVendor[document.party, default: []].append(document) }
        var advice: [Advice] = []
        for (vendor, bills) in byVendor.sorted(by: { $0.key < $1.key }) {
            let ordered = bills.sorted { ($0.issued, $0.id) < ($1.issued, $1.id) }
            let recent = ordered.filter { $0.issued >= window }
            let months = Set(recent.map { $0.issued.startOfMonth })
            guard months.count >= 3, let latest = recent.last else { continue }
            let earlier = recent.dropLast().map(\.total).sorted()
            let median = earlier.isEmpty ? latest.total : earlier[earlier.count / 2]
            guard median > 0, recent.dropLast().allSatisfy({ abs(Double($0.total) - Double(median)) <= 0.2 * Double(median) }) else { continue }
            let evidence = recent.map { Advice.Evidence(label: "bill", value: $0.total, period: $0.issued.description, reference: $0.id) }
            if ordered.first.map({ $0.issued >= window }) == true {
                advice.append(Advice(
                    kind: "recurring-charge-new", subject: vendor, amountAtStake: median &* 12,
                    sentence: "Vendor \(vendor) has billed about \(Self.money(median, books.currency)) a month since \(Self.monthName(ordered[0].issued)): a new recurring charge of about \(Self.money(median &* 12, books.currency)) a year.",
                    evidence: evidence))
            } else if Double(latest.total) >= Double(median) * 1.1 {
                let rise = latest.total &- median
                advice.append(Advice(
                    kind: "recurring-charge-rose", subject: vendor, amountAtStake: rise &* 12,
                    sentence: "Vendor \(vendor)'s recurring bill rose from about \(Self.money(median, books.currency)) to \(Self.money(latest.total, books.currency)) in \(Self.monthName(latest.issued)): \(Self.money(rise &* 12, books.currency)) more a year.",
                    evidence: evidence))
            }
        }
        return advice
    }

    // MARK: overdue invoices and late payers

    /// Open invoices past their due date (at stake: what they still owe), and customers whose settled invoices were
    /// paid 15 days or more late on average and who owe something now (at stake: what they owe).
    static func overdue(_ books: BooksSnapshot) -> [Advice] {
        var advice: [Advice] = []
        let overdue = books.documents.filter { $0.kind == "invoice" && $0.open && $0.owed > 0 && $0.due < books.today }
        let owed = overdue.reduce(0) { $0 &+ $1.owed }
        if owed > 0 {
            let oldest = overdue.min { $0.due < $1.due }!
            advice.append(Advice(
                kind: "overdue-invoices", subject: "receivables", amountAtStake: owed,
                sentence: "\(overdue.count) invoice\(overdue.count == 1 ? " is" : "s are") past due, owing \(Self.money(owed, books.currency)); the oldest was due on \(oldest.due) (\(books.today.dayNumber - oldest.due.dayNumber) days ago).",
                evidence: overdue.sorted { ($0.owed, $1.id) > ($1.owed, $0.id) }.prefix(10).map {
                    .init(label: "overdue, customer \($0.party)", value: $0.owed, period: $0.due.description, reference: $0.id)
                }))
        }
        var lateness: [String: [Int]] = [:]
        for document in books.documents where document.kind == "invoice" {
            if let settled = document.settled { lateness[document.party, default: []].append(settled.dayNumber - document.due.dayNumber) }
        }
        for (customer, days) in lateness.sorted(by: { $0.key < $1.key }) where days.count >= 2 {
            let mean = Double(days.reduce(0, +)) / Double(days.count)
            let owing = books.documents.filter { $0.kind == "invoice" && $0.party == customer && $0.open }.reduce(0) { $0 &+ $1.owed }
            guard mean >= 15, owing > 0 else { continue }
            advice.append(Advice(
                kind: "late-payer", subject: customer, amountAtStake: owing,
                sentence: "Customer \(customer) paid their last \(days.count) invoices \(Int(mean.rounded())) days late on average and owes \(Self.money(owing, books.currency)) now.",
                evidence: books.documents.filter { $0.kind == "invoice" && $0.party == customer }.suffix(10).map {
                    .init(label: $0.settled == nil ? "open, due" : "settled", value: $0.total, period: ($0.settled ?? $0.due).description, reference: $0.id)
                }))
        }
        return advice
    }

    // MARK: seasonality ahead

    /// With three years of monthly revenue and a season the autocorrelation test finds, the next three months'
    /// seasonal indices: advice when one of them is below 0.85 (a low season ahead). At stake: the sales below an
    /// average month over those months.
    static func seasonalLow(_ books: BooksSnapshot) -> [Advice] {
        let values = books.revenue.map(Double.init)
        guard values.count >= 36, values.allSatisfy({ $0 > 0 }), Seasonality.isSeasonal(values, period: 12), let last = books.months.last else { return [] }
        let indices = Seasonality.indices(values, period: 12, multiplicative: true)
        let average = values.suffix(12).reduce(0, +) / 12
        let ahead = (1...3).map { h -> (CalendarDay, Double) in
            let month = last.addingMonths(h)
            // Index i belongs to positions t % 12 == i, the first position being the first month of the series.
            return (month, indices[(values.count + h - 1) % 12])
        }
        let low = ahead.filter { $0.1 < 0.85 }
        guard let lowest = low.min(by: { $0.1 < $1.1 }) else { return [] }
        let shortfall = InsightsDesk.minor(ahead.reduce(0) { $0 + max(0, average * (1 - $1.1)) })
        return [Advice(
            kind: "seasonal-low", subject: "revenue", amountAtStake: shortfall,
            sentence: "Revenue is seasonal: \(Self.monthName(lowest.0)) usually brings \(Int(((1 - lowest.1) * 100).rounded())) % less than an average month; the next three months may fall \(Self.money(shortfall, books.currency)) short of an average quarter.",
            evidence: ahead.map { .init(label: "seasonal index (per thousand)", value: InsightsDesk.minor($0.1 * 1000), period: $0.0.description) }
                + zip(books.months.suffix(12), books.revenue.suffix(12)).map { .init(label: "revenue", value: $1, period: $0.description) })]
    }
}
