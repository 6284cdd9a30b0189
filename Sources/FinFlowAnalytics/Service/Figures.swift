import FinFlowCore
import Foundation

/// What the KPIs of one tenant and currency are worked out from: the ledger accounts in that currency with their
/// balances before the range and their movements in it, the activity facts of the range, and the member changes.
struct Figures: Sendable {
    struct Account: Sendable {
        let id: String
        let code: String
        let name: String
        let type: String
        let cashFlowTag: String?
        let role: String?

        /// Expense accounts numbered 5xxx hold the cost of sales, by the chart's convention (1 assets, 2 liabilities,
        /// 3 equity, 4 revenue, 5 cost of sales, 6 operating expenses).
        var isCostOfSales: Bool { self.type == "expense" && self.code.hasPrefix("5") }
        var isCash: Bool { self.type == "asset" && self.cashFlowTag == "cash" }
        var isCurrentAsset: Bool { self.type == "asset" && (self.cashFlowTag == "cash" || self.cashFlowTag == "operating") }
        var isCurrentLiability: Bool { self.type == "liability" && self.cashFlowTag == "operating" }
    }

    /// One fact row of the range.
    struct Fact: Sendable {
        let measure: String
        let dimension: String
        let key: String
        let day: CalendarDay
        let count: Int64
        let amountMinor: Int64
    }

    let currency: String
    let accounts: [String: Account]
    /// Debits minus credits of each account over every day before the range.
    let opening: [String: Int64]
    /// Each account's debits minus credits per day of the range, in day order.
    let movements: [(accountId: String, day: CalendarDay, netDebitMinor: Int64)]
    let facts: [Fact]
    /// Member changes in time order.
    let members: [(userId: String, atMillis: Int64, active: Bool)]
}

/// One period's key figures. Money in minor units of the figures' currency; ratios and percentages as numbers
/// (nil where the divisor is zero or the figure has no meaning, as a runway without a burn).
struct KPISet: Sendable, Codable, Equatable {
    var from: String
    var to: String
    var revenueMinor: Int64 = 0
    var costOfSalesMinor: Int64 = 0
    var grossProfitMinor: Int64 = 0
    var grossMarginPercent: Double?
    var operatingExpensesMinor: Int64 = 0
    var netIncomeMinor: Int64 = 0
    var netMarginPercent: Double?
    var cashMinor: Int64 = 0
    var netCashFlowMinor: Int64 = 0
    var burnRateMonthlyMinor: Int64 = 0
    var runwayMonths: Double?
    var receivablesMinor: Int64 = 0
    var payablesMinor: Int64 = 0
    var daysSalesOutstanding: Double?
    var daysPayableOutstanding: Double?
    var currentAssetsMinor: Int64 = 0
    var currentLiabilitiesMinor: Int64 = 0
    var currentRatio: Double?
    var quickRatio: Double?
    var totalAssetsMinor: Int64 = 0
    var totalLiabilitiesMinor: Int64 = 0
    var totalEquityMinor: Int64 = 0
    var debtToEquity: Double?
    var transactionCount: Int64 = 0
    var transactionVolumeMinor: Int64 = 0
    var averageTicketMinor: Int64?
    var invoicedMinor: Int64 = 0
    var billedMinor: Int64 = 0
    var paymentSuccess: [GatewayRate] = []
    var activeUsers: Int = 0

    /// A gateway's payments in the period and the share that succeeded.
    struct GatewayRate: Sendable, Codable, Equatable {
        let gateway: String
        let succeeded: Int64
        let failed: Int64
        let successRatePercent: Double?
    }
}

extension Figures {
    /// The KPIs of each period of `granularity` overlapping `from...to` (the first and last cut to the range).
    func kpis(from: CalendarDay, to: CalendarDay, granularity: CalendarPeriod, periodsMax: Int) -> [KPISet] {
        self.kpis(periods: granularity.starts(from: from, to: to, limit: periodsMax).map { start in
            (max(start, from), min(granularity.last(start), to))
        })
    }

    /// The KPIs of each of `periods`, given in order without overlap.
    func kpis(periods: [(first: CalendarDay, last: CalendarDay)]) -> [KPISet] {
        var balances = self.opening
        var movementIndex = 0
        let movements = self.movements
        return periods.map { first, last in
            var flow: [String: Int64] = [:]
            while movementIndex < movements.count, movements[movementIndex].day <= last {
                let m = movements[movementIndex]
                movementIndex += 1
                // What moved before the period (loaded with a longer range) is part of its opening balances.
                if m.day < first {
                    balances[m.accountId, default: 0] &+= m.netDebitMinor
                } else {
                    flow[m.accountId, default: 0] &+= m.netDebitMinor
                }
            }
            let before = balances
            for (id, value) in flow { balances[id, default: 0] &+= value }
            return self.kpis(first: first, last: last, flow: flow, before: before, after: balances)
        }
    }

    private func kpis(first: CalendarDay, last: CalendarDay, flow: [String: Int64], before: [String: Int64], after: [String: Int64]) -> KPISet {
        var k = KPISet(from: first.description, to: last.description)
        let days = Double(last.dayNumber - first.dayNumber + 1)
        func sum(_ values: [String: Int64], _ include: (Account) -> Bool) -> Int64 {
            values.reduce(0) { total, item in (self.accounts[item.key].map(include) ?? false) ? total &+ item.value : total }
        }
        k.revenueMinor = 0 &- sum(flow) { $0.type == "revenue" }
        let expenses = sum(flow) { $0.type == "expense" }
        k.costOfSalesMinor = sum(flow) { $0.isCostOfSales }
        k.grossProfitMinor = k.revenueMinor &- k.costOfSalesMinor
        k.operatingExpensesMinor = expenses &- k.costOfSalesMinor
        k.netIncomeMinor = k.revenueMinor &- expenses
        k.grossMarginPercent = Self.percent(k.grossProfitMinor, of: k.revenueMinor)
        k.netMarginPercent = Self.percent(k.netIncomeMinor, of: k.revenueMinor)

        k.cashMinor = sum(after) { $0.isCash }
        k.netCashFlowMinor = k.cashMinor &- sum(before) { $0.isCash }
        if k.netCashFlowMinor < 0 {
            k.burnRateMonthlyMinor = Self.minor(Double(0 &- k.netCashFlowMinor) * 30 / days)
            k.runwayMonths = k.cashMinor > 0 ? Self.rounded(Double(k.cashMinor) / Double(k.burnRateMonthlyMinor)) : 0
        }
        k.receivablesMinor = sum(after) { $0.role == "receivables" }
        k.payablesMinor = 0 &- sum(after) { $0.role == "payables" }
        if k.revenueMinor > 0 { k.daysSalesOutstanding = Self.rounded(Double(k.receivablesMinor) / Double(k.revenueMinor) * days) }
        let purchases = k.costOfSalesMinor > 0 ? k.costOfSalesMinor : expenses
        if purchases > 0 { k.daysPayableOutstanding = Self.rounded(Double(k.payablesMinor) / Double(purchases) * days) }

        k.currentAssetsMinor = sum(after) { $0.isCurrentAsset }
        k.currentLiabilitiesMinor = 0 &- sum(after) { $0.isCurrentLiability }
        k.currentRatio = Self.ratio(k.currentAssetsMinor, k.currentLiabilitiesMinor)
        k.quickRatio = Self.ratio(sum(after) { $0.isCash || $0.role == "receivables" }, k.currentLiabilitiesMinor)
        k.totalAssetsMinor = sum(after) { $0.type == "asset" }
        k.totalLiabilitiesMinor = 0 &- sum(after) { $0.type == "liability" }
        // Closing entries are not in the movements, so the profit of every year so far is still in the revenue and
        // expense accounts: equity is the equity accounts plus that profit, as the balance sheet shows it.
        k.totalEquityMinor = 0 &- sum(after) { $0.type == "equity" || $0.type == "revenue" || $0.type == "expense" }
        k.debtToEquity = k.totalEquityMinor > 0 ? Self.ratio(k.totalLiabilitiesMinor, k.totalEquityMinor) : nil

        self.activity(into: &k, first: first, last: last)
        return k
    }

    private func activity(into k: inout KPISet, first: CalendarDay, last: CalendarDay) {
        var gateways: [String: (succeeded: Int64, failed: Int64)] = [:]
        for fact in self.facts where fact.day >= first && fact.day <= last {
            switch (fact.measure, fact.dimension) {
            case ("transactions", "all"):
                k.transactionCount &+= fact.count
                k.transactionVolumeMinor &+= fact.amountMinor
            case ("invoices-issued", "all"): k.invoicedMinor &+= fact.amountMinor
            case ("credit-notes", "all"): k.invoicedMinor &-= fact.amountMinor
            case ("bills-posted", "all"): k.billedMinor &+= fact.amountMinor
            case ("vendor-credits", "all"): k.billedMinor &-= fact.amountMinor
            case ("payments", "succeeded"): gateways[fact.key, default: (0, 0)].succeeded &+= fact.count
            case ("payments", "failed"): gateways[fact.key, default: (0, 0)].failed &+= fact.count
            default: break
            }
        }
        k.averageTicketMinor = k.transactionCount > 0 ? k.transactionVolumeMinor / k.transactionCount : nil
        k.paymentSuccess = gateways.sorted { $0.key < $1.key }.map { gateway, counts in
            KPISet.GatewayRate(
                gateway: gateway, succeeded: counts.succeeded, failed: counts.failed,
                successRatePercent: Self.percent(counts.succeeded, of: counts.succeeded &+ counts.failed))
        }
        let endMillis = Int64(last.addingDays(1).dayNumber) * 86_400_000
        var latest: [String: Bool] = [:]
        for change in self.members where change.atMillis < endMillis { latest[change.userId] = change.active }
        k.activeUsers = latest.values.filter { $0 }.count
    }

    /// A computed amount back in minor units, rounded and held within Int64 (sums of bounded event amounts can still,
    /// in a pathological flood, wrap to an extreme; a conversion out of range would trap).
    static func minor(_ value: Double) -> Int64 {
        guard value.isFinite else { return 0 }
        return Int64(exactly: value.rounded()) ?? (value < 0 ? .min : .max)
    }

    /// `part` as a percentage of `whole`, to two decimals; nil when `whole` is not positive.
    static func percent(_ part: Int64, of whole: Int64) -> Double? {
        whole > 0 ? (Double(part) / Double(whole) * 10_000).rounded() / 100 : nil
    }

    /// `a / b` to four decimals; nil when `b` is not positive.
    static func ratio(_ a: Int64, _ b: Int64) -> Double? {
        b > 0 ? (Double(a) / Double(b) * 10_000).rounded() / 10_000 : nil
    }

    static func rounded(_ value: Double) -> Double? {
        value.isFinite ? (value * 100).rounded() / 100 : nil
    }
}
