import AsyncHTTPClient
import FinFlowCore
import Foundation
import Logging
import SQLKit

/// What one sync run did to one kind of document.
struct SyncCounts: Codable, Sendable, Equatable {
    var created = 0, updated = 0, deleted = 0, unchanged = 0, failed = 0
}

/// A sync of one connection: queued, running (claimed by one process, resumable from its stored plan), then succeeded
/// or failed, with what it did per kind of document and the documents it could not take.
struct SyncRun: Sendable {
    enum Status: String, Sendable { case queued, running, succeeded, failed }

    let id: String
    let connectionId: String
    let full: Bool
    let status: Status
    let plan: [SyncStep]
    let step: Int
    let counts: [String: SyncCounts]
    let errorCount: Int
    let attempts: Int
    let lastError: String?
    let requestedBy: String
    let createdAtMillis: Int64
    let startedAtMillis: Int64?
    let finishedAtMillis: Int64?
}

/// A document a sync run could not take, with the reason (the provider's words where it gave them).
struct SyncProblem: Sendable, Decodable {
    let entity: String
    let external_id: String?
    let message: String
    let at_ms: Int64
}

/// A provider document as FinFlow keeps it: the mapping between its id there and the id it has in FinFlow.
struct SyncRecord: Sendable, Decodable {
    let entity, external_id, finflow_id, version, status: String
    let label: String?
    let provider_updated_at_ms: Int64?
    let synced_at_ms: Int64
    let books_status, books_problem: String?
    /// `finflow` for a document FinFlow pushed; nil for one read from the provider.
    let origin: String?
}

/// Syncs connections: runs queued by a manager (or by the schedule), each read from the provider page by page within
/// its limits, every page applied in one transaction with the run's progress, so a run stopped anywhere resumes at the
/// first page not applied and counts nothing twice. Each document is kept against its id at the provider with its
/// version (QuickBooks' `SyncToken`, Xero's `UpdatedDateUTC`): one seen again unchanged writes nothing, one changed
/// finds its match, and its FinFlow id never changes.
final class SyncDesk: Sendable {
    let database: any Database
    let clock: any FinFlowClock
    let ids: IdentifierGenerator
    let audit: AuditLog
    let connections: ConnectionDesk
    let outbox: Outbox
    let limiters: ProviderLimiters
    let settings: Settings
    let logger: Logger

    /// How long a claimed run is left to its process before another may resume it.
    static let claimMillis: Int64 = 120_000
    /// Attempts of a run the provider keeps failing before it is given up.
    static let attemptsMax = 5
    /// Documents a run reports it could not take; past this they are counted, not listed.
    static let problemsKeptMax = 1_000
    /// The time a cursor is set back from the run's start, for clocks that disagree and writes in flight at the
    /// provider; what it reads twice is unchanged and writes nothing.
    static let overlapMillis: Int64 = 5 * 60_000
    /// How long a finished run and its problems are kept: removed when a later run of its connection succeeds.
    static let runKeepMillis: Int64 = 90 * 86_400_000

    init(env: ServiceEnvironment, connections: ConnectionDesk, limiters: ProviderLimiters) {
        self.database = env.database
        self.clock = env.clock
        self.ids = env.ids
        self.audit = env.audit
        self.connections = connections
        self.outbox = connections.outbox
        self.limiters = limiters
        self.settings = env.settings
        self.logger = env.logger
    }

    struct RunRow: Decodable {
        let id, connection_id, mode, status, plan, counts, requested_by: String
        let step, error_count, attempts: Int
        let error, claim: String?
        let created_at_ms: Int64
        let started_at_ms, finished_at_ms: Int64?
    }

    static func run(_ row: RunRow) -> SyncRun {
        SyncRun(
            id: row.id, connectionId: row.connection_id, full: row.mode == "full", status: SyncRun.Status(rawValue: row.status) ?? .failed,
            plan: (try? JSONDecoder().decode([SyncStep].self, from: Data(row.plan.utf8))) ?? [], step: row.step,
            counts: (try? JSONDecoder().decode([String: SyncCounts].self, from: Data(row.counts.utf8))) ?? [:], errorCount: row.error_count,
            attempts: row.attempts, lastError: row.error, requestedBy: row.requested_by, createdAtMillis: row.created_at_ms,
            startedAtMillis: row.started_at_ms, finishedAtMillis: row.finished_at_ms)
    }

    // MARK: requests

    /// Queues a sync of connection `connectionId`: incremental from its cursors, or `full` (everything listed again,
    /// deletions found by what is no longer listed). One run at a time per connection: a second is refused with the
    /// running one named.
    func start(connectionId: String, full: Bool, principal: Principal) async throws -> SyncRun {
        let tenantId = principal.tenantId
        let connection = try await self.connections.connection(tenantId: tenantId, id: connectionId)
        try ConnectionDesk.requireConnected(connection)
        return try await Self.queue(
            database: self.database, audit: self.audit, id: self.ids.nextString(), now: self.clock.nowMillis(), tenantId: tenantId,
            connectionId: connectionId, full: full, requestedBy: principal.subject)
    }

    /// Queues a run of a connection (audited), unless one is unfinished (409 `sync-running` naming it).
    static func queue(
        database: any Database, audit: AuditLog, id: String, now: Int64, tenantId: String, connectionId: String, full: Bool, requestedBy: String
    ) async throws -> SyncRun {
        let kind = database.kind
        let row: RunRow = try await database.tenantTransaction(tenantId: tenantId) { db in
            struct Active: Decodable { let id: String }
            if let active = try await db.raw("""
                SELECT id FROM integration_sync_runs
                WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId) AND status IN ('queued', 'running')
                """).first(decoding: Active.self)
            {
                throw AppError.conflict(code: "sync-running", "sync \(active.id) of this connection is not finished; follow it instead")
            }
            try await db.raw("""
                INSERT INTO integration_sync_runs (tenant_id, id, connection_id, mode, status, plan, step, counts, error_count, attempts,
                    requested_by, created_at_ms, updated_at_ms)
                VALUES (\(bind: tenantId), \(bind: id), \(bind: connectionId), \(bind: full ? "full" : "incremental"), 'queued', '[]', 0, '{}', 0, 0,
                    \(bind: requestedBy), \(bind: now), \(bind: now))
                """).run()
            try await audit.append(
                AuditEntry(tenantId: tenantId, actorId: requestedBy, action: "integrations.sync.started", target: "sync:\(id)",
                           details: ["connection": connectionId, "mode": full ? "full" : "incremental"]),
                on: db, kind: kind)
            return try await Self.runRow(db, tenantId: tenantId, id: id)
        }
        return Self.run(row)
    }

    static func runRow(_ db: any SQLDatabase, tenantId: String, id: String) async throws -> RunRow {
        guard let row = try await db.raw("SELECT * FROM integration_sync_runs WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id)")
            .first(decoding: RunRow.self)
        else { throw AppError.notFound("sync run") }
        return row
    }

    /// One run of this tenant.
    func run(tenantId: String, id: String) async throws -> SyncRun {
        Self.run(try await self.database.read { db in try await Self.runRow(db, tenantId: tenantId, id: id) })
    }

    /// The newest runs of a connection, newest first.
    func runs(tenantId: String, connectionId: String, limit: Int) async throws -> [SyncRun] {
        _ = try await self.connections.connection(tenantId: tenantId, id: connectionId)
        return try await self.database.read { db in
            try await db.raw("""
                SELECT * FROM integration_sync_runs WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId)
                ORDER BY id DESC LIMIT \(unsafeRaw: "\(limit)")
                """).all(decoding: RunRow.self)
        }.map(Self.run)
    }

    /// The documents run `id` could not take, in the order met.
    func problems(tenantId: String, id: String, limit: Int) async throws -> [SyncProblem] {
        _ = try await self.run(tenantId: tenantId, id: id)
        return try await self.database.read { db in
            try await db.raw("""
                SELECT entity, external_id, message, at_ms FROM integration_sync_errors WHERE tenant_id = \(bind: tenantId) AND run_id = \(bind: id)
                ORDER BY seq LIMIT \(unsafeRaw: "\(limit)")
                """).all(decoding: SyncProblem.self)
        }
    }

    /// A connection's documents of `entity` (all kinds when nil), by their id at the provider, after `after`.
    func records(tenantId: String, connectionId: String, entity: SyncEntity?, after: String?, limit: Int) async throws -> [SyncRecord] {
        _ = try await self.connections.connection(tenantId: tenantId, id: connectionId)
        let entityFilter = entity.map { SQLQueryString("AND entity = \(bind: $0.rawValue)") } ?? SQLQueryString("")
        // The cursor is the last record's `entity/externalId`.
        let afterFilter = after.map { cursor -> SQLQueryString in
            let parts = cursor.split(separator: "/", maxSplits: 1).map(String.init)
            let entity = parts.first ?? "", externalId = parts.count > 1 ? parts[1] : ""
            return SQLQueryString("AND (entity > \(bind: entity) OR (entity = \(bind: entity) AND external_id > \(bind: externalId)))")
        } ?? SQLQueryString("")
        return try await self.database.read { db in
            try await db.raw("""
                SELECT entity, external_id, finflow_id, version, status, label, provider_updated_at_ms, synced_at_ms, books_status, books_problem,
                    origin
                FROM integration_records
                WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId) \(entityFilter) \(afterFilter)
                ORDER BY entity, external_id LIMIT \(unsafeRaw: "\(limit)")
                """).all(decoding: SyncRecord.self)
        }
    }
}
