import FinFlowCore
import Foundation
import HummingbirdTesting
import Testing

@Suite("tax: VAT numbers with VIES")
struct VIESTests {
    @Test("valid, invalid and unavailable answers; the consultation number kept with the document; one question per number and day")
    func answers() async throws {
        let vies = VIESTestServer()
        try await StandIn.serving(vies.router) { base in
            let sut = try await TestSystem.make { $0.viesURL = base }
            try await sut.test { client in
                let user = try await Fixtures.signUp(client, sut, tag: "vies")
                let valid = try await client.send(.get, "/v1/tax/vat-numbers/FR%2023%20334%20175%20221", token: user.accessToken)
                #expect(valid.body["status"] as? String == "valid")
                #expect(valid.body["name"] as? String == "ACME SARL")
                let calls = vies.callCount
                _ = try await client.send(.get, "/v1/tax/vat-numbers/FR23334175221", token: user.accessToken)
                #expect(vies.callCount == calls, "the day's answer is kept")

                // A bad check digit never reaches VIES; a well-formed unregistered number is invalid by VIES.
                let digits = try await client.send(.get, "/v1/tax/vat-numbers/FR23334175222", token: user.accessToken)
                #expect(digits.body["status"] as? String == "invalid")
                #expect(vies.callCount == calls)
                let unregistered = try await client.send(.get, "/v1/tax/vat-numbers/DE129273398", token: user.accessToken)
                #expect(unregistered.body["status"] as? String == "invalid")

                // A B2B sale to the registered French buyer: exempt under Article 138.
                let b2b = try await client.send(.post, "/v1/tax/calculations", json: TaxAPITests.invoice(
                    code: "V-1", buyer: ["address": ["country": "FR"], "vatNumber": "FR23334175221"], commit: true), token: user.accessToken)
                #expect(b2b.body["tax"] as? Int == 0)
                #expect(((b2b.body["lines"] as? [[String: Any]])?.first?["treatment"]) as? String == "intra-community-supply")
                #expect((b2b.body["buyerVatNumber"] as? [String: Any])?["status"] as? String == "valid")

                // France's system down: "not confirmed", still B2B; asked again next time.
                vies.unavailable.withLock { _ = $0.insert("FR") }
                let down = try await client.send(.get, "/v1/tax/vat-numbers/FR40303265045", token: user.accessToken)
                #expect(down.body["status"] as? String == "not-confirmed")
                #expect((down.body["detail"] as? String)?.contains("MS_UNAVAILABLE") == true)
                let during = try await client.send(.post, "/v1/tax/calculations", json: TaxAPITests.invoice(
                    code: "V-2", buyer: ["address": ["country": "FR"], "vatNumber": "FR40303265045"]), token: user.accessToken)
                #expect(((during.body["lines"] as? [[String: Any]])?.first?["treatment"]) as? String == "intra-community-supply")
                #expect((during.body["buyerVatNumber"] as? [String: Any])?["status"] as? String == "not-confirmed")

                // An unregistered buyer buys as a consumer.
                let consumer = try await client.send(.post, "/v1/tax/calculations", json: TaxAPITests.invoice(
                    code: "V-3", buyer: ["address": ["country": "DE"], "vatNumber": "DE129273398"], amount: 10_000), token: user.accessToken)
                #expect(consumer.body["tax"] as? Int == 1_900)
            }
        }
    }

    @Test("VIES out of reach is not confirmed, never invalid")
    func unreachable() async throws {
        let sut = try await TestSystem.make { $0.viesURL = "http://127.0.0.1:9" }
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut, tag: "vies-down")
            let answer = try await client.send(.get, "/v1/tax/vat-numbers/DE136695976", token: user.accessToken)
            #expect(answer.status == 200)
            #expect(answer.body["status"] as? String == "not-confirmed")
        }
    }
}
