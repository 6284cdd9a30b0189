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
    /// The first break found, or nil when every chain is intact.
    public let firstBreak: Break?
}

/// Walks every tenant's audit chain in order, recomputing each hash.
public struct AuditVerifier: Sendable {
    /// Records read per query.
    public static let pageSize = 1_000
    let database: any Database

    /// A verifier of `database`'s audit log.
    public init(database: any Database) {
        self.database = database
    }

    private struct TenantRow: Decodable { let tenant_id: String }

    /// Checks every chain and names the first broken record.
    public func verify() async throws -> AuditVerification {
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
