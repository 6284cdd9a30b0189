import FinFlowCore
import Foundation
import SQLKit

/// What an operator does to the integration service from the command line, straight on its database: queue a sync of
/// a tenant's connection and follow it (a serving FinFlow carries it).
public enum IntegrationsOperator {
    /// Where a run is, for a progress bar.
    public struct Progress: Sendable {
        public let id: String
        /// queued, running, succeeded, failed.
        public let status: String
        public let stepsDone: Int
        public let steps: Int
        /// What is being read: `changes`, or the entity or Xero collection listed.
        public let current: String?
        /// Documents per outcome (created, updated, deleted, unchanged, failed), summed over kinds.
        public let totals: [String: Int]
        public let errorCount: Int
        public let lastError: String?

        public var finished: Bool { self.status == "succeeded" || self.status == "failed" }
    }

    /// Queues a sync of `connectionId` of `tenantId` (audited as the operator's); 409 while one is unfinished.
    public static func queueSync(database: any Database, tenantId: String, connectionId: String, full: Bool) async throws -> Progress {
        struct Row: Decodable { let status: String }
        guard let connection = try await database.read({ db in
            try await db.raw("SELECT status FROM integration_connections WHERE tenant_id = \(bind: tenantId) AND id = \(bind: connectionId)")
                .first(decoding: Row.self)
        }) else { throw AppError.notFound("integration connection") }
        guard connection.status == ProviderConnection.Status.connected.rawValue else {
            throw AppError.conflict(code: "connection-not-connected", "the connection is \(connection.status); a manager mends it first")
        }
        let clock = SystemClock(), ids = IdentifierGenerator(clock: clock)
        let run = try await SyncDesk.queue(
            database: database, audit: AuditLog(ids: ids, clock: clock), id: ids.nextString(),
            now: clock.nowMillis(), tenantId: tenantId, connectionId: connectionId, full: full, requestedBy: "operator")
        return Self.progress(run)
    }

    /// Where run `id` of `tenantId` is now.
    public static func progress(database: any Database, tenantId: String, id: String) async throws -> Progress {
        Self.progress(SyncDesk.run(try await database.read { db in try await SyncDesk.runRow(db, tenantId: tenantId, id: id) }))
    }

    static func progress(_ run: SyncRun) -> Progress {
        var totals = ["created": 0, "updated": 0, "deleted": 0, "unchanged": 0, "failed": 0]
        for counts in run.counts.values {
            totals["created", default: 0] += counts.created
            totals["updated", default: 0] += counts.updated
            totals["deleted", default: 0] += counts.deleted
            totals["unchanged", default: 0] += counts.unchanged
            totals["failed", default: 0] += counts.failed
        }
        let current = run.step < run.plan.count ? run.plan[run.step] : nil
        return Progress(
            id: run.id, status: run.status.rawValue, stepsDone: min(run.step, run.plan.count), steps: run.plan.count,
            current: current?.label, totals: totals, errorCount: run.errorCount,
            lastError: run.lastError)
    }
}
