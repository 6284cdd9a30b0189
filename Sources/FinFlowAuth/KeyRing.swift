import FinFlowCore
import Foundation
import JWTKit
import SQLKit

/// The auth service's signing keys (Ed25519), kept in its database so every replica signs with the same key, sealed
/// (AES-GCM under the key-encryption key) so a copy of the database does not hand over the power to mint tokens.
/// The newest key signs; a rotated-out key keeps verifying until every token it signed has expired.
actor KeyRing {
    private struct KeyRow: Decodable {
        let kid: String
        let private_key: String
        let created_at_ms: Int64
        let retired_at_ms: Int64?
    }

    private let database: any Database
    private let clock: any FinFlowClock
    private let ids: IdentifierGenerator
    private let accessTokenTTLSeconds: Int
    private var signers = JWTKeyCollection()
    private var activeKid: String?
    private var publicKeys: [(kid: String, x: String)] = []

    private let sealer: SecretSealer
    /// How a sealed key is marked in `signing_keys.private_key` (a plain PEM is an older version's, sealed at load).
    static let sealedPrefix = "sealed:v1:"

    init(database: any Database, clock: any FinFlowClock, ids: IdentifierGenerator, settings: Settings) {
        self.database = database
        self.clock = clock
        self.ids = ids
        self.accessTokenTTLSeconds = settings.accessTokenTTLSeconds
        self.sealer = SecretSealer(
            database: database, clock: clock, configuredKey: settings.authKeyEncryptionKey,
            previousKey: settings.authKeyEncryptionKeyPrevious, keyTable: "sealing_keys", keyName: "signing-keys",
            settingName: "FINFLOW_AUTH_KEY_ENCRYPTION_KEY")
    }

    /// Whether the signing keys are sealed with a configured key (else with one kept in the same database).
    nonisolated var sealedWithConfiguredKey: Bool { self.sealer.isConfigured }

    /// The PEM of a stored key; a plain one (an older version's) or one sealed with the previous key is sealed again
    /// with the current key and stored so.
    private func open(_ row: KeyRow) async throws -> String {
        if row.private_key.hasPrefix(Self.sealedPrefix) {
            let opened = try await self.sealer.open(String(row.private_key.dropFirst(Self.sealedPrefix.count)))
            let pem = String(decoding: opened.data, as: UTF8.self)
            if opened.byPreviousKey { try await self.store(pem, kid: row.kid) }
            return pem
        }
        try await self.store(row.private_key, kid: row.kid)
        return row.private_key
    }

    private func store(_ pem: String, kid: String) async throws {
        let sealed = Self.sealedPrefix + (try await self.sealer.seal(Data(pem.utf8)))
        try await self.database.write { db in
            try await db.raw("UPDATE signing_keys SET private_key = \(bind: sealed) WHERE kid = \(bind: kid)").run()
        }
    }

    /// Loads the keys, creating the first one on first start.
    func load() async throws {
        let now = self.clock.nowMillis()
        var rows = try await self.liveKeys(now: now)
        if rows.isEmpty {
            try await self.insertNewKey(now: now)
            rows = try await self.liveKeys(now: now)
        }
        let collection = JWTKeyCollection()
        var publicKeys: [(kid: String, x: String)] = []
        for row in rows {
            let key = try EdDSA.PrivateKey(pem: try await self.open(row))
            await collection.add(eddsa: key, kid: JWKIdentifier(string: row.kid))
            publicKeys.append((row.kid, Digest.base64URL(key.publicKey.rawRepresentation)))
        }
        self.signers = collection
        self.activeKid = rows.filter { $0.retired_at_ms == nil }.max { $0.created_at_ms < $1.created_at_ms }?.kid
            ?? rows.last?.kid
        self.publicKeys = publicKeys
    }

    /// Starts signing with a new key; older keys retire once their tokens have expired.
    func rotate() async throws {
        let now = self.clock.nowMillis()
        let retireAt = now + Int64(self.accessTokenTTLSeconds) * 1000
        try await self.database.transaction { db in
            try await db.raw("UPDATE signing_keys SET retired_at_ms = \(bind: retireAt) WHERE retired_at_ms IS NULL").run()
        }
        try await self.insertNewKey(now: now)
        try await self.load()
    }

    /// Signs access-token (or authentication-code) claims with the active key.
    func sign(_ claims: some JWTPayload) async throws -> String {
        guard let kid = self.activeKid else { preconditionFailure("the key ring was used before it was loaded") }
        return try await self.signers.sign(claims, kid: JWKIdentifier(string: kid))
    }

    /// The public keys as a JWKS document.
    func jwks() -> JWKS {
        JWKS(keys: self.publicKeys.map { key in
            JWK.octetKeyPair(.eddsa, identifier: JWKIdentifier(string: key.kid), x: key.x, y: nil, curve: .ed25519)
        })
    }

    /// The key id new tokens are signed with.
    func activeKeyId() -> String? { self.activeKid }

    /// The public keys as the fields the JWKS endpoint serves.
    func publicKeyList() -> [(kid: String, x: String)] { self.publicKeys }

    private func liveKeys(now: Int64) async throws -> [KeyRow] {
        try await self.database.read { db in
            try await db.raw("""
                SELECT kid, private_key, created_at_ms, retired_at_ms FROM signing_keys
                WHERE retired_at_ms IS NULL OR retired_at_ms > \(bind: now) ORDER BY created_at_ms
                """).all(decoding: KeyRow.self)
        }
    }

    private func insertNewKey(now: Int64) async throws {
        let key = try EdDSA.PrivateKey()
        let kid = self.ids.nextString()
        let pem = Self.sealedPrefix + (try await self.sealer.seal(Data(key.pemRepresentation.utf8)))
        try await self.database.write { db in
            try await db.raw("""
                INSERT INTO signing_keys (kid, algorithm, private_key, created_at_ms) VALUES
                (\(bind: kid), 'EdDSA', \(bind: pem), \(bind: now))
                """).run()
        }
    }
}
