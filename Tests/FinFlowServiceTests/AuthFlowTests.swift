import FinFlowCore
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("auth-service flows")
struct AuthFlowTests {
    @Test("register, verify, sign in, me, refresh rotation; reuse of a spent refresh token ends the family")
    func refreshReuseRevokesFamily() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut)
            let me = try await client.send(.get, "/v1/auth/me", token: user.accessToken)
            #expect(me.status == 200)
            #expect(me.body["tenantId"] as? String == user.tenantId)
            #expect((me.body["roles"] as? [String]) == ["owner"])

            let first = try await client.send(.post, "/v1/auth/token/refresh", json: #"{"refreshToken":"\#(user.refreshToken)"}"#)
            #expect(first.status == 200)
            let rotated = try #require(first.body["refreshToken"] as? String)
            #expect(rotated != user.refreshToken)

            // The spent token comes back: the whole session ends, including the token it was rotated into.
            let replay = try await client.send(.post, "/v1/auth/token/refresh", json: #"{"refreshToken":"\#(user.refreshToken)"}"#)
            #expect(replay.status == 401)
            #expect(replay.body["code"] as? String == "refresh-token-reused")
            let afterReuse = try await client.send(.post, "/v1/auth/token/refresh", json: #"{"refreshToken":"\#(rotated)"}"#)
            #expect(afterReuse.status == 401)
            let meAfter = try await client.send(.get, "/v1/auth/me", token: user.accessToken)
            #expect(meAfter.status == 401)
        }
    }

    @Test("an access token stops working at its expiry even after it was accepted")
    func expiry() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut)
            #expect(try await client.send(.get, "/v1/auth/me", token: user.accessToken).status == 200)
            sut.clock.advance(seconds: 900 + 31)
            let expired = try await client.send(.get, "/v1/auth/me", token: user.accessToken)
            #expect(expired.status == 401)
            #expect(expired.headers[.wwwAuthenticate] == "Bearer")
        }
    }

    @Test("five failed sign-ins lock the account; the lock lifts after its time and doubles on the next lockout")
    func lockoutAndUnlock() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut)
            let wrong = #"{"email":"\#(user.email)","password":"not-the-password-1"}"#
            let right = #"{"email":"\#(user.email)","password":"\#(user.password)"}"#
            for _ in 0..<5 { #expect(try await client.send(.post, "/v1/auth/login", json: wrong).status == 401) }
            let locked = try await client.send(.post, "/v1/auth/login", json: right)
            #expect(locked.status == 423)
            #expect(locked.body["code"] as? String == "account-locked")
            #expect(locked.headers[.retryAfter] == "900")

            sut.clock.advance(seconds: 901)
            #expect(try await client.send(.post, "/v1/auth/login", json: right).status == 200)

            // A successful sign-in resets the doubling; lock twice without one in between.
            for _ in 0..<5 { _ = try await client.send(.post, "/v1/auth/login", json: wrong) }
            sut.clock.advance(seconds: 901)
            for _ in 0..<5 { _ = try await client.send(.post, "/v1/auth/login", json: wrong) }
            let second = try await client.send(.post, "/v1/auth/login", json: right)
            #expect(second.status == 423)
            #expect(second.headers[.retryAfter] == "1800")
        }
    }

    @Test("an unknown email and a wrong password get the same answer")
    func noEnumeration() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut)
            let unknown = try await client.send(
                .post, "/v1/auth/login", json: #"{"email":"nobody@example.com","password":"whatever-password"}"#)
            let wrong = try await client.send(
                .post, "/v1/auth/login", json: #"{"email":"\#(user.email)","password":"whatever-password"}"#)
            #expect(unknown.status == 401 && wrong.status == 401)
            #expect(unknown.body["code"] as? String == wrong.body["code"] as? String)
            #expect(unknown.body["detail"] as? String == wrong.body["detail"] as? String)

            // Registering a taken email answers like a new registration and tells the owner by mail.
            let again = try await client.send(
                .post, "/v1/auth/register",
                json: #"{"email":"\#(user.email)","password":"another-Quiet-58-river","displayName":"Impostor"}"#)
            #expect(again.status == 201)
            #expect(again.body["userId"] as? String != user.userId)
            struct Count: Decodable { let n: Int }
            let database = try #require(sut.system.databases["auth"])
            let attempts = try await database.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM mail_outbox WHERE purpose = 'registration-attempt'").first(decoding: Count.self)
            }
            #expect(attempts?.n == 1)
            let login = try await client.send(.post, "/v1/auth/login", json: #"{"email":"\#(user.email)","password":"\#(user.password)"}"#)
            #expect(login.status == 200)
        }
    }

    @Test("password change needs the old password and ends other sessions; reset tokens are single use")
    func passwordChangeAndReset() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut)
            let other = try await client.send(.post, "/v1/auth/login", json: #"{"email":"\#(user.email)","password":"\#(user.password)"}"#)
            let otherToken = try #require((other.body["tokens"] as? [String: Any])?["accessToken"] as? String)
            let badOld = try await client.send(
                .post, "/v1/auth/password/change", json: #"{"currentPassword":"wrong-one-here","newPassword":"amber-Meadow-77-lantern"}"#,
                token: user.accessToken)
            #expect(badOld.status == 400)
            let common = try await client.send(
                .post, "/v1/auth/password/change", json: #"{"currentPassword":"\#(user.password)","newPassword":"password1234"}"#,
                token: user.accessToken)
            #expect(common.status == 400)
            let changed = try await client.send(
                .post, "/v1/auth/password/change",
                json: #"{"currentPassword":"\#(user.password)","newPassword":"amber-Meadow-77-lantern"}"#, token: user.accessToken)
            #expect(changed.status == 204)
            #expect(try await client.send(.get, "/v1/auth/me", token: otherToken).status == 401)
            #expect(try await client.send(.get, "/v1/auth/me", token: user.accessToken).status == 200)

            #expect(try await client.send(.post, "/v1/auth/password/forgot", json: #"{"email":"\#(user.email)"}"#).status == 202)
            #expect(try await client.send(.post, "/v1/auth/password/forgot", json: #"{"email":"ghost@example.com"}"#).status == 202)
            let token = try await Fixtures.mailedToken(sut, to: user.email, purpose: "reset-password")
            let reset = #"{"token":"\#(token)","newPassword":"quartz-Ribbon-19-falcon"}"#
            #expect(try await client.send(.post, "/v1/auth/password/reset", json: reset).status == 204)
            #expect(try await client.send(.post, "/v1/auth/password/reset", json: reset).status == 422)
            let login = try await client.send(
                .post, "/v1/auth/login", json: #"{"email":"\#(user.email)","password":"quartz-Ribbon-19-falcon"}"#)
            #expect(login.status == 200)
        }
    }

    @Test("registration honours Idempotency-Key: replay, and a different body under the same key")
    func idempotentRegistration() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let email = Fixtures.email("idem")
            let body = #"{"email":"\#(email)","password":"\#(Fixtures.password)","displayName":"Idem"}"#
            let key: HTTPFields = [.idempotencyKey: "reg-\(UUID().uuidString)"]
            let first = try await client.send(.post, "/v1/auth/register", json: body, headers: key)
            let second = try await client.send(.post, "/v1/auth/register", json: body, headers: key)
            #expect(first.status == 201 && second.status == 201)
            #expect(second.headers[.idempotencyReplayed] == "true")
            #expect(first.body["userId"] as? String == second.body["userId"] as? String)
            let other = body.replacingOccurrences(of: "Idem", with: "Other")
            let conflict = try await client.send(.post, "/v1/auth/register", json: other, headers: key)
            #expect(conflict.status == 422)
            #expect(conflict.body["code"] as? String == "idempotency-key-reused")
        }
    }
}
