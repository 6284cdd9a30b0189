import FinFlowCore
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("invitations and tenant switching")
struct InvitationTests {
    @Test("an invited user joins with the mailed token, switches tenant and holds the invited role")
    func inviteAcceptSwitch() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let alice = try await Fixtures.signUp(client, sut, tag: "alice")
            let bob = try await Fixtures.signUp(client, sut, tag: "bob")
            let carol = try await Fixtures.signUp(client, sut, tag: "carol")
            let badRole = try await client.send(
                .post, "/v1/tenants/current/invitations", json: #"{"email":"\#(bob.email)","roles":["emperor"]}"#,
                token: alice.accessToken)
            #expect(badRole.status == 400)
            let invited = try await client.send(
                .post, "/v1/tenants/current/invitations", json: #"{"email":"\#(bob.email)","roles":["accountant"]}"#,
                token: alice.accessToken)
            #expect(invited.status == 201)
            let token = try await Fixtures.mailedToken(sut, to: bob.email, purpose: "invitation", service: "tenancy")

            let wrongPerson = try await client.send(.post, "/v1/invitations/accept", json: #"{"token":"\#(token)"}"#, token: carol.accessToken)
            #expect(wrongPerson.status == 403)
            let accepted = try await client.send(.post, "/v1/invitations/accept", json: #"{"token":"\#(token)"}"#, token: bob.accessToken)
            #expect(accepted.status == 200)
            #expect(accepted.body["tenantId"] as? String == alice.tenantId)
            let again = try await client.send(.post, "/v1/invitations/accept", json: #"{"token":"\#(token)"}"#, token: bob.accessToken)
            #expect(again.status == 422)

            try await sut.deliver()
            let switched = try await client.send(
                .post, "/v1/auth/token/switch-tenant", json: #"{"tenantId":"\#(alice.tenantId)"}"#, token: bob.accessToken)
            #expect(switched.status == 200)
            let bobInAlice = try #require(switched.body["accessToken"] as? String)
            let me = try await client.send(.get, "/v1/auth/me", token: bobInAlice)
            #expect(me.body["tenantId"] as? String == alice.tenantId)
            #expect(me.body["roles"] as? [String] == ["accountant"])
            #expect(try await client.send(.get, "/v1/tenants/current/members", token: bobInAlice).status == 200)
            #expect(try await client.send(.patch, "/v1/tenants/current", json: #"{"name":"Mine now"}"#, token: bobInAlice).status == 403)

            let members = try await client.send(.get, "/v1/tenants/current/members", token: alice.accessToken)
            #expect(((members.body["items"] as? [[String: Any]]) ?? []).count == 2)
            let tenants = try await client.send(.get, "/v1/tenants", token: bob.accessToken)
            #expect(((tenants.body["items"] as? [[String: Any]]) ?? []).count == 2)

            // Removing bob ends his sessions in alice's tenant at once.
            #expect(try await client.send(.delete, "/v1/tenants/current/members/\(bob.userId)", token: alice.accessToken).status == 204)
            try await sut.deliver()
            #expect(try await client.send(.get, "/v1/auth/me", token: bobInAlice).status == 401)
            #expect(try await client.send(.get, "/v1/auth/me", token: bob.accessToken).status == 200)
            let refresh = try #require(switched.body["refreshToken"] as? String)
            #expect(try await client.send(.post, "/v1/auth/token/refresh", json: #"{"refreshToken":"\#(refresh)"}"#).status == 401)
        }
    }

    @Test("invitations of another tenant cannot be withdrawn; withdrawn ones cannot be accepted")
    func withdrawn() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let alice = try await Fixtures.signUp(client, sut, tag: "alice")
            let bob = try await Fixtures.signUp(client, sut, tag: "bob")
            let invited = try await client.send(
                .post, "/v1/tenants/current/invitations", json: #"{"email":"\#(bob.email)","roles":["viewer"]}"#,
                token: alice.accessToken)
            let id = try #require(invited.body["id"] as? String)
            #expect(try await client.send(.delete, "/v1/tenants/current/invitations/\(id)", token: bob.accessToken).status == 404)
            #expect(try await client.send(.delete, "/v1/tenants/current/invitations/\(id)", token: alice.accessToken).status == 204)
            let token = try await Fixtures.mailedToken(sut, to: bob.email, purpose: "invitation", service: "tenancy")
            #expect(try await client.send(.post, "/v1/invitations/accept", json: #"{"token":"\#(token)"}"#, token: bob.accessToken).status == 422)
        }
    }
}
