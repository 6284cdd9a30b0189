import FinFlowCore
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("OAuth client-credentials grant")
struct ClientCredentialsTests {
    func form(_ client: any TestClientProtocol, _ body: String, basic: String? = nil) async throws
        -> (status: Int, body: [String: Any], headers: HTTPFields)
    {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if let basic { headers[.authorization] = "Basic " + Data(basic.utf8).base64EncodedString() }
        return try await client.execute(uri: "/v1/auth/token", method: .post, headers: headers, body: ByteBuffer(string: body)) {
            (Int($0.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: $0.body))) as? [String: Any] ?? [:], $0.headers)
        }
    }

    @Test("a client gets tokens limited to its scopes, by form or Basic credentials, until it is revoked")
    func lifecycle() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let owner = try await Fixtures.signUp(client, sut)
            let beyond = try await client.send(
                .post, "/v1/auth/clients", json: #"{"name":"bot","scopes":["tenant:read","no:such"]}"#, token: owner.accessToken)
            #expect(beyond.status == 400)
            let created = try await client.send(
                .post, "/v1/auth/clients", json: #"{"name":"reporting bot","scopes":["tenant:read"]}"#, token: owner.accessToken)
            #expect(created.status == 201)
            let id = try #require(created.body["clientId"] as? String)
            let secret = try #require(created.body["clientSecret"] as? String)

            let issued = try await self.form(client, "grant_type=client_credentials&client_id=\(id)&client_secret=\(secret)")
            #expect(issued.status == 200)
            let token = try #require(issued.body["access_token"] as? String)
            #expect(issued.body["scope"] as? String == "tenant:read")
            #expect(try await client.send(.get, "/v1/tenants/current", token: token).status == 200)
            #expect(try await client.send(.get, "/v1/tenants/current/members", token: token).status == 403)

            let basic = try await self.form(client, "grant_type=client_credentials", basic: "\(id):\(secret)")
            #expect(basic.status == 200)
            #expect(try await self.form(client, "grant_type=client_credentials&client_id=\(id)&client_secret=wrong").status == 401)
            #expect(try await self.form(client, "grant_type=client_credentials&client_id=\(id)&client_secret=\(secret)&scope=members:read").status == 400)
            #expect(try await self.form(client, "grant_type=password&client_id=\(id)&client_secret=\(secret)").status == 400)

            let listed = try await client.send(.get, "/v1/auth/clients", token: owner.accessToken)
            #expect(((listed.body["items"] as? [[String: Any]]) ?? []).count == 1)
            #expect(try await client.send(.delete, "/v1/auth/clients/\(id)", token: owner.accessToken).status == 204)
            #expect(try await client.send(.get, "/v1/tenants/current", token: token).status == 401)
            #expect(try await self.form(client, "grant_type=client_credentials&client_id=\(id)&client_secret=\(secret)").status == 401)
        }
    }

    @Test("another tenant's client cannot be revoked or seen")
    func isolation() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let alice = try await Fixtures.signUp(client, sut, tag: "alice")
            let bob = try await Fixtures.signUp(client, sut, tag: "bob")
            let created = try await client.send(
                .post, "/v1/auth/clients", json: #"{"name":"bob bot","scopes":["tenant:read"]}"#, token: bob.accessToken)
            let id = try #require(created.body["clientId"] as? String)
            #expect(try await client.send(.delete, "/v1/auth/clients/\(id)", token: alice.accessToken).status == 404)
            let listed = try await client.send(.get, "/v1/auth/clients", token: alice.accessToken)
            #expect(((listed.body["items"] as? [[String: Any]]) ?? []).isEmpty)
        }
    }
}
