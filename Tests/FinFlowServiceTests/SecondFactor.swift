import FinFlowCore
import Foundation
import HTTPTypes
import HummingbirdOTP
import HummingbirdTesting
import SQLKit
import Testing

/// A signed-in user with TOTP on, who asks the auth service for strong-customer-authentication codes, each with a
/// code of a fresh 30-second step (a step is accepted once).
struct SecondFactor {
    let client: any TestClientProtocol
    let sut: TestSystem
    let user: SignedIn
    let secret: String

    static func enrol(_ client: any TestClientProtocol, _ sut: TestSystem, _ user: SignedIn) async throws -> SecondFactor {
        #expect(try await client.send(.post, "/v1/auth/mfa/totp/enroll", token: user.accessToken).status == 200)
        struct Row: Decodable { let totp_secret: String }
        let database = try #require(sut.system.databases["auth"])
        let secret = try #require(await database.read { db in
            try await db.raw("SELECT totp_secret FROM users WHERE id = \(bind: user.userId)").first(decoding: Row.self)
        }).totp_secret
        let factor = SecondFactor(client: client, sut: sut, user: user, secret: secret)
        let confirmed = try await client.send(.post, "/v1/auth/mfa/totp/confirm", json: #"{"code":"\#(factor.totp())"}"#, token: user.accessToken)
        try #require(confirmed.status == 200, "confirm: \(confirmed.body)")
        return factor
    }

    /// Signs in again (password, then a TOTP code of a fresh step): the same user with a new access token.
    func signIn() async throws -> SecondFactor {
        let login = try await self.client.send(
            .post, "/v1/auth/login", json: #"{"email":"\#(self.user.email)","password":"\#(self.user.password)"}"#)
        let challenge = try #require(login.body["mfaToken"] as? String, "\(login.body)")
        self.sut.clock.advance(seconds: 30)
        let full = try await self.client.send(.post, "/v1/auth/login/mfa", json: #"{"mfaToken":"\#(challenge)","code":"\#(self.totp())"}"#)
        let token = try #require(full.body["accessToken"] as? String, "\(full.body)")
        let user = SignedIn(
            userId: self.user.userId, email: self.user.email, password: self.user.password, accessToken: token,
            refreshToken: self.user.refreshToken, tenantId: self.user.tenantId)
        return SecondFactor(client: self.client, sut: self.sut, user: user, secret: self.secret)
    }

    /// The `SCA-Authentication-Code` header of a fresh code authorising the consent `consentId`.
    func consentHeader(_ consentId: String) async throws -> HTTPFields {
        [HTTPField.Name("SCA-Authentication-Code")!: try await self.authenticate(nil, payee: consentId, purpose: "account-access")]
    }

    func totp() -> String { String(format: "%06d", TOTP(secret: self.secret).compute(date: self.sut.clock.now())) }

    /// An authentication code of `purpose` (`amount` nil for a trusted beneficiary).
    func authenticate(_ amount: Int64?, _ currency: String = "EUR", payee: String, purpose: String) async throws -> String {
        self.sut.clock.advance(seconds: 30)
        var object: [String: Any] = ["payee": payee, "code": self.totp(), "purpose": purpose]
        if let amount {
            object["amount"] = amount
            object["currency"] = currency
        }
        let body = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        let answer = try await self.client.send(.post, "/v1/auth/sca", json: body, token: self.user.accessToken)
        try #require(answer.status == 201, "sca: \(answer.body)")
        return try #require(answer.body["authenticationCode"] as? String)
    }
}
