import FinFlowCore
import Foundation
import SQLKit

/// What a query over the audit trail asks: every field narrows it.
struct AuditTrailQuery: Sendable {
    /// nil: every tenant (an operator's export only; the API always names the caller's).
    var tenantId: String?
    var service: String?
    var actorId: String?
    var action: String?
    /// The resource the record is about (its `target`).
    var target: String?
    /// From this instant, inclusive, in Unix milliseconds.
    var fromMillis: Int64?
    /// Until this instant, exclusive.
    var toMillis: Int64?

    /// The query's conditions, after `WHERE`.
    var conditions: SQLQueryString {
        var sql = SQLQueryString("1 = 1")
        for (column, value) in [("tenant_id", self.tenantId), ("service", self.service), ("actor_id", self.actorId),
                                ("action", self.action), ("target", self.target)] {
            guard let value else { continue }
            sql.appendInterpolation(unsafeRaw: " AND \(column) = ")
            sql.appendInterpolation(bind: value)
        }
        if let from = self.fromMillis {
            sql.appendInterpolation(unsafeRaw: " AND occurred_at_ms >= ")
            sql.appendInterpolation(bind: from)
        }
        if let to = self.toMillis {
            sql.appendInterpolation(unsafeRaw: " AND occurred_at_ms < ")
            sql.appendInterpolation(bind: to)
        }
        return sql
    }
}

/// A record of the audit trail as the compliance service keeps it.
struct AuditTrailRow: Decodable, Sendable {
    let tenant_id: String
    let service: String
    let seq: Int64
    let record_id: String
    let occurred_at_ms: Int64
    let actor_id: String?
    let action: String
    let target: String?
    let outcome: String
    let client_address: String?
    let details: String
    let prev_hash: String
    let hash: String

    var exported: AuditExport.Record {
        AuditExport.Record(
            service: self.service, recordId: self.record_id, tenantId: self.tenant_id, seq: self.seq, occurredAtMillis: self.occurred_at_ms,
            actorId: self.actor_id, action: self.action, target: self.target, outcome: self.outcome, clientAddress: self.client_address,
            details: self.details, prevHash: self.prev_hash, hash: self.hash)
    }
}

/// A checkpoint as the compliance service received it.
struct AuditTrailCheckpointRow: Decodable, Sendable {
    let tenant_id: String
    let service: String
    let seq: Int64
    let hash: String
    let signed_at_ms: Int64
    let key_id: String
    let public_key: String
    let signature: String

    var checkpoint: AuditCheckpoint {
        AuditCheckpoint(
            service: self.service, tenantId: self.tenant_id, seq: self.seq, hash: self.hash, signedAtMillis: self.signed_at_ms,
            keyId: self.key_id, publicKey: self.public_key, signature: self.signature)
    }
}

/// The audit trail: every service's audit records and signed checkpoints, kept as their events bring them, queried
/// and exported as one.
extension ComplianceDesk {
    /// Records read per page of an export.
    static let auditExportPageSize = 1_000

    /// Keeps the records `events` carry; one seen before (a redelivery) is kept once.
    func keepAuditRecords(_ events: [CloudEvent<AuditRecorded>], db: any SQLDatabase) async throws {
        let now = self.now
        let rows: [[SQLCell]] = events.map { event in
            let r = event.data
            return [
                SQLCell(r.tenantId), SQLCell(r.service), SQLCell(r.seq), SQLCell(r.recordId), SQLCell(r.occurredAtMillis), SQLCell(r.actorId),
                SQLCell(r.action), SQLCell(r.target), SQLCell(r.outcome), SQLCell(r.clientAddress), SQLCell(r.details), SQLCell(r.prevHash),
                SQLCell(r.hash), SQLCell(now),
            ]
        }
        try await db.insertRows(
            into: "audit_trail",
            columns: [
                "tenant_id", "service", "seq", "record_id", "occurred_at_ms", "actor_id", "action", "target", "outcome", "client_address",
                "details", "prev_hash", "hash", "received_at_ms",
            ],
            rows: rows, suffix: "ON CONFLICT DO NOTHING")
    }

    /// Keeps the checkpoints `events` carry, once each.
    func keepAuditCheckpoints(_ events: [CloudEvent<AuditCheckpointed>], db: any SQLDatabase) async throws {
        let now = self.now
        let rows: [[SQLCell]] = events.map { event in
            let c = event.data
            return [
                SQLCell(c.tenantId), SQLCell(c.service), SQLCell(c.seq), SQLCell(c.hash), SQLCell(c.signedAtMillis), SQLCell(c.keyId),
                SQLCell(c.publicKey), SQLCell(c.signature), SQLCell(now),
            ]
        }
        try await db.insertRows(
            into: "audit_trail_checkpoints",
            columns: ["tenant_id", "service", "seq", "hash", "signed_at_ms", "key_id", "public_key", "signature", "received_at_ms"],
            rows: rows, suffix: "ON CONFLICT DO NOTHING")
    }

    /// A page of the records `query` selects, newest first.
    func auditTrail(_ query: AuditTrailQuery, page: PageRequest) async throws -> (items: [AuditTrailRow], nextCursor: String?) {
        var sql = SQLQueryString("SELECT * FROM audit_trail WHERE ")
        sql.appendInterpolation(query.conditions)
        if let after = page.after {
            let parts = after.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let millis = Int64(parts[0]) else { throw AppError.invalid("the cursor is not one this API issued") }
            let id = String(parts[1])
            sql.appendInterpolation(unsafeRaw: " AND (occurred_at_ms < ")
            sql.appendInterpolation(bind: millis)
            sql.appendInterpolation(unsafeRaw: " OR (occurred_at_ms = ")
            sql.appendInterpolation(bind: millis)
            sql.appendInterpolation(unsafeRaw: " AND record_id < ")
            sql.appendInterpolation(bind: id)
            sql.appendInterpolation(unsafeRaw: "))")
        }
        sql.appendInterpolation(unsafeRaw: " ORDER BY occurred_at_ms DESC, record_id DESC LIMIT ")
        sql.appendInterpolation(bind: page.limit + 1)
        let statement = sql
        let rows = try await self.readTrail(tenantId: query.tenantId) { db in
            try await db.raw(statement).all(decoding: AuditTrailRow.self)
        }
        return page.page(rows) { "\($0.occurred_at_ms):\($0.record_id)" }
    }

    /// Reads the trail as the tenant (row-level security on PostgreSQL) or, for an operator, across tenants.
    func readTrail<T: Sendable>(tenantId: String?, _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        if let tenantId { return try await self.database.tenantRead(tenantId: tenantId, body) }
        return try await self.database.read(body)
    }

    /// The records `query` selects, chain by chain in order, then the checkpoints of those chains from the first
    /// record exported on, as UTF-8 text of `format`, a page at a time.
    func exportAuditTrail(_ query: AuditTrailQuery, format: AuditExport.Format) -> AsyncThrowingStream<ArraySlice<UInt8>, any Error> {
        let export = AuditTrailExport(desk: self, query: query, format: format)
        return AsyncThrowingStream { try await export.next().map { ArraySlice($0.utf8) } }
    }
}

/// Where an export stands between the pages it reads.
actor AuditTrailExport {
    let desk: ComplianceDesk
    let query: AuditTrailQuery
    let format: AuditExport.Format
    var started = false
    var after: (tenant: String, service: String, seq: Int64)?
    var recordsDone = false
    /// The first sequence number exported of each chain, keyed `tenant\u{1}service`.
    var firstSeq: [String: (tenant: String, service: String, seq: Int64)] = [:]
    var chainsLeft: [(tenant: String, service: String, seq: Int64)]?

    init(desk: ComplianceDesk, query: AuditTrailQuery, format: AuditExport.Format) {
        self.desk = desk
        self.query = query
        self.format = format
    }

    /// The next piece of the export, or nil at its end.
    func next() async throws -> String? {
        if !self.started {
            self.started = true
            return AuditExport.header(self.format)
        }
        if !self.recordsDone {
            let rows = try await self.recordPage()
            if let last = rows.last {
                self.after = (last.tenant_id, last.service, last.seq)
                var text = ""
                for row in rows {
                    let key = row.tenant_id + "\u{1}" + row.service
                    if self.firstSeq[key] == nil { self.firstSeq[key] = (row.tenant_id, row.service, row.seq) }
                    text += AuditExport.line(row.exported, self.format)
                }
                return text
            }
            self.recordsDone = true
            self.chainsLeft = self.firstSeq.values.sorted { ($0.tenant, $0.service) < ($1.tenant, $1.service) }
        }
        while var chains = self.chainsLeft, let chain = chains.first {
            chains.removeFirst()
            self.chainsLeft = chains
            let checkpoints = try await self.desk.readTrail(tenantId: chain.tenant) { db in
                try await db.raw("""
                    SELECT * FROM audit_trail_checkpoints
                    WHERE tenant_id = \(bind: chain.tenant) AND service = \(bind: chain.service) AND seq >= \(bind: chain.seq) ORDER BY seq
                    """).all(decoding: AuditTrailCheckpointRow.self)
            }
            if !checkpoints.isEmpty { return checkpoints.map { AuditExport.line($0.checkpoint, self.format) }.joined() }
        }
        return nil
    }

    private func recordPage() async throws -> [AuditTrailRow] {
        var sql = SQLQueryString("SELECT * FROM audit_trail WHERE ")
        sql.appendInterpolation(self.query.conditions)
        if let after = self.after {
            sql.appendInterpolation(unsafeRaw: " AND (tenant_id > ")
            sql.appendInterpolation(bind: after.tenant)
            sql.appendInterpolation(unsafeRaw: " OR (tenant_id = ")
            sql.appendInterpolation(bind: after.tenant)
            sql.appendInterpolation(unsafeRaw: " AND (service > ")
            sql.appendInterpolation(bind: after.service)
            sql.appendInterpolation(unsafeRaw: " OR (service = ")
            sql.appendInterpolation(bind: after.service)
            sql.appendInterpolation(unsafeRaw: " AND seq > ")
            sql.appendInterpolation(bind: after.seq)
            sql.appendInterpolation(unsafeRaw: "))))")
        }
        sql.appendInterpolation(unsafeRaw: " ORDER BY tenant_id, service, seq LIMIT ")
        sql.appendInterpolation(bind: ComplianceDesk.auditExportPageSize)
        let statement = sql
        return try await self.desk.readTrail(tenantId: self.query.tenantId) { db in
            try await db.raw(statement).all(decoding: AuditTrailRow.self)
        }
    }
}
