import Crypto
import FinFlowCore
import Foundation
import Logging
import SQLKit

/// Providers' change notifications (webhooks in): QuickBooks' `intuit-signature` and Xero's `x-xero-signature`, each
/// the base64 HMAC-SHA256 of the exact body keyed with the app's verifier token or webhook key. A verified delivery is
/// kept (a redelivery of the same body is the same row) and answered at once; applying it later marks the connections
/// to that company or organisation as wanting a sync, and the runner queues one for each, after any run already going.
extension SyncDesk {
    /// The largest notification body read.
    static let notificationBodyBytesMax = 256 * 1_024
    /// Notifications applied per pass.
    static let notificationsPerPass = 100
    /// How long an applied notification is kept, so a redelivery of it (the providers retry for hours) is known.
    static let notificationKeepMillis: Int64 = 7 * 86_400_000

    /// Verifies and keeps one delivery. A wrong or missing signature is 401 and keeps nothing; so is a provider whose
    /// webhook key this FinFlow does not have. Xero's intent-to-receive check (a signed delivery with no events) is
    /// answered the same way as any other.
    func receive(provider: AccountingProvider, signature: String?, body: Data) async throws {
        let refused = AppError(.unauthenticated, code: "invalid-webhook-signature", "the \(provider.title) webhook signature does not match")
        guard let key = provider.app(self.settings).webhookKey, let signature,
            let mac = Data(base64Encoded: signature.trimmingCharacters(in: .whitespaces)),
            HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: body, using: SymmetricKey(data: Data(key.utf8)))
        else { throw refused }
        let externalIds = try Self.notified(provider: provider, body: body)
        guard !externalIds.isEmpty else { return }
        let id = self.ids.nextString(), now = self.clock.nowMillis(), dedupe = Digest.sha256Hex(body)
        let ids = externalIds.sorted().joined(separator: ",")
        let payload = String(decoding: body, as: UTF8.self)
        try await self.database.transaction { db in
            try await db.raw("""
                INSERT INTO integration_notifications (id, provider, dedupe_key, external_ids, payload, received_at_ms)
                VALUES (\(bind: id), \(bind: provider.rawValue), \(bind: dedupe), \(bind: ids), \(bind: payload), \(bind: now))
                ON CONFLICT (provider, dedupe_key) DO NOTHING
                """).run()
        }
    }

    /// The companies (QuickBooks `realmId`) or organisations (Xero `tenantId`) a delivery says changed. A body that is
    /// not the provider's notification is 400.
    static func notified(provider: AccountingProvider, body: Data) throws -> Set<String> {
        let unreadable = AppError.invalid(code: "invalid-notification", "the body is not a \(provider.title) change notification")
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { throw unreadable }
        switch provider {
        case .quickbooks:
            guard let notifications = object["eventNotifications"] as? [[String: Any]] else { throw unreadable }
            return Set(notifications.compactMap { $0["realmId"] as? String }.filter { !$0.isEmpty && $0.count <= 64 })
        case .xero:
            guard let events = object["events"] as? [[String: Any]] else { throw unreadable }
            return Set(events.compactMap { $0["tenantId"] as? String }.filter { !$0.isEmpty && $0.count <= 64 })
        }
    }

    /// Applies kept notifications: each connected connection to a company or organisation named is marked as wanting
    /// a sync (with the time the notification came), and the notification as applied, in one transaction.
    func applyNotifications() async throws -> Int {
        struct Row: Decodable { let id, provider, external_ids: String; let received_at_ms: Int64 }
        let rows = try await self.database.read { db in
            try await db.raw("""
                SELECT id, provider, external_ids, received_at_ms FROM integration_notifications WHERE applied_at_ms IS NULL
                ORDER BY received_at_ms LIMIT \(unsafeRaw: "\(Self.notificationsPerPass)")
                """).all(decoding: Row.self)
        }
        guard !rows.isEmpty else { return 0 }
        let now = self.clock.nowMillis()
        // Old applied notifications go when new ones come (no write lock taken on a quiet pass).
        try await self.database.transaction { db in
            try await db.raw("""
                DELETE FROM integration_notifications WHERE applied_at_ms IS NOT NULL AND applied_at_ms < \(bind: now - Self.notificationKeepMillis)
                """).run()
        }
        for row in rows {
            let externalIds = row.external_ids.split(separator: ",").map(String.init)
            try await self.database.transaction { db in
                try await db.raw("""
                    UPDATE integration_connections SET sync_wanted_at_ms = \(bind: row.received_at_ms)
                    WHERE provider = \(bind: row.provider) AND status = 'connected' AND external_id IN (\(binds: externalIds))
                        AND (sync_wanted_at_ms IS NULL OR sync_wanted_at_ms < \(bind: row.received_at_ms))
                    """).run()
                try await db.raw("UPDATE integration_notifications SET applied_at_ms = \(bind: now) WHERE id = \(bind: row.id)").run()
            }
        }
        return rows.count
    }

    /// Queues an incremental run for each connection that wants one and has none unfinished.
    func queueWanted() async throws -> Int {
        struct Row: Decodable { let tenant_id, id: String }
        let wanted = try await self.database.read { db in
            try await db.raw("""
                SELECT c.tenant_id, c.id FROM integration_connections c
                WHERE c.sync_wanted_at_ms IS NOT NULL AND c.status = 'connected' AND NOT EXISTS (
                    SELECT 1 FROM integration_sync_runs r WHERE r.tenant_id = c.tenant_id AND r.connection_id = c.id AND r.status IN ('queued', 'running'))
                LIMIT \(unsafeRaw: "\(Self.notificationsPerPass)")
                """).all(decoding: Row.self)
        }
        var queued = 0
        for row in wanted {
            do {
                _ = try await Self.queue(
                    database: self.database, audit: self.audit, id: self.ids.nextString(), now: self.clock.nowMillis(), tenantId: row.tenant_id,
                    connectionId: row.id, full: false, requestedBy: Self.webhookRequester)
                queued += 1
            } catch let error as AppError where error.code == "sync-running" {
                // A run was queued meanwhile (by a manager, or another replica): it reads the change.
                continue
            } catch {
                // Anything else (the database, the one-run constraint met by a race) is told, and tried on the next pass.
                self.logger.warning("a sync asked for by a provider could not be queued", metadata: ["connection": "\(row.id)", "error": "\(error)"])
            }
        }
        return queued
    }

    /// Who a run queued by a provider's notification was requested by.
    static let webhookRequester = "provider-notification"
}
