import FinFlowCore
import Foundation
import Logging
import SQLKit

/// Webhooks out: the endpoints tenants register for their events, what is queued for each, and the log of every
/// attempt. The only API the handlers, the consumer and the dispatcher call.
final class WebhookDesk: Sendable {
    let database: any Database
    let clock: any FinFlowClock
    let ids: IdentifierGenerator
    let audit: AuditLog
    let outbox: Outbox
    let mail: MailOutbox
    let sealer: SecretSealer
    let allowLoopback: Bool

    /// The most endpoints a tenant keeps.
    static let endpointsMax = 20
    /// How long a delivery is tried before it is given up (and its endpoint disabled).
    static let retryWindowMillis: Int64 = 24 * 3_600_000
    /// How long a rotated-out secret keeps signing by default, and at most.
    static let rotationOverlapSecondsDefault = 24 * 3_600
    static let rotationOverlapSecondsMax = 7 * 24 * 3_600

    init(env: ServiceEnvironment, serviceName: String) {
        self.database = env.database
        self.clock = env.clock
        self.ids = env.ids
        self.audit = env.audit
        self.outbox = env.outbox(serviceName: serviceName)
        self.mail = env.mail
        self.allowLoopback = env.settings.integrationsWebhookAllowLoopback
        self.sealer = SecretSealer(
            database: env.database, clock: env.clock, configuredKey: env.settings.integrationsSecretKey, keyTable: "integration_keys",
            keyName: "secrets", settingName: "FINFLOW_INTEGRATIONS_SECRET_KEY")
    }

    struct EndpointRow: Decodable {
        let tenant_id, id, url, status, created_by: String
        let description, notify_email, disabled_reason: String?
        let created_at_ms: Int64
        let disabled_at_ms, previous_secret_until_ms: Int64?
    }

    struct SecretRow: Decodable {
        let secret_sealed: String
        let previous_secret_sealed: String?
        let previous_secret_until_ms: Int64?
    }

    private struct TypeRow: Decodable { let endpoint_id, event_type: String }

    /// Registers an endpoint for `draft`'s event types (audited). Its secret is made here and sealed; `secret(…)` shows it.
    func createEndpoint(_ draft: WebhookEndpointDraft, principal: Principal) async throws -> WebhookEndpoint {
        guard let url = draft.url, let types = draft.eventTypes else { throw AppError.invalid("url and eventTypes are required") }
        let tenantId = principal.tenantId, now = self.clock.nowMillis(), audit = self.audit, kind = self.database.kind
        let keyed = RequestScope.effectId("webhook-endpoint")
        // A keyed retry after a crash between the commit and the stored answer finds the endpoint it made.
        if let keyed, let made = try await self.endpoints(tenantId: tenantId, id: keyed).first { return made }
        let id = keyed ?? self.ids.nextString()
        let sealed = try await self.sealer.seal(Data(WebhookSigner.newSecret().utf8))
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            struct Count: Decodable { let n: Int }
            let existing = try await db.raw("SELECT COUNT(*) AS n FROM webhook_endpoints WHERE tenant_id = \(bind: tenantId)")
                .first(decoding: Count.self)?.n ?? 0
            guard existing < Self.endpointsMax else {
                throw AppError(.rejected, code: "too-many-endpoints", "a tenant keeps at most \(Self.endpointsMax) webhook endpoints; delete one first")
            }
            try await db.raw("""
                INSERT INTO webhook_endpoints (tenant_id, id, url, description, notify_email, secret_sealed, status, created_by, created_at_ms)
                VALUES (\(bind: tenantId), \(bind: id), \(bind: url), \(bind: draft.description ?? nil), \(bind: draft.notifyEmail ?? nil),
                        \(bind: sealed), 'active', \(bind: principal.subject), \(bind: now))
                """).run()
            try await Self.subscribe(tenantId: tenantId, endpointId: id, types: types, db: db)
            try await audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "integrations.webhook.created", target: "webhook:\(id)",
                           details: ["url": url, "eventTypes": types.joined(separator: ",")]),
                on: db, kind: kind)
        }
        return try await self.endpoint(tenantId: tenantId, id: id)
    }

    private static func subscribe(tenantId: String, endpointId: String, types: [String], db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM webhook_subscriptions WHERE tenant_id = \(bind: tenantId) AND endpoint_id = \(bind: endpointId)").run()
        try await db.insertRows(
            into: "webhook_subscriptions", columns: ["tenant_id", "event_type", "endpoint_id"],
            rows: types.map { [SQLCell(tenantId), SQLCell($0), SQLCell(endpointId)] })
    }

    /// The tenant's endpoints (or the one named), oldest first.
    func endpoints(tenantId: String, id: String? = nil) async throws -> [WebhookEndpoint] {
        try await self.database.tenantRead(tenantId: tenantId) { db in
            var query = SQLQueryString("""
                SELECT tenant_id, id, url, status, created_by, description, notify_email, disabled_reason, created_at_ms, disabled_at_ms,
                       previous_secret_until_ms
                FROM webhook_endpoints WHERE tenant_id = \(bind: tenantId)
                """)
            var typesQuery = SQLQueryString("SELECT endpoint_id, event_type FROM webhook_subscriptions WHERE tenant_id = \(bind: tenantId)")
            if let id {
                query.appendInterpolation(unsafeRaw: " AND id = ")
                query.appendInterpolation(bind: id)
                typesQuery.appendInterpolation(unsafeRaw: " AND endpoint_id = ")
                typesQuery.appendInterpolation(bind: id)
            }
            query.appendInterpolation(unsafeRaw: " ORDER BY created_at_ms, id")
            typesQuery.appendInterpolation(unsafeRaw: " ORDER BY event_type")
            let rows = try await db.raw(query).all(decoding: EndpointRow.self)
            let types = try await db.raw(typesQuery).all(decoding: TypeRow.self)
            let byEndpoint = Dictionary(grouping: types, by: \.endpoint_id)
            return rows.map { Self.endpoint($0, types: byEndpoint[$0.id]?.map(\.event_type) ?? []) }
        }
    }

    /// One endpoint, or 404.
    func endpoint(tenantId: String, id: String) async throws -> WebhookEndpoint {
        guard let found = try await self.endpoints(tenantId: tenantId, id: id).first else { throw AppError.notFound("webhook endpoint") }
        return found
    }

    /// Changes what `draft` names (audited). Enabling a disabled endpoint clears why it was disabled; disabling one
    /// stops its deliveries (those waiting are given up, to be replayed once it is enabled again).
    func updateEndpoint(id: String, _ draft: WebhookEndpointDraft, principal: Principal) async throws -> WebhookEndpoint {
        let tenantId = principal.tenantId, now = self.clock.nowMillis(), audit = self.audit, kind = self.database.kind
        let outbox = self.outbox
        let current = try await self.endpoint(tenantId: tenantId, id: id)
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            if let url = draft.url {
                try await db.raw("UPDATE webhook_endpoints SET url = \(bind: url) WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id)").run()
            }
            if let description = draft.description {
                try await db.raw("""
                    UPDATE webhook_endpoints SET description = \(bind: description) WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id)
                    """).run()
            }
            if let email = draft.notifyEmail {
                try await db.raw("""
                    UPDATE webhook_endpoints SET notify_email = \(bind: email) WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id)
                    """).run()
            }
            if let types = draft.eventTypes { try await Self.subscribe(tenantId: tenantId, endpointId: id, types: types, db: db) }
            switch (draft.enabled, current.status) {
            case (true, .disabled):
                try await db.raw("""
                    UPDATE webhook_endpoints SET status = 'active', disabled_reason = NULL, disabled_at_ms = NULL
                    WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id)
                    """).run()
            case (false, .active):
                try await Self.disable(
                    tenantId: tenantId, id: id, url: draft.url ?? current.url, reason: "manual", lastError: nil, now: now, outbox: outbox, db: db)
            default: break
            }
            var details: [String: String] = [:]
            if let url = draft.url { details["url"] = url }
            if let types = draft.eventTypes { details["eventTypes"] = types.joined(separator: ",") }
            if let enabled = draft.enabled { details["enabled"] = "\(enabled)" }
            try await audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "integrations.webhook.updated", target: "webhook:\(id)",
                           details: details),
                on: db, kind: kind)
        }
        return try await self.endpoint(tenantId: tenantId, id: id)
    }

    /// Disables an active endpoint on `db`, gives up what waits for it, and says so with an event. Answers whether it
    /// was active: two replicas giving up on it at once disable it, and say so, once.
    @discardableResult
    static func disable(
        tenantId: String, id: String, url: String, reason: String, lastError: String?, now: Int64, outbox: Outbox, db: any SQLDatabase
    ) async throws -> Bool {
        let changed = try await db.raw("""
            UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = \(bind: reason), disabled_at_ms = \(bind: now)
            WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id) AND status = 'active' RETURNING id
            """).all()
        guard !changed.isEmpty else { return false }
        try await db.raw("""
            UPDATE webhook_deliveries SET status = 'failed', next_attempt_at_ms = NULL,
                last_error = COALESCE(last_error, 'the endpoint was disabled before this delivery was tried')
            WHERE tenant_id = \(bind: tenantId) AND endpoint_id = \(bind: id) AND status = 'pending'
            """).run()
        try await outbox.enqueue(
            WebhookEndpointDisabled(tenantId: tenantId, endpointId: id, url: url, reason: reason, lastError: lastError, disabledAtMillis: now),
            subject: id, tenantId: tenantId, on: db)
        return true
    }

    /// Forgets an endpoint with its deliveries and their log (audited).
    func deleteEndpoint(id: String, principal: Principal) async throws {
        let tenantId = principal.tenantId, audit = self.audit, kind = self.database.kind
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            let deleted = try await db.raw("""
                DELETE FROM webhook_endpoints WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id) RETURNING id
                """).all()
            guard !deleted.isEmpty else { throw AppError.notFound("webhook endpoint") }
            try await db.raw("DELETE FROM webhook_subscriptions WHERE tenant_id = \(bind: tenantId) AND endpoint_id = \(bind: id)").run()
            try await db.raw("""
                DELETE FROM webhook_attempts WHERE tenant_id = \(bind: tenantId) AND delivery_id IN (
                    SELECT id FROM webhook_deliveries WHERE tenant_id = \(bind: tenantId) AND endpoint_id = \(bind: id))
                """).run()
            try await db.raw("DELETE FROM webhook_deliveries WHERE tenant_id = \(bind: tenantId) AND endpoint_id = \(bind: id)").run()
            try await audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "integrations.webhook.deleted", target: "webhook:\(id)"),
                on: db, kind: kind)
        }
    }

    /// The endpoint's signing secrets: the current one, and the one rotated out while its window lasts (audited: a
    /// secret shown is a secret someone holds). Never part of an answer that is stored (an idempotent POST's).
    func secrets(id: String, principal: Principal) async throws -> (current: String, previous: String?, previousUntilMillis: Int64?) {
        let tenantId = principal.tenantId, audit = self.audit, kind = self.database.kind, now = self.clock.nowMillis()
        let row = try await self.database.tenantTransaction(tenantId: tenantId) { db in
            guard let row = try await db.raw("""
                SELECT secret_sealed, previous_secret_sealed, previous_secret_until_ms FROM webhook_endpoints
                WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id)
                """).first(decoding: SecretRow.self)
            else { throw AppError.notFound("webhook endpoint") }
            try await audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "integrations.webhook.secret-read", target: "webhook:\(id)"),
                on: db, kind: kind)
            return row
        }
        let opened = try await self.openSecrets(row, now: now)
        return (opened[0], opened.count > 1 ? opened[1] : nil, opened.count > 1 ? row.previous_secret_until_ms : nil)
    }

    /// The secrets a delivery is signed with now: the current one, then the previous one while its window lasts.
    func openSecrets(_ row: SecretRow, now: Int64) async throws -> [String] {
        var secrets = [String(decoding: try await self.sealer.open(row.secret_sealed).data, as: UTF8.self)]
        if let previous = row.previous_secret_sealed, let until = row.previous_secret_until_ms, until > now {
            secrets.append(String(decoding: try await self.sealer.open(previous).data, as: UTF8.self))
        }
        return secrets
    }

    /// Replaces the endpoint's secret; the old one keeps signing beside it for `overlapSeconds` (audited).
    func rotateSecret(id: String, overlapSeconds: Int, principal: Principal) async throws -> WebhookEndpoint {
        let tenantId = principal.tenantId, audit = self.audit, kind = self.database.kind, now = self.clock.nowMillis()
        let sealed = try await self.sealer.seal(Data(WebhookSigner.newSecret().utf8))
        let until = overlapSeconds > 0 ? now + Int64(overlapSeconds) * 1_000 : nil
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            let rotated = try await db.raw("""
                UPDATE webhook_endpoints SET previous_secret_sealed = secret_sealed, previous_secret_until_ms = \(bind: until),
                    secret_sealed = \(bind: sealed)
                WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id) RETURNING id
                """).all()
            guard !rotated.isEmpty else { throw AppError.notFound("webhook endpoint") }
            try await audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "integrations.webhook.secret-rotated", target: "webhook:\(id)",
                           details: ["overlapSeconds": "\(overlapSeconds)"]),
                on: db, kind: kind)
        }
        return try await self.endpoint(tenantId: tenantId, id: id)
    }

    private static func endpoint(_ row: EndpointRow, types: [String]) -> WebhookEndpoint {
        WebhookEndpoint(
            id: row.id, url: row.url, description: row.description, notifyEmail: row.notify_email, eventTypes: types,
            status: WebhookEndpoint.Status(rawValue: row.status) ?? .disabled, disabledReason: row.disabled_reason,
            disabledAtMillis: row.disabled_at_ms, createdBy: row.created_by, createdAtMillis: row.created_at_ms,
            previousSecretUntilMillis: row.previous_secret_until_ms)
    }
}
