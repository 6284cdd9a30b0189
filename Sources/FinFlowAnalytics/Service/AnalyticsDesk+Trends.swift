import FinFlowCore
import Foundation
import SQLKit

/// One KPI as a series, split into trend and season, with the dates its level shifted.
struct TrendAnalysis: Sendable, Codable, Equatable {
    struct Point: Sendable, Codable, Equatable {
        let period: String
        let value: Double
        let trend: Double?
        let seasonal: Double?
        let remainder: Double?
    }

    struct Shift: Sendable, Codable, Equatable {
        /// The first period of the new level.
        let period: String
        let meanBefore: Double
        let meanAfter: Double
        let change: Double
        let changePercent: Double?
    }

    let kpi: String
    let currency: String
    let granularity: String
    let seasonPeriods: Int
    let seasonalStrength: Double?
    let points: [Point]
    let changes: [Shift]
}

/// One category's amounts per period, against the period before and the same period a year earlier.
struct CategoryTrends: Sendable, Codable, Equatable {
    struct Period: Sendable, Codable, Equatable {
        let period: String
        let amountMinor: Int64
        let count: Int64
        let previousMinor: Int64
        let changePercent: Double?
        let yearAgoMinor: Int64
        let yearOverYearPercent: Double?
    }

    struct Category: Sendable, Codable, Equatable {
        let category: String
        let totalMinor: Int64
        let periods: [Period]
    }

    let currency: String
    let granularity: String
    let categories: [Category]
}

extension AnalyticsDesk {
    /// The KPIs a trend can follow, each read from a period's KPI set.
    static let trendKPIs: [String: @Sendable (KPISet) -> Double] = [
        "revenue": { Double($0.revenueMinor) }, "cost-of-sales": { Double($0.costOfSalesMinor) },
        "gross-profit": { Double($0.grossProfitMinor) }, "operating-expenses": { Double($0.operatingExpensesMinor) },
        "net-income": { Double($0.netIncomeMinor) }, "net-cash-flow": { Double($0.netCashFlowMinor) }, "cash": { Double($0.cashMinor) },
        "receivables": { Double($0.receivablesMinor) }, "payables": { Double($0.payablesMinor) },
        "transaction-count": { Double($0.transactionCount) }, "transaction-volume": { Double($0.transactionVolumeMinor) },
        "invoiced": { Double($0.invoicedMinor) }, "billed": { Double($0.billedMinor) }, "active-users": { Double($0.activeUsers) },
    ]

    /// The season of each granularity: a week of days, a year of weeks, months or quarters; years have none.
    static func seasonPeriods(_ granularity: CalendarPeriod) -> Int {
        switch granularity {
        case .day: 7
        case .week: 52
        case .month: 12
        case .quarter: 4
        case .year: 0
        }
    }

    /// The trend analysis of `kpi` over the question's periods.
    func trend(tenantId: String, kpi: String, _ q: RangeQuestion) async throws -> TrendAnalysis {
        guard let read = Self.trendKPIs[kpi] else { throw AppError.invalid("unknown kpi '\(kpi)'") }
        let series = try await self.kpis(tenantId: tenantId, q)
        let values = series.periods.map(read)
        let period = Self.seasonPeriods(q.granularity)
        let decomposition = Decomposition.classical(values, period: period)
        // A season is not a change of level: shifts are looked for together with it.
        let changes = period >= 2 ? ChangePoints.detect(values, seasonPeriods: period) : ChangePoints.detect(values)
        return TrendAnalysis(
            kpi: kpi, currency: series.currency, granularity: q.granularity.rawValue, seasonPeriods: period,
            seasonalStrength: decomposition?.seasonalStrength.map { ($0 * 1000).rounded() / 1000 },
            points: series.periods.enumerated().map { i, kpis in
                .init(
                    period: kpis.from, value: values[i], trend: decomposition?.trend[i].map(Self.cents),
                    seasonal: decomposition.flatMap { $0.seasonal.isEmpty ? nil : Self.cents($0.seasonal[i]) },
                    remainder: decomposition?.remainder[i].map(Self.cents))
            },
            changes: changes.map { change in
                .init(
                    period: series.periods[change.index].from, meanBefore: Self.cents(change.meanBefore), meanAfter: Self.cents(change.meanAfter),
                    change: Self.cents(change.meanAfter - change.meanBefore),
                    changePercent: change.meanBefore != 0 ? Self.cents((change.meanAfter - change.meanBefore) / abs(change.meanBefore) * 100) : nil)
            })
    }

    static func cents(_ value: Double) -> Double { value.isFinite ? (value * 100).rounded() / 100 : 0 }

    /// Transactions by category per period, each against the period before and the same period a year earlier.
    func categoryTrends(tenantId: String, _ q: RangeQuestion, limit: Int) async throws -> CategoryTrends {
        let state = try await self.state(tenantId: tenantId)
        let currency = try await self.currency(tenantId: tenantId, asked: q.currency, baseCurrency: state.baseCurrency)
        let key = AnswerCache.key(tenantId: tenantId, version: state.version, question: "categories|\(q.from)|\(q.to)|\(q.granularity)|\(currency)|\(limit)")
        return try await self.cache.answer(key) {
            let starts = q.granularity.starts(from: q.from, to: q.to, limit: Self.periodsMax)
            let earliest = Self.yearAgo(q.granularity.start(of: q.from), q.granularity)
            struct Row: Decodable { let dim_key, day: String; let count, amount_minor: Int64 }
            let rows = try await self.database.tenantRead(tenantId: tenantId) { db in
                try await db.raw("""
                    SELECT dim_key, day, count, amount_minor FROM analytics_facts
                    WHERE tenant_id = \(bind: tenantId) AND measure = 'transactions' AND dimension = 'category' AND currency = \(bind: currency)
                        AND day >= \(bind: earliest.description) AND day <= \(bind: q.to.description)
                    """).all(decoding: Row.self)
            }
            var sums: [String: [CalendarDay: (amount: Int64, count: Int64)]] = [:]
            for row in rows {
                guard let day = CalendarDay(row.day), day <= q.to else { continue }
                let start = q.granularity.start(of: day)
                let known = sums[row.dim_key, default: [:]][start] ?? (0, 0)
                sums[row.dim_key, default: [:]][start] = (known.amount &+ row.amount_minor, known.count &+ row.count)
            }
            let categories = sums.map { category, byPeriod -> CategoryTrends.Category in
                let periods = starts.map { start -> CategoryTrends.Period in
                    let now = byPeriod[start] ?? (0, 0)
                    let previous = byPeriod[q.granularity.start(of: start.addingDays(-1))]?.amount ?? 0
                    let yearAgo = byPeriod[Self.yearAgo(start, q.granularity)]?.amount ?? 0
                    return .init(
                        period: max(start, q.from).description, amountMinor: now.amount, count: now.count, previousMinor: previous,
                        changePercent: Self.change(now.amount, from: previous), yearAgoMinor: yearAgo,
                        yearOverYearPercent: Self.change(now.amount, from: yearAgo))
                }
                return .init(category: category, totalMinor: periods.reduce(Int64(0)) { $0 &+ $1.amountMinor }, periods: periods)
            }
            .filter { $0.periods.contains { $0.count > 0 } }
            .sorted { ($0.totalMinor, $1.category) > ($1.totalMinor, $0.category) }
            return CategoryTrends(currency: currency, granularity: q.granularity.rawValue, categories: Array(categories.prefix(limit)))
        }
    }

    /// The start of the period a year before the one starting on `start`: 52 weeks back for weeks, 364 days for days
    /// (the same weekday).
    static func yearAgo(_ start: CalendarDay, _ granularity: CalendarPeriod) -> CalendarDay {
        switch granularity {
        case .day: start.addingDays(-364)
        case .week: start.addingDays(-364)
        case .month, .quarter, .year: granularity.start(of: start.addingMonths(-12))
        }
    }

    /// The change from `before` to `now` in percent of `before`; nil when `before` is zero.
    static func change(_ now: Int64, from before: Int64) -> Double? {
        before != 0 ? ((Double(now) - Double(before)) / abs(Double(before)) * 10_000).rounded() / 100 : nil
    }
}
