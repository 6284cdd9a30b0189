import FinFlowCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// PSD2 account-information consents in the Berlin Group's shape, asked for by a provider registered as an API client.
@Suite("compliance: PSD2 consents for third-party providers")
struct PSD2ConsentTests {
    static let json = ScreeningAPITests.json
    static let iban = "DE89 3704 0044 0532 0130 00"

    /// A provider: an API client of the owner's tenant with `psd2:consents`, and its token.
    static func provider(_ client: any TestClientProtocol, owner: SignedIn, name: String) async throws -> (id: String, token: String) {
        let created = try await client.send(.post, "/v1/auth/clients", json: #"{"name":"\#(name)","scopes":["psd2:consents"]}"#, token: owner.accessToken)
        try #require(created.status == 201, "\(created.body)")
        let id = try #require(created.body["clientId"] as? String)
        let secret = try #require(created.body["clientSecret"] as? String)
        let issued = try await ClientCredentialsTests().form(client, "grant_type=client_credentials&client_id=\(id)&client_secret=\(secret)")
        return (id, try #require(issued.body["access_token"] as? String, "\(issued.body)"))
    }

    static func consent(validUntil: String, recurring: Bool = true, frequency: Int = 4, access: [String: Any]? = nil) -> String {
        Self.json([
            "access": access ?? ["balances": [["iban": Self.iban]], "transactions": [["iban": Self.iban]]],
            "recurringIndicator": recurring, "validUntil": validUntil, "frequencyPerDay": frequency,
        ])
    }

    static func day(_ sut: TestSystem, plus days: Int) -> String {
        String(ISO8601DateFormatter().string(from: Date(unixMillis: sut.clock.nowMillis() + Int64(days) * 86_400_000)).prefix(10))
    }

    @Test("received, authorised by its user, used up to its daily frequency, revoked; terminated by the provider; expired; rejected")
    func lifecycle() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let owner = try await Fixtures.signUp(client, sut, tag: "psu")
            let tpp = try await Self.provider(client, owner: owner, name: "Aggregator Ltd")
            let factor = try await SecondFactor.enrol(client, sut, owner)
            let created = try await client.send(
                .post, "/v1/psd2/consents", json: Self.consent(validUntil: Self.day(sut, plus: 90)), token: tpp.token,
                headers: [HTTPField.Name("PSU-ID")!: owner.userId])
            try #require(created.status == 201, "\(created.body)")
            #expect(created.body["consentStatus"] as? String == "received")
            let id = try #require(created.body["consentId"] as? String)
            #expect(((created.body["_links"] as? [String: Any])?["scaRedirect"] as? [String: Any])?["href"] as? String == "/v1/psd2/consents/\(id)/authorisation")
            let check = #"{"kind":"balances","iban":"DE89370400440532013000"}"#
            #expect(try await client.send(.post, "/v1/psd2/consents/\(id)/access-checks", json: check, token: tpp.token).body["allowed"] as? Bool == false)

            // Only a signed-in user authorises, and only the one the consent names.
            let byProvider = try await client.send(.post, "/v1/psd2/consents/\(id)/authorisation", json: #"{"decision":"authorise"}"#, token: tpp.token)
            #expect(byProvider.status == 403, "\(byProvider.status) \(byProvider.body)")
            // Authorising is strongly authenticated (RTS article 10): a code of purpose account-access for this consent.
            let bare = try await client.send(.post, "/v1/psd2/consents/\(id)/authorisation", json: #"{"decision":"authorise"}"#, token: owner.accessToken)
            #expect(bare.status == 403 && bare.body["code"] as? String == "sca-required", "\(bare.body)")
            let forAnother = try await client.send(
                .post, "/v1/psd2/consents/\(id)/authorisation", json: #"{"decision":"authorise"}"#, token: owner.accessToken,
                headers: try await factor.consentHeader(UUID().uuidString.lowercased()))
            #expect(forAnother.status == 403 && forAnother.body["code"] as? String == "sca-code-mismatch", "\(forAnother.body)")
            let authorised = try await client.send(
                .post, "/v1/psd2/consents/\(id)/authorisation", json: #"{"decision":"authorise"}"#, token: owner.accessToken,
                headers: try await factor.consentHeader(id))
            #expect(authorised.status == 200 && authorised.body["consentStatus"] as? String == "valid", "\(authorised.body)")
            #expect(try await client.send(.get, "/v1/psd2/consents/\(id)/status", token: tpp.token).body["consentStatus"] as? String == "valid")

            // Four accesses a day without the user; the fifth is refused; with the user present it is not counted against them.
            for used in 1...4 {
                let answer = try await client.send(.post, "/v1/psd2/consents/\(id)/access-checks", json: check, token: tpp.token)
                #expect(answer.body["allowed"] as? Bool == true && answer.body["usedToday"] as? Int == used, "\(answer.body)")
            }
            let fifth = try await client.send(.post, "/v1/psd2/consents/\(id)/access-checks", json: check, token: tpp.token)
            #expect(fifth.body["allowed"] as? Bool == false && (fifth.body["reason"] as? String)?.contains("4 accesses a day") == true)
            let present = try await client.send(
                .post, "/v1/psd2/consents/\(id)/access-checks", json: #"{"kind":"balances","iban":"DE89370400440532013000","psuPresent":true}"#, token: tpp.token)
            #expect(present.body["allowed"] as? Bool == true)
            let otherAccount = try await client.send(
                .post, "/v1/psd2/consents/\(id)/access-checks", json: #"{"kind":"transactions","iban":"GB82WEST12345698765432","psuPresent":true}"#, token: tpp.token)
            #expect(otherAccount.body["allowed"] as? Bool == false)
            sut.clock.advance(seconds: 86_400)
            let signedIn = try await factor.signIn()
            let psuToken = signedIn.user.accessToken
            let tppToken = try await Self.provider(client, owner: SignedIn(
                userId: owner.userId, email: owner.email, password: owner.password, accessToken: psuToken, refreshToken: owner.refreshToken,
                tenantId: owner.tenantId), name: "Aggregator Ltd 2").token
            #expect(try await client.send(.get, "/v1/psd2/consents/\(id)", token: tppToken).status == 404, "another provider sees nothing of it")
            #expect(try await client.send(.post, "/v1/psd2/consents/\(id)/access-checks", json: check, token: tpp.token).status == 401, "the provider's token expired with the day")

            let revoked = try await client.send(.post, "/v1/psd2/consents/\(id)/revocation", token: psuToken)
            #expect(revoked.status == 200 && revoked.body["consentStatus"] as? String == "revokedByPsu")

            // The provider terminates a received consent; a consent past its date has expired; the user rejects one.
            let second = try await client.send(.post, "/v1/psd2/consents", json: Self.consent(validUntil: Self.day(sut, plus: 2)), token: tppToken)
            let secondId = try #require(second.body["consentId"] as? String)
            #expect(try await client.send(.delete, "/v1/psd2/consents/\(secondId)", token: tppToken).status == 204)
            #expect(try await client.send(.get, "/v1/psd2/consents/\(secondId)", token: tppToken).body["consentStatus"] as? String == "terminatedByTpp")
            let third = try await client.send(
                .post, "/v1/psd2/consents", json: Self.consent(validUntil: Self.day(sut, plus: 1), recurring: false, frequency: 1, access: ["allPsd2": "allAccounts"]),
                token: tppToken)
            let thirdId = try #require(third.body["consentId"] as? String)
            #expect(try await client.send(.post, "/v1/psd2/consents/\(thirdId)/authorisation", json: #"{"decision":"authorise"}"#, token: psuToken,
                                          headers: try await signedIn.consentHeader(thirdId)).status == 200)
            let once = try await client.send(.post, "/v1/psd2/consents/\(thirdId)/access-checks", json: #"{"kind":"transactions"}"#, token: tppToken)
            #expect(once.body["allowed"] as? Bool == true && once.body["consentStatus"] as? String == "expired", "a one-off consent is used once")
            let fourth = try await client.send(.post, "/v1/psd2/consents", json: Self.consent(validUntil: Self.day(sut, plus: 1)), token: tppToken)
            let fourthId = try #require(fourth.body["consentId"] as? String)
            #expect(try await client.send(.post, "/v1/psd2/consents/\(fourthId)/authorisation", json: #"{"decision":"reject"}"#, token: psuToken).body["consentStatus"] as? String == "rejected")
            let fifthConsent = try await client.send(.post, "/v1/psd2/consents", json: Self.consent(validUntil: Self.day(sut, plus: 1)), token: tppToken)
            let fifthId = try #require(fifthConsent.body["consentId"] as? String)
            _ = try await client.send(.post, "/v1/psd2/consents/\(fifthId)/authorisation", json: #"{"decision":"authorise"}"#, token: psuToken,
                                      headers: try await signedIn.consentHeader(fifthId))
            sut.clock.advance(seconds: 2 * 86_400)
            let later = try await signedIn.signIn().user.accessToken
            let laterTpp = try await Self.provider(client, owner: SignedIn(
                userId: owner.userId, email: owner.email, password: owner.password, accessToken: later, refreshToken: owner.refreshToken,
                tenantId: owner.tenantId), name: "Aggregator Ltd 3").token
            _ = laterTpp
            let expired = try await client.send(.post, "/v1/psd2/consents/\(fifthId)/revocation", token: later)
            #expect(expired.status == 409 && expired.body["code"] as? String == "consent-expired", "\(expired.body)")

            // Every change is in the audit trail.
            try await sut.system.shipAudit()
            let trail = try await client.send(.get, "/v1/compliance/audit-trail?service=compliance", token: later)
            let actions = Set((trail.body["items"] as? [[String: Any]] ?? []).compactMap { $0["action"] as? String })
            #expect(actions.isSuperset(of: ["psd2.consent.received", "psd2.consent.valid", "psd2.consent.revokedByPsu", "psd2.consent.terminatedByTpp", "psd2.consent.rejected"]), "\(actions)")
        }
    }

    @Test("bad consent requests are refused with the field named, and nothing is stored")
    func badRequests() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let owner = try await Fixtures.signUp(client, sut, tag: "psu-bad")
            let tpp = try await Self.provider(client, owner: owner, name: "Bad Aggregator")
            let cases: [(String, String)] = [
                (Self.consent(validUntil: Self.day(sut, plus: 181)), "validUntil"),
                (Self.consent(validUntil: Self.day(sut, plus: -1)), "validUntil"),
                (Self.consent(validUntil: "2026-02-30"), "validUntil"),
                (Self.consent(validUntil: Self.day(sut, plus: 30), frequency: 5), "frequencyPerDay"),
                (Self.consent(validUntil: Self.day(sut, plus: 30), recurring: false, frequency: 2), "frequencyPerDay"),
                (Self.consent(validUntil: Self.day(sut, plus: 30), access: ["balances": [["iban": "DE89370400440532013001"]]]), "access.balances[0].iban"),
                (Self.consent(validUntil: Self.day(sut, plus: 30), access: [:]), "access"),
            ]
            for (body, field) in cases {
                let refused = try await client.send(.post, "/v1/psd2/consents", json: body, token: tpp.token)
                let fields = (refused.body["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? []
                #expect(refused.status == 400 && fields.contains(field), "\(field): \(refused.status) \(refused.body)")
            }
            #expect(try await client.send(.post, "/v1/psd2/consents", json: Self.consent(validUntil: Self.day(sut, plus: 30)), token: owner.accessToken).status == 201,
                    "an owner holds psd2:consents too")
            #expect(try await client.send(.post, "/v1/psd2/consents", json: Self.consent(validUntil: Self.day(sut, plus: 30))).status == 401)
        }
    }
}
