import FinFlowCore
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("custom roles per tenant")
struct CustomRoleTests {
    @Test("a custom role grants exactly its permissions, cannot shadow a built-in one and cannot be deleted while held")
    func customRole() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let alice = try await Fixtures.signUp(client, sut, tag: "alice")
            let bob = try await Fixtures.signUp(client, sut, tag: "bob")
            for bad in [
                #"{"name":"viewer","permissions":["tenant:read"]}"#, #"{"name":"Bad Name","permissions":["tenant:read"]}"#,
                #"{"name":"bookkeeper","permissions":["ledger:destroy"]}"#,
            ] {
                #expect(try await client.send(.post, "/v1/tenants/current/roles", json: bad, token: alice.accessToken).status == 400)
            }
            let created = try await client.send(
                .post, "/v1/tenants/current/roles",
                json: #"{"name":"bookkeeper","description":"Keeps the journal","permissions":["journal:read","members:read"]}"#,
                token: alice.accessToken)
            #expect(created.status == 201)
            let duplicate = try await client.send(
                .post, "/v1/tenants/current/roles", json: #"{"name":"bookkeeper","permissions":["journal:read"]}"#, token: alice.accessToken)
            #expect(duplicate.status == 409)
            let roles = try await client.send(.get, "/v1/tenants/current/roles", token: alice.accessToken)
            #expect(((roles.body["items"] as? [[String: Any]]) ?? []).count == Roles.builtIn.count + 1)
            // Another tenant does not see it.
            let bobsRoles = try await client.send(.get, "/v1/tenants/current/roles", token: bob.accessToken)
            #expect(((bobsRoles.body["items"] as? [[String: Any]]) ?? []).count == Roles.builtIn.count)
            #expect(try await client.send(.delete, "/v1/tenants/current/roles/bookkeeper", token: bob.accessToken).status == 404)

            let invited = try await client.send(
                .post, "/v1/tenants/current/invitations", json: #"{"email":"\#(bob.email)","roles":["bookkeeper"]}"#,
                token: alice.accessToken)
            #expect(invited.status == 201)
            let token = try await Fixtures.mailedToken(sut, to: bob.email, purpose: "invitation", service: "tenancy")
            #expect(try await client.send(.post, "/v1/invitations/accept", json: #"{"token":"\#(token)"}"#, token: bob.accessToken).status == 200)
            try await sut.deliver()
            let switched = try await client.send(
                .post, "/v1/auth/token/switch-tenant", json: #"{"tenantId":"\#(alice.tenantId)"}"#, token: bob.accessToken)
            let bobInAlice = try #require(switched.body["accessToken"] as? String)
            let me = try await client.send(.get, "/v1/auth/me", token: bobInAlice)
            #expect(me.body["permissions"] as? [String] == ["journal:read", "members:read"])
            #expect(try await client.send(.get, "/v1/tenants/current/members", token: bobInAlice).status == 200)
            #expect(try await client.send(.get, "/v1/tenants/current", token: bobInAlice).status == 403)

            #expect(try await client.send(.delete, "/v1/tenants/current/roles/bookkeeper", token: alice.accessToken).status == 409)
            #expect(try await client.send(
                .patch, "/v1/tenants/current/members/\(bob.userId)", json: #"{"roles":["viewer"]}"#, token: alice.accessToken).status == 200)
            #expect(try await client.send(.delete, "/v1/tenants/current/roles/bookkeeper", token: alice.accessToken).status == 204)
        }
    }
}
