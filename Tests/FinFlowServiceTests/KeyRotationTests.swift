import FinFlowAuth
import FinFlowCore
import Foundation
import Hummingbird
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
