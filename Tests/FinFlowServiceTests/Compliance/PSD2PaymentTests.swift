import FinFlowCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// PSD2 payment initiation: a provider submits a payment or a standing order for a user, who authorises it with strong
/// customer authentication bound to its amount and creditor, or rejects or cancels it.
@Suite("compliance: PSD2 payment initiation")
struct PSD2PaymentTests {
    static let json = ScreeningAPITests.json
    static let creditor = "FR14 2004 1010 0505 0001 3M02 606"

    static func payment(amount: String = "125.40", currency: String = "EUR", extra: [String: Any] = [:]) -> String {
        Self.json([
            "instructedAmount": ["currency": currency, "amount": amount], "debtorAccount": ["iban": PSD2ConsentTests.iban],
            "creditorAccount": ["iban": Self.creditor], "creditorName": "Landlord SARL", "remittanceInformationUnstructured": "Rent December",
        ].merging(extra) { $1 })
    }

    @Test("initiated by a provider, authorised only with a code for its amount and creditor (spent once), rejected, cancelled; bad initiations named field by field")
    func lifecycle() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let psu = try await Fixtures.signUp(client, sut, tag: "pis-psu")
            let factor = try await SecondFactor.enrol(client, sut, psu)
            let tpp = try await PSD2ConsentTests.provider(client, owner: psu, name: "Payments Initiator Ltd")
            let psuHeader: HTTPFields = [HTTPField.Name("PSU-ID")!: psu.userId]

            // Bad initiations change nothing and name each field.
            for (body, field) in [
                (Self.payment(amount: "0.00"), "instructedAmount.amount"), (Self.payment(amount: "12.345"), "instructedAmount.amount"),
                (Self.payment(amount: "-5"), "instructedAmount.amount"), (Self.payment(currency: "XAU"), "instructedAmount.currency"),
                (Self.payment(extra: ["creditorAccount": ["iban": "FR1420041010050500013M02607"]]), "creditorAccount.iban"),
                (Self.payment(extra: ["creditorAccount": ["iban": PSD2ConsentTests.iban]]), "creditorAccount.iban"),
                (Self.payment(extra: ["frequency": "Monthly"]), "frequency"),
            ] {
                let refused = try await client.send(.post, "/v1/psd2/payments/sepa-credit-transfers", json: body, token: tpp.token)
                #expect(refused.status == 400 && Self.json(refused.body).contains(field), "\(field): \(refused.body)")
            }
            let noStart = try await client.send(.post, "/v1/psd2/periodic-payments/sepa-credit-transfers", json: Self.payment(), token: tpp.token)
            #expect(noStart.status == 400 && Self.json(noStart.body).contains("startDate") && Self.json(noStart.body).contains("frequency"))

            let created = try await client.send(.post, "/v1/psd2/payments/sepa-credit-transfers", json: Self.payment(), token: tpp.token, headers: psuHeader)
            try #require(created.status == 201, "\(created.body)")
            #expect(created.body["transactionStatus"] as? String == "RCVD")
            let id = try #require(created.body["paymentId"] as? String)
            let path = "/v1/psd2/payment-initiations/\(id)"
            let read = try await client.send(.get, path, token: tpp.token)
            #expect((read.body["instructedAmount"] as? [String: Any])?["amount"] as? String == "125.40", "\(read.body)")
            #expect((read.body["creditorAccount"] as? [String: Any])?["iban"] as? String == "FR1420041010050500013M02606")

            // Authorising needs a code of purpose payment-initiation for 125.40 EUR to this creditor, from this user.
            let authorise = #"{"decision":"authorise"}"#
            let bare = try await client.send(.post, path + "/authorisation", json: authorise, token: psu.accessToken)
            #expect(bare.status == 403 && bare.body["code"] as? String == "sca-required", "\(bare.body)")
            #expect(try await client.send(.post, path + "/authorisation", json: authorise, token: tpp.token).status == 403)
            for code in [
                try await factor.authenticate(12_541, payee: Self.creditor, purpose: "payment-initiation"),
                try await factor.authenticate(12_540, payee: "GB82 WEST 1234 5698 7654 32", purpose: "payment-initiation"),
                try await factor.authenticate(12_540, payee: Self.creditor, purpose: "payment"),
            ] {
                let refused = try await client.send(.post, path + "/authorisation", json: authorise, token: psu.accessToken,
                                                    headers: [HTTPField.Name("SCA-Authentication-Code")!: code])
                #expect(refused.status == 403 && refused.body["code"] as? String == "sca-code-mismatch", "\(refused.body)")
            }
            let code = try await factor.authenticate(12_540, payee: Self.creditor, purpose: "payment-initiation")
            let codeHeader: HTTPFields = [HTTPField.Name("SCA-Authentication-Code")!: code]
            let authorised = try await client.send(.post, path + "/authorisation", json: authorise, token: psu.accessToken, headers: codeHeader)
            #expect(authorised.status == 200 && authorised.body["transactionStatus"] as? String == "ACTC", "\(authorised.body)")
            #expect(try await client.send(.get, path, token: tpp.token).body["transactionStatus"] as? String == "ACTC")
            // An authorised one-off payment is on its way: it cannot be cancelled, and the code cannot authorise another.
            #expect(try await client.send(.delete, path, token: tpp.token).status == 409)
            let twin = try await client.send(.post, "/v1/psd2/payments/sepa-credit-transfers", json: Self.payment(), token: tpp.token, headers: psuHeader)
            let twinId = try #require(twin.body["paymentId"] as? String)
            let reused = try await client.send(
                .post, "/v1/psd2/payment-initiations/\(twinId)/authorisation", json: authorise, token: psu.accessToken, headers: codeHeader)
            #expect(reused.status == 403 && reused.body["code"] as? String == "sca-code-used", "\(reused.body)")
            let rejected = try await client.send(.post, "/v1/psd2/payment-initiations/\(twinId)/authorisation", json: #"{"decision":"reject"}"#, token: psu.accessToken)
            #expect(rejected.body["transactionStatus"] as? String == "RJCT", "\(rejected.body)")

            // A standing order: authorised once, then cancelled by its user; the provider no longer sees it change.
            let order = try await client.send(
                .post, "/v1/psd2/periodic-payments/sepa-credit-transfers",
                json: Self.payment(amount: "850", extra: ["startDate": PSD2ConsentTests.day(sut, plus: 3), "frequency": "Monthly", "dayOfExecution": 1]),
                token: tpp.token, headers: psuHeader)
            try #require(order.status == 201, "\(order.body)")
            let orderPath = "/v1/psd2/payment-initiations/\(try #require(order.body["paymentId"] as? String))"
            let orderCode = try await factor.authenticate(85_000, payee: Self.creditor, purpose: "payment-initiation")
            let standing = try await client.send(.post, orderPath + "/authorisation", json: authorise, token: psu.accessToken,
                                                 headers: [HTTPField.Name("SCA-Authentication-Code")!: orderCode])
            #expect(standing.body["transactionStatus"] as? String == "ACTC" && standing.body["frequency"] as? String == "Monthly", "\(standing.body)")
            let stopped = try await client.send(.post, orderPath + "/cancellation", token: psu.accessToken)
            #expect(stopped.status == 200 && stopped.body["transactionStatus"] as? String == "CANC", "\(stopped.body)")

            // Another provider sees none of it; every step is in the audit chain.
            let other = try await PSD2ConsentTests.provider(client, owner: psu, name: "Other Ltd")
            #expect(try await client.send(.get, path, token: other.token).status == 404)
            struct Audit: Decodable { let action: String }
            let actions = try await #require(sut.system.databases["compliance"]).read { db in
                try await db.raw("SELECT action FROM audit_log WHERE action LIKE 'psd2.payment.%'").all(decoding: Audit.self)
            }.map(\.action)
            #expect(actions.sorted() == ["psd2.payment.ACTC", "psd2.payment.ACTC", "psd2.payment.CANC", "psd2.payment.RJCT",
                                         "psd2.payment.received", "psd2.payment.received", "psd2.payment.received"], "\(actions)")
        }
    }
}
