import FinFlowCore
import Foundation
import SQLKit

/// One delivery of an event to an endpoint, as its log shows it.
struct WebhookDelivery: Sendable {
    enum Status: String, Sendable { case pending, delivered, failed }

    struct Attempt: Sendable {
        let number: Int
        let atMillis: Int64
        let durationMillis: Int64
        let statusCode: Int?
        let error: String?
        let responseExcerpt: String?
    }

    let id: String
    let endpointId: String
    let eventId: String
    let eventType: String
    let replayOf: String?
    let status: Status
    let attempts: Int
    let createdAtMillis: Int64
    let nextAttemptAtMillis: Int64?
    let giveUpAtMillis: Int64
    let lastAttemptAtMillis: Int64?
    let lastStatusCode: Int?
    let lastError: String?
    let deliveredAtMillis: Int64?
    /// The event as delivered, and each attempt: only when one delivery is asked for.
    var payload: String?
    var log: [Attempt]?
}

extension WebhookDesk {
    struct DeliveryRow: Decodable {
        let tenant_id, id, endpoint_id, event_id, event_type, payload, status: String
        let replay_of, last_error: String?
        let attempts: Int
        let created_at_ms, give_up_at_ms: Int64
        let next_attempt_at_ms, last_attempt_at_ms, delivered_at_ms: Int64?
        let last_status_code: Int?
    }

    private struct AttemptRow: Decodable {
        let attempt: Int
        let at_ms, duration_ms: Int64
        let status_code: Int?
        let error, response_excerpt: String?
    }

    private struct SubscriberRow: Decodable { let endpoint_id: String }

    /// Queues a delivery of `event` to every active endpoint of its tenant that takes its type. The unique key
    /// (endpoint, event id) makes a redelivered event queue nothing twice; a tenant with no such endpoint costs a read.
    static func queue(_ event: PublishedEvent, ids: IdentifierGenerator, now: Int64, database: any Database) async throws {
        guard let tenantId = event.tenantId, WebhookCatalogue.types.contains(event.type) else { return }
        let select: SQLQueryString = """
            SELECT s.endpoint_id FROM webhook_subscriptions s
            JOIN webhook_endpoints e ON e.tenant_id = s.tenant_id AND e.id = s.endpoint_id
            WHERE s.tenant_id = \(bind: tenantId) AND s.event_type = \(bind: event.type) AND e.status = 'active'
            ORDER BY s.endpoint_id
            """
        // A plain read (the query names the tenant): on PostgreSQL one round trip instead of a transaction's four, paid
        // for every event of every tenant, most of which have no endpoints.
        guard try await !database.read({ db in try await db.raw(select).all() }).isEmpty else { return }
        let payload = String(decoding: event.json, as: UTF8.self)
        try await database.tenantTransaction(tenantId: tenantId) { db in
            // Read again in the transaction: an endpoint disabled meanwhile is not queued for.
            let subscribers = try await db.raw(select).all(decoding: SubscriberRow.self)
            try await db.insertRows(
                into: "webhook_deliveries",
                columns: [
                    "tenant_id", "id", "endpoint_id", "event_id", "event_type", "payload", "dedupe_key", "status", "attempts", "created_at_ms",
                    "next_attempt_at_ms", "give_up_at_ms",
                ],
                rows: subscribers.map { subscriber in
                    [
                        SQLCell(tenantId), SQLCell(ids.nextString()), SQLCell(subscriber.endpoint_id), SQLCell(event.id), SQLCell(event.type),
                        SQLCell(payload), SQLCell(event.id), SQLCell("pending"), SQLCell(0), SQLCell(now), SQLCell(now),
                        SQLCell(now + Self.retryWindowMillis),
                    ]
                },
                suffix: " ON CONFLICT DO NOTHING")
        }
    }

    /// An endpoint's deliveries, newest first, optionally in one status.
    func deliveries(
        tenantId: String, endpointId: String, status: WebhookDelivery.Status?, page: PageRequest
    ) async throws -> (items: [WebhookDelivery], nextCursor: String?) {
        _ = try await self.endpoint(tenantId: tenantId, id: endpointId)
        return try await self.database.tenantRead(tenantId: tenantId) { db in
            var query = SQLQueryString("""
                SELECT * FROM webhook_deliveries WHERE tenant_id = \(bind: tenantId) AND endpoint_id = \(bind: endpointId)
                """)
            if let status { query.appendInterpolation(unsafeRaw: " AND status = "); query.appendInterpolation(bind: status.rawValue) }
            if let after = page.after { query.appendInterpolation(unsafeRaw: " AND id < "); query.appendInterpolation(bind: after) }
            query.appendInterpolation(unsafeRaw: " ORDER BY id DESC LIMIT \(page.limit + 1)")
            let rows = try await db.raw(query).all(decoding: DeliveryRow.self)
            let cut = page.page(rows) { $0.id }
            return (cut.items.map(Self.delivery), cut.nextCursor)
        }
    }

    /// One delivery with the event it carries and every attempt, or 404.
    func delivery(tenantId: String, endpointId: String, id: String) async throws -> WebhookDelivery {
        try await self.database.tenantRead(tenantId: tenantId) { db in
            guard let row = try await db.raw("""
                SELECT * FROM webhook_deliveries WHERE tenant_id = \(bind: tenantId) AND endpoint_id = \(bind: endpointId) AND id = \(bind: id)
                """).first(decoding: DeliveryRow.self)
            else { throw AppError.notFound("webhook delivery") }
            let attempts = try await db.raw("""
                SELECT attempt, at_ms, duration_ms, status_code, error, response_excerpt FROM webhook_attempts
                WHERE tenant_id = \(bind: tenantId) AND delivery_id = \(bind: id) ORDER BY attempt
                """).all(decoding: AttemptRow.self)
            var delivery = Self.delivery(row)
            delivery.payload = row.payload
            delivery.log = attempts.map {
                .init(number: $0.attempt, atMillis: $0.at_ms, durationMillis: $0.duration_ms, statusCode: $0.status_code, error: $0.error,
                      responseExcerpt: $0.response_excerpt)
            }
            return delivery
        }
    }

    /// Sends a delivery's event again, as a new delivery with its own log and 24 hours of retries (audited). The
    /// endpoint must be enabled.
    func replay(endpointId: String, deliveryId: String, principal: Principal) async throws -> WebhookDelivery {
        let tenantId = principal.tenantId, now = self.clock.nowMillis(), audit = self.audit, kind = self.database.kind
        let endpoint = try await self.endpoint(tenantId: tenantId, id: endpointId)
        guard endpoint.status == .active else {
            throw AppError(.conflict, code: "endpoint-disabled", "the endpoint is disabled; enable it before replaying to it")
        }
        let original = try await self.delivery(tenantId: tenantId, endpointId: endpointId, id: deliveryId)
        let keyed = RequestScope.effectId("webhook-replay")
        if let keyed, let made = try? await self.delivery(tenantId: tenantId, endpointId: endpointId, id: keyed) { return made }
        let id = keyed ?? self.ids.nextString()
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            try await db.insertRows(
                into: "webhook_deliveries",
                columns: [
                    "tenant_id", "id", "endpoint_id", "event_id", "event_type", "payload", "dedupe_key", "replay_of", "status", "attempts",
                    "created_at_ms", "next_attempt_at_ms", "give_up_at_ms",
                ],
                rows: [[
                    SQLCell(tenantId), SQLCell(id), SQLCell(endpointId), SQLCell(original.eventId), SQLCell(original.eventType),
                    SQLCell(original.payload ?? "{}"), SQLCell("replay:" + id), SQLCell(deliveryId), SQLCell("pending"), SQLCell(0), SQLCell(now),
                    SQLCell(now), SQLCell(now + Self.retryWindowMillis),
                ]])
            try await audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "integrations.webhook.replayed", target: "webhook:\(endpointId)",
                           details: ["delivery": deliveryId, "replay": id, "event": original.eventId]),
                on: db, kind: kind)
        }
        return try await self.delivery(tenantId: tenantId, endpointId: endpointId, id: id)
    }

    static func delivery(_ row: DeliveryRow) -> WebhookDelivery {
        WebhookDelivery(
            id: row.id, endpointId: row.endpoint_id, eventId: row.event_id, eventType: row.event_type, replayOf: row.replay_of,
            status: WebhookDelivery.Status(rawValue: row.status) ?? .failed, attempts: row.attempts, createdAtMillis: row.created_at_ms,
            nextAttemptAtMillis: row.next_attempt_at_ms, giveUpAtMillis: row.give_up_at_ms, lastAttemptAtMillis: row.last_attempt_at_ms,
            lastStatusCode: row.last_status_code, lastError: row.last_error, deliveredAtMillis: row.delivered_at_ms)
    }
}
