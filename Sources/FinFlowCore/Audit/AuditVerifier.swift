import Foundation
import SQLKit

/// The outcome of checking a database's audit chains.
public struct AuditVerification: Sendable, Equatable {
    /// The first record that breaks its chain.
    public struct Break: Sendable, Equatable, CustomStringConvertible {
        public let tenantId: String
        public let seq: Int64
        public let recordId: String
        public let reason: String
        public var description: String {
            "tenant \(self.tenantId), record #\(self.seq) (\(self.recordId)): \(self.reason)"
        }
    }

    /// Records checked.
    public let recordsChecked: Int
    /// Chains (tenants) checked.
    public let chains: Int
    /// Signed checkpoints checked against the chains.
    public var checkpointsChecked = 0
    /// The first break found, or nil when every chain is intact.
    public let firstBreak: Break?
}

/// Walks every tenant's audit chain in order, recomputing each hash.
public struct AuditVerifier: Sendable {
    /// Records read per query.
    public static let pageSize = 1_000
    let database: any Database
    /// The service whose database it is: its name is part of what its checkpoints sign.
    let serviceName: String

    /// A verifier of the audit log of `serviceName`'s `database`.
    public init(database: any Database, serviceName: String) {
        self.database = database
        self.serviceName = serviceName
    }

    private struct TenantRow: Decodable { let tenant_id: String }

    /// Checks every chain, then every signed checkpoint of this database and `externalCheckpoints` (the same
    /// service's checkpoints as another store keeps them) against the chains; names the first break.
    public func verify(externalCheckpoints: [AuditCheckpoint] = []) async throws -> AuditVerification {
        var result = try await self.verifyChains()
        guard result.firstBreak == nil else { return result }
        let (checked, firstBreak) = try await self.verifyCheckpoints(external: externalCheckpoints)
        result = AuditVerification(recordsChecked: result.recordsChecked, chains: result.chains, firstBreak: firstBreak)
        result.checkpointsChecked = checked
        return result
    }

    private struct KeyRow: Decodable { let public_key: String }
    private struct CheckpointRow: Decodable {
        let tenant_id: String
        let seq: Int64
        let hash: String
        let signed_at_ms: Int64
        let key_id: String
        let signature: String
    }
    private struct HashRow: Decodable { let id: String; let hash: String }
    private struct HeadRow: Decodable { let seq: Int64? }

    /// Checks each checkpoint's signature against the keys this database lists, and that its chain still holds the
    /// record it signed: a chain that ends before it was cut, one whose record differs was rewritten.
    func verifyCheckpoints(external: [AuditCheckpoint]) async throws -> (Int, AuditVerification.Break?) {
        let keys = try await self.database.read { db in
            try await db.raw("SELECT public_key FROM audit_signing_keys").all(decoding: KeyRow.self)
        }
        let trusted = Set(keys.map(\.public_key))
        let keyById = Dictionary(keys.map { (AuditCheckpoint.keyId(publicKey: Data(base64Encoded: $0.public_key) ?? Data()), $0.public_key) }) { first, _ in first }
        var seen = Set<String>()
        var checked = 0
        func check(_ checkpoint: AuditCheckpoint) async throws -> AuditVerification.Break? {
            guard seen.insert("\(checkpoint.tenantId)#\(checkpoint.seq)#\(checkpoint.signedAtMillis)").inserted else { return nil }
            checked += 1
            guard let problem = try await self.problem(with: checkpoint, trusted: trusted) else { return nil }
            return AuditVerification.Break(tenantId: checkpoint.tenantId, seq: checkpoint.seq, recordId: "", reason: problem)
        }
        var after = (tenant: "", seq: Int64(0))
        while true {
            let page = try await self.database.read { [after] db in
                try await db.raw("""
                    SELECT tenant_id, seq, hash, signed_at_ms, key_id, signature FROM audit_checkpoints
                    WHERE tenant_id > \(bind: after.tenant) OR (tenant_id = \(bind: after.tenant) AND seq > \(bind: after.seq))
                    ORDER BY tenant_id, seq LIMIT \(bind: Self.pageSize)
                    """).all(decoding: CheckpointRow.self)
            }
            guard let last = page.last else { break }
            for row in page {
                let checkpoint = AuditCheckpoint(
                    service: self.serviceName, tenantId: row.tenant_id, seq: row.seq, hash: row.hash, signedAtMillis: row.signed_at_ms,
                    keyId: row.key_id, publicKey: keyById[row.key_id] ?? "", signature: row.signature)
                if let broken = try await check(checkpoint) { return (checked, broken) }
            }
            after = (last.tenant_id, last.seq)
        }
        for checkpoint in external where checkpoint.service == self.serviceName {
            if let broken = try await check(checkpoint) { return (checked, broken) }
        }
        return (checked, nil)
    }

    /// What is wrong between `checkpoint` and this database's chain, or nil.
    private func problem(with checkpoint: AuditCheckpoint, trusted: Set<String>) async throws -> String? {
        if checkpoint.publicKey.isEmpty { return "checkpoint signed by key \(checkpoint.keyId), which this database does not list" }
        if let problem = checkpoint.signatureProblem(trustedKeys: trusted) { return "checkpoint: \(problem)" }
        let record = try await self.database.read { db in
            try await db.raw("SELECT id, hash FROM audit_log WHERE tenant_id = \(bind: checkpoint.tenantId) AND seq = \(bind: checkpoint.seq)")
                .first(decoding: HashRow.self)
        }
        guard let record else {
            let head = try await self.database.read { db in
                try await db.raw("SELECT MAX(seq) AS seq FROM audit_log WHERE tenant_id = \(bind: checkpoint.tenantId)").first(decoding: HeadRow.self)
            }
            return "the chain was cut: a checkpoint signed it at #\(checkpoint.seq) but it ends at #\(head?.seq ?? 0)"
        }
        if record.hash != checkpoint.hash { return "record #\(checkpoint.seq) differs from the checkpoint that signed it" }
        return nil
    }

    /// Walks every chain, recomputing each hash.
    func verifyChains() async throws -> AuditVerification {
        let tenants = try await self.database.read { db in
            try await db.raw("SELECT DISTINCT tenant_id FROM audit_log ORDER BY tenant_id").all(decoding: TenantRow.self)
        }
        var checked = 0
        for tenant in tenants {
            var expectedSeq: Int64 = 1
            var previousHash = AuditLog.genesisHash
            while true {
                let after = expectedSeq - 1
                let page = try await self.database.read { db in
                    try await db.raw("""
                        SELECT * FROM audit_log WHERE tenant_id = \(bind: tenant.tenant_id) AND seq > \(bind: after)
                        ORDER BY seq LIMIT \(bind: Self.pageSize)
                        """).all(decoding: AuditLog.Record.self)
                }
                if page.isEmpty { break }
                for record in page {
                    checked += 1
                    let reason: String? =
                        if record.seq != expectedSeq { "sequence gap: expected #\(expectedSeq)" }
                        else if record.prev_hash != previousHash { "previous-hash link does not match record #\(expectedSeq - 1)" }
                        else if record.computedHash != record.hash { "content does not match its hash" }
                        else { nil }
                    if let reason {
                        let broken = AuditVerification.Break(
                            tenantId: record.tenant_id, seq: record.seq, recordId: record.id, reason: reason)
                        return AuditVerification(recordsChecked: checked, chains: tenants.count, firstBreak: broken)
                    }
                    previousHash = record.hash
                    expectedSeq += 1
                }
            }
        }
        return AuditVerification(recordsChecked: checked, chains: tenants.count, firstBreak: nil)
    }
}
