import FinFlowCore
import Foundation
import Logging
import NIOHTTP1
import SQLKit

/// A ledger entry queued for, pushed to, or refused by one connection's books.
struct PushRecord: Sendable, Decodable {
    let tenant_id, connection_id, entry_id, payload, status, idempotency_key: String
    let attempts: Int
    let next_attempt_at_ms: Int64?
    let external_id, error: String?
    /// What the push made: `journal_entry`, `invoice`, `bill`, `payment`, `bill_payment`.
    let entity: String?
    let created_at_ms, updated_at_ms: Int64
    let pushed_at_ms: Int64?
}

/// Pushing FinFlow's ledger to a connection's books: turned on by a manager (with a catch-up from a date), each
/// shared entry queued once per connection, pushed with an idempotency key within the provider's limits, refused with
/// the reason when an account has no match there, and a pushed document changed at the provider resolved only by a
/// person choosing a side.
extension SyncDesk {
    /// Attempts of a push the provider keeps failing (unreachable, 5xx) before it is refused.
    static let pushAttemptsMax = 10
    /// Pushes carried by one pass.
    static let pushesPerPass = 200
    /// A connection's pushes in one pass.
    static let pushesPerConnection = 60
    /// A connection's pushes in flight at once (its limiter holds them within the provider's concurrency).
    static let pushesAtOnce = 8

    // MARK: requests

    /// Turns pushing to a connection on (with the entries posted from `since` caught up) or off; audited, and told to
    /// the ledger (`IntegrationPushChanged`).
    func setPush(connectionId: String, enabled: Bool, since: String?, principal: Principal) async throws -> ProviderConnection {
        let tenantId = principal.tenantId
        if let since, CalendarDay(since) == nil { throw AppError.invalid("since must be a date written YYYY-MM-DD") }
        let connection = try await self.connections.connection(tenantId: tenantId, id: connectionId)
        if enabled { try ConnectionDesk.requireConnected(connection) }
        let now = self.clock.nowMillis(), kind = self.database.kind
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            try await db.raw("""
                UPDATE integration_connections SET push_enabled = \(bind: enabled ? 1 : 0),
                    push_since = \(bind: enabled ? since ?? connection.pushSince : connection.pushSince), updated_at_ms = \(bind: now)
                WHERE tenant_id = \(bind: tenantId) AND id = \(bind: connectionId)
                """).run()
            // Entries queued while pushing was off go out now it is on again.
            if enabled {
                try await db.raw("""
                    UPDATE integration_pushes SET next_attempt_at_ms = \(bind: now), updated_at_ms = \(bind: now)
                    WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId) AND status = 'queued'
                        AND next_attempt_at_ms IS NULL
                    """).run()
            }
            var details = ["enabled": "\(enabled)"]
            if let since { details["since"] = since }
            try await self.audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "integrations.push.changed", target: "connection:\(connectionId)",
                           details: details),
                on: db, kind: kind)
            try await self.outbox.enqueue(
                IntegrationPushChanged(tenantId: tenantId, connectionId: connectionId, enabled: enabled, since: enabled ? since : nil,
                                       changedAtMillis: now),
                subject: connectionId, tenantId: tenantId, on: db)
        }
        return try await self.connections.connection(tenantId: tenantId, id: connectionId)
    }

    /// Queues a connection's refused pushes again (audited); answers how many. One given up after its attempts keeps its
    /// key (the provider may have made it before an answer was lost); any other was refused and made nothing, and goes
    /// under a new key (a provider that remembers a refused request by its key would answer it the same way again).
    func retryRefused(connectionId: String, principal: Principal) async throws -> Int {
        let tenantId = principal.tenantId
        let connection = try await self.connections.connection(tenantId: tenantId, id: connectionId)
        let now = self.clock.nowMillis(), kind = self.database.kind
        return try await self.database.tenantTransaction(tenantId: tenantId) { db in
            struct Row: Decodable { let entry_id: String; let error: String?; let attempts: Int }
            let refused = try await db.raw("""
                SELECT entry_id, error, attempts FROM integration_pushes
                WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId) AND status = 'refused'
                """).all(decoding: Row.self)
            for push in refused {
                let givenUp = push.error?.hasPrefix(Self.givenUp) == true
                let key = givenUp ? nil : Self.pushKey(connectionId: connectionId, entryId: push.entry_id, round: 1_000 + push.attempts)
                try await db.raw("""
                    UPDATE integration_pushes SET status = 'queued', attempts = 0, error = NULL,
                        next_attempt_at_ms = \(bind: connection.pushEnabled ? now : nil),
                        idempotency_key = COALESCE(\(bind: key), idempotency_key), updated_at_ms = \(bind: now)
                    WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId) AND entry_id = \(bind: push.entry_id)
                        AND status = 'refused'
                    """).run()
            }
            try await self.audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "integrations.push.retried", target: "connection:\(connectionId)",
                           details: ["requeued": "\(refused.count)"]),
                on: db, kind: kind)
            return refused.count
        }
    }

    /// How a push given up after its attempts begins its error.
    static let givenUp = "given up after "

    /// The pushes of a connection, oldest first, after the entry id `after`.
    func pushes(tenantId: String, connectionId: String, status: String?, after: String?, limit: Int) async throws -> [PushRecord] {
        _ = try await self.connections.connection(tenantId: tenantId, id: connectionId)
        let statusFilter = status.map { SQLQueryString("AND status = \(bind: $0)") } ?? SQLQueryString("")
        let afterFilter = after.map { SQLQueryString("AND entry_id > \(bind: $0)") } ?? SQLQueryString("")
        return try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.raw("""
                SELECT * FROM integration_pushes WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId) \(statusFilter) \(afterFilter)
                ORDER BY entry_id LIMIT \(unsafeRaw: "\(limit)")
                """).all(decoding: PushRecord.self)
        }
    }

    /// Queues a shared entry for each connection of its tenant that pushes (or the one a catch-up names), once: a
    /// redelivered or caught-up entry already queued is left as it is.
    static func queue(_ shared: JournalEntryShared, now: Int64, on db: any SQLDatabase) async throws {
        struct Row: Decodable { let id: String }
        let connectionFilter = shared.connectionId.map { SQLQueryString("AND id = \(bind: $0)") } ?? SQLQueryString("")
        let pushing = try await db.raw("""
            SELECT id FROM integration_connections WHERE tenant_id = \(bind: shared.tenantId) AND push_enabled = 1 \(connectionFilter)
            """).all(decoding: Row.self)
        guard !pushing.isEmpty else { return }
        let payload = String(decoding: try JSONEncoder().encode(shared), as: UTF8.self)
        for connection in pushing {
            try await db.raw("""
                INSERT INTO integration_pushes (tenant_id, connection_id, entry_id, payload, status, attempts, next_attempt_at_ms, idempotency_key,
                    created_at_ms, updated_at_ms)
                VALUES (\(bind: shared.tenantId), \(bind: connection.id), \(bind: shared.entryId), \(bind: payload), 'queued', 0, \(bind: now),
                    \(bind: Self.pushKey(connectionId: connection.id, entryId: shared.entryId, round: 0)), \(bind: now), \(bind: now))
                ON CONFLICT (tenant_id, connection_id, entry_id) DO NOTHING
                """).run()
        }
    }

    /// The idempotency key of an entry's push to a connection; `round` counts the times a person had it pushed anew.
    static func pushKey(connectionId: String, entryId: String, round: Int) -> String {
        UUID.derived(from: "finflow-push\u{1F}\(connectionId)\u{1F}\(entryId)\u{1F}\(round)").canonical
    }

    // MARK: pushing

    private struct Due: Decodable {
        let tenant_id, connection_id, entry_id: String
        let next_attempt_at_ms: Int64
    }

    private struct Target: Decodable {
        let provider, status: String
        let external_id: String?
        let push_enabled: Int
    }

    /// Pushes the entries due: the connections side by side, each connection's a few at once (its limiter keeps them
    /// within the provider's limits); answers how many were tried.
    func pushDue() async throws -> Int {
        let now = self.clock.nowMillis()
        let due = try await self.database.read { db in
            try await db.raw("""
                SELECT tenant_id, connection_id, entry_id, next_attempt_at_ms FROM integration_pushes WHERE next_attempt_at_ms <= \(bind: now)
                ORDER BY next_attempt_at_ms, created_at_ms, entry_id LIMIT \(unsafeRaw: "\(Self.pushesPerPass)")
                """).all(decoding: Due.self)
        }
        var claimed: [PushRecord] = []
        var perConnection: [String: Int] = [:]
        for one in due {
            // A connection's share of a pass: about a minute of Xero's allowance, so a pass ends and its claims hold.
            let key = one.tenant_id + "/" + one.connection_id
            guard perConnection[key, default: 0] < Self.pushesPerConnection else { continue }
            // Claimed for the claim window: another process passing meanwhile leaves it alone.
            if let push = try await self.database.tenantTransaction(tenantId: one.tenant_id, { db in
                try await db.raw("""
                    UPDATE integration_pushes SET next_attempt_at_ms = \(bind: now + Self.claimMillis)
                    WHERE tenant_id = \(bind: one.tenant_id) AND connection_id = \(bind: one.connection_id) AND entry_id = \(bind: one.entry_id)
                        AND next_attempt_at_ms = \(bind: one.next_attempt_at_ms)
                    RETURNING *
                    """).first(decoding: PushRecord.self)
            }) {
                claimed.append(push)
                perConnection[key, default: 0] += 1
            }
        }
        let byConnection = Dictionary(grouping: claimed, by: { "\($0.tenant_id)/\($0.connection_id)" })
        await withTaskGroup(of: Void.self) { group in
            for pushes in byConnection.values {
                group.addTask { await self.push(connection: pushes) }
            }
        }
        return claimed.count
    }

    /// One connection's claimed pushes, `pushesAtOnce` at a time.
    private func push(connection pushes: [PushRecord]) async {
        guard let first = pushes.first else { return }
        let tenantId = first.tenant_id, connectionId = first.connection_id
        let target: Target?
        do {
            target = try await self.database.tenantRead(tenantId: tenantId) { db in
                try await db.raw("""
                    SELECT provider, status, external_id, push_enabled FROM integration_connections
                    WHERE tenant_id = \(bind: tenantId) AND id = \(bind: connectionId)
                    """).first(decoding: Target.self)
            }
        } catch {
            for push in pushes { try? await self.retry(push, error: "\(error)", counts: false) }
            return
        }
        guard let target, let provider = AccountingProvider(rawValue: target.provider), let company = target.external_id else {
            for push in pushes { try? await self.settle(push, status: "refused", error: "the connection is gone", externalId: nil) }
            return
        }
        // Pushing turned off, or the connection disconnected by a manager: the entries wait, unattempted, until pushing
        // is turned on again (which a connection authorised anew needs).
        guard target.push_enabled == 1, target.status != ProviderConnection.Status.disconnected.rawValue else {
            for push in pushes { try? await self.park(push) }
            return
        }
        guard target.status == ProviderConnection.Status.connected.rawValue else {
            for push in pushes { try? await self.retry(push, error: "the connection is \(target.status); the push waits for it", counts: false) }
            return
        }
        let accounts: BooksPush.Accounts, api: ProviderAPI
        do {
            accounts = try await self.database.tenantRead(tenantId: tenantId) { db in
                try await BooksPush.Accounts.load(tenantId: tenantId, connectionId: connectionId, provider: provider, db: db)
            }
            api = try self.api(tenantId: tenantId, connectionId: connectionId, provider: provider)
        } catch {
            for push in pushes { try? await self.retry(push, error: (error as? AppError)?.message ?? "\(error)", counts: true) }
            return
        }
        // Each shared entry read once (nil: unreadable, refused by its push). Payments and voids after the documents
        // they pay or void: an invoice and its payment claimed together go in order.
        let read = pushes.map { push in (push, try? JSONDecoder().decode(JournalEntryShared.self, from: Data(push.payload.utf8))) }
        let dependent = { (entry: JournalEntryShared?) in entry?.reversesEntryId != nil || entry?.document?.paidEntryId != nil }
        for wave in [read.filter { !dependent($0.1) }, read.filter { dependent($0.1) }] {
            for start in stride(from: 0, to: wave.count, by: Self.pushesAtOnce) {
                await withTaskGroup(of: Void.self) { group in
                    for (push, entry) in wave[start..<min(start + Self.pushesAtOnce, wave.count)] {
                        group.addTask { await self.push(push, entry: entry, provider: provider, company: company, accounts: accounts, api: api) }
                    }
                }
            }
        }
    }

    /// One push: the journal or document sent (with its idempotency key), its record kept as FinFlow's; an account
    /// without a match or the provider's refusal refuses it, with the reason; the provider away leaves it for later, as
    /// does a payment whose invoice is still on its way.
    private func push(
        _ push: PushRecord, entry: JournalEntryShared?, provider: AccountingProvider, company: String, accounts: BooksPush.Accounts, api: ProviderAPI
    ) async {
        guard let entry else {
            try? await self.settle(push, status: "refused", error: "the shared entry could not be read", externalId: nil)
            return
        }
        do {
            // The push of the entry this one pays or reverses, which decides how it goes.
            var earlier: DocumentPush.Earlier?
            if let depends = entry.reversesEntryId ?? entry.document?.paidEntryId {
                earlier = try await self.earlierPush(tenantId: push.tenant_id, connectionId: push.connection_id, entryId: depends)
            }
            let plan = DocumentPush.plan(entry, earlier: earlier)
            switch plan {
            case .journal:
                let body = try BooksPush.body(entry, provider: provider, accounts: accounts)
                let answer = try await Self.send(body, api: api, provider: provider, company: company, key: push.idempotency_key, existingId: nil)
                try await self.keep(BooksPush.document(answer: answer, provider: provider), push: push, provider: provider, replacing: nil)
            case .wait(let reason):
                try await self.retry(push, error: reason, counts: false)
            case .document, .payment, .void:
                let made = try await self.pushDocument(push, entry: entry, plan: plan, provider: provider, company: company, accounts: accounts, api: api)
                try await self.keep(made, push: push, provider: provider, replacing: nil)
            }
        } catch let unpushable as BooksPush.Unpushable {
            try? await self.settle(push, status: "refused", error: unpushable.message, externalId: nil)
        } catch let refusal as ProviderRefusal {
            try? await self.settle(push, status: "refused", error: "\(provider.title) refused it (HTTP \(refusal.status)): \(refusal.message)", externalId: nil)
        } catch {
            let message = (error as? AppError)?.message ?? "\(error)"
            if (error as? AppError)?.kind != .unavailable { self.logger.warning("a push failed", metadata: ["entry": "\(push.entry_id)", "error": "\(error)"]) }
            try? await self.retry(push, error: message, counts: true)
        }
    }

    /// Sends a journal: a new one by POST (QuickBooks, `requestid`) or PUT (Xero, `Idempotency-Key`), or one written over
    /// an existing journal.
    static func send(_ body: Data, api: ProviderAPI, provider: AccountingProvider, company: String, key: String, existingId: String?)
        async throws -> Data
    {
        let path = BooksPush.path(provider: provider, company: company, existingId: existingId)
        switch provider {
        case .quickbooks:
            return try await api.send(.POST, path, query: [("requestid", key), ("minorversion", SyncReader.minorVersion)], json: body)
        case .xero:
            return try await api.send(existingId == nil ? .PUT : .POST, path, headers: [("Idempotency-Key", key)], json: body)
        }
    }

    /// Keeps what the provider made of a push: the record (origin FinFlow, the content it posts there) and the push done.
    /// `replacing`: the record of a journal deleted at the provider that this push made anew. A void keeps the voided
    /// document's record under the entry that pushed it.
    private func keep(_ document: ProviderDocument, push: PushRecord, provider: AccountingProvider, replacing: String?) async throws {
        let entity = document.entity.rawValue
        let tenantId = push.tenant_id, connectionId = push.connection_id, now = self.clock.nowMillis()
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            // As a sync reading it back keys it: a deleted document by its deletion.
            let content = document.deleted
                ? "deleted" : try await Self.contentKey(document, provider: provider, tenantId: tenantId, connectionId: connectionId, db: db)
            let json = String(decoding: document.json, as: UTF8.self)
            if let replacing {
                try await db.raw("""
                    DELETE FROM integration_records WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId)
                        AND entity = \(bind: entity) AND external_id = \(bind: replacing)
                    """).run()
            }
            try await db.raw("""
                INSERT INTO integration_records (tenant_id, connection_id, entity, external_id, finflow_id, version, status, label, document,
                    provider_updated_at_ms, synced_at_ms, created_at_ms, books_status, origin, pushed_content)
                VALUES (\(bind: tenantId), \(bind: connectionId), \(bind: entity), \(bind: document.externalId), \(bind: push.entry_id),
                    \(bind: document.version), \(bind: document.deleted ? "deleted" : "active"), \(bind: document.label), \(bind: json),
                    \(bind: document.updatedAtMillis), \(bind: now), \(bind: now), 'pushed', 'finflow', \(bind: content))
                ON CONFLICT (tenant_id, connection_id, entity, external_id) DO UPDATE SET version = excluded.version, status = excluded.status,
                    label = excluded.label, document = excluded.document, provider_updated_at_ms = excluded.provider_updated_at_ms,
                    synced_at_ms = excluded.synced_at_ms, books_status = 'pushed', books_problem = NULL, origin = 'finflow',
                    pushed_content = excluded.pushed_content
                """).run()
            try await db.raw("""
                UPDATE integration_pushes SET status = 'pushed', external_id = \(bind: document.externalId), entity = \(bind: entity),
                    attempts = attempts + 1,
                    next_attempt_at_ms = NULL, error = NULL, pushed_at_ms = \(bind: now), updated_at_ms = \(bind: now)
                WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId) AND entry_id = \(bind: push.entry_id)
                """).run()
        }
    }

    /// What a document posts in the provider's books, read as a sync reads it.
    static func contentKey(
        _ document: ProviderDocument, provider: AccountingProvider, tenantId: String, connectionId: String, db: any SQLDatabase
    ) async throws -> String {
        let codes = provider == .xero ? try await BooksOutbound.xeroAccountIds(tenantId: tenantId, connectionId: connectionId, db: db) : [:]
        guard case .success(let event)? = BooksPosting.event(
            document, documentId: "", provider: provider, tenantId: tenantId, connectionId: connectionId, xeroAccountIds: codes)
        else { return "unreadable" }
        return BooksPush.contentKey(event.posting)
    }

    private func settle(_ push: PushRecord, status: String, error: String?, externalId: String?) async throws {
        let now = self.clock.nowMillis()
        try await self.database.tenantTransaction(tenantId: push.tenant_id) { db in
            try await db.raw("""
                UPDATE integration_pushes SET status = \(bind: status), error = \(bind: error.map { String($0.prefix(1_000)) }),
                    external_id = COALESCE(\(bind: externalId), external_id), attempts = attempts + 1, next_attempt_at_ms = NULL,
                    updated_at_ms = \(bind: now)
                WHERE tenant_id = \(bind: push.tenant_id) AND connection_id = \(bind: push.connection_id) AND entry_id = \(bind: push.entry_id)
                """).run()
        }
    }

    /// Tried again later: a minute per attempt so far (at most an hour); refused after `pushAttemptsMax` failures.
    func retry(_ push: PushRecord, error: String, counts: Bool) async throws {
        let attempts = push.attempts + (counts ? 1 : 0)
        guard attempts < Self.pushAttemptsMax else {
            return try await self.settle(push, status: "refused", error: "\(Self.givenUp)\(attempts) attempts: \(error)", externalId: nil)
        }
        let now = self.clock.nowMillis(), pause = Int64(min(max(attempts, 1), 60)) * 60_000
        try await self.database.tenantTransaction(tenantId: push.tenant_id) { db in
            try await db.raw("""
                UPDATE integration_pushes SET attempts = \(bind: attempts), error = \(bind: String(error.prefix(1_000))),
                    next_attempt_at_ms = \(bind: now + pause), updated_at_ms = \(bind: now)
                WHERE tenant_id = \(bind: push.tenant_id) AND connection_id = \(bind: push.connection_id) AND entry_id = \(bind: push.entry_id)
                """).run()
        }
    }

    /// Left queued without a due time, for when pushing is turned on again.
    private func park(_ push: PushRecord) async throws {
        try await self.database.tenantTransaction(tenantId: push.tenant_id) { db in
            try await db.raw("""
                UPDATE integration_pushes SET next_attempt_at_ms = NULL
                WHERE tenant_id = \(bind: push.tenant_id) AND connection_id = \(bind: push.connection_id) AND entry_id = \(bind: push.entry_id)
                """).run()
        }
    }

    /// Calls to a connection's company or organisation within its provider's limits.
    func api(tenantId: String, connectionId: String, provider: AccountingProvider) throws -> ProviderAPI {
        let registration = try self.connections.oauth(provider).registration
        return ProviderAPI(
            tenantId: tenantId, connectionId: connectionId, provider: provider, baseURL: registration.apiURL, connections: self.connections,
            limiter: self.limiters.limiter(connectionId: connectionId, provider: provider), client: self.connections.client)
    }

    // MARK: conflicts

    /// Resolves a pushed document changed or deleted at the provider: `keepFinFlow` writes FinFlow's entry back over it
    /// with the version last read (a provider that changed it again refuses, and nothing is overwritten); otherwise the
    /// provider's version is kept, knowingly. Audited.
    func resolve(connectionId: String, entity: SyncEntity, externalId: String, keepFinFlow: Bool, principal: Principal) async throws -> SyncRecord {
        let tenantId = principal.tenantId
        let connection = try await self.connections.connection(tenantId: tenantId, id: connectionId)
        struct Row: Decodable { let finflow_id, version, status: String; let origin, books_status, books_problem: String? }
        guard let record = try await self.database.tenantRead(tenantId: tenantId, { db in
            try await db.raw("""
                SELECT finflow_id, version, status, origin, books_status, books_problem FROM integration_records
                WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId) AND entity = \(bind: entity.rawValue)
                    AND external_id = \(bind: externalId)
                """).first(decoding: Row.self)
        }) else { throw AppError.notFound("synced record") }
        guard record.origin == "finflow", record.books_status == "conflict" else {
            throw AppError.conflict(code: "record-not-in-conflict", "only a document FinFlow pushed that changed at \(connection.provider.title) has a conflict to resolve")
        }
        let kind = self.database.kind
        let audit = self.audit
        @Sendable func audited(_ side: String, _ db: any SQLDatabase) async throws {
            try await audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "integrations.conflict.resolved",
                           target: "connection:\(connectionId)", details: ["record": "\(entity.rawValue)/\(externalId)", "kept": side]),
                on: db, kind: kind)
        }
        guard keepFinFlow else {
            try await self.database.tenantTransaction(tenantId: tenantId) { db in
                let problem = "\(principal.subject) kept \(connection.provider.title)'s version: \(record.books_problem ?? "it differs from FinFlow's entry")"
                try await db.raw("""
                    UPDATE integration_records SET books_status = 'kept-provider', books_problem = \(bind: String(problem.prefix(1_000)))
                    WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId) AND entity = \(bind: entity.rawValue)
                        AND external_id = \(bind: externalId)
                    """).run()
                try await audited("provider", db)
            }
            return try await self.record(tenantId: tenantId, connectionId: connectionId, entity: entity, externalId: externalId)
        }
        guard entity == .journalEntry else {
            throw AppError.conflict(
                code: "resolution-unsupported",
                "FinFlow writes its side back over journals only: correct the \(entity.rawValue) in \(connection.provider.title) to match FinFlow's, or keep \(connection.provider.title)'s")
        }
        try ConnectionDesk.requireConnected(connection)
        guard let company = connection.externalId,
            let push = try await self.database.tenantRead(tenantId: tenantId, { db in
                try await db.raw("""
                    SELECT * FROM integration_pushes WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId)
                        AND entry_id = \(bind: record.finflow_id)
                    """).first(decoding: PushRecord.self)
            })
        else { throw AppError.conflict(code: "push-unknown", "FinFlow no longer has the entry it pushed as this document") }
        let provider = connection.provider
        let entry = try JSONDecoder().decode(JournalEntryShared.self, from: Data(push.payload.utf8))
        let accounts = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await BooksPush.Accounts.load(tenantId: tenantId, connectionId: connectionId, provider: provider, db: db)
        }
        let api = try self.api(tenantId: tenantId, connectionId: connectionId, provider: provider)
        let answer: Data
        do {
            if record.status == "deleted" {
                // Deleted there: pushed anew, under a key of its own (the first one would answer with the deleted journal).
                let round = push.attempts + 1
                let body = try BooksPush.body(entry, provider: provider, accounts: accounts)
                answer = try await Self.send(body, api: api, provider: provider, company: company,
                                             key: Self.pushKey(connectionId: connectionId, entryId: push.entry_id, round: round), existingId: nil)
            } else {
                if provider == .xero {
                    // Xero keeps no concurrency token on a manual journal: its last change is compared first.
                    let current = try await api.get(BooksPush.path(provider: .xero, company: company, existingId: externalId))
                    let document = try BooksPush.document(answer: current, provider: .xero)
                    guard document.version == record.version else { throw Self.changedAgain(provider, nil) }
                }
                let body = try BooksPush.body(entry, provider: provider, accounts: accounts, existing: (externalId, record.version))
                answer = try await Self.send(body, api: api, provider: provider, company: company, key: push.idempotency_key + ":" + record.version,
                                             existingId: externalId)
            }
        } catch let refusal as ProviderRefusal where refusal.stale {
            throw Self.changedAgain(provider, refusal.message)
        } catch let refusal as ProviderRefusal {
            throw AppError(.rejected, code: "provider-refused", "\(provider.title) refused FinFlow's version (HTTP \(refusal.status)): \(refusal.message)")
        } catch let unpushable as BooksPush.Unpushable {
            throw AppError(.rejected, code: "entry-unpushable", unpushable.message)
        }
        try await self.keep(BooksPush.document(answer: answer, provider: provider), push: push, provider: provider,
                            replacing: record.status == "deleted" ? externalId : nil)
        try await self.database.tenantTransaction(tenantId: tenantId) { db in try await audited("finflow", db) }
        let made = try BooksPush.document(answer: answer, provider: provider)
        return try await self.record(tenantId: tenantId, connectionId: connectionId, entity: entity, externalId: made.externalId)
    }

    private static func changedAgain(_ provider: AccountingProvider, _ message: String?) -> AppError {
        AppError.conflict(
            code: "provider-changed-again",
            "the document changed again in \(provider.title) since FinFlow last read it\(message.map { " (\($0))" } ?? ""); nothing was overwritten: sync, look, and choose again")
    }

    /// One record of a connection, or 404.
    func record(tenantId: String, connectionId: String, entity: SyncEntity, externalId: String) async throws -> SyncRecord {
        guard let record = try await self.database.tenantRead(tenantId: tenantId, { db in
            try await db.raw("""
                SELECT entity, external_id, finflow_id, version, status, label, provider_updated_at_ms, synced_at_ms, books_status, books_problem, origin
                FROM integration_records
                WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId) AND entity = \(bind: entity.rawValue)
                    AND external_id = \(bind: externalId)
                """).first(decoding: SyncRecord.self)
        }) else { throw AppError.notFound("synced record") }
        return record
    }
}
