import FinFlowCore
import Foundation
import SQLKit

/// A question about a tenant's figures: a range, a granularity and a currency (nil: the tenant's base currency).
struct RangeQuestion: Sendable, Hashable {
    let from: CalendarDay
    let to: CalendarDay
    let granularity: CalendarPeriod
    let currency: String?
}

/// The KPIs of a range cut into periods.
struct KPISeries: Sendable, Codable, Equatable {
    let currency: String
    let granularity: String
    let periods: [KPISet]
}

/// The largest parties (or categories, counterparties…) of a measure over a range, with how concentrated it is.
struct Breakdown: Sendable, Codable, Equatable {
    struct Item: Sendable, Codable, Equatable {
        let key: String
        let amountMinor: Int64
        let count: Int64
        let sharePercent: Double?
    }

    let measure: String
    let dimension: String
    let currency: String
    let totalMinor: Int64
    let keys: Int
    let items: [Item]
    let topSharePercent: Double?
    let top5SharePercent: Double?
    /// The Herfindahl–Hirschman index of the shares, 0–10,000 (above 2,500: highly concentrated).
    let herfindahl: Double?
}

/// The tenant's KPI set in one answer: the range, the range before it, the range cut into periods, and the largest
/// customers, vendors and categories.
struct Dashboard: Sendable, Codable, Equatable {
    let currency: String
    let kpis: KPISet
    let previous: KPISet
    let granularity: String
    let series: [KPISet]
    let topCustomers: Breakdown
    let topVendors: Breakdown
    let categories: Breakdown
}

extension AnalyticsDesk {
    /// The measures and dimensions a breakdown may ask for.
    static let breakdowns: [String: Set<String>] = [
        "transactions": ["kind", "category", "counterparty"],
        "payments": ["succeeded", "failed", "refunded"],
        "invoices-issued": ["customer"], "invoices-settled": ["customer"], "credit-notes": ["customer"],
        "bills-posted": ["vendor"], "bills-settled": ["vendor"], "vendor-credits": ["vendor"],
        "transaction-status": ["status"], "journal-entries": ["source"],
    ]

    /// Measures that count without money: their facts carry no currency.
    static let countOnly: Set<String> = ["transaction-status", "journal-entries", "invoices-voided"]

    /// The KPIs of each period of the question.
    func kpis(tenantId: String, _ q: RangeQuestion) async throws -> KPISeries {
        let state = try await self.state(tenantId: tenantId)
        let currency = try await self.currency(tenantId: tenantId, asked: q.currency, baseCurrency: state.baseCurrency)
        let key = AnswerCache.key(tenantId: tenantId, version: state.version, question: "kpis|\(q.from)|\(q.to)|\(q.granularity)|\(currency)")
        return try await self.cache.answer(key) {
            let figures = try await self.figures(tenantId: tenantId, currency: currency, from: q.from, to: q.to)
            return KPISeries(
                currency: currency, granularity: q.granularity.rawValue,
                periods: figures.kpis(from: q.from, to: q.to, granularity: q.granularity, periodsMax: Self.periodsMax))
        }
    }

    /// The dashboard of `from...to`: its KPIs against the range of the same length before it.
    func dashboard(tenantId: String, from: CalendarDay, to: CalendarDay, currency asked: String?) async throws -> Dashboard {
        let state = try await self.state(tenantId: tenantId)
        let currency = try await self.currency(tenantId: tenantId, asked: asked, baseCurrency: state.baseCurrency)
        let key = AnswerCache.key(tenantId: tenantId, version: state.version, question: "dashboard|\(from)|\(to)|\(currency)")
        return try await self.cache.answer(key) {
            let length = to.dayNumber - from.dayNumber + 1
            let previousFrom = from.addingDays(-length)
            let figures = try await self.figures(tenantId: tenantId, currency: currency, from: previousFrom, to: to)
            let both = figures.kpis(periods: [(previousFrom, from.addingDays(-1)), (from, to)])
            let granularity: CalendarPeriod = length <= 31 ? .day : length <= 190 ? .week : .month
            let series = figures.kpis(from: from, to: to, granularity: granularity, periodsMax: Self.periodsMax)
            return Dashboard(
                currency: currency, kpis: both[1], previous: both[0], granularity: granularity.rawValue, series: series,
                topCustomers: try await self.breakdown(tenantId: tenantId, measure: "invoices-issued", dimension: "customer", from: from, to: to,
                                                       currency: currency, limit: 5),
                topVendors: try await self.breakdown(tenantId: tenantId, measure: "bills-posted", dimension: "vendor", from: from, to: to,
                                                     currency: currency, limit: 5),
                categories: try await self.breakdown(tenantId: tenantId, measure: "transactions", dimension: "category", from: from, to: to,
                                                     currency: currency, limit: 10))
        }
    }

    /// The breakdown asked over HTTP: in the currency asked (else the tenant's), answered from the cache while nothing
    /// it reads has changed.
    func cachedBreakdown(
        tenantId: String, measure: String, dimension: String, from: CalendarDay, to: CalendarDay, currency asked: String?, limit: Int
    ) async throws -> Breakdown {
        let state = try await self.state(tenantId: tenantId)
        let currency = try await self.currency(tenantId: tenantId, asked: asked, baseCurrency: state.baseCurrency)
        let key = AnswerCache.key(tenantId: tenantId, version: state.version, question: "breakdown|\(measure)|\(dimension)|\(from)|\(to)|\(currency)|\(limit)")
        return try await self.cache.answer(key) {
            try await self.breakdown(tenantId: tenantId, measure: measure, dimension: dimension, from: from, to: to, currency: currency, limit: limit)
        }
    }

    /// The largest keys of `measure` by `dimension` over the range, at most `limit`, with the concentration of all.
    func breakdown(
        tenantId: String, measure: String, dimension: String, from: CalendarDay, to: CalendarDay, currency: String, limit: Int
    ) async throws -> Breakdown {
        struct Row: Decodable { let dim_key: String; let amount: Int64; let n: Int64 }
        let factCurrency = Self.countOnly.contains(measure) ? "" : currency
        let rows = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.raw("""
                SELECT dim_key, CAST(SUM(amount_minor) AS BIGINT) AS amount, CAST(SUM(count) AS BIGINT) AS n FROM analytics_facts
                WHERE tenant_id = \(bind: tenantId) AND measure = \(bind: measure) AND dimension = \(bind: dimension)
                    AND currency = \(bind: factCurrency) AND day >= \(bind: from.description) AND day <= \(bind: to.description)
                GROUP BY dim_key
                """).all(decoding: Row.self)
        }
        // Money measures rank by amount; count-only measures by count.
        let weight: (Row) -> Int64 = factCurrency.isEmpty ? { $0.n } : { $0.amount }
        let sorted = rows.sorted { (weight($0), $1.dim_key) > (weight($1), $0.dim_key) }
        let total = sorted.reduce(Int64(0)) { $0 &+ weight($1) }
        let positive = total > 0
        let shares = positive ? sorted.map { Double(weight($0)) / Double(total) * 100 } : []
        return Breakdown(
            measure: measure, dimension: dimension, currency: factCurrency, totalMinor: sorted.reduce(Int64(0)) { $0 &+ $1.amount }, keys: sorted.count,
            items: sorted.prefix(limit).map { row in
                .init(key: row.dim_key, amountMinor: row.amount, count: row.n, sharePercent: Figures.percent(weight(row), of: total))
            },
            topSharePercent: positive ? Figures.percent(sorted.first.map(weight) ?? 0, of: total) : nil,
            top5SharePercent: positive ? Figures.percent(sorted.prefix(5).reduce(Int64(0)) { $0 &+ weight($1) }, of: total) : nil,
            herfindahl: positive ? (shares.reduce(0) { $0 + $1 * $1 } * 100).rounded() / 100 : nil)
    }
}
