import FinFlowCore
import FinFlowServer
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("a service in another process verifies tokens with auth's published keys")
struct DistributedVerificationTests {
    @Test("tenancy alone trusts tokens signed by a separate auth process through its JWKS URL")
    func remoteKeys() async throws {
        let auth = try await TestSystem.make { $0.services = ["auth", "tenancy"] }
        let app = Application(router: auth.system.router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { authClient in
            let port = try #require(authClient.port)
            let user = try await Fixtures.signUp(authClient, auth)
            let jwks = try await authClient.send(.get, "/.well-known/jwks.json")
            #expect(((jwks.body["keys"] as? [[String: Any]]) ?? []).first?["alg"] as? String == "EdDSA")

            let tenancyOnly = try await TestSystem.make { settings in
                settings.services = ["tenancy"]
                settings.jwksURL = "http://127.0.0.1:\(port)/.well-known/jwks.json"
            }
            try await tenancyOnly.test { client in
                // The token verifies; this process has not seen the tenant (no shared bus here), so it is not found.
                let response = try await client.send(.get, "/v1/tenants/current", token: user.accessToken)
                #expect(response.status == 404)
                let forged = try await client.send(.get, "/v1/tenants/current", token: user.accessToken + "x")
                #expect(forged.status == 401)
                #expect(try await client.send(.get, "/v1/auth/me", token: user.accessToken).status == 404)
            }
        }
        try await auth.system.shutdown()
    }
}
