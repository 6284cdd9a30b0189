import FinFlowCore
import Foundation
import SQLKit

/// An operational incident: a compliance alert or an anomaly, recorded beside the performance figures of its time.
struct Incident: Sendable {
    let sequence: Int64
    let id: String
    let source: String
    let tenantId: String
    let kind: String
    let severity: String
    let subjectType: String
    let subjectId: String
    let reason: String
    let occurredAtMillis: Int64
    let recordedAtMillis: Int64
    var signals: [Signal] = []

    /// One service's statements in the samples around the incident.
    struct Signal: Sendable {
        let service: String
        var calls: Int64 = 0
        var errors: Int64 = 0
        var millis: Double = 0
    }
}

extension PerformanceDesk {
    /// The longest text kept of an incident's fields.
    static let incidentTextMax = 500

    /// Records a compliance alert as an incident, once (the event id is its inbox's, the alert id its key).
    func record(alert: ComplianceAlert, db: any SQLDatabase) async throws {
        try await self.recordIncident(
            id: "alert:" + alert.alertId, source: "compliance-alert", tenantId: alert.tenantId, kind: alert.kind, severity: alert.severity,
            subjectType: alert.subjectType, subjectId: alert.subjectId, userId: alert.userId, reason: alert.reason,
            occurredAtMillis: alert.raisedAtMillis, db: db)
    }

    /// Records an anomaly as an incident, once.
    func record(anomaly: AnomalyDetected, occurredAtMillis: Int64, db: any SQLDatabase) async throws {
        let reason = anomaly.reasons.map(\.detail).joined(separator: "; ")
        try await self.recordIncident(
            id: "anomaly:" + anomaly.anomalyId, source: "anomaly", tenantId: anomaly.tenantId, kind: "anomaly",
            severity: anomaly.score >= 0.97 ? "high" : "medium", subjectType: anomaly.subjectType, subjectId: anomaly.subjectId, userId: nil,
            reason: String(format: "score %.3f over %.3f: ", anomaly.score, anomaly.threshold) + reason, occurredAtMillis: occurredAtMillis, db: db)
    }

    private func recordIncident(
        id: String, source: String, tenantId: String, kind: String, severity: String, subjectType: String, subjectId: String,
        userId: String?, reason: String, occurredAtMillis: Int64, db: any SQLDatabase
    ) async throws {
        func clip(_ text: String, _ max: Int = 120) -> String { String(text.prefix(max)) }
        let now = self.env.clock.nowMillis()
        // An instant outside the calendar (a producer's broken clock) is recorded as the time it arrived.
        let occurred = (0...32_503_680_000_000).contains(occurredAtMillis) ? occurredAtMillis : now
        let next = try await db.raw("SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM performance_incidents").first()?.decode(column: "next", as: Int64.self) ?? 1
        try await db.raw("""
            INSERT INTO performance_incidents (id, seq, source, tenant_id, kind, severity, subject_type, subject_id, user_id, reason,
                occurred_at_ms, recorded_at_ms)
            VALUES (\(bind: clip(id, 200)), \(bind: next), \(bind: source), \(bind: clip(tenantId, 64)), \(bind: clip(kind, 40)),
                \(bind: clip(severity, 20)), \(bind: clip(subjectType, 40)), \(bind: clip(subjectId)), \(bind: userId.map { clip($0) }),
                \(bind: clip(reason, Self.incidentTextMax)), \(bind: occurred), \(bind: now))
            ON CONFLICT (id) DO NOTHING
            """).run()
    }

    /// Incidents recorded before sequence `before` (all when nil), newest first, each with the figures of each service in
    /// the samples five minutes either side of it.
    func incidents(before: Int64?, limit: Int) async throws -> [Incident] {
        var incidents = try await self.database.read { db in
            try await db.raw("""
                SELECT seq, id, source, tenant_id, kind, severity, subject_type, subject_id, reason, occurred_at_ms, recorded_at_ms
                FROM performance_incidents WHERE seq < \(bind: before ?? Int64.max) ORDER BY seq DESC LIMIT \(bind: limit)
                """).all().map { row in
                Incident(
                    sequence: try row.decode(column: "seq", as: Int64.self), id: try row.decode(column: "id", as: String.self),
                    source: try row.decode(column: "source", as: String.self), tenantId: try row.decode(column: "tenant_id", as: String.self),
                    kind: try row.decode(column: "kind", as: String.self), severity: try row.decode(column: "severity", as: String.self),
                    subjectType: try row.decode(column: "subject_type", as: String.self), subjectId: try row.decode(column: "subject_id", as: String.self),
                    reason: try row.decode(column: "reason", as: String.self), occurredAtMillis: try row.decode(column: "occurred_at_ms", as: Int64.self),
                    recordedAtMillis: try row.decode(column: "recorded_at_ms", as: Int64.self))
            }
        }
        for index in incidents.indices {
            let at = incidents[index].occurredAtMillis
            let samples = try await self.database.read { db in
                try await db.raw("""
                    SELECT service, metric, SUM(value) AS total FROM performance_samples
                    WHERE taken_at_ms >= \(bind: at - Self.signalWindowMillis) AND taken_at_ms <= \(bind: at + Self.signalWindowMillis)
                    GROUP BY service, metric ORDER BY service
                    """).all()
            }
            var signals: [String: Incident.Signal] = [:]
            for row in samples {
                let service = try row.decode(column: "service", as: String.self), total = try row.decode(column: "total", as: Double.self)
                var signal = signals[service] ?? Incident.Signal(service: service)
                switch SeriesMetric(rawValue: try row.decode(column: "metric", as: String.self)) {
                case .statementCalls: signal.calls = Int64(total)
                case .statementErrors: signal.errors = Int64(total)
                case .statementMillis: signal.millis = total
                default: break
                }
                signals[service] = signal
            }
            incidents[index].signals = signals.values.sorted { $0.service < $1.service }
        }
        return incidents
    }
}
