/// A record appended to a service's audit chain (every service → compliance), with the chain data (`seq`,
/// `prevHash`, `hash`) that lets the copy be verified away from its source. `details` is the JSON text exactly as hashed.
public struct AuditRecorded: EventContract, Equatable {
    public static let eventType = "finflow.audit.recorded"
    public static let schemaVersion = 1
    /// The service whose database keeps the chain (`auth`).
    public let service: String
    public let recordId: String
    public let tenantId: String
    public let seq: Int64
    public let occurredAtMillis: Int64
    public let actorId: String?
    public let action: String
    public let target: String?
    public let outcome: String
    public let clientAddress: String?
    public let details: String
    public let prevHash: String
    public let hash: String

    public init(
        service: String, recordId: String, tenantId: String, seq: Int64, occurredAtMillis: Int64, actorId: String?, action: String,
        target: String?, outcome: String, clientAddress: String?, details: String, prevHash: String, hash: String
    ) {
        self.service = service
        self.recordId = recordId
        self.tenantId = tenantId
        self.seq = seq
        self.occurredAtMillis = occurredAtMillis
        self.actorId = actorId
        self.action = action
        self.target = target
        self.outcome = outcome
        self.clientAddress = clientAddress
        self.details = details
        self.prevHash = prevHash
        self.hash = hash
    }
}

/// A service signed the head of one of its audit chains (every service → compliance): whoever keeps the checkpoint
/// can tell later that the chain once reached `seq` with `hash`, so a cut tail shows.
public struct AuditCheckpointed: EventContract, Equatable {
    public static let eventType = "finflow.audit.checkpointed"
    public static let schemaVersion = 1
    public let service: String
    public let tenantId: String
    public let seq: Int64
    public let hash: String
    public let signedAtMillis: Int64
    /// The first 16 hexadecimal digits of the SHA-256 of the public key.
    public let keyId: String
    /// The Ed25519 public key, base64 (32 bytes).
    public let publicKey: String
    /// The Ed25519 signature of `AuditCheckpoint.message`, base64.
    public let signature: String

    public init(
        service: String, tenantId: String, seq: Int64, hash: String, signedAtMillis: Int64, keyId: String, publicKey: String,
        signature: String
    ) {
        self.service = service
        self.tenantId = tenantId
        self.seq = seq
        self.hash = hash
        self.signedAtMillis = signedAtMillis
        self.keyId = keyId
        self.publicKey = publicKey
        self.signature = signature
    }
}
