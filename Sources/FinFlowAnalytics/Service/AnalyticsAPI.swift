import FinFlowCore
import Foundation
import OpenAPIRuntime

/// The analytics service's HTTP contract (generated from `openapi.yaml`) implemented: validate, ask the desk, map.
struct AnalyticsAPI: APIProtocol {
    let desk: AnalyticsDesk

    /// The longest range one question may span, in days (ten years).
    static let rangeDaysMax = 3_660

    func getKPIs(_ input: Operations.GetKPIs.Input) async throws -> Operations.GetKPIs.Output {
        let principal = try RequestScope.require("analytics:read")
        let q = input.query
        let question = try self.question(from: q.from, to: q.to, granularity: q.granularity?.rawValue, currency: q.currency)
        let series = try await self.desk.kpis(tenantId: principal.tenantId, question)
        if q.format == .csv { return .ok(.init(body: .csv(HTTPBody(Self.csv(series))))) }
        return .ok(.init(body: .json(try Self.wire(series))))
    }

    func getDashboard(_ input: Operations.GetDashboard.Input) async throws -> Operations.GetDashboard.Output {
        let principal = try RequestScope.require("analytics:read")
        let q = input.query
        let question = try self.question(from: q.from, to: q.to, granularity: nil, currency: q.currency)
        let dashboard = try await self.desk.dashboard(tenantId: principal.tenantId, from: question.from, to: question.to, currency: question.currency)
        return .ok(.init(body: .json(try Self.wire(dashboard))))
    }

    func getBreakdown(_ input: Operations.GetBreakdown.Input) async throws -> Operations.GetBreakdown.Output {
        let principal = try RequestScope.require("analytics:read")
        let q = input.query
        var validator = Validator()
        let dimensions = AnalyticsDesk.breakdowns[q.measure]
        validator.check(dimensions != nil, "measure", "must be one of \(AnalyticsDesk.breakdowns.keys.sorted().joined(separator: ", "))")
        if let dimensions {
            validator.check(dimensions.contains(q.dimension), "dimension", "must be one of \(dimensions.sorted().joined(separator: ", ")) for \(q.measure)")
        }
        try validator.throwIfInvalid()
        let question = try self.question(from: q.from, to: q.to, granularity: nil, currency: q.currency)
        let breakdown = try await self.desk.cachedBreakdown(
            tenantId: principal.tenantId, measure: q.measure, dimension: q.dimension, from: question.from, to: question.to,
            currency: question.currency, limit: q.limit ?? 20)
        return .ok(.init(body: .json(try Self.wire(breakdown))))
    }

    func getCategoryTrends(_ input: Operations.GetCategoryTrends.Input) async throws -> Operations.GetCategoryTrends.Output {
        let principal = try RequestScope.require("analytics:read")
        let q = input.query
        let question = try self.question(from: q.from, to: q.to, granularity: q.granularity?.rawValue, currency: q.currency)
        let trends = try await self.desk.categoryTrends(tenantId: principal.tenantId, question, limit: q.limit ?? 20)
        return .ok(.init(body: .json(try Self.wire(trends))))
    }

    func getTrend(_ input: Operations.GetTrend.Input) async throws -> Operations.GetTrend.Output {
        let principal = try RequestScope.require("analytics:read")
        let q = input.query
        let question = try self.question(from: q.from, to: q.to, granularity: q.granularity?.rawValue, currency: q.currency)
        let trend = try await self.desk.trend(tenantId: principal.tenantId, kpi: q.kpi.rawValue, question)
        return .ok(.init(body: .json(try Self.wire(trend))))
    }

    // MARK: questions

    /// The range, granularity and currency asked, checked: by default the twelve months to today, by month.
    func question(from: String?, to: String?, granularity: String?, currency: String?) throws -> RangeQuestion {
        var validator = Validator()
        let today = CalendarDay(instant: self.desk.clock.now())
        let last = CalendarDay.parse(to, field: "to", into: &validator) ?? today
        let first = CalendarDay.parse(from, field: "from", into: &validator) ?? last.startOfMonth.addingMonths(-11)
        let period = granularity.flatMap(CalendarPeriod.init(rawValue:)) ?? .month
        validator.check(first <= last, "to", "must not be before from")
        let days = last.dayNumber - first.dayNumber + 1
        validator.check(days <= Self.rangeDaysMax, "from", "the range may span at most \(Self.rangeDaysMax) days")
        if first <= last, days <= Self.rangeDaysMax {
            let periods = period.starts(from: first, to: last, limit: AnalyticsDesk.periodsMax + 1).count
            validator.check(periods <= AnalyticsDesk.periodsMax, "granularity", "the range holds more than \(AnalyticsDesk.periodsMax) \(period.rawValue)s")
        }
        if let currency { validator.check(Currency(code: currency) != nil, "currency", "is not an ISO 4217 code") }
        try validator.throwIfInvalid()
        return RangeQuestion(from: first, to: last, granularity: period, currency: currency)
    }

    // MARK: answering

    /// The wire form of an answer: the answer types are the contract's schemas field for field, so the JSON of one
    /// is the other (a field renamed on one side fails the decode and the tests).
    static func wire<Wire: Decodable>(_ value: some Encodable) throws -> Wire {
        do {
            return try JSONDecoder().decode(Wire.self, from: JSONEncoder().encode(value))
        } catch {
            throw InvariantViolation("an analytics answer does not match its schema: \(error)")
        }
    }

    /// The KPI series as CSV: a row per period, a column per KPI (payment success as one column per gateway).
    static func csv(_ series: KPISeries) -> String {
        let gateways = Array(Set(series.periods.flatMap { $0.paymentSuccess.map(\.gateway) })).sorted()
        let header = [
            "from", "to", "revenue_minor", "cost_of_sales_minor", "gross_profit_minor", "gross_margin_percent", "operating_expenses_minor",
            "net_income_minor", "net_margin_percent", "cash_minor", "net_cash_flow_minor", "burn_rate_monthly_minor", "runway_months",
            "receivables_minor", "payables_minor", "days_sales_outstanding", "days_payable_outstanding", "current_assets_minor",
            "current_liabilities_minor", "current_ratio", "quick_ratio", "total_assets_minor", "total_liabilities_minor", "total_equity_minor",
            "debt_to_equity", "transaction_count", "transaction_volume_minor", "average_ticket_minor", "invoiced_minor", "billed_minor",
            "active_users",
        ] + gateways.map { "payment_success_percent_\($0)" }
        var text = header.joined(separator: ",") + "\n"
        for k in series.periods {
            let money: [Int64] = [k.revenueMinor, k.costOfSalesMinor, k.grossProfitMinor]
            var fields = [k.from, k.to] + money.map(String.init) + [Self.text(k.grossMarginPercent), "\(k.operatingExpensesMinor)"]
            fields += ["\(k.netIncomeMinor)", Self.text(k.netMarginPercent), "\(k.cashMinor)", "\(k.netCashFlowMinor)", "\(k.burnRateMonthlyMinor)"]
            fields += [Self.text(k.runwayMonths), "\(k.receivablesMinor)", "\(k.payablesMinor)", Self.text(k.daysSalesOutstanding)]
            fields += [Self.text(k.daysPayableOutstanding), "\(k.currentAssetsMinor)", "\(k.currentLiabilitiesMinor)", Self.text(k.currentRatio)]
            fields += [Self.text(k.quickRatio), "\(k.totalAssetsMinor)", "\(k.totalLiabilitiesMinor)", "\(k.totalEquityMinor)", Self.text(k.debtToEquity)]
            fields += ["\(k.transactionCount)", "\(k.transactionVolumeMinor)", k.averageTicketMinor.map { "\($0)" } ?? "", "\(k.invoicedMinor)"]
            fields += ["\(k.billedMinor)", "\(k.activeUsers)"]
            fields += gateways.map { gateway in Self.text(k.paymentSuccess.first { $0.gateway == gateway }?.successRatePercent) }
            text += fields.map(CSVRecords.field).joined(separator: ",") + "\n"
        }
        return text
    }

    static func text(_ value: Double?) -> String { value.map { "\($0)" } ?? "" }
}
