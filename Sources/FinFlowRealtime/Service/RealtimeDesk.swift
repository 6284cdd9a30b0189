import FinFlowCore
import Foundation
import Logging
import SQLKit
import Synchronization

/// An anomaly as stored and pushed.
struct StoredAnomaly: Sendable, Codable, Equatable {
    let id: String
    let tenantId: String
    let sequence: Int64
    let subjectType: String
    let subjectId: String
    let score: Double
    let threshold: Double
    let amountMinor: Int64
    let currency: String
    let accountKey: String
    let counterparty: String?
    let reasons: [Assessment.Reason]
    let occurredAtMillis: Int64
    let detectedAtMillis: Int64
}

/// The realtime service's use cases: score every transaction and payment on arrival with its tenant's detector, keep
/// the detectors recoverable (snapshots and the observations since), store and announce what crosses the tenant's
/// threshold, and push it to the tenant's connected clients once committed.
final class RealtimeDesk: Sendable {
    let database: any Database
    let clock: any FinFlowClock
    let ids: IdentifierGenerator
    let outbox: Outbox
    let logger: Logger
    let audit: AuditLog
    let feed = LiveFeed()

    /// A tenant's detector as this process holds it: after observation `seq`, with the snapshot at `savedSeq`.
    struct Held: Sendable {
        var detector: TenantDetector
        var seq: Int64
        var savedSeq: Int64
        var usedAtMillis: Int64
    }

    /// Detectors held in memory, at most `heldMax` (the least recently used go; they are rebuilt from the database).
    private let held = Mutex<[String: Held]>([:])
    /// One delivery at a time: deliveries of both topics touch the same detectors.
    private let lock = AsyncLock()
    /// Anomalies of deliveries not yet committed, by event id, pushed once their delivery commits.
    private let pending = Mutex<[String: [StoredAnomaly]]>([:])

    static let heldMax = 500
    /// A tenant's detector is saved after this many observations (the rows since are deleted with it).
    static let snapshotEvery: Int64 = 5_000
    static let defaultAnomalyThreshold = 0.9
    static let defaultComplianceThreshold = 0.97

    init(env: ServiceEnvironment) {
        self.database = env.database
        self.clock = env.clock
        self.ids = env.ids
        self.outbox = env.outbox(serviceName: "realtime")
        self.logger = env.logger
        self.audit = env.audit
    }

    /// A tenant's thresholds (basis points of score): its own, or the defaults.
    static func thresholds(tenantId: String, db: any SQLDatabase) async throws -> (anomaly: Double, compliance: Double) {
        struct Row: Decodable { let anomaly_threshold_bp: Int; let compliance_threshold_bp: Int }
        let row = try await db.raw("""
            SELECT anomaly_threshold_bp, compliance_threshold_bp FROM realtime_settings WHERE tenant_id = \(bind: tenantId)
            """).first(decoding: Row.self)
        guard let row else { return (Self.defaultAnomalyThreshold, Self.defaultComplianceThreshold) }
        return (Double(row.anomaly_threshold_bp) / 10_000, Double(row.compliance_threshold_bp) / 10_000)
    }

    // MARK: consuming

    /// Scores `events` (in order) and keeps what follows from them, inside the delivery's transaction `db`.
    func consume(_ events: [(PublishedEvent, Observation, tenantId: String)], db: any SQLDatabase) async throws {
        try await self.lock.withLock {
            let tenants = Array(Set(events.map(\.tenantId)))
            do {
                try await self.score(events, tenants: tenants, db: db)
            } catch {
                // The transaction rolls back: what this process holds may be ahead of the database. Forget it.
                self.held.withLock { held in for tenant in tenants { held.removeValue(forKey: tenant) } }
                throw error
            }
        }
    }

    private func score(_ events: [(PublishedEvent, Observation, tenantId: String)], tenants: [String], db: any SQLDatabase) async throws {
        var states: [String: Held] = [:]
        var thresholds: [String: (anomaly: Double, compliance: Double)] = [:]
        for tenant in tenants {
            states[tenant] = try await self.load(tenant, db: db)
            thresholds[tenant] = try await Self.thresholds(tenantId: tenant, db: db)
        }
        let now = self.clock.nowMillis()
        var recent: [[SQLCell]] = []
        var anomalies: [(event: PublishedEvent, anomaly: StoredAnomaly)] = []
        let encoder = JSONEncoder()
        for (event, observation, tenant) in events {
            guard var state = states[tenant], let limits = thresholds[tenant] else { continue }
            let assessment = state.detector.observe(observation, threshold: limits.anomaly)
            state.seq += 1
            recent.append([.init(tenant), .init(state.seq), .init(String(decoding: try encoder.encode(observation), as: UTF8.self))])
            if assessment.score >= limits.anomaly {
                anomalies.append((event, StoredAnomaly(
                    id: self.ids.nextString(), tenantId: tenant, sequence: state.seq, subjectType: observation.kind, subjectId: observation.subjectId,
                    score: assessment.score, threshold: limits.anomaly, amountMinor: observation.amountMinor, currency: observation.currency,
                    accountKey: observation.accountKey, counterparty: observation.counterparty, reasons: assessment.reasons,
                    occurredAtMillis: observation.atMillis, detectedAtMillis: now)))
            }
            states[tenant] = state
        }
        try await db.insertRows(into: "realtime_recent", columns: ["tenant_id", "seq", "observation"], rows: recent)
        for (tenant, var state) in states where state.seq - state.savedSeq >= Self.snapshotEvery {
            try await self.save(&state, tenant: tenant, db: db)
            states[tenant] = state
        }
        try await self.store(anomalies.map(\.anomaly), thresholds: thresholds, db: db)
        self.pending.withLock { pending in
            for (event, anomaly) in anomalies { pending[event.id, default: []].append(anomaly) }
            // Deliveries that rolled back leave theirs behind; they never grow past a bound.
            if pending.count > 100_000 { pending.removeAll() }
        }
        self.held.withLock { held in
            for (tenant, var state) in states {
                state.usedAtMillis = now
                held[tenant] = state
            }
            if held.count > Self.heldMax {
                for (tenant, _) in held.sorted(by: { $0.value.usedAtMillis < $1.value.usedAtMillis }).prefix(held.count - Self.heldMax / 2) {
                    held.removeValue(forKey: tenant)
                }
            }
        }
    }

    /// Drops the tenant's detector from memory: the next delivery rebuilds it from the database.
    func forget(tenantId: String) {
        _ = self.held.withLock { $0.removeValue(forKey: tenantId) }
    }

    /// The tenant's detector as the database holds it (its snapshot and the observations since).
    func detector(tenantId: String) async throws -> (detector: TenantDetector, seq: Int64) {
        let state = try await self.database.transaction { db in try await self.load(tenantId, db: db) }
        return (state.detector, state.seq)
    }

    /// Pushes the anomalies of a committed delivery.
    func committed(_ events: [PublishedEvent]) {
        let anomalies = self.pending.withLock { pending in events.flatMap { pending.removeValue(forKey: $0.id) ?? [] } }
        self.feed.publish(anomalies)
    }

    /// The tenant's detector: the one held, if the database's snapshot is still the one it was built on; else rebuilt
    /// from the snapshot and the observations since.
    private func load(_ tenant: String, db: any SQLDatabase) async throws -> Held {
        struct Snapshot: Decodable { let seq: Int64; let state: String }
        let snapshot = try await db.raw("SELECT seq, state FROM realtime_state WHERE tenant_id = \(bind: tenant)").first(decoding: Snapshot.self)
        if let held = self.held.withLock({ $0[tenant] }), held.savedSeq == (snapshot?.seq ?? 0) { return held }
        var state = Held(detector: TenantDetector(), seq: 0, savedSeq: 0, usedAtMillis: 0)
        if let snapshot {
            do {
                state.detector = try JSONDecoder().decode(TenantDetector.self, from: Data(snapshot.state.utf8))
            } catch {
                throw InvariantViolation("the realtime snapshot of tenant \(tenant) cannot be read: \(error)")
            }
            (state.seq, state.savedSeq) = (snapshot.seq, snapshot.seq)
        }
        struct Row: Decodable { let seq: Int64; let observation: String }
        let decoder = JSONDecoder()
        for row in try await db.raw("""
            SELECT seq, observation FROM realtime_recent WHERE tenant_id = \(bind: tenant) AND seq > \(bind: state.seq) ORDER BY seq
            """).all(decoding: Row.self)
        {
            guard row.seq == state.seq + 1 else { throw InvariantViolation("tenant \(tenant)'s observations skip from \(state.seq) to \(row.seq)") }
            _ = state.detector.observe(try decoder.decode(Observation.self, from: Data(row.observation.utf8)))
            state.seq = row.seq
        }
        return state
    }

    /// Saves the tenant's detector and deletes the observations it holds.
    private func save(_ state: inout Held, tenant: String, db: any SQLDatabase) async throws {
        let json = String(decoding: try JSONEncoder().encode(state.detector), as: UTF8.self)
        try await db.raw("""
            INSERT INTO realtime_state (tenant_id, seq, state, saved_at_ms) VALUES (\(bind: tenant), \(bind: state.seq), \(bind: json), \(bind: self.clock.nowMillis()))
            ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, state = excluded.state, saved_at_ms = excluded.saved_at_ms
            """).run()
        try await db.raw("DELETE FROM realtime_recent WHERE tenant_id = \(bind: tenant) AND seq <= \(bind: state.seq)").run()
        state.savedSeq = state.seq
    }

    /// Stores the anomalies and announces them; those above the tenant's compliance threshold also as compliance alerts.
    private func store(_ anomalies: [StoredAnomaly], thresholds: [String: (anomaly: Double, compliance: Double)], db: any SQLDatabase) async throws {
        guard !anomalies.isEmpty else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try await db.insertRows(
            into: "realtime_anomalies",
            columns: ["id", "tenant_id", "seq", "subject_type", "subject_id", "score_bp", "threshold_bp", "amount_minor", "currency", "account_key",
                      "counterparty", "reasons", "occurred_at_ms", "detected_at_ms"],
            rows: try anomalies.map { a in
                [.init(a.id), .init(a.tenantId), .init(a.sequence), .init(a.subjectType), .init(a.subjectId), .init(Int64((a.score * 10_000).rounded())),
                 .init(Int64((a.threshold * 10_000).rounded())), .init(a.amountMinor), .init(a.currency), .init(a.accountKey), .init(a.counterparty),
                 .init(String(decoding: try encoder.encode(a.reasons), as: UTF8.self)), .init(a.occurredAtMillis), .init(a.detectedAtMillis)]
            })
        try await self.outbox.enqueue(anomalies.map { a in
            (AnomalyDetected(
                anomalyId: a.id, tenantId: a.tenantId, subjectType: a.subjectType, subjectId: a.subjectId, score: a.score, threshold: a.threshold,
                amountMinor: a.amountMinor, currency: a.currency,
                reasons: a.reasons.map { .init(feature: $0.feature, value: $0.value, contribution: $0.contribution, detail: $0.detail) },
                sequence: a.sequence, detectedAtMillis: a.detectedAtMillis), a.subjectId as String?, a.tenantId as String?)
        }, on: db)
        let alerts = anomalies.filter { $0.score >= (thresholds[$0.tenantId]?.compliance ?? Self.defaultComplianceThreshold) }
        try await self.outbox.enqueue(alerts.map { a in
            (ComplianceAlert(
                alertId: self.ids.nextString(), tenantId: a.tenantId, kind: "fraud", severity: a.score >= 0.99 ? "critical" : "high",
                subjectType: a.subjectType, subjectId: a.subjectId, userId: nil, action: "review",
                reason: "anomaly score \(String(format: "%.2f", a.score)): " + (a.reasons.first?.detail ?? "unusual movement"),
                raisedAtMillis: a.detectedAtMillis), a.subjectId as String?, a.tenantId as String?)
        }, on: db)
    }
}
