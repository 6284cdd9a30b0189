import Crypto
import FinFlowCore
import Foundation
import Logging
import SQLKit
import Testing

/// A service's audit chains leave its database: shipped as events, signed at their heads, exported and checked away
/// from the system. A cut tail, a rewritten record or a forged checkpoint is named.
@Suite("audit chains: shipping, signed checkpoints, exports verified offline")
struct AuditChainTests {
    struct Fixture {
        let database: any Database
        let clock: ManualClock
        let log: AuditLog
        let shipper: AuditShipper
        let signer: AuditSigner

        func append(_ tenant: String, _ action: String, actor: String? = "u", target: String? = nil) async throws {
            try await self.database.transaction { db in
                try await self.log.append(
                    AuditEntry(tenantId: tenant, actorId: actor, action: action, target: target, details: ["n": action]),
                    on: db, kind: self.database.kind)
            }
        }

        /// Lets a test do what only someone with raw access to the database could: drop the append-only guards.
        func dropGuards() async throws {
            try await self.database.read { db in
                if self.database.kind == .postgres {
                    try await db.raw("DROP TRIGGER audit_log_no_change ON audit_log").run()
                    try await db.raw("DROP TRIGGER audit_checkpoints_no_change ON audit_checkpoints").run()
                } else {
                    for trigger in ["audit_log_no_delete", "audit_log_no_update", "audit_checkpoints_no_delete"] {
                        try await db.raw("DROP TRIGGER \(unsafeRaw: trigger)").run()
                    }
                }
            }
        }

        func verify(_ external: [AuditCheckpoint] = []) async throws -> AuditVerification {
            try await AuditVerifier(database: self.database, serviceName: "core").verify(externalCheckpoints: external)
        }
    }

    static func fixture() async throws -> Fixture {
        let database = try await CoreTests.database()
        let clock = ManualClock()
        let ids = IdentifierGenerator(clock: clock)
        let signer = try await AuditSigner.load(configured: nil, database: database, clock: clock)
        let shipper = AuditShipper(
            serviceName: "core", database: database, outbox: Outbox(serviceName: "core", ids: ids, clock: clock), signer: signer, clock: clock,
            checkpointIntervalSeconds: 60, logger: Logger(label: "test"))
        return Fixture(database: database, clock: clock, log: AuditLog(ids: ids, clock: clock), shipper: shipper, signer: signer)
    }

    struct Payload: Decodable { let payload: String }

    @Test("every record is shipped once with its chain data, and each moved head is signed once")
    func shipping() async throws {
        let f = try await Self.fixture()
        for index in 0..<12 { try await f.append(index % 3 == 0 ? "t2" : "t1", "test.\(index)") }
        #expect(try await f.shipper.ship() == 12)
        #expect(try await f.shipper.ship() == 0)
        try await f.append("t1", "test.late")
        #expect(try await f.shipper.ship() == 1)
        let events = try await f.database.read { db in
            try await db.raw("SELECT payload FROM outbox WHERE topic = \(bind: AuditRecorded.topic)").all(decoding: Payload.self)
        }.map { try CloudEvent<AuditRecorded>.decoder.decode(CloudEvent<AuditRecorded>.self, from: Data($0.payload.utf8)).data }
        #expect(events.count == 13)
        let t1 = events.filter { $0.tenantId == "t1" }.sorted { $0.seq < $1.seq }
        #expect(t1.map(\.seq) == Array(1...9))
        #expect(zip(t1, t1.dropFirst()).allSatisfy { $1.prevHash == $0.hash })
        #expect(t1.last?.action == "test.late" && t1.allSatisfy { $0.service == "core" })
        #expect(try await f.shipper.checkpoint() == 2)
        #expect(try await f.shipper.checkpoint() == 0)
        let verified = try await f.verify()
        #expect(verified.firstBreak == nil && verified.checkpointsChecked == 2 && verified.recordsChecked == 13)
        // The key the service made is the one it keeps using.
        #expect(try await AuditSigner.load(configured: nil, database: f.database, clock: f.clock).publicKey == f.signer.publicKey)
        try await f.database.shutdown()
    }

    @Test("a tail cut after its checkpoint is named, by the service's own checkpoint or by a copy kept elsewhere")
    func cutTail() async throws {
        let f = try await Self.fixture()
        for index in 0..<8 { try await f.append("t1", "test.\(index)") }
        try await f.append("t2", "test.other")
        try await f.shipper.checkpoint()
        struct Row: Decodable { let seq: Int64, hash: String, signed_at_ms: Int64, signature: String }
        let row = try #require(try await f.database.read { db in
            try await db.raw("SELECT seq, signed_at_ms, signature, hash FROM audit_checkpoints WHERE tenant_id = 't1'").first(decoding: Row.self)
        })
        let external = AuditCheckpoint(
            service: "core", tenantId: "t1", seq: row.seq, hash: row.hash, signedAtMillis: row.signed_at_ms, keyId: f.signer.keyId,
            publicKey: f.signer.publicKey, signature: row.signature)
        #expect(external.signatureProblem() == nil)
        try await f.dropGuards()
        try await f.database.read { db in try await db.raw("DELETE FROM audit_log WHERE tenant_id = 't1' AND seq > 5").run() }
        // The chain that is left verifies by itself: only the checkpoint shows what is missing.
        #expect(try await f.verify().firstBreak.map { $0.tenantId == "t1" && $0.seq == 8 && $0.reason.contains("cut") && $0.reason.contains("#5") } == true)
        // Whoever also deletes the checkpoint is caught by the copy the compliance service keeps.
        try await f.database.read { db in try await db.raw("DELETE FROM audit_checkpoints WHERE tenant_id = 't1'").run() }
        #expect(try await f.verify().firstBreak == nil)
        let caught = try #require(try await f.verify([external]).firstBreak)
        #expect(caught.tenantId == "t1" && caught.reason.contains("cut"))
        // A checkpoint the attacker signs with a key of their own does not count.
        let forger = AuditSigner(key: Curve25519.Signing.PrivateKey())
        let forged = try forger.sign(service: "core", tenantId: "t1", seq: 5, hash: external.hash, signedAtMillis: 1)
        #expect(try await f.verify([forged]).firstBreak?.reason.contains("not trusted") == true)
        try await f.database.shutdown()
    }

    @Test("an export in JSON lines or CSV verifies away from the system, and every change to it is named", arguments: AuditExport.Format.allCases)
    func exportVerification(format: AuditExport.Format) async throws {
        let f = try await Self.fixture()
        try await f.append("t1", "auth.sign-in", actor: "", target: nil)
        try await f.append("t1", "ledger.posted", actor: nil, target: "entry \"7\", line 1\nand 2")
        for index in 0..<4 { try await f.append("t1", "test.\(index)", target: "r\(index)") }
        try await f.shipper.checkpoint()
        struct Row: Decodable {
            let id: String, tenant_id: String, seq: Int64, occurred_at_ms: Int64, actor_id: String?, action: String, target: String?
            let outcome: String, client_address: String?, details: String, prev_hash: String, hash: String
        }
        struct CheckpointRow: Decodable { let tenant_id: String, seq: Int64, hash: String, signed_at_ms: Int64, signature: String }
        let rows = try await f.database.read { db in try await db.raw("SELECT * FROM audit_log ORDER BY seq").all(decoding: Row.self) }
        let checkpoints = try await f.database.read { db in try await db.raw("SELECT * FROM audit_checkpoints").all(decoding: CheckpointRow.self) }
        let records = rows.map {
            AuditExport.Record(
                service: "core", recordId: $0.id, tenantId: $0.tenant_id, seq: $0.seq, occurredAtMillis: $0.occurred_at_ms, actorId: $0.actor_id,
                action: $0.action, target: $0.target, outcome: $0.outcome, clientAddress: $0.client_address, details: $0.details,
                prevHash: $0.prev_hash, hash: $0.hash)
        }
        let signed = checkpoints.map {
            AuditCheckpoint(
                service: "core", tenantId: $0.tenant_id, seq: $0.seq, hash: $0.hash, signedAtMillis: $0.signed_at_ms, keyId: f.signer.keyId,
                publicKey: f.signer.publicKey, signature: $0.signature)
        }
        func text(_ records: [AuditExport.Record]) -> String {
            AuditExport.header(format) + records.map { AuditExport.line($0, format) }.joined() + signed.map { AuditExport.line($0, format) }.joined()
        }
        let whole = try AuditExportVerifier.verify(text(records), trustedKeys: [f.signer.publicKey])
        #expect(whole.intact, "\(whole.problems)")
        #expect(whole.records == 6 && whole.links == 6 && whole.checkpoints == 1 && whole.gaps.isEmpty && whole.beyondExport.isEmpty)
        // An edited action, a dropped record in the middle, a cut tail, an untrusted key: each is named.
        let edited = text(records).replacingOccurrences(of: "test.2", with: "test.X")
        #expect(try AuditExportVerifier.verify(edited).problems.first?.contains("#5") == true)
        var dropped = records
        dropped.remove(at: 2)
        #expect(try AuditExportVerifier.verify(text(dropped)).gaps == ["core/t1: #3…#3 not in the export"])
        #expect(try AuditExportVerifier.verify(text(Array(records.prefix(4)))).beyondExport.count == 1)
        #expect(try AuditExportVerifier.verify(text(records), trustedKeys: ["AAAA"]).problems.first?.contains("not trusted") == true)
        // NULL and the empty text hash differently: an export that confused them would fail here.
        let swapped = text(records).replacingOccurrences(of: format == .csv ? #""record","core","t1","1","\#(records[0].recordId)","\#(records[0].occurredAtMillis)","""# : #""actorId":"""#, with: format == .csv ? #""record","core","t1","1","\#(records[0].recordId)","\#(records[0].occurredAtMillis)","# : #""actorIdX":"""#)
        #expect(swapped != text(records))
        #expect(try AuditExportVerifier.verify(swapped).intact == false)
        #expect(throws: AuditExportVerifier.Unreadable.self) { try AuditExportVerifier.verify(text(records) + (format == .csv ? "bogus,row\r\n" : "{\"kind\":\"other\"}\n")) }
        try await f.database.shutdown()
    }
}

@Suite("JSON strings written into a buffer")
struct JSONStringTests {
    @Test("every string reads back as itself", arguments: ["", "plain", "quote \" and \\ backslash", "line\nbreak\ttab\r", "\u{1}\u{1f} control", "Łódź 東京 🚀", "/slash"])
    func roundTrip(text: String) throws {
        var data = Data("[".utf8)
        JSONString.append(text, to: &data)
        data.append(contentsOf: "]".utf8)
        let decoded = try #require(try JSONSerialization.jsonObject(with: data) as? [String])
        #expect(decoded == [text])
    }
}
