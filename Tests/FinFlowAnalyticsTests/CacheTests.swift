import FinFlowCore
import Foundation
import Testing

@testable import FinFlowAnalytics

/// The answer cache on a read model loaded from events: a repeated question is answered from it, and an event that
/// changes the tenant's figures makes the next question worked out again, with the event in it.
@Suite("analytics answer cache: hits on repeats, invalidated by events")
struct CacheTests {
    @Test("a repeated dashboard and breakdown are hits; the next event makes them misses with the new figures")
    func repeatsHitAndEventsInvalidate() async throws {
        let directory = NSTemporaryDirectory() + "finflow-analytics-cache-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bench = try await AnalyticsBenchmark.Bench.open(directory: directory)
        _ = try await AnalyticsBenchmark.load(bench, transactions: 3_650, seed: 5)
        let desk = bench.desk
        let tenant = AnalyticsBenchmark.tenantId
        let from = try #require(CalendarDay("2026-01-01")), to = try #require(CalendarDay("2026-06-30"))

        let first = try await desk.dashboard(tenantId: tenant, from: from, to: to, currency: nil)
        #expect(first.kpis.transactionCount == 181 * 10, "ten transactions a day of the half year")
        #expect(first.currency == "EUR" && first.kpis.revenueMinor > 0 && first.topCustomers.items.count == 5)
        #expect(desk.cache.counts == (0, 1))
        let again = try await desk.dashboard(tenantId: tenant, from: from, to: to, currency: nil)
        #expect(again == first && desk.cache.counts == (1, 1), "the repeat is the same answer, from the cache")
        let parties = try await desk.cachedBreakdown(
            tenantId: tenant, measure: "transactions", dimension: "counterparty", from: from, to: to, currency: nil, limit: 10)
        _ = try await desk.cachedBreakdown(
            tenantId: tenant, measure: "transactions", dimension: "counterparty", from: from, to: to, currency: nil, limit: 10)
        #expect(desk.cache.counts == (2, 2))

        let late = TransactionCreated(
            transactionId: "tx-late", tenantId: tenant, kind: "expense", amountMinor: 12_345, currency: "EUR", valueDate: "2026-03-03",
            sourceAccountId: "acct-bank", destinationAccountId: "acct-expense", counterparty: "party-new", category: "travel")
        try await bench.apply([try PublishedEvent(late, id: "late", service: "transactions", time: Date(), subject: late.transactionId, tenantId: tenant)])
        let after = try await desk.dashboard(tenantId: tenant, from: from, to: to, currency: nil)
        #expect(desk.cache.counts == (2, 3), "the event changed the version: worked out again")
        #expect(after.kpis.transactionCount == first.kpis.transactionCount + 1
                && after.kpis.transactionVolumeMinor == first.kpis.transactionVolumeMinor + 12_345)
        let newParties = try await desk.cachedBreakdown(
            tenantId: tenant, measure: "transactions", dimension: "counterparty", from: from, to: to, currency: nil, limit: 10)
        #expect(desk.cache.counts == (2, 4) && newParties.keys == parties.keys + 1)
        try await bench.database.shutdown()
    }
}

/// The text of a scheduled report: each figure with its change on the period before, the largest parties with their
/// shares, and how to stop it.
@Suite("analytics scheduled report text")
struct ReportTextTests {
    @Test("figures in the currency's units, changes signed against the period before, parties ranked with shares")
    func rendersFiguresAndChanges() throws {
        var now = KPISet(from: "2026-11-01", to: "2026-11-30"), before = KPISet(from: "2026-10-01", to: "2026-10-31")
        now.revenueMinor = 10_000
        before.revenueMinor = 8_000
        now.operatingExpensesMinor = 3_000
        before.operatingExpensesMinor = 4_000
        now.transactionCount = 7
        now.transactionVolumeMinor = 123_456
        let customers = Breakdown(
            measure: "invoices-issued", dimension: "customer", currency: "EUR", totalMinor: 10_000, keys: 2,
            items: [.init(key: "Acme", amountMinor: 7_500, count: 3, sharePercent: 75), .init(key: "Bolt", amountMinor: 2_500, count: 1, sharePercent: 25)],
            topSharePercent: 75, top5SharePercent: 100, herfindahl: 6_250)
        let empty = Breakdown(measure: "bills-posted", dimension: "vendor", currency: "EUR", totalMinor: 0, keys: 0, items: [],
                              topSharePercent: nil, top5SharePercent: nil, herfindahl: nil)
        let dashboard = Dashboard(currency: "EUR", kpis: now, previous: before, granularity: "day", series: [], topCustomers: customers,
                                  topVendors: empty, categories: empty)
        let text = ReportText.render(name: "Monthly", cadence: .monthly, from: try #require(CalendarDay("2026-11-01")),
                                     to: try #require(CalendarDay("2026-11-30")), dashboard: dashboard, reportId: "r-1")
        #expect(text.hasPrefix("Monthly: the monthly report of 2026-11-01 to 2026-11-30, in EUR\n"))
        #expect(text.contains("Revenue              100.00  (+25.0% on 80.00)"), "\(text)")
        #expect(text.contains("Operating expenses   30.00  (-25.0% on 40.00)"), "\(text)")
        #expect(text.contains("Transactions         7  (volume 1234.56)"), "\(text)")
        #expect(text.contains("Largest customers:\n  1. Acme  75.00  (75.0%)\n  2. Bolt  25.00  (25.0%)"), "\(text)")
        #expect(!text.contains("Largest vendors") && text.hasSuffix("To stop it: DELETE /v1/analytics/reports/r-1.\n"))
    }

    @Test("each cadence sends at 06:00 UTC after the period it covers")
    func cadences() throws {
        let millis: (String, Int) -> Int64 = { day, hour in Int64(CalendarDay(day)!.dayNumber) * 86_400_000 + Int64(hour) * 3_600_000 }
        // Wednesday 2026-12-02 at 10:00.
        let at = millis("2026-12-02", 10)
        #expect(ReportCadence.daily.nextRun(after: at) == millis("2026-12-03", 6))
        #expect(ReportCadence.daily.nextRun(after: millis("2026-12-02", 5)) == millis("2026-12-02", 6))
        #expect(ReportCadence.weekly.nextRun(after: at) == millis("2026-12-07", 6), "the next Monday")
        #expect(ReportCadence.monthly.nextRun(after: at) == millis("2027-01-01", 6))
        let day = ReportCadence.daily.covered(at: millis("2026-12-03", 6)), week = ReportCadence.weekly.covered(at: millis("2026-12-07", 6))
        let month = ReportCadence.monthly.covered(at: millis("2027-01-01", 6))
        #expect(day.from.description == "2026-12-02" && day.to.description == "2026-12-02")
        #expect(week.from.description == "2026-11-30" && week.to.description == "2026-12-06")
        #expect(month.from.description == "2026-12-01" && month.to.description == "2026-12-31")
    }
}
