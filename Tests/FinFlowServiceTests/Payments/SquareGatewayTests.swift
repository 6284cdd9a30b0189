import Crypto
import FinFlowCore
import FinFlowPayments
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The Square adapter against the Square test server, then Square through the payment API: its webhooks, and failing
/// over to it when a tenant's first gateway cannot be reached.
@Suite("payments: Square (a test server written to its Payments API v2), and failover")
struct SquareGatewayTests {
    static func charge(_ amount: Int64, token: String = "cnon:card-nonce-ok", capture: CaptureMethod = .automatic) -> GatewayCharge {
        GatewayCharge(
            amountMinor: amount, currency: "USD", paymentMethodToken: token, captureMethod: capture, description: "order 7",
            metadata: ["finflow_payment_id": UUID().uuidString.lowercased()], returnURL: nil)
    }

    @Test("the adapter: paid at once with its fee, held and taken in part, declined, released, refunded in parts")
    func adapter() async throws {
        let square = SquareSandbox()
        try await StandIn.serving(square.router) { url in
            let gateway = SquareGateway(baseURL: url, accessToken: SquareSandbox.accessToken, locationId: SquareSandbox.locationId)
            // Keys longer than Square's 45 characters are shortened by a digest, the same each time.
            let longKey = UUID().uuidString + "-authorize-1"
            let paid = try await gateway.authorize(Self.charge(2_000), idempotencyKey: longKey)
            #expect(paid.outcome == .captured)
            #expect(paid.feeMinor == Int64(2_000 * 29 / 1_000 + 30), "\(String(describing: paid.feeMinor))")
            let again = try await gateway.authorize(Self.charge(2_000), idempotencyKey: UUID().uuidString)
            #expect(again.reference != paid.reference)
            #expect(SquareWire.idempotencyKey(longKey).count <= 45)
            #expect(SquareWire.idempotencyKey(longKey) == SquareWire.idempotencyKey(longKey))

            let held = try await gateway.authorize(Self.charge(5_000, capture: .manual), idempotencyKey: "hold-1")
            #expect(held.outcome == .authorized)
            let reference = try #require(held.reference)
            let taken = try await gateway.capture(reference: reference, amountMinor: 3_000, idempotencyKey: "hold-1-capture")
            #expect(taken.outcome == .captured)
            #expect(square.payment(reference)?.amount == 3_000)
            // A resend of the capture finds it done and changes nothing.
            #expect(try await gateway.capture(reference: reference, amountMinor: 3_000, idempotencyKey: "hold-1-capture").outcome == .captured)

            let declined = try await gateway.authorize(Self.charge(700, token: "cnon:card-nonce-declined"), idempotencyKey: "decl-1")
            #expect(declined.outcome == .declined(code: "generic_decline", message: "GENERIC_DECLINE: Authorization error: 'GENERIC_DECLINE'"))

            let released = try await gateway.authorize(Self.charge(900, capture: .manual), idempotencyKey: "rel-1")
            let canceled = try await gateway.cancel(reference: try #require(released.reference), idempotencyKey: "rel-1-cancel")
            #expect(canceled.outcome == .failed(code: "canceled", message: "canceled at Square"))
            #expect(try await gateway.cancel(reference: released.reference!, idempotencyKey: "rel-1-cancel").outcome == canceled.outcome)

            let first = try await gateway.refund(reference: reference, amountMinor: 1_000, currency: "usd", idempotencyKey: "ref-1")
            #expect(first.accepted && first.amountMinor == 1_000)
            #expect(try await gateway.refund(reference: reference, amountMinor: 1_000, currency: "usd", idempotencyKey: "ref-1") == first)
            await #expect {
                try await gateway.refund(reference: reference, amountMinor: 2_001, currency: "usd", idempotencyKey: "ref-2")
            } throws: { error in
                guard case GatewayError.refused(let refusal) = error else { return false }
                return refusal.code == "refund-refused"
            }
            #expect(Set(square.state.withLock { $0.squareVersions }) == [SquareWire.version])

            // A wrong token is a refusal of our configuration, not a fault to retry.
            let stranger = SquareGateway(baseURL: url, accessToken: "EAAA-wrong")
            await #expect {
                try await stranger.status(reference: reference)
            } throws: { error in
                guard case GatewayError.refused(let refusal) = error else { return false }
                return refusal.code == "gateway-credentials-rejected"
            }
        }
    }

    @Test("a lost answer is retried with the same idempotency_key: Square charges once")
    func lostAnswer() async throws {
        let square = SquareSandbox(lostAnswers: 2)
        try await StandIn.serving(square.router) { url in
            let gateway = SquareGateway(
                baseURL: url, accessToken: SquareSandbox.accessToken, backoff: Backoff(baseMillis: 5, capMillis: 10, attemptsMax: 3))
            let paid = try await gateway.authorize(Self.charge(1_200), idempotencyKey: "lost-1")
            #expect(paid.outcome == .captured)
            #expect(square.createCalls == 3)
            #expect(square.paymentCount == 1)
        }
    }

    /// A tenant's Square gateway at `url`, configured through the API with a signature key and notification URL.
    static let signatureKey = "sq-signature-key-finflow"
    static let notificationURL = "https://finflow.example.com/hooks/square"

    static func configureSquare(_ client: any TestClientProtocol, token: String, url: String, priority: Int = 1) async throws {
        let configured = try await client.send(
            .put, "/v1/payments/gateways/square",
            json: Till.json([
                "baseUrl": url, "priority": priority,
                "credentials": ["accessToken": SquareSandbox.accessToken, "locationId": SquareSandbox.locationId],
                "webhookSecret": Self.signatureKey, "webhookUrl": Self.notificationURL,
            ]), token: token)
        try #require(configured.status == 200, "square: \(configured.body)")
    }

    /// A signed Square webhook delivery.
    static func squareWebhook(_ client: any TestClientProtocol, tenantId: String, _ event: [String: Any], key: String = signatureKey) async throws
        -> (status: Int, body: [String: Any], headers: HTTPFields)
    {
        let body = Till.json(event)
        let signature = WebhookSignature.squareSignature(body: Data(body.utf8), notificationURL: Self.notificationURL, signatureKey: key)
        return try await client.send(
            .post, "/v1/payments/webhooks/square/\(tenantId)", json: body, headers: [.init("x-square-hmacsha256-signature")!: signature])
    }

    @Test("Square through the payment API: paid, held and released from Square's side by a signed webhook, refunded, fees to the ledger")
    func throughTheAPI() async throws {
        let square = SquareSandbox()
        try await StandIn.serving(square.router) { url in
            let sut = try await TestSystem.make()
            try await sut.test { client in
                let owner = try await Fixtures.signUp(client, sut, tag: "square")
                try await sut.deliver()
                try await Self.configureSquare(client, token: owner.accessToken, url: url)
                let till = Till(client: client, sut: sut, user: owner, gatewayURL: url)
                let paid = try await till.create(4_000, method: "cnon:card-nonce-ok")
                #expect(paid.status == 201, "\(paid.body)")
                #expect(paid.body["status"] as? String == "succeeded")
                #expect(paid.body["gateway"] as? String == "square")
                #expect(paid.body["fee"] as? Int == 4_000 * 29 / 1_000 + 30, "\(paid.body)")
                let id = try #require(paid.body["id"] as? String)
                let refunded = try await till.act(id, "refunds", ["amount": 1_500])
                #expect(refunded.body["status"] as? String == "partially_refunded", "\(refunded.body)")

                let declined = try await till.create(700, method: "cnon:card-nonce-declined")
                #expect(declined.body["status"] as? String == "requires_payment_method", "\(declined.body)")

                // Released at Square's dashboard: Square's payment.updated arrives signed and cancels the hold here.
                let held = try await till.create(2_500, method: "cnon:card-nonce-ok", capture: "manual")
                let heldId = try #require(held.body["id"] as? String)
                let reference = try #require(held.body["gatewayReference"] as? String)
                var stored = try #require(square.payment(reference))
                stored.status = "CANCELED"
                let event: [String: Any] = [
                    "merchant_id": "MFINFLOW", "type": "payment.updated", "event_id": UUID().uuidString.lowercased(),
                    "created_at": "2026-12-02T10:00:00Z",
                    "data": ["type": "payment", "id": reference, "object": ["payment": SquareSandbox.render(stored)]],
                ]
                let forged = try await Self.squareWebhook(client, tenantId: owner.tenantId, event, key: "not-the-key")
                #expect(forged.status == 401)
                #expect(try await till.payment(heldId)["status"] as? String == "requires_capture")
                let delivered = try await Self.squareWebhook(client, tenantId: owner.tenantId, event)
                #expect(delivered.status == 200, "\(delivered.body)")
                #expect(delivered.body["applied"] as? Bool == true)
                #expect(try await Self.squareWebhook(client, tenantId: owner.tenantId, event).body["duplicate"] as? Bool == true)
                #expect(try await till.payment(heldId)["status"] as? String == "canceled")
                #expect(try await till.timeline(heldId) == ["created", "confirm", "webhook:square"])

                try await sut.deliver()
                try await sut.deliver()
                #expect(try await till.ledgerEntries(sourceId: id) == 1)
            }
        }
    }

    @Test("failover: a first gateway that takes no connection hands the payment to the next with a token for the card; never after a call may have reached it")
    func failover() async throws {
        let square = SquareSandbox()
        try await StandIn.serving(square.router) { url in
            let sut = try await TestSystem.make()
            try await sut.test { client in
                let owner = try await Fixtures.signUp(client, sut, tag: "failover")
                try await sut.deliver()
                // Stripe first, where nothing listens; Square second.
                let stripe = try await client.send(
                    .put, "/v1/payments/gateways/stripe",
                    json: Till.json(["baseUrl": "http://127.0.0.1:9", "priority": 1, "credentials": ["secretKey": "sk_test_finflow"]]),
                    token: owner.accessToken)
                try #require(stripe.status == 200)
                try await Self.configureSquare(client, token: owner.accessToken, url: url, priority: 2)
                let till = Till(client: client, sut: sut, user: owner, gatewayURL: "http://127.0.0.1:9")

                let moved = try await till.create(
                    3_300, extra: ["paymentMethod": ["token": "pm_card_visa", "last4": "4242", "fallbackTokens": ["square": "cnon:card-nonce-ok"]]])
                #expect(moved.status == 201, "\(moved.body)")
                #expect(moved.body["status"] as? String == "succeeded")
                #expect(moved.body["gateway"] as? String == "square")
                let movedId = try #require(moved.body["id"] as? String)
                #expect(try await till.timeline(movedId) == ["created", "authorize_not_sent", "failover", "confirm"])
                #expect(square.paymentCount == 1)

                // No token for another gateway: nothing was sent, so the payment is free to be canceled or retried.
                let stuck = try await till.create(1_100)
                #expect(stuck.status == 503, "\(stuck.body)")
                #expect(stuck.body["code"] as? String == "gateway-unavailable")
                let listed = try await client.send(.get, "/v1/payments?status=requires_confirmation", token: owner.accessToken)
                let stuckId = try #require((listed.body["items"] as? [[String: Any]])?.first?["id"] as? String)
                #expect(try await till.act(stuckId, "cancel").body["status"] as? String == "canceled")
                #expect(square.paymentCount == 1)

                // A bad fallback provider is refused like any bad field.
                let bad = try await till.create(100, extra: ["paymentMethod": ["token": "pm_card_visa", "fallbackTokens": ["adyen": "tok"]]])
                #expect(bad.status == 400)
                #expect(Till.json(bad.body).contains("paymentMethod.fallbackTokens.adyen"))
            }
        }
    }
}
