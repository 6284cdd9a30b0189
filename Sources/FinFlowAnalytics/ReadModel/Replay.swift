import FinFlowCore
import Foundation
import SQLKit

/// Rebuilds the analytics read model from the service's journal of the events it read: the figures of every day
/// from a chosen one (all days when none is given), for one tenant or all. Every contribution is worked out from
/// its event alone and sums do not depend on order, so the rebuilt figures are the ones the live deliveries made.
public enum AnalyticsReplay {
    /// What a replay did.
    public struct Report: Sendable, Equatable {
        public let eventsRead: Int
        public let eventsApplied: Int
        public let seconds: Double
    }

    /// Journal events read and applied per step.
    static let pageSize = 2_000

    /// Rebuilds, in one transaction (live deliveries wait for it, so none is counted twice or lost), the figures of
    /// `tenantId` (nil: every tenant) on and after `from` (nil: everything, descriptions included).
    public static func run(database: any Database, tenantId: String?, from: CalendarDay?) async throws -> Report {
        let started = ContinuousClock.now
        let (read, applied) = try await database.transaction { db -> (Int, Int) in
            if database.kind == .postgres {
                // New deliveries write to the journal first: holding it keeps them out until the rebuild is committed.
                try await db.raw("LOCK TABLE analytics_journal IN EXCLUSIVE MODE").run()
            }
            try await Self.clear(tenantId: tenantId, from: from, db: db)
            var cursor = ""
            var read = 0
            var applied = 0
            while true {
                struct Row: Decodable { let event_id, topic, tenant_id, payload: String }
                var query = SQLQueryString("SELECT event_id, topic, tenant_id, payload FROM analytics_journal WHERE event_id > \(bind: cursor)")
                if let tenantId { query.appendInterpolation(unsafeRaw: " AND tenant_id = "); query.appendInterpolation(bind: tenantId) }
                if let from {
                    query.appendInterpolation(unsafeRaw: " AND (last_day IS NULL OR last_day >= ")
                    query.appendInterpolation(bind: from.description)
                    query.appendInterpolation(unsafeRaw: ")")
                }
                query.appendInterpolation(unsafeRaw: " ORDER BY event_id LIMIT \(Self.pageSize)")
                let rows = try await db.raw(query).all(decoding: Row.self)
                guard let last = rows.last else { break }
                cursor = last.event_id
                read += rows.count
                let contributions = rows.compactMap { row in
                    Contribution.of(PublishedEvent(id: row.event_id, topic: row.topic, type: "", tenantId: row.tenant_id, json: Data(row.payload.utf8)))
                }
                applied += contributions.count
                try await ReadModelWriter.apply(contributions, fromDay: from?.description, db: db)
            }
            return (read, applied)
        }
        let elapsed = ContinuousClock.now - started
        return Report(
            eventsRead: read, eventsApplied: applied,
            seconds: elapsed.inSeconds)
    }

    /// Removes the figures the replay rebuilds, and raises the versions of the tenants it touches.
    static func clear(tenantId: String?, from: CalendarDay?, db: any SQLDatabase) async throws {
        var tables = ["analytics_facts", "analytics_account_days"]
        if from == nil { tables += ["analytics_accounts", "analytics_tenants", "analytics_members"] }
        for table in tables {
            var query = SQLQueryString("DELETE FROM \(ident: table) WHERE 1 = 1")
            if let tenantId { query.appendInterpolation(unsafeRaw: " AND tenant_id = "); query.appendInterpolation(bind: tenantId) }
            if let from, table == "analytics_facts" || table == "analytics_account_days" {
                query.appendInterpolation(unsafeRaw: " AND day >= ")
                query.appendInterpolation(bind: from.description)
            }
            try await db.raw(query).run()
        }
        var bump = SQLQueryString("UPDATE analytics_versions SET version = version + 1 WHERE 1 = 1")
        if let tenantId { bump.appendInterpolation(unsafeRaw: " AND tenant_id = "); bump.appendInterpolation(bind: tenantId) }
        try await db.raw(bump).run()
    }
}
