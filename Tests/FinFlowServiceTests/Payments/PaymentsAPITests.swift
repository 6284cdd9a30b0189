import FinFlowCore
import FinFlowPayments
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The payment API end to end against localstripe: every path of the lifecycle, what the ledger posts from it, and the
/// timeline that records it.
@Suite("payments: the payment API over localstripe")
struct PaymentsAPITests {
    /// Starts localstripe and a whole FinFlow process, and hands a till to `body`.
    static func withTill(_ body: @escaping @Sendable (Till) async throws -> Void) async throws {
        let stripe = try LocalStripe()
        defer { stripe.stop() }
        try await stripe.ready(StripeGateway(baseURL: stripe.baseURL, secretKey: "sk_test_finflow", backoff: Backoff(attemptsMax: 1), timeout: .seconds(2)))
        let sut = try await TestSystem.make()
        try await sut.test { client in
            try await body(try await Till.open(client, sut, gatewayURL: stripe.baseURL))
        }
    }

    @Test("a card paid at once: succeeded, its timeline, PaymentProcessed posted by the ledger once")
    func paidAtOnce() async throws {
        try await Self.withTill { till in
            let paid = try await till.create(2_500)
            #expect(paid.status == 201, "\(paid.body)")
            #expect(paid.body["status"] as? String == "succeeded")
            #expect(paid.body["amountReceived"] as? Int == 2_500)
            #expect((paid.body["gatewayReference"] as? String)?.hasPrefix("pi_") == true)
            #expect((paid.body["card"] as? [String: Any])?["last4"] as? String == "4242")
            let id = try #require(paid.body["id"] as? String)
            #expect(try await till.timeline(id) == ["created", "confirm"])
            try await till.sut.deliver()
            try await till.sut.deliver()
            #expect(try await till.ledgerEntries(sourceId: id) == 1)
            // A second confirm is refused with the status named, and nothing moves.
            let again = try await till.act(id, "confirm")
            #expect(again.status == 409)
            #expect(again.body["code"] as? String == "invalid-state-transition")
            #expect((again.body["detail"] as? String)?.contains("succeeded") == true)
            #expect(try await till.timeline(id) == ["created", "confirm"])
        }
    }

    @Test("held, partly captured, refunded in parts up to what was received, then refused")
    func captureAndRefunds() async throws {
        try await Self.withTill { till in
            let held = try await till.create(2_000, capture: "manual")
            #expect(held.body["status"] as? String == "requires_capture", "\(held.body)")
            #expect(held.body["amountCapturable"] as? Int == 2_000)
            let id = try #require(held.body["id"] as? String)
            #expect(try await till.act(id, "refunds", ["amount": 100]).status == 409)
            #expect(try await till.act(id, "capture", ["amount": 2_001]).body["code"] as? String == "invalid-capture-amount")
            let captured = try await till.act(id, "capture", ["amount": 1_200])
            #expect(captured.status == 200, "\(captured.body)")
            #expect(captured.body["status"] as? String == "succeeded")
            #expect(captured.body["amountReceived"] as? Int == 1_200)
            #expect(captured.body["amountCapturable"] as? Int == 0)

            let first = try await till.act(id, "refunds", ["amount": 500, "reason": "damaged"])
            #expect(first.status == 201, "\(first.body)")
            #expect(first.body["status"] as? String == "partially_refunded")
            let tooMuch = try await till.act(id, "refunds", ["amount": 800])
            #expect(tooMuch.status == 400)
            #expect(tooMuch.body["code"] as? String == "invalid-refund-amount")
            let rest = try await till.act(id, "refunds")
            #expect(rest.body["status"] as? String == "refunded", "\(rest.body)")
            #expect(rest.body["amountRefunded"] as? Int == 1_200)
            let refunds = try #require(rest.body["refunds"] as? [[String: Any]])
            #expect(refunds.map { $0["amount"] as? Int } == [500, 700])
            #expect(try await till.act(id, "refunds", ["amount": 1]).status == 409)

            // The ledger posts the capture and each refund once, however often events are delivered.
            try await till.sut.deliver()
            try await till.sut.deliver()
            #expect(try await till.ledgerEntries(sourceId: id) == 1)
            for refund in refunds {
                #expect(try await till.ledgerEntries(sourceId: "refund:\(refund["id"] as! String)") == 1)
            }
            #expect(try await till.timeline(id) == ["created", "confirm", "capture", "refund", "refund"])
        }
    }

    @Test("a declined card leaves the payment waiting for another method; with a good one it succeeds")
    func declinedThenPaid() async throws {
        try await Self.withTill { till in
            let refused = try await till.card("4000000000000341")
            let declined = try await till.create(700, method: refused)
            #expect(declined.status == 201, "\(declined.body)")
            #expect(declined.body["status"] as? String == "requires_payment_method")
            #expect(declined.body["lastPaymentError"] as? String != nil)
            let id = try #require(declined.body["id"] as? String)
            #expect(try await till.act(id, "confirm").status == 409)
            let paid = try await till.act(id, "confirm", ["paymentMethod": ["token": "pm_card_visa"]])
            #expect(paid.body["status"] as? String == "succeeded", "\(paid.body)")
            #expect(try await till.timeline(id) == ["created", "confirm", "payment_method_attached", "confirm"])
        }
    }

    @Test("3-D Secure: requires_action until the customer passes the challenge, then sync takes the success in")
    func threeDSecure() async throws {
        try await Self.withTill { till in
            let challenged = try await till.create(4_200, method: try await till.card("4000002760003184"))
            #expect(challenged.body["status"] as? String == "requires_action", "\(challenged.body)")
            #expect((challenged.body["nextAction"] as? [String: Any])?["type"] as? String == "use_gateway_sdk")
            let id = try #require(challenged.body["id"] as? String)
            let reference = try #require(challenged.body["gatewayReference"] as? String)
            #expect(try await till.act(id, "capture").status == 409)
            // Nothing moved yet: a sync changes nothing.
            #expect(try await till.act(id, "sync").body["status"] as? String == "requires_action")
            let intent = try await StripeGatewayTests.get(till.gatewayURL + "/v1/payment_intents/\(reference)")
            let secret = try #require(intent["client_secret"] as? String)
            _ = try await StripeGatewayTests.post(till.gatewayURL + "/v1/payment_intents/\(reference)/_authenticate", "client_secret=\(secret)&success=true")
            let synced = try await till.act(id, "sync")
            #expect(synced.body["status"] as? String == "succeeded", "\(synced.body)")
            #expect(synced.body["nextAction"] == nil)
            #expect(try await till.timeline(id) == ["created", "confirm", "sync"])
        }
    }

    @Test("a payment never confirmed is canceled here alone; a held one is released at the gateway")
    func cancel() async throws {
        try await Self.withTill { till in
            let draft = try await till.create(900, method: nil, confirm: false)
            #expect(draft.body["status"] as? String == "requires_payment_method", "\(draft.body)")
            let draftId = try #require(draft.body["id"] as? String)
            #expect(try await till.act(draftId, "cancel").body["status"] as? String == "canceled")
            #expect(try await till.act(draftId, "cancel").status == 409)

            let held = try await till.create(1_000, capture: "manual")
            let heldId = try #require(held.body["id"] as? String)
            #expect(try await till.act(heldId, "cancel").body["status"] as? String == "canceled")
            let intent = try await StripeGatewayTests.get(till.gatewayURL + "/v1/payment_intents/\(held.body["gatewayReference"] as! String)")
            #expect(intent["status"] as? String == "canceled")
        }
    }

    @Test("idempotent retries: the same key replays the answer, another body is refused, racing twins take one payment")
    func idempotency() async throws {
        try await Self.withTill { till in
            let key: HTTPFields = [.init("Idempotency-Key")!: "order-1-pay"]
            let first = try await till.create(1_500, headers: key)
            let replay = try await till.create(1_500, headers: key)
            #expect(replay.headers[.init("Idempotency-Replayed")!] == "true")
            #expect(replay.body["id"] as? String == first.body["id"] as? String)
            #expect(try await till.create(1_600, headers: key).status == 422)

            // The client id is an idempotency key too: two identical requests at once make one payment, charged once.
            let id = UUID().uuidString.lowercased()
            async let a = till.create(3_000, id: id)
            async let b = till.create(3_000, id: id)
            let statuses = [try await a.status, try await b.status].sorted()
            #expect(statuses.first! < 300 || statuses.first! == 409, "\(statuses)")
            #expect(statuses.contains(201))
            let timeline = try await till.timeline(id)
            #expect(timeline.filter { $0 == "confirm" }.count == 1, "\(timeline)")
            #expect(try await till.create(3_001, id: id).body["code"] as? String == "id-reused")
            let listed = try await till.client.send(.get, "/v1/payments?limit=200", token: till.token)
            #expect((listed.body["items"] as? [[String: Any]])?.count == 2)
        }
    }

    @Test("list and filter payments with cursor paging")
    func listing() async throws {
        try await Self.withTill { till in
            for amount in [100, 200, 300] { try await till.create(Int64(amount)) }
            try await till.create(400, capture: "manual")
            try await till.create(500, currency: "EUR", extra: ["customerId": "cus_7"])
            func ids(_ query: String) async throws -> [Int] {
                let response = try await till.client.send(.get, "/v1/payments?\(query)", token: till.token)
                try #require(response.status == 200, "\(response.body)")
                return (response.body["items"] as? [[String: Any]] ?? []).map { $0["amount"] as? Int ?? 0 }
            }
            #expect(try await ids("status=requires_capture") == [400])
            #expect(try await ids("currency=eur") == [500])
            #expect(try await ids("customerId=cus_7") == [500])
            let page = try await till.client.send(.get, "/v1/payments?limit=2", token: till.token)
            #expect((page.body["items"] as? [[String: Any]])?.map { $0["amount"] as? Int } == [500, 400])
            let cursor = try #require(page.body["nextCursor"] as? String)
            #expect(try await ids("limit=2&cursor=\(cursor)") == [300, 200])
            #expect(try await till.client.send(.get, "/v1/payments?status=paid", token: till.token).status == 400)
            #expect(try await till.client.send(.get, "/v1/payments?createdFrom=yesterday", token: till.token).status == 400)
        }
    }
}
