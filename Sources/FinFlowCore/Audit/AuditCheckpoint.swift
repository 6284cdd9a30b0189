import Crypto
import Foundation
import SQLKit

/// A signed statement that one service's audit chain for one tenant reached `seq` with `hash` at `signedAtMillis`:
/// the event that carries it is the checkpoint itself. Kept by the service and by the compliance service, and carried
/// in exports, it shows a chain later found shorter (a cut tail) or different at that record.
public typealias AuditCheckpoint = AuditCheckpointed

extension AuditCheckpointed {
    /// The bytes signed: a versioned line per field, so no two checkpoints share them.
    public static func message(service: String, tenantId: String, seq: Int64, hash: String, signedAtMillis: Int64) -> Data {
        Data("finflow-audit-checkpoint:v1\n\(service)\n\(tenantId)\n\(seq)\n\(hash)\n\(signedAtMillis)\n".utf8)
    }

    /// The key id of a public key: the first 16 hexadecimal digits of its SHA-256.
    public static func keyId(publicKey: Data) -> String {
        String(Digest.sha256Hex(publicKey).prefix(16))
    }

    /// Why the signature does not hold, or nil when it does. `trustedKeys` (base64 public keys), when given, must
    /// include the checkpoint's key: a checkpoint signed by a key the verifier does not know proves nothing.
    public func signatureProblem(trustedKeys: Set<String>? = nil) -> String? {
        guard let keyBytes = Data(base64Encoded: self.publicKey),
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: keyBytes)
        else { return "the checkpoint's public key is not an Ed25519 key" }
        guard Self.keyId(publicKey: keyBytes) == self.keyId else { return "the key id does not name the checkpoint's public key" }
        if let trustedKeys, !trustedKeys.contains(self.publicKey) { return "signed by key \(self.keyId), which is not trusted" }
        guard let signature = Data(base64Encoded: self.signature),
            key.isValidSignature(
                signature,
                for: Self.message(service: self.service, tenantId: self.tenantId, seq: self.seq, hash: self.hash, signedAtMillis: self.signedAtMillis))
        else { return "the signature does not match the checkpoint" }
        return nil
    }
}

/// The Ed25519 key a service signs its audit checkpoints with: the configured one (`FINFLOW_AUDIT_SIGNING_KEY`), or
/// else one the service made and keeps in its own database. Every public key used is listed in `audit_signing_keys`,
/// so the service's checkpoints stay verifiable after the key changes.
public struct AuditSigner: Sendable {
    let key: Curve25519.Signing.PrivateKey
    /// The public key, base64.
    public let publicKey: String
    public let keyId: String

    /// A signer over `key`.
    public init(key: Curve25519.Signing.PrivateKey) {
        self.key = key
        self.publicKey = key.publicKey.rawRepresentation.base64EncodedString()
        self.keyId = AuditCheckpoint.keyId(publicKey: key.publicKey.rawRepresentation)
    }

    /// The key of a setting: 32 bytes, base64; nil (and a message) when it is not.
    public static func key(setting: String) -> Curve25519.Signing.PrivateKey? {
        guard let bytes = Data(base64Encoded: setting), bytes.count == 32 else { return nil }
        return try? Curve25519.Signing.PrivateKey(rawRepresentation: bytes)
    }

    private struct KeyRow: Decodable {
        let private_key: String?
    }

    /// The service's signer on `database`: the configured key (its public half recorded), or the key the service
    /// keeps, made on first use.
    public static func load(configured: String?, database: any Database, clock: any FinFlowClock) async throws -> AuditSigner {
        let signer: AuditSigner
        var privateKeyToKeep: String?
        if let configured {
            guard let key = Self.key(setting: configured) else { throw InvariantViolation("the audit signing key is not 32 bytes of base64") }
            signer = AuditSigner(key: key)
        } else {
            let kept = try await database.read { db in
                try await db.raw("SELECT private_key FROM audit_signing_keys WHERE private_key IS NOT NULL ORDER BY created_at_ms DESC LIMIT 1")
                    .first(decoding: KeyRow.self)
            }
            if let text = kept?.private_key, let key = Self.key(setting: text) { return AuditSigner(key: key) }
            let key = Curve25519.Signing.PrivateKey()
            signer = AuditSigner(key: key)
            privateKeyToKeep = key.rawRepresentation.base64EncodedString()
        }
        let now = clock.nowMillis()
        let keep = privateKeyToKeep
        try await database.transaction { db in
            try await db.raw("""
                INSERT INTO audit_signing_keys (key_id, public_key, private_key, created_at_ms)
                VALUES (\(bind: signer.keyId), \(bind: signer.publicKey), \(bind: keep), \(bind: now))
                ON CONFLICT (key_id) DO NOTHING
                """).run()
        }
        return signer
    }

    /// Signs the head `seq`/`hash` of `service`'s chain for `tenantId`.
    public func sign(service: String, tenantId: String, seq: Int64, hash: String, signedAtMillis: Int64) throws -> AuditCheckpoint {
        let message = AuditCheckpoint.message(service: service, tenantId: tenantId, seq: seq, hash: hash, signedAtMillis: signedAtMillis)
        let signature = try self.key.signature(for: message)
        return AuditCheckpoint(
            service: service, tenantId: tenantId, seq: seq, hash: hash, signedAtMillis: signedAtMillis, keyId: self.keyId,
            publicKey: self.publicKey, signature: signature.base64EncodedString())
    }
}
