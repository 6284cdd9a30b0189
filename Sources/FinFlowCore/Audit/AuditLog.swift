import Crypto
import Foundation
import SQLKit

/// One security-relevant fact to record.
public struct AuditEntry: Sendable {
    /// The tenant whose chain records it; platform-level facts (an unknown email) use `AuditLog.platformTenant`.
    public var tenantId: String
    public var actorId: String?
    /// What happened (`auth.sign-in`, `auth.lockout`, `tenancy.membership.role-changed`).
    public var action: String
    /// What it happened to (a user, session or membership id).
    public var target: String?
    /// `success` or `failure`.
    public var outcome: String
    public var clientAddress: String?
    /// Extra facts, as text pairs.
    public var details: [String: String]

    /// An entry to append; the client address defaults to that of the request being handled.
    public init(
        tenantId: String, actorId: String?, action: String, target: String?, outcome: String = "success",
        clientAddress: String? = RequestScope.current?.clientAddress, details: [String: String] = [:]
    ) {
        self.tenantId = tenantId
        self.actorId = actorId
        self.action = action
        self.target = target
        self.outcome = outcome
        self.clientAddress = clientAddress
        self.details = details
    }
}

/// The append-only audit log of one service database, hash-chained per tenant: each record carries the hash of the
/// one before it, so any edit, deletion or reordering breaks the chain at that record.
public struct AuditLog: Sendable {
    /// The chain for facts that belong to no tenant.
    public static let platformTenant = "00000000-0000-0000-0000-000000000000"
    /// The `prev_hash` of a chain's first record.
    public static let genesisHash = String(repeating: "0", count: 64)

    let ids: IdentifierGenerator
    let clock: any FinFlowClock

    /// An audit log stamping records with `clock`.
    public init(ids: IdentifierGenerator, clock: any FinFlowClock) {
        self.ids = ids
        self.clock = clock
    }

    struct Record: Codable, Sendable {
        let id: String
        let tenant_id: String
        let seq: Int64
        let occurred_at_ms: Int64
        let actor_id: String?
        let action: String
        let target: String?
        let outcome: String
        let client_address: String?
        let details: String
        let prev_hash: String
        let hash: String

        /// SHA-256 over the previous hash and every field, as a JSON array so no two records share an input.
        var computedHash: String {
            let fields: [String?] = [
                self.prev_hash, self.id, self.tenant_id, String(self.seq), String(self.occurred_at_ms), self.actor_id,
                self.action, self.target, self.outcome, self.client_address, self.details,
            ]
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let data = (try? encoder.encode(fields)) ?? Data()
            return Digest.sha256Hex(data)
        }
    }

    private struct ChainHead: Decodable {
        let seq: Int64
        let hash: String
    }

    /// Appends `entry` to its tenant's chain on `db`, which should be the transaction of the change it records.
    public func append(_ entry: AuditEntry, on db: any SQLDatabase, kind: DatabaseKind) async throws {
        if kind == .postgres {
            // Serialises appends to one tenant's chain across connections and replicas.
            try await db.raw("SELECT pg_advisory_xact_lock(hashtext(\(bind: "audit:" + entry.tenantId)))").run()
        }
        let head = try await db.raw("""
            SELECT seq, hash FROM audit_log WHERE tenant_id = \(bind: entry.tenantId) ORDER BY seq DESC LIMIT 1
            """).first(decoding: ChainHead.self)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let details = String(decoding: try encoder.encode(entry.details), as: UTF8.self)
        var record = Record(
            id: self.ids.nextString(), tenant_id: entry.tenantId, seq: (head?.seq ?? 0) + 1,
            occurred_at_ms: self.clock.nowMillis(), actor_id: entry.actorId, action: entry.action, target: entry.target,
            outcome: entry.outcome, client_address: entry.clientAddress, details: details,
            prev_hash: head?.hash ?? Self.genesisHash, hash: "")
        record = Record(
            id: record.id, tenant_id: record.tenant_id, seq: record.seq, occurred_at_ms: record.occurred_at_ms,
            actor_id: record.actor_id, action: record.action, target: record.target, outcome: record.outcome,
            client_address: record.client_address, details: record.details, prev_hash: record.prev_hash,
            hash: record.computedHash)
        try await db.raw("""
            INSERT INTO audit_log (id, tenant_id, seq, occurred_at_ms, actor_id, action, target, outcome, client_address,
                details, prev_hash, hash)
            VALUES (\(bind: record.id), \(bind: record.tenant_id), \(bind: record.seq), \(bind: record.occurred_at_ms),
                \(bind: record.actor_id), \(bind: record.action), \(bind: record.target), \(bind: record.outcome),
                \(bind: record.client_address), \(bind: record.details), \(bind: record.prev_hash), \(bind: record.hash))
            """).run()
        try await db.raw("""
            INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (\(bind: record.tenant_id), \(bind: record.seq), \(bind: record.hash))
            ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash
            """).run()
    }
}
