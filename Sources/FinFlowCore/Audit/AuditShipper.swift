import Logging
import SQLKit
import ServiceLifecycle

/// Sends a service's audit records to whoever keeps the trail (the compliance service) and signs its chains' heads.
/// Each round reads the chains whose head moved past what was shipped and writes their new records to the outbox as
/// `AuditRecorded`, in the transaction that advances the shipped mark; so every record is sent at least once, records
/// written before the shipper existed included. At its interval it signs each moved head (`AuditCheckpointed`).
public struct AuditShipper: Service {
    /// Chains read per page of `audit_heads`.
    public static let chainsPerRound = 50
    /// Records shipped per chain and round.
    public static let recordsPerChain = 500
    /// How often the shipper looks, in milliseconds.
    public static let shipIntervalMillis = 1_000

    let serviceName: String
    let database: any Database
    let outbox: Outbox
    let signer: AuditSigner
    let clock: any FinFlowClock
    let logger: Logger
    /// How long a moved head waits for its signed checkpoint, at most, in milliseconds.
    let checkpointIntervalMillis: Int64

    /// A shipper of `serviceName`'s audit log on `database`, writing to `outbox`.
    public init(
        serviceName: String, database: any Database, outbox: Outbox, signer: AuditSigner, clock: any FinFlowClock,
        checkpointIntervalSeconds: Int, logger: Logger
    ) {
        self.serviceName = serviceName
        self.database = database
        self.outbox = outbox
        self.signer = signer
        self.clock = clock
        self.checkpointIntervalMillis = Int64(checkpointIntervalSeconds) * 1_000
        self.logger = logger
    }

    private struct HeadRow: Decodable {
        let tenant_id: String
        let seq: Int64
        let hash: String
        let shipped_seq: Int64
        let checkpointed_seq: Int64
    }

    private struct Marked: Decodable { let tenant_id: String }

    /// The mark moved by another replica first: this round's work is rolled back and left to that one.
    private struct MovedByAnother: Error {}

    /// Every chain whose head is past `mark` (`shipped_seq` or `checkpointed_seq`), a page of chains at a time, each
    /// once: a busy chain does not keep the others waiting.
    private func forEachMoved(past mark: String, _ body: (HeadRow) async throws -> Void) async throws {
        var after = ""
        while true {
            let heads = try await self.database.read { [after] db in
                try await db.raw("""
                    SELECT tenant_id, seq, hash, shipped_seq, checkpointed_seq FROM audit_heads
                    WHERE \(unsafeRaw: mark) < seq AND tenant_id > \(bind: after) ORDER BY tenant_id LIMIT \(bind: Self.chainsPerRound)
                    """).all(decoding: HeadRow.self)
            }
            for head in heads { try await body(head) }
            guard heads.count == Self.chainsPerRound, let last = heads.last else { return }
            after = last.tenant_id
        }
    }

    /// Ships the records not shipped yet, up to `recordsPerChain` of each chain; returns how many. Each chain goes in a transaction
    /// of its own, which locks only that chain's head: a change appending to two chains cannot deadlock with it.
    @discardableResult
    public func ship() async throws -> Int {
        var shipped = 0
        try await self.forEachMoved(past: "shipped_seq") { head in
            do {
                shipped += try await self.database.transaction { db in
                    let records = try await db.raw("""
                        SELECT * FROM audit_log WHERE tenant_id = \(bind: head.tenant_id) AND seq > \(bind: head.shipped_seq)
                        ORDER BY seq LIMIT \(bind: Self.recordsPerChain)
                        """).all(decoding: AuditLog.Record.self)
                    guard let last = records.last else { return 0 }
                    try await self.outbox.enqueue(
                        records.map { (payload: $0.event(service: self.serviceName), subject: $0.id, tenantId: $0.tenant_id) }, on: db)
                    let marked = try await db.raw("""
                        UPDATE audit_heads SET shipped_seq = \(bind: last.seq)
                        WHERE tenant_id = \(bind: head.tenant_id) AND shipped_seq = \(bind: head.shipped_seq) RETURNING tenant_id
                        """).all(decoding: Marked.self)
                    guard !marked.isEmpty else { throw MovedByAnother() }
                    return records.count
                }
            } catch is MovedByAnother {
                return
            }
        }
        return shipped
    }

    /// Signs the head of every chain that moved since its last checkpoint, a transaction per chain; returns how many.
    @discardableResult
    public func checkpoint() async throws -> Int {
        let now = self.clock.nowMillis()
        var signed = 0
        try await self.forEachMoved(past: "checkpointed_seq") { head in
            let checkpoint = try self.signer.sign(
                service: self.serviceName, tenantId: head.tenant_id, seq: head.seq, hash: head.hash, signedAtMillis: now)
            do {
                try await self.database.transaction { db in
                    let marked = try await db.raw("""
                        UPDATE audit_heads SET checkpointed_seq = \(bind: head.seq), checkpointed_at_ms = \(bind: now)
                        WHERE tenant_id = \(bind: head.tenant_id) AND checkpointed_seq = \(bind: head.checkpointed_seq) RETURNING tenant_id
                        """).all(decoding: Marked.self)
                    guard !marked.isEmpty else { throw MovedByAnother() }
                    try await db.raw("""
                        INSERT INTO audit_checkpoints (tenant_id, seq, hash, signed_at_ms, key_id, signature)
                        VALUES (\(bind: head.tenant_id), \(bind: head.seq), \(bind: head.hash), \(bind: now), \(bind: checkpoint.keyId),
                            \(bind: checkpoint.signature))
                        ON CONFLICT DO NOTHING
                        """).run()
                    try await self.outbox.enqueue(checkpoint, subject: head.tenant_id, tenantId: head.tenant_id, on: db)
                }
                signed += 1
            } catch is MovedByAnother {
                return
            }
        }
        return signed
    }

    public func run() async throws {
        var lastCheckpointMillis = self.clock.nowMillis()
        while await Periodic.wait(.milliseconds(Self.shipIntervalMillis)) {
            do {
                try await self.ship()
                if self.clock.nowMillis() - lastCheckpointMillis >= self.checkpointIntervalMillis {
                    lastCheckpointMillis = self.clock.nowMillis()
                    try await self.checkpoint()
                }
            } catch {
                self.logger.warning("audit shipping failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

extension AuditLog.Record {
    /// The event carrying this record from `service`.
    func event(service: String) -> AuditRecorded {
        AuditRecorded(
            service: service, recordId: self.id, tenantId: self.tenant_id, seq: self.seq, occurredAtMillis: self.occurred_at_ms,
            actorId: self.actor_id, action: self.action, target: self.target, outcome: self.outcome, clientAddress: self.client_address,
            details: self.details, prevHash: self.prev_hash, hash: self.hash)
    }
}
