import FinFlowCore
import Foundation
import SQLKit

extension WebhookDesk {
    /// A delivery claimed for one attempt, with what it is sent to and signed with.
    struct Claimed: Sendable {
        let tenantId, id, endpointId, eventId, eventType, payload, url: String
        let attempts: Int
        let giveUpAtMillis: Int64
        let nowMillis: Int64
        let secrets: [String]
        let notifyEmail: String?
    }

    /// What an attempt met.
    struct Outcome: Sendable {
        var statusCode: Int?
        var error: String?
        var excerpt: String?
        var retryAfterSeconds: Int64?
        var durationMillis: Int64

        var delivered: Bool { self.statusCode.map { (200..<300).contains($0) } ?? false }

        /// The failure in a few words, for the log and the notice.
        var problem: String? {
            if self.delivered { return nil }
            if let code = self.statusCode { return "HTTP \(code)" + (self.error.map { "; \($0)" } ?? "") }
            return self.error ?? "no answer"
        }
    }

    private struct DueRow: Decodable {
        let tenant_id, id, endpoint_id, event_id, event_type, payload, url, secret_sealed: String
        let previous_secret_sealed, notify_email: String?
        let previous_secret_until_ms: Int64?
        let attempts: Int
        let next_attempt_at_ms, give_up_at_ms: Int64
    }

    /// Claims up to `limit` deliveries that are due to active endpoints, each for `claimMillis`.
    func claimDue(limit: Int, claimMillis: Int64) async throws -> [Claimed] {
        let now = self.clock.nowMillis()
        let due = try await self.database.read { db in
            try await db.raw("""
                SELECT d.tenant_id, d.id, d.endpoint_id, d.event_id, d.event_type, d.payload, d.attempts, d.next_attempt_at_ms, d.give_up_at_ms,
                       e.url, e.secret_sealed, e.previous_secret_sealed, e.previous_secret_until_ms, e.notify_email
                FROM webhook_deliveries d JOIN webhook_endpoints e ON e.tenant_id = d.tenant_id AND e.id = d.endpoint_id
                WHERE d.next_attempt_at_ms <= \(bind: now) AND d.status = 'pending' AND e.status = 'active'
                ORDER BY d.next_attempt_at_ms, d.id LIMIT \(unsafeRaw: "\(limit)")
                """).all(decoding: DueRow.self)
        }
        var claimed: [Claimed] = []
        for row in due {
            let won = try await self.database.tenantTransaction(tenantId: row.tenant_id) { db in
                try await db.raw("""
                    UPDATE webhook_deliveries SET next_attempt_at_ms = \(bind: now + claimMillis)
                    WHERE tenant_id = \(bind: row.tenant_id) AND id = \(bind: row.id) AND next_attempt_at_ms = \(bind: row.next_attempt_at_ms)
                        AND status = 'pending'
                    RETURNING id
                    """).all()
            }
            guard !won.isEmpty else { continue }
            let secrets = try await self.openSecrets(
                SecretRow(secret_sealed: row.secret_sealed, previous_secret_sealed: row.previous_secret_sealed,
                          previous_secret_until_ms: row.previous_secret_until_ms),
                now: now)
            claimed.append(Claimed(
                tenantId: row.tenant_id, id: row.id, endpointId: row.endpoint_id, eventId: row.event_id, eventType: row.event_type,
                payload: row.payload, url: row.url, attempts: row.attempts, giveUpAtMillis: row.give_up_at_ms, nowMillis: now, secrets: secrets,
                notifyEmail: row.notify_email))
        }
        return claimed
    }

    /// Logs an attempt and decides what follows: delivered; tried again after a pause; or, past the retry window, given
    /// up with the endpoint disabled. Answers whether it was delivered.
    func record(_ claimed: Claimed, outcome: Outcome) async throws -> Bool {
        let now = self.clock.nowMillis(), attempt = claimed.attempts + 1, outbox = self.outbox, mail = self.mail
        let next = Self.nextAttempt(after: attempt, now: now, giveUpAt: claimed.giveUpAtMillis, retryAfterSeconds: outcome.retryAfterSeconds)
        let problem = outcome.problem
        return try await self.database.tenantTransaction(tenantId: claimed.tenantId) { db in
            // Deleted with its endpoint while it was being sent: nothing is left to log against.
            guard try await db.raw("""
                SELECT id FROM webhook_deliveries WHERE tenant_id = \(bind: claimed.tenantId) AND id = \(bind: claimed.id)
                """).first() != nil else { return false }
            try await db.raw("""
                INSERT INTO webhook_attempts (tenant_id, delivery_id, attempt, at_ms, duration_ms, status_code, error, response_excerpt)
                VALUES (\(bind: claimed.tenantId), \(bind: claimed.id), \(bind: attempt), \(bind: claimed.nowMillis), \(bind: outcome.durationMillis),
                        \(bind: outcome.statusCode), \(bind: outcome.error), \(bind: outcome.excerpt))
                ON CONFLICT DO NOTHING
                """).run()
            if outcome.delivered {
                try await db.raw("""
                    UPDATE webhook_deliveries SET status = 'delivered', attempts = \(bind: attempt), next_attempt_at_ms = NULL,
                        last_attempt_at_ms = \(bind: claimed.nowMillis), last_status_code = \(bind: outcome.statusCode), last_error = NULL,
                        delivered_at_ms = \(bind: now)
                    WHERE tenant_id = \(bind: claimed.tenantId) AND id = \(bind: claimed.id)
                    """).run()
                return true
            }
            try await db.raw("""
                UPDATE webhook_deliveries SET status = \(bind: next == nil ? "failed" : "pending"), attempts = \(bind: attempt),
                    next_attempt_at_ms = \(bind: next), last_attempt_at_ms = \(bind: claimed.nowMillis), last_status_code = \(bind: outcome.statusCode),
                    last_error = \(bind: problem)
                WHERE tenant_id = \(bind: claimed.tenantId) AND id = \(bind: claimed.id)
                """).run()
            guard next == nil else { return false }
            // Failing for the whole window: the endpoint is disabled, and whoever looks after it is told (once, however many
            // replicas give up on it).
            guard try await Self.disable(
                tenantId: claimed.tenantId, id: claimed.endpointId, url: claimed.url, reason: "failing", lastError: problem, now: now,
                outbox: outbox, db: db)
            else { return false }
            // A contact pseudonymised by an erasure is no address any more, and is not written to.
            if let email = claimed.notifyEmail.flatMap(EmailAddress.normalized) {
                try await mail.enqueue(
                    to: email, subject: "FinFlow disabled the webhook endpoint \(claimed.url)",
                    body: """
                        FinFlow could not deliver events to \(claimed.url) for 24 hours (the last attempt met: \(problem ?? "no answer")), so the \
                        endpoint \(claimed.endpointId) is now disabled and receives nothing.

                        Once the endpoint answers again, enable it (PATCH /v1/integrations/webhooks/\(claimed.endpointId) with \
                        {"enabled": true}) and replay what it missed from its delivery log \
                        (GET /v1/integrations/webhooks/\(claimed.endpointId)/deliveries?status=failed).

                        """,
                    purpose: "webhook-disabled", on: db)
            }
            return false
        }
    }

    /// When to try again after failed attempt number `attempt`, or nil once the retry window is over. The pause grows
    /// (a minute, five, fifteen, … eight hours), is drawn within ±20% so many deliveries do not return together, is at
    /// least what the receiver's `Retry-After` asked (up to an hour), and the last attempt falls at the window's end.
    static func nextAttempt(after attempt: Int, now: Int64, giveUpAt: Int64, retryAfterSeconds: Int64?) -> Int64? {
        guard now < giveUpAt else { return nil }
        let pauses = WebhookDispatcher.pausesSeconds
        let base = pauses[min(max(attempt - 1, 0), pauses.count - 1)] * 1_000
        var pause = Int64.random(in: (base * 8 / 10)...(base * 12 / 10))
        if let asked = retryAfterSeconds, asked > 0 { pause = max(pause, min(asked, 3_600) * 1_000) }
        return min(now + pause, giveUpAt)
    }
}
