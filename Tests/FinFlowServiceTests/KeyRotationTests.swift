import FinFlowAuth
import FinFlowCore
import Foundation
import Hummingbird
import JWTKit
import HummingbirdTesting
import Synchronization
import Testing

@Suite("signing-key rotation")
struct KeyRotationTests {
    @Test("after a rotation new tokens use the new key and tokens of the old key keep verifying")
    func rotation() async throws {
        let first = try await TestSystem.make()
        let user = Mutex<SignedIn?>(nil)
        try await first.test { client in
            let signedUp = try await Fixtures.signUp(client, first)
            user.withLock { $0 = signedUp }
        }
        let signedIn = try #require(user.withLock { $0 })
        let oldKid = Self.kid(of: signedIn.accessToken)

        let settings = first.system.settings
        let database = try await ServiceDatabasesForTests.openAuth(settings)
        let newKid = try await AuthService.rotateSigningKey(database: database, settings: settings, clock: first.clock)
        try await database.shutdown()
        #expect(newKid != oldKid)

        // A process started after the rotation, on the same data.
        let second = try await TestSystem.make { $0 = settings }
        try await second.test { client in
            let jwks = try await client.send(.get, "/.well-known/jwks.json")
            let kids = Set(((jwks.body["keys"] as? [[String: Any]]) ?? []).compactMap { $0["kid"] as? String })
            #expect(kids == [oldKid, newKid])
            #expect(try await client.send(.get, "/v1/auth/me", token: signedIn.accessToken).status == 200)
            let refreshed = try await client.send(.post, "/v1/auth/token/refresh", json: #"{"refreshToken":"\#(signedIn.refreshToken)"}"#)
            let token = try #require(refreshed.body["accessToken"] as? String)
            #expect(Self.kid(of: token) == newKid)
        }
    }

    @Test("signing keys are stored sealed; a plain key of an older version is sealed at load; the key-encryption key rotates with its previous one")
    func sealedKeys() async throws {
        struct KeyRow: Decodable { let kid: String; let private_key: String }
        func stored(_ settings: Settings) async throws -> [KeyRow] {
            let database = try await ServiceDatabasesForTests.openAuth(settings)
            defer { Task { try? await database.shutdown() } }
            return try await database.read { db in try await db.raw("SELECT kid, private_key FROM signing_keys").all(decoding: KeyRow.self) }
        }
        let first = try await TestSystem.make { $0.authKeyEncryptionKey = Self.keyA }
        let user = Mutex<SignedIn?>(nil)
        try await first.test { client in
            let signedUp = try await Fixtures.signUp(client, first)
            user.withLock { $0 = signedUp }
        }
        let signedIn = try #require(user.withLock { $0 })
        var settings = first.system.settings
        let rows = try await stored(settings)
        #expect(!rows.isEmpty && rows.allSatisfy { $0.private_key.hasPrefix("sealed:v1:") && !$0.private_key.contains("PRIVATE KEY") })

        // A key left in plain PEM by an older version is sealed the next time a process loads it.
        let database = try await ServiceDatabasesForTests.openAuth(settings)
        let plain = try EdDSA.PrivateKey()
        try await database.write { db in
            try await db.raw("""
                INSERT INTO signing_keys (kid, algorithm, private_key, created_at_ms, retired_at_ms)
                VALUES ('legacy', 'EdDSA', \(bind: plain.pemRepresentation), 1, \(bind: Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000))
                """).run()
        }
        try await database.shutdown()

        // Another key-encryption key alone opens nothing, and says which setting to look at.
        settings.authKeyEncryptionKey = Self.keyB
        await #expect { _ = try await TestSystem.make { $0 = settings } } throws: { "\($0)".contains("FINFLOW_AUTH_KEY_ENCRYPTION_KEY") }

        // With the old one as the previous key, the process starts, and every key is sealed again with the new one.
        settings.authKeyEncryptionKeyPrevious = Self.keyA
        let second = try await TestSystem.make { $0 = settings }
        try await second.test { client in
            #expect(try await client.send(.get, "/v1/auth/me", token: signedIn.accessToken).status == 200)
            let jwks = try await client.send(.get, "/.well-known/jwks.json")
            #expect(((jwks.body["keys"] as? [[String: Any]]) ?? []).contains { $0["kid"] as? String == "legacy" })
        }
        settings.authKeyEncryptionKeyPrevious = nil
        let resealed = try await stored(settings)
        #expect(resealed.count == rows.count + 1 && resealed.allSatisfy { $0.private_key.hasPrefix("sealed:v1:") })
        let third = try await TestSystem.make { $0 = settings }
        try await third.test { client in
            let me = try await client.send(.get, "/v1/auth/me", token: signedIn.accessToken)
            #expect(me.status == 200)
        }
    }

    static let keyA = Data(repeating: 0xA1, count: 32).base64EncodedString()
    static let keyB = Data(repeating: 0xB2, count: 32).base64EncodedString()

    static func kid(of token: String) -> String {
        let header = try? JSONSerialization.jsonObject(with: Data(base64URL: String(token.split(separator: ".")[0]))) as? [String: Any]
        return header?["kid"] as? String ?? ""
    }
}

import FinFlowServer
import Logging

enum ServiceDatabasesForTests {
    static func openAuth(_ settings: Settings) async throws -> any Database {
        try await ServiceDatabases.open(AuthService.descriptor, settings: settings, logger: Logger(label: "test"))
    }
}
