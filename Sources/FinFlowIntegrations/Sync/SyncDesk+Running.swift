import FinFlowCore
import Foundation
import Logging
import SQLKit

extension SyncDesk {
    /// A run claimed by this process, with what it needs to go on.
    struct Claimed: Sendable {
        let tenantId: String
        let run: SyncRun
        let claim: String
        let provider: AccountingProvider
        let externalId: String
        let startedAtMillis: Int64
        var plan: [SyncStep]
        var step: Int
    }

    private struct DueRow: Decodable {
        let tenant_id, id: String
        let lease_until_ms: Int64?
    }

    /// Claims up to `limit` runs that are queued, or running with their claim lapsed (their process died, or the
    /// provider asked for a pause), each for `claimMillis`.
    func claimDue(limit: Int) async throws -> [Claimed] {
        let now = self.clock.nowMillis()
        let due = try await self.database.read { db in
            try await db.raw("""
                SELECT tenant_id, id, lease_until_ms FROM integration_sync_runs
                WHERE status = 'queued' OR (status = 'running' AND lease_until_ms <= \(bind: now))
                ORDER BY created_at_ms LIMIT \(unsafeRaw: "\(limit)")
                """).all(decoding: DueRow.self)
        }
        var claimed: [Claimed] = []
        for due in due {
            if let one = try await self.claim(due.tenant_id, due.id, lease: due.lease_until_ms, now: now) { claimed.append(one) }
        }
        return claimed
    }

    private func claim(_ tenantId: String, _ id: String, lease: Int64?, now: Int64) async throws -> Claimed? {
        let claim = Digest.randomToken(byteCount: 16)
        struct ConnectionRow: Decodable { let provider: String; let external_id: String? }
        let won: (RunRow, ConnectionRow)? = try await self.database.tenantTransaction(tenantId: tenantId) { db in
            let leaseMatch = lease.map { SQLQueryString("lease_until_ms = \(bind: $0)") } ?? SQLQueryString("lease_until_ms IS NULL")
            let updated = try await db.raw("""
                UPDATE integration_sync_runs SET status = 'running', claim = \(bind: claim), lease_until_ms = \(bind: now + Self.claimMillis),
                    started_at_ms = COALESCE(started_at_ms, \(bind: now)), updated_at_ms = \(bind: now)
                WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id) AND status IN ('queued', 'running') AND \(leaseMatch)
                RETURNING id
                """).all()
            guard !updated.isEmpty else { return nil }
            let run = try await Self.runRow(db, tenantId: tenantId, id: id)
            guard let connection = try await db.raw("""
                SELECT provider, external_id FROM integration_connections WHERE tenant_id = \(bind: tenantId) AND id = \(bind: run.connection_id)
                """).first(decoding: ConnectionRow.self)
            else { return nil }
            return (run, connection)
        }
        guard let (row, connection) = won else { return nil }
        let run = Self.run(row)
        guard let provider = AccountingProvider(rawValue: connection.provider), let externalId = connection.external_id else {
            try await self.finish(tenantId: tenantId, id: id, claim: claim, failure: "the connection has no company or organisation")
            return nil
        }
        var plan = run.plan
        if plan.isEmpty {
            let cursors = try await self.cursors(tenantId: tenantId, connectionId: run.connectionId)
            plan = SyncReader.plan(provider: provider, full: run.full, cursors: cursors, nowMillis: now)
        }
        return Claimed(
            tenantId: tenantId, run: run, claim: claim, provider: provider, externalId: externalId,
            startedAtMillis: run.startedAtMillis ?? now, plan: plan, step: run.step)
    }

    func cursors(tenantId: String, connectionId: String) async throws -> [String: Int64] {
        struct Row: Decodable { let name: String; let since_ms: Int64 }
        let rows = try await self.database.read { db in
            try await db.raw("""
                SELECT name, since_ms FROM integration_sync_cursors WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId)
                """).all(decoding: Row.self)
        }
        return Dictionary(rows.map { ($0.name, $0.since_ms) }, uniquingKeysWith: { a, _ in a })
    }

    /// Carries `claimed` through to its end: each page read and applied, until the plan is done (cursors moved, run
    /// succeeded), the provider fails it for good, or another process took the run over.
    func carry(_ claimed: Claimed) async {
        var claimed = claimed
        guard let registration = try? self.connections.oauth(claimed.provider).registration else {
            try? await self.finish(tenantId: claimed.tenantId, id: claimed.run.id, claim: claimed.claim,
                                   failure: "this FinFlow no longer has a \(claimed.provider.title) app registered")
            return
        }
        let api = ProviderAPI(
            tenantId: claimed.tenantId, connectionId: claimed.run.connectionId, provider: claimed.provider, baseURL: registration.apiURL,
            connections: self.connections, limiter: self.limiters.limiter(connectionId: claimed.run.connectionId, provider: claimed.provider),
            client: self.connections.client)
        let reader = SyncReader(api: api, externalId: claimed.externalId)
        do {
            let cursors = try await self.cursors(tenantId: claimed.tenantId, connectionId: claimed.run.connectionId)
            while claimed.step < claimed.plan.count {
                let step = claimed.plan[claimed.step]
                let page = try await reader.page(of: step, cursors: cursors)
                var plan = claimed.plan, next = claimed.step
                if let position = page.next {
                    plan[claimed.step].position = position
                } else {
                    next += 1
                }
                plan.append(contentsOf: page.capped.map { SyncStep(kind: .listing, entity: $0) })
                guard try await self.apply(page, step: step, claimed: claimed, plan: plan, next: next) else { return }
                claimed.plan = plan
                claimed.step = next
            }
            try await self.complete(claimed)
        } catch let refusal as ProviderRefusal {
            try? await self.finish(tenantId: claimed.tenantId, id: claimed.run.id, claim: claimed.claim,
                                   failure: "\(claimed.provider.title) refused the sync (HTTP \(refusal.status)): \(refusal.message)")
        } catch let error as AppError where error.kind == .unavailable {
            try? await self.later(claimed, problem: error.message)
        } catch let error as AppError {
            try? await self.finish(tenantId: claimed.tenantId, id: claimed.run.id, claim: claimed.claim, failure: error.message)
        } catch {
            self.logger.warning("a sync run stopped", metadata: ["run": "\(claimed.run.id)", "error": "\(error)"])
            try? await self.later(claimed, problem: "\(error)")
        }
    }

    /// Applies one page with the run's progress, in one transaction; answers false when the claim was lost (another
    /// process took the run over after it lapsed), in which case nothing was written.
    private func apply(_ page: SyncPage, step: SyncStep, claimed: Claimed, plan: [SyncStep], next: Int) async throws -> Bool {
        let tenantId = claimed.tenantId, connectionId = claimed.run.connectionId, runId = claimed.run.id, claim = claimed.claim
        let now = self.clock.nowMillis()
        let planJSON = String(decoding: try JSONEncoder().encode(plan), as: UTF8.self)
        // A full listing marks what it saw, so what it did not see can be found deleted when the listing ends.
        let sweeping = step.kind == .listing
        return try await self.database.tenantTransaction(tenantId: tenantId) { db in
            let row = try await Self.runRow(db, tenantId: tenantId, id: runId)
            guard row.claim == claim else { return false }
            var counts = Self.run(row).counts
            struct Existing: Decodable {
                let entity, external_id, finflow_id, version, status: String
                var origin, books_status, books_problem, pushed_content: String?
            }
            var existing: [String: Existing] = [:]
            for (entity, documents) in Dictionary(grouping: page.documents, by: \.entity) {
                for chunk in stride(from: 0, to: documents.count, by: 500).map({ Array(documents[$0..<min($0 + 500, documents.count)]) }) {
                    let rows = try await db.raw("""
                        SELECT entity, external_id, finflow_id, version, status, origin, books_status, books_problem, pushed_content
                        FROM integration_records
                        WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId) AND entity = \(bind: entity.rawValue)
                            AND external_id IN (\(binds: chunk.map(\.externalId)))
                        """).all(decoding: Existing.self)
                    for row in rows { existing[row.entity + "/" + row.external_id] = row }
                }
            }
            var books = BooksOutbound(claimed: claimed, outbox: self.outbox, db: db)
            var problems = page.problems
            for document in page.documents {
                let key = document.entity.rawValue, json = String(decoding: document.json, as: UTF8.self)
                let status = document.deleted ? "deleted" : "active"
                var tally = counts[key] ?? SyncCounts()
                defer { counts[key] = tally }
                // A journal FinFlow pushed, read back before its push was recorded (or after a new connection to the
                // same books): kept as FinFlow's, never posted again.
                if existing[key + "/" + document.externalId] == nil, let entryId = BooksPush.entryId(pushedAs: document, provider: claimed.provider),
                    try await db.raw("""
                        SELECT 1 AS one FROM integration_records WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId)
                            AND entity = \(bind: key) AND finflow_id = \(bind: entryId)
                        """).first() == nil
                {
                    let content = try await books.contentKey(document)
                    try await db.raw("""
                        INSERT INTO integration_records (tenant_id, connection_id, entity, external_id, finflow_id, version, status, label, document,
                            provider_updated_at_ms, seen_run_id, synced_at_ms, created_at_ms, books_status, origin, pushed_content)
                        VALUES (\(bind: tenantId), \(bind: connectionId), \(bind: key), \(bind: document.externalId), \(bind: entryId),
                            \(bind: document.version), \(bind: status), \(bind: document.label), \(bind: json), \(bind: document.updatedAtMillis),
                            \(bind: runId), \(bind: now), \(bind: now), 'pushed', 'finflow', \(bind: content))
                        """).run()
                    tally.created += 1
                    existing[key + "/" + document.externalId] = Existing(
                        entity: key, external_id: document.externalId, finflow_id: entryId, version: document.version, status: status,
                        origin: "finflow", books_status: "pushed", books_problem: nil, pushed_content: content)
                    continue
                }
                guard let known = existing[key + "/" + document.externalId] else {
                    let finflowId = BooksPosting.documentId(connectionId: connectionId, entity: document.entity, externalId: document.externalId)
                    let sent = try await books.send(document, documentId: finflowId)
                    try await db.raw("""
                        INSERT INTO integration_records (tenant_id, connection_id, entity, external_id, finflow_id, version, status, label, document,
                            provider_updated_at_ms, seen_run_id, synced_at_ms, created_at_ms, books_status, books_problem)
                        VALUES (\(bind: tenantId), \(bind: connectionId), \(bind: key), \(bind: document.externalId), \(bind: finflowId),
                            \(bind: document.version), \(bind: status), \(bind: document.label), \(bind: json), \(bind: document.updatedAtMillis),
                            \(bind: runId), \(bind: now), \(bind: now), \(bind: sent.status), \(bind: sent.problem?.message))
                        """).run()
                    if let problem = sent.problem { problems.append(problem) }
                    if document.deleted { tally.deleted += 1 } else { tally.created += 1 }
                    existing[key + "/" + document.externalId] = Existing(
                        entity: key, external_id: document.externalId, finflow_id: finflowId, version: document.version, status: status,
                        origin: nil, books_status: sent.status, books_problem: sent.problem?.message, pushed_content: nil)
                    continue
                }
                if known.version == document.version {
                    tally.unchanged += 1
                    if sweeping {
                        try await db.raw("""
                            UPDATE integration_records SET seen_run_id = \(bind: runId)
                            WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId) AND entity = \(bind: key)
                                AND external_id = \(bind: document.externalId)
                            """).run()
                    }
                    continue
                }
                // A document FinFlow pushed posts nothing here; changed at the provider so that it no longer posts what
                // FinFlow's entry posts, it is a conflict for a person to resolve.
                if known.origin == "finflow" {
                    let content = document.deleted ? "deleted" : try await books.contentKey(document)
                    var booksStatus = known.books_status, problem = known.books_problem
                    if content != known.pushed_content && booksStatus != "kept-provider" {
                        booksStatus = "conflict"
                        problem = document.deleted
                            ? "deleted in \(claimed.provider.title) after FinFlow pushed it"
                            : "changed in \(claimed.provider.title) after FinFlow pushed it: it no longer posts what FinFlow's entry posts"
                    }
                    try await db.raw("""
                        UPDATE integration_records SET version = \(bind: document.version), status = \(bind: status), label = \(bind: document.label),
                            document = \(bind: json), provider_updated_at_ms = \(bind: document.updatedAtMillis), seen_run_id = \(bind: runId),
                            synced_at_ms = \(bind: now), books_status = \(bind: booksStatus), books_problem = \(bind: problem)
                        WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId) AND entity = \(bind: key)
                            AND external_id = \(bind: document.externalId)
                        """).run()
                    if document.deleted && known.status != "deleted" { tally.deleted += 1 } else { tally.updated += 1 }
                    existing[key + "/" + document.externalId] = Existing(
                        entity: key, external_id: document.externalId, finflow_id: known.finflow_id, version: document.version, status: status,
                        origin: known.origin, books_status: booksStatus, books_problem: problem, pushed_content: known.pushed_content)
                    continue
                }
                let sent = try await books.send(document, documentId: known.finflow_id)
                try await db.raw("""
                    UPDATE integration_records SET version = \(bind: document.version), status = \(bind: status), label = \(bind: document.label),
                        document = \(bind: json), provider_updated_at_ms = \(bind: document.updatedAtMillis), seen_run_id = \(bind: runId),
                        synced_at_ms = \(bind: now), books_status = \(bind: sent.status), books_problem = \(bind: sent.problem?.message)
                    WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId) AND entity = \(bind: key)
                        AND external_id = \(bind: document.externalId)
                    """).run()
                if let problem = sent.problem { problems.append(problem) }
                if document.deleted && known.status != "deleted" { tally.deleted += 1 } else { tally.updated += 1 }
                existing[key + "/" + document.externalId] = Existing(
                    entity: key, external_id: document.externalId, finflow_id: known.finflow_id, version: document.version, status: status,
                    origin: nil, books_status: sent.status, books_problem: sent.problem?.message, pushed_content: nil)
            }
            // A listing that ended: what this run did not see there is gone at the provider, and out of the books.
            if sweeping, page.next == nil, let entity = step.entity {
                struct Gone: Decodable { let external_id, finflow_id: String; let label, origin: String? }
                let gone = try await db.raw("""
                    UPDATE integration_records SET status = 'deleted', version = 'deleted:swept', synced_at_ms = \(bind: now),
                        books_status = CASE WHEN origin = 'finflow' AND books_status <> 'kept-provider' THEN 'conflict' ELSE books_status END,
                        books_problem = CASE WHEN origin = 'finflow' AND books_status <> 'kept-provider'
                            THEN \(bind: "deleted in \(claimed.provider.title) after FinFlow pushed it") ELSE books_problem END
                    WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId) AND entity = \(bind: entity.rawValue)
                        AND status <> 'deleted' AND (seen_run_id IS NULL OR seen_run_id <> \(bind: runId))
                    RETURNING external_id, finflow_id, label, origin
                    """).all(decoding: Gone.self)
                for record in gone where record.origin != "finflow" {
                    _ = try await books.send(
                        ProviderDocument(entity: entity, externalId: record.external_id, version: "deleted:swept", deleted: true, updatedAtMillis: nil,
                                         label: record.label, json: Data()),
                        documentId: record.finflow_id)
                }
                counts[entity.rawValue, default: SyncCounts()].deleted += gone.count
            }
            var errorCount = row.error_count
            for problem in problems {
                counts[problem.entity.rawValue, default: SyncCounts()].failed += 1
                if errorCount < Self.problemsKeptMax {
                    try await db.raw("""
                        INSERT INTO integration_sync_errors (tenant_id, run_id, seq, entity, external_id, message, at_ms)
                        VALUES (\(bind: tenantId), \(bind: runId), \(bind: errorCount), \(bind: problem.entity.rawValue), \(bind: problem.externalId),
                            \(bind: String(problem.message.prefix(1_000))), \(bind: now))
                        """).run()
                }
                errorCount += 1
            }
            let countsJSON = String(decoding: try JSONEncoder().encode(counts), as: UTF8.self)
            try await db.raw("""
                UPDATE integration_sync_runs SET plan = \(bind: planJSON), step = \(bind: next), counts = \(bind: countsJSON),
                    error_count = \(bind: errorCount), attempts = 0, error = NULL, lease_until_ms = \(bind: now + Self.claimMillis),
                    updated_at_ms = \(bind: now)
                WHERE tenant_id = \(bind: tenantId) AND id = \(bind: runId)
                """).run()
            return true
        }
    }

    /// The plan is done: the cursors move to the run's start (less the overlap) and the run has succeeded.
    private func complete(_ claimed: Claimed) async throws {
        let tenantId = claimed.tenantId, connectionId = claimed.run.connectionId, runId = claimed.run.id, claim = claimed.claim
        let now = self.clock.nowMillis(), since = claimed.startedAtMillis - Self.overlapMillis
        let names = claimed.provider == .quickbooks ? [SyncReader.changesCursor] : ProviderDocuments.XeroFeed.allCases.map(\.rawValue)
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            let done = try await db.raw("""
                UPDATE integration_sync_runs SET status = 'succeeded', finished_at_ms = \(bind: now), lease_until_ms = NULL, claim = NULL,
                    updated_at_ms = \(bind: now)
                WHERE tenant_id = \(bind: tenantId) AND id = \(bind: runId) AND claim = \(bind: claim)
                RETURNING id
                """).all()
            guard !done.isEmpty else { return }
            // A change the provider told of before this run began is read by it.
            try await db.raw("""
                UPDATE integration_connections SET sync_wanted_at_ms = NULL
                WHERE tenant_id = \(bind: tenantId) AND id = \(bind: connectionId) AND sync_wanted_at_ms <= \(bind: claimed.startedAtMillis)
                """).run()
            for name in names {
                try await db.raw("""
                    INSERT INTO integration_sync_cursors (tenant_id, connection_id, name, since_ms, updated_at_ms)
                    VALUES (\(bind: tenantId), \(bind: connectionId), \(bind: name), \(bind: since), \(bind: now))
                    ON CONFLICT (tenant_id, connection_id, name) DO UPDATE SET since_ms = excluded.since_ms, updated_at_ms = excluded.updated_at_ms
                    """).run()
            }
            // The connection's runs that ended long ago go, with their problems, when a new one succeeds.
            let before = now - Self.runKeepMillis
            try await db.raw("""
                DELETE FROM integration_sync_errors WHERE tenant_id = \(bind: tenantId) AND run_id IN (
                    SELECT id FROM integration_sync_runs WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId)
                        AND status IN ('succeeded', 'failed') AND finished_at_ms < \(bind: before))
                """).run()
            try await db.raw("""
                DELETE FROM integration_sync_runs WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId)
                    AND status IN ('succeeded', 'failed') AND finished_at_ms < \(bind: before)
                """).run()
        }
    }

    /// Ends the run as failed with `failure` (when this process still holds it).
    func finish(tenantId: String, id: String, claim: String, failure: String) async throws {
        let now = self.clock.nowMillis()
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            try await db.raw("""
                UPDATE integration_sync_runs SET status = 'failed', error = \(bind: String(failure.prefix(1_000))), finished_at_ms = \(bind: now),
                    lease_until_ms = NULL, claim = NULL, updated_at_ms = \(bind: now)
                WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id) AND claim = \(bind: claim)
                """).run()
        }
    }

    /// The provider is away: the run is left for a later pass (a minute per attempt so far), or failed after
    /// `attemptsMax` attempts in a row without progress.
    private func later(_ claimed: Claimed, problem: String) async throws {
        let attempts = try await self.run(tenantId: claimed.tenantId, id: claimed.run.id).attempts + 1
        guard attempts < Self.attemptsMax else {
            try await self.finish(tenantId: claimed.tenantId, id: claimed.run.id, claim: claimed.claim,
                                  failure: "given up after \(attempts) attempts: \(problem)")
            return
        }
        let tenantId = claimed.tenantId, runId = claimed.run.id, claim = claimed.claim, now = self.clock.nowMillis()
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            try await db.raw("""
                UPDATE integration_sync_runs SET attempts = \(bind: attempts), error = \(bind: String(problem.prefix(1_000))),
                    lease_until_ms = \(bind: now + Int64(attempts) * 60_000), claim = NULL, updated_at_ms = \(bind: now)
                WHERE tenant_id = \(bind: tenantId) AND id = \(bind: runId) AND claim = \(bind: claim)
                """).run()
        }
    }
}
