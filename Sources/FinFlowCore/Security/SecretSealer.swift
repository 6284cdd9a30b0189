import Crypto
import Foundation
import SQLKit
import Synchronization

/// Seals secrets at rest (gateway credentials, signing keys) with AES-256-GCM under a key-encryption key: the
/// configured one (a setting, so a copy of the database alone opens nothing), else one the service's own database
/// keeps, made on first use. A previous configured key, when given, still opens what it sealed, so a key can be
/// rotated: set the new key and the previous one, and what is read is sealed again with the new key by the caller.
public final class SecretSealer: Sendable {
    private let database: any Database
    private let clock: any FinFlowClock
    private let configured: SymmetricKey?
    private let previous: SymmetricKey?
    /// The table and row where the database keeps its own key when none is configured.
    private let keyTable: String
    private let keyName: String
    /// The setting to name when a sealed secret does not open.
    private let settingName: String
    private let cached = Mutex<SymmetricKey?>(nil)

    /// A sealer for one service: `configuredKey` and `previousKey` are base64 of 32 bytes (checked by the settings).
    public init(
        database: any Database, clock: any FinFlowClock, configuredKey: String?, previousKey: String? = nil, keyTable: String,
        keyName: String, settingName: String
    ) {
        self.database = database
        self.clock = clock
        self.configured = configuredKey.flatMap { Data(base64Encoded: $0) }.map { SymmetricKey(data: $0) }
        self.previous = previousKey.flatMap { Data(base64Encoded: $0) }.map { SymmetricKey(data: $0) }
        self.keyTable = keyTable
        self.keyName = keyName
        self.settingName = settingName
    }

    /// Whether the key comes from the configuration rather than the database it protects.
    public var isConfigured: Bool { self.configured != nil }

    /// `data` sealed: base64 of AES-GCM's nonce, ciphertext and tag.
    public func seal(_ data: Data) async throws -> String {
        guard let combined = try AES.GCM.seal(data, using: try await self.key()).combined else {
            throw AppError(.unavailable, code: "seal-failed", "a secret could not be sealed")
        }
        return combined.base64EncodedString()
    }

    /// What `text` sealed, and whether it was sealed with the previous key (so the caller seals it again).
    public func open(_ text: String) async throws -> (data: Data, byPreviousKey: Bool) {
        let key = try await self.key()
        guard let data = Data(base64Encoded: text), let box = try? AES.GCM.SealedBox(combined: data) else {
            throw AppError(.unavailable, code: "sealed-secret-unreadable", "a stored secret is not a sealed value")
        }
        if let opened = try? AES.GCM.open(box, using: key) { return (opened, false) }
        if let previous = self.previous, let opened = try? AES.GCM.open(box, using: previous) { return (opened, true) }
        throw AppError(
            .unavailable, code: "sealed-secret-key-mismatch",
            "a stored secret cannot be opened with this key (\(self.settingName) changed? give the old one as the previous key)")
    }

    /// Reads (or makes) the key now. Code that seals or opens inside its own transaction calls this first: the key's
    /// first reading is a transaction of its own, which on SQLite would wait for the one already open.
    public func prepare() async throws {
        _ = try await self.key()
    }

    /// The key: the configured one, else the one the database keeps (made on first use).
    private func key() async throws -> SymmetricKey {
        if let configured = self.configured { return configured }
        if let known = self.cached.withLock({ $0 }) { return known }
        struct Row: Decodable { let secret: String }
        let fresh = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
        let now = self.clock.nowMillis()
        let (table, name) = (self.keyTable, self.keyName)
        let stored = try await self.database.transaction { db in
            try await db.raw("""
                INSERT INTO \(ident: table) (name, secret, created_at_ms) VALUES (\(bind: name), \(bind: fresh), \(bind: now))
                ON CONFLICT DO NOTHING
                """).run()
            return try await db.raw("SELECT secret FROM \(ident: table) WHERE name = \(bind: name)").first(decoding: Row.self)
        }
        guard let secret = stored?.secret, let data = Data(base64Encoded: secret) else {
            throw AppError(.unavailable, code: "sealing-key-missing", "the service's sealing key cannot be read")
        }
        let key = SymmetricKey(data: data)
        self.cached.withLock { $0 = key }
        return key
    }
}
