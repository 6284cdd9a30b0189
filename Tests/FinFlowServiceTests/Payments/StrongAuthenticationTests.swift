import FinFlowCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdOTP
import HummingbirdTesting
import NIOCore
import SQLKit
import Testing

/// Strong customer authentication of payments a user initiates: the exemptions of the RTS at and just past each limit,
/// codes bound to the amount, currency and payee, spent once, and every decision kept with its reason.
@Suite("payments: strong customer authentication")
struct StrongAuthenticationTests {
    /// A payer of the till's tenant, with TOTP on.
    struct Payer {
        let till: Till
        let factor: SecondFactor

        static func enrol(_ till: Till) async throws -> Payer {
            Payer(till: till, factor: try await SecondFactor.enrol(till.client, till.sut, till.user))
        }

        func totp() -> String { self.factor.totp() }

        func authenticate(_ amount: Int64?, _ currency: String = "EUR", payee: String) async throws -> String {
            try await self.factor.authenticate(amount, currency, payee: payee, purpose: amount == nil ? "trusted-beneficiary" : "payment")
        }

        /// A payment to `payee` (not confirmed: the gateway is never called), with a code when given.
        func pay(_ amount: Int64, _ currency: String = "EUR", payee: String?, code: String? = nil, recurring: Bool = false)
            async throws -> (status: Int, body: [String: Any])
        {
            var extra: [String: Any] = [:]
            if let payee { extra["payee"] = payee }
            if recurring { extra["recurring"] = true }
            var headers: HTTPFields = [:]
            if let code { headers[HTTPField.Name("SCA-Authentication-Code")!] = code }
            let answer = try await self.till.create(amount, currency: currency, method: nil, confirm: false, headers: headers, extra: extra)
            return (answer.status, answer.body)
        }
    }

    static func expectExempt(_ answer: (status: Int, body: [String: Any]), _ exemption: String, since: Int? = nil, eur: Int64? = nil,
                             sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(answer.status == 201, "\(answer.body)", sourceLocation: sourceLocation)
        let sca = answer.body["sca"] as? [String: Any]
        #expect(sca?["outcome"] as? String == "exempt", "\(answer.body)", sourceLocation: sourceLocation)
        #expect(sca?["exemption"] as? String == exemption, "\(answer.body)", sourceLocation: sourceLocation)
        if let since { #expect(sca?["paymentsSinceAuthentication"] as? Int == since, sourceLocation: sourceLocation) }
        if let eur { #expect((sca?["eurSinceAuthentication"] as? NSNumber)?.int64Value == eur, sourceLocation: sourceLocation) }
    }

    static func expectRequired(_ answer: (status: Int, body: [String: Any]), mentioning text: String,
                               sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(answer.status == 403, "\(answer.body)", sourceLocation: sourceLocation)
        #expect(answer.body["code"] as? String == "sca-required", "\(answer.body)", sourceLocation: sourceLocation)
        #expect((answer.body["detail"] as? String)?.contains(text) == true, "\(answer.body)", sourceLocation: sourceLocation)
    }

    @Test("low value: EUR 30 exempt and 30.01 not; EUR 100 cumulative exempt and a cent more not; five payments exempt and the sixth not; other currencies need authentication")
    func lowValue() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let till = try await Till.open(client, sut, gatewayURL: "http://127.0.0.1:9", tag: "sca-low")
            let payer = try await Payer.enrol(till)
            // Off by default: a payment names no payee and nothing is decided.
            let before = try await payer.pay(10_000, payee: nil)
            #expect(before.status == 201 && before.body["sca"] == nil, "\(before.body)")
            #expect(try await client.send(.get, "/v1/payments/sca-policy", token: till.token).body["enabled"] as? Bool == false)
            let set = try await client.send(.put, "/v1/payments/sca-policy", json: #"{"enabled":true}"#, token: till.token)
            #expect(set.status == 200 && set.body["lowValue"] as? Bool == true, "\(set.body)")

            let noPayee = try await payer.pay(100, payee: nil)
            #expect(noPayee.status == 400 && Till.json(noPayee.body).contains("payee"), "\(noPayee.body)")
            Self.expectRequired(try await payer.pay(100, "USD", payee: "shop"), mentioning: "counted in EUR")

            // Per payment: EUR 30.00 at the limit, 30.01 past it.
            Self.expectExempt(try await payer.pay(3_000, payee: "shop"), "low-value", since: 1, eur: 3_000)
            Self.expectRequired(try await payer.pay(3_001, payee: "shop"), mentioning: "above the EUR 30.00")
            // Cumulative: EUR 100.00 reached exactly, then one cent more.
            Self.expectExempt(try await payer.pay(3_000, payee: "shop"), "low-value", since: 2, eur: 6_000)
            Self.expectExempt(try await payer.pay(3_000, payee: "shop"), "low-value", since: 3, eur: 9_000)
            Self.expectExempt(try await payer.pay(1_000, payee: "shop"), "low-value", since: 4, eur: 10_000)
            Self.expectRequired(try await payer.pay(1, payee: "shop"), mentioning: "would pass EUR 100.00")

            // Authentication resets both counts.
            let code = try await payer.authenticate(1, payee: "shop")
            let authenticated = try await payer.pay(1, payee: "shop", code: code)
            #expect(authenticated.status == 201, "\(authenticated.body)")
            #expect((authenticated.body["sca"] as? [String: Any])?["outcome"] as? String == "authenticated")
            // Count: five payments since then are exempt, the sixth is not.
            for count in 1...5 { Self.expectExempt(try await payer.pay(100, payee: "shop"), "low-value", since: count, eur: Int64(count) * 100) }
            Self.expectRequired(try await payer.pay(100, payee: "shop"), mentioning: "five payments")

            // A tenant may give the exemption up.
            #expect(try await client.send(.put, "/v1/payments/sca-policy", json: #"{"enabled":true,"lowValue":false}"#, token: till.token).status == 200)
            let fresh = try await payer.authenticate(1, payee: "shop")
            #expect(try await payer.pay(1, payee: "shop", code: fresh).status == 201)
            Self.expectRequired(try await payer.pay(1, payee: "shop"), mentioning: "no low-value exemption")

            // Every decision is kept with its reason: 1 + 5 authenticated-or-exempt before, refusals included.
            let decisions = try await client.send(.get, "/v1/payments/sca-decisions?limit=200", token: till.token)
            let items = try #require(decisions.body["items"] as? [[String: Any]])
            let outcomes = items.map { $0["outcome"] as? String ?? "" }
            #expect(outcomes.filter { $0 == "refused" }.count == 5, "\(outcomes)")
            #expect(outcomes.filter { $0 == "authenticated" }.count == 2)
            #expect(outcomes.filter { $0 == "exempt" }.count == 9)
            #expect(items.allSatisfy { !($0["reason"] as? String ?? "").isEmpty })
            // Only what a payment was made for is linked to it; a refusal made no payment.
            #expect(items.filter { $0["outcome"] as? String == "refused" }.allSatisfy { $0["paymentId"] == nil })
        }
    }

    @Test("dynamic linking: a code is refused for another amount, currency or payee, by another user, forged or expired, and is spent by one payment of two racing")
    func dynamicLinking() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let till = try await Till.open(client, sut, gatewayURL: "http://127.0.0.1:9", tag: "sca-link")
            let payer = try await Payer.enrol(till)
            #expect(try await client.send(.put, "/v1/payments/sca-policy", json: #"{"enabled":true}"#, token: till.token).status == 200)
            let iban = "DE89 3704 0044 0532 0130 00"
            let code = try await payer.authenticate(125_000, payee: iban)
            for (amount, currency, payee) in [(125_001, "EUR", iban), (125_000, "USD", iban), (125_000, "EUR", "GB82WEST12345698765432")] as [(Int64, String, String)] {
                let refused = try await payer.pay(amount, currency, payee: payee, code: code)
                #expect(refused.status == 403 && refused.body["code"] as? String == "sca-code-mismatch", "\(amount) \(currency) \(payee): \(refused.body)")
            }
            // Not a code: an access token, a forged signature.
            let notCode = try await payer.pay(125_000, payee: iban, code: till.token)
            #expect(notCode.body["code"] as? String == "sca-code-invalid", "\(notCode.body)")
            let forged = try await payer.pay(125_000, payee: iban, code: String(code.dropLast(2)) + (code.hasSuffix("AA") ? "BB" : "AA"))
            #expect(forged.body["code"] as? String == "sca-code-invalid", "\(forged.body)")

            // The same IBAN written compactly is the same payee; two payments racing with the code: one is made.
            let compact = "de89370400440532013000"
            let racing = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<2 { group.addTask { try await payer.pay(125_000, payee: compact, code: code).status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(racing.sorted() == [201, 403], "\(racing)")
            let again = try await payer.pay(125_000, payee: iban, code: code)
            #expect(again.body["code"] as? String == "sca-code-used", "\(again.body)")

            // Another user, in another tenant, cannot spend this payer's code.
            let other = try await payer.authenticate(500, payee: "shop")
            let stranger = try await Till.open(client, sut, gatewayURL: "http://127.0.0.1:9", tag: "sca-stranger")
            #expect(try await client.send(.put, "/v1/payments/sca-policy", json: #"{"enabled":true}"#, token: stranger.token).status == 200)
            let spent = try await stranger.create(
                500, currency: "EUR", method: nil, confirm: false, headers: [HTTPField.Name("SCA-Authentication-Code")!: other], extra: ["payee": "shop"])
            #expect(spent.status == 403 && spent.body["code"] as? String == "sca-code-mismatch", "\(spent.body)")

            // A code lives five minutes.
            sut.clock.advance(seconds: 301)
            let expired = try await payer.pay(500, payee: "shop", code: other)
            #expect(expired.body["code"] as? String == "sca-code-invalid", "\(expired.body)")

            // The factor: a wrong TOTP code, a code already used, a machine client.
            let wrong = try await client.send(.post, "/v1/auth/sca", json: #"{"purpose":"payment","amount":5,"currency":"EUR","payee":"x","code":"000000"}"#, token: till.token)
            #expect(wrong.status == 400 && wrong.body["code"] as? String == "invalid-mfa-code", "\(wrong.body)")
            let bad = try await client.send(.post, "/v1/auth/sca", json: #"{"purpose":"payment","currency":"EUR","payee":"","code":"1"}"#, token: till.token)
            #expect(bad.status == 400 && Till.json(bad.body).contains("amount") && Till.json(bad.body).contains("payee"), "\(bad.body)")
            let unused = payer.totp()
            sut.clock.advance(seconds: 30)
            let current = payer.totp()
            let first = try await client.send(.post, "/v1/auth/sca", json: #"{"purpose":"payment","amount":5,"currency":"EUR","payee":"x","code":"\#(current)"}"#, token: till.token)
            #expect(first.status == 201, "\(first.body)")
            #expect(first.body["amount"] as? Int == 5 && first.body["payee"] as? String == "X")
            let replayed = try await client.send(.post, "/v1/auth/sca", json: #"{"purpose":"payment","amount":5,"currency":"EUR","payee":"x","code":"\#(current)"}"#, token: till.token)
            #expect(replayed.status == 400, "\(replayed.body)")
            let older = try await client.send(.post, "/v1/auth/sca", json: #"{"purpose":"payment","amount":5,"currency":"EUR","payee":"x","code":"\#(unused)"}"#, token: till.token)
            #expect(older.status == 400, "a step before the last one used is refused too: \(older.body)")

            // A merchant-initiated payment (an API client charging a customer) is out of scope, and recorded so.
            let created = try await client.send(.post, "/v1/auth/clients", json: #"{"name":"billing","scopes":["payments:create","payments:read"]}"#, token: till.token)
            let clientId = try #require(created.body["clientId"] as? String)
            let clientSecret = try #require(created.body["clientSecret"] as? String)
            let issued = try await client.execute(
                uri: "/v1/auth/token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "grant_type=client_credentials&client_id=\(clientId)&client_secret=\(clientSecret)")
            ) { response in try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any] ?? [:] }
            let machine = try #require(issued["access_token"] as? String)
            let charged = try await client.send(.post, "/v1/payments", json: Till.json(["amount": 99_900, "currency": "EUR"]), token: machine)
            #expect(charged.status == 201, "\(charged.body)")
            #expect((charged.body["sca"] as? [String: Any])?["outcome"] as? String == "out-of-scope")
            let sca = try await client.send(.post, "/v1/auth/sca", json: #"{"purpose":"payment","amount":5,"currency":"EUR","payee":"x","code":"123456"}"#, token: machine)
            #expect(sca.status == 403 && sca.body["code"] as? String == "sca-needs-a-user", "\(sca.body)")
        }
    }

    @Test("trusted beneficiaries need authentication to add and then pay without it; a recurring series is authenticated at its first payment only")
    func trustedAndRecurring() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let till = try await Till.open(client, sut, gatewayURL: "http://127.0.0.1:9", tag: "sca-trust")
            let payer = try await Payer.enrol(till)
            #expect(try await client.send(.put, "/v1/payments/sca-policy", json: #"{"enabled":true}"#, token: till.token).status == 200)
            let landlord = "FR14 2004 1010 0505 0001 3M02 606"
            let unauthenticated = try await client.send(.post, "/v1/payments/trusted-beneficiaries", json: Till.json(["payee": landlord]), token: till.token)
            #expect(unauthenticated.status == 403 && unauthenticated.body["code"] as? String == "sca-required", "\(unauthenticated.body)")
            let forPayment = try await payer.authenticate(100, payee: landlord)
            let wrongPurpose = try await client.send(
                .post, "/v1/payments/trusted-beneficiaries", json: Till.json(["payee": landlord]), token: till.token,
                headers: [HTTPField.Name("SCA-Authentication-Code")!: forPayment])
            #expect(wrongPurpose.body["code"] as? String == "sca-code-mismatch", "\(wrongPurpose.body)")
            let code = try await payer.authenticate(nil, payee: landlord)
            let added = try await client.send(
                .post, "/v1/payments/trusted-beneficiaries", json: Till.json(["payee": landlord, "name": "Landlord"]), token: till.token,
                headers: [HTTPField.Name("SCA-Authentication-Code")!: code])
            #expect(added.status == 201 && added.body["payee"] as? String == "FR1420041010050500013M02606", "\(added.body)")
            let beneficiaryId = try #require(added.body["id"] as? String)

            Self.expectExempt(try await payer.pay(95_000, payee: landlord), "trusted-beneficiary", since: 1, eur: 95_000)
            Self.expectRequired(try await payer.pay(95_000, payee: "GB82 WEST 1234 5698 7654 32"), mentioning: "above the EUR 30.00")
            // Exempt payments count towards the low-value limits too: after EUR 950, a EUR 1 payment needs authentication.
            Self.expectRequired(try await payer.pay(100, payee: "shop"), mentioning: "would pass EUR 100.00")
            #expect(try await client.send(.delete, "/v1/payments/trusted-beneficiaries/\(beneficiaryId)", token: till.token).status == 204)
            Self.expectRequired(try await payer.pay(95_000, payee: landlord), mentioning: "above")
            let listed = try await client.send(.get, "/v1/payments/trusted-beneficiaries", token: till.token)
            #expect((listed.body["items"] as? [Any])?.isEmpty == true)

            // Recurring: the first payment of the series is authenticated, the next ones of the same amount to the same
            // payee are exempt; another amount, or a payment not marked recurring, is not.
            let first = try await payer.authenticate(4_999, payee: "streaming ltd")
            let opened = try await payer.pay(4_999, payee: "Streaming  Ltd", code: first, recurring: true)
            #expect(opened.status == 201 && (opened.body["sca"] as? [String: Any])?["outcome"] as? String == "authenticated", "\(opened.body)")
            Self.expectExempt(try await payer.pay(4_999, payee: "STREAMING LTD", recurring: true), "recurring", since: 1, eur: 4_999)
            Self.expectExempt(try await payer.pay(4_999, payee: "streaming ltd", recurring: true), "recurring", since: 2, eur: 9_998)
            Self.expectRequired(try await payer.pay(5_000, payee: "streaming ltd", recurring: true), mentioning: "above")
            Self.expectRequired(try await payer.pay(4_999, payee: "streaming ltd"), mentioning: "above")

            // The tenant's policy change is audited; a viewer cannot change it.
            struct Audit: Decodable { let action: String }
            let database = try #require(sut.system.databases["payments"])
            let actions = try await database.read { db in try await db.raw("SELECT action FROM audit_log").all(decoding: Audit.self) }.map(\.action)
            #expect(actions.contains("payments.sca-policy.set") && actions.contains("payments.trusted-beneficiary.added")
                    && actions.contains("payments.trusted-beneficiary.removed"), "\(actions)")
            let authActions = try await #require(sut.system.databases["auth"]).read { db in
                try await db.raw("SELECT action FROM audit_log").all(decoding: Audit.self)
            }.map(\.action)
            #expect(authActions.filter { $0 == "auth.sca" }.count == 3, "\(authActions)")
        }
    }
}
