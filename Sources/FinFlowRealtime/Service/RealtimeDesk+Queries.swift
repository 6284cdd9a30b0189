import FinFlowCore
import Foundation
import SQLKit

/// A stored anomaly's row.
struct AnomalyRow: Decodable, Sendable {
    let id: String
    let tenant_id: String
    let seq: Int64
    let subject_type: String
    let subject_id: String
    let score_bp: Int
    let threshold_bp: Int
    let amount_minor: Int64
    let currency: String
    let account_key: String
    let counterparty: String?
    let reasons: String
    let occurred_at_ms: Int64
    let detected_at_ms: Int64

    func anomaly() throws -> StoredAnomaly {
        let reasons: [Assessment.Reason]
        do { reasons = try JSONDecoder().decode([Assessment.Reason].self, from: Data(self.reasons.utf8)) } catch {
            throw InvariantViolation("a stored anomaly's reasons cannot be read: \(error)")
        }
        return StoredAnomaly(
            id: self.id, tenantId: self.tenant_id, sequence: self.seq, subjectType: self.subject_type, subjectId: self.subject_id,
            score: Double(self.score_bp) / 10_000, threshold: Double(self.threshold_bp) / 10_000, amountMinor: self.amount_minor,
            currency: self.currency, accountKey: self.account_key, counterparty: self.counterparty, reasons: reasons,
            occurredAtMillis: self.occurred_at_ms, detectedAtMillis: self.detected_at_ms)
    }
}

extension RealtimeDesk {
    static let pageMax = 500

    /// The tenant's anomalies after sequence `after`, in order, at most `limit`.
    func anomalies(tenantId: String, after: Int64, limit: Int) async throws -> [StoredAnomaly] {
        try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.raw("""
                SELECT * FROM realtime_anomalies WHERE tenant_id = \(bind: tenantId) AND seq > \(bind: after) ORDER BY seq LIMIT \(bind: limit)
                """).all(decoding: AnomalyRow.self)
        }.map { try $0.anomaly() }
    }

    func anomaly(tenantId: String, id: String) async throws -> StoredAnomaly {
        let row = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.raw("SELECT * FROM realtime_anomalies WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id)").first(decoding: AnomalyRow.self)
        }
        guard let row else { throw AppError.notFound("anomaly") }
        return try row.anomaly()
    }

    func settings(tenantId: String) async throws -> (anomaly: Double, compliance: Double) {
        try await self.database.tenantRead(tenantId: tenantId) { db in try await Self.thresholds(tenantId: tenantId, db: db) }
    }

    /// Sets the tenant's thresholds (audited); they apply from the next delivery.
    func setSettings(anomaly: Double, compliance: Double, principal: Principal) async throws {
        let tenantId = principal.tenantId, now = self.clock.nowMillis(), audit = self.audit, kind = self.database.kind
        let anomalyBp = Int64((anomaly * 10_000).rounded()), complianceBp = Int64((compliance * 10_000).rounded())
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            try await db.raw("""
                INSERT INTO realtime_settings (tenant_id, anomaly_threshold_bp, compliance_threshold_bp, updated_by, updated_at_ms)
                VALUES (\(bind: tenantId), \(bind: anomalyBp), \(bind: complianceBp), \(bind: principal.subject), \(bind: now))
                ON CONFLICT (tenant_id) DO UPDATE SET anomaly_threshold_bp = excluded.anomaly_threshold_bp,
                    compliance_threshold_bp = excluded.compliance_threshold_bp, updated_by = excluded.updated_by, updated_at_ms = excluded.updated_at_ms
                """).run()
            try await audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "realtime.settings.changed", target: "tenant:\(tenantId)",
                           details: ["anomalyThreshold": "\(anomaly)", "complianceThreshold": "\(compliance)"]),
                on: db, kind: kind)
        }
    }
}
