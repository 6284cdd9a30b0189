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
