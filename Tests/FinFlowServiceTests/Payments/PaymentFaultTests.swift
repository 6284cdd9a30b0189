import FinFlowCore
import FinFlowPayments
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

/// What goes wrong around a payment: webhooks forged, stale, repeated or late; a gateway that takes the charge and
/// loses its answer; bad input and missing permissions.
@Suite("payments: webhooks, a gateway that loses answers, bad input")
struct PaymentFaultTests {
    /// A Stripe PaymentIntent event as Stripe sends it.
    static func intentEvent(_ eventId: String, _ type: String, reference: String, status: String, amount: Int, received: Int) -> [String: Any] {
        [
            "id": eventId, "object": "event", "type": type,
            "data": ["object": [
                "id": reference, "object": "payment_intent", "status": status, "amount": amount, "currency": "usd",
                "amount_received": received, "amount_capturable": 0,
            ]],
        ]
    }

    @Test("Stripe webhooks: forged, stale or unsigned refused; applied once; a late event cannot move a payment back")
    func stripeWebhooks() async throws {
        try await PaymentsAPITests.withTill { till in
            let challenged = try await till.create(4_200, method: try await till.card("4000002760003184"))
            #expect(challenged.body["status"] as? String == "requires_action", "\(challenged.body)")
            let id = try #require(challenged.body["id"] as? String)
            let reference = try #require(challenged.body["gatewayReference"] as? String)
            let succeeded = Self.intentEvent("evt_ok", "payment_intent.succeeded", reference: reference, status: "succeeded", amount: 4_200, received: 4_200)

            // Refused before anything is read: a wrong secret, a delivery older than the tolerance, no signature.
            let forged = try await till.webhook(succeeded, secret: "whsec_someone_else")
            #expect(forged.status == 401)
            #expect(forged.body["code"] as? String == "invalid-webhook-signature")
            #expect(try await till.webhook(succeeded, ageSeconds: 600).status == 401)
            let unsigned = try await till.client.send(
                .post, "/v1/payments/webhooks/stripe/\(till.user.tenantId)", json: Till.json(succeeded))
            #expect(unsigned.status == 401)
            #expect(try await till.payment(id)["status"] as? String == "requires_action")

            // Signed: applied once; the redelivery is acknowledged as a duplicate and changes nothing.
            let delivered = try await till.webhook(succeeded)
            #expect(delivered.status == 200, "\(delivered.body)")
            #expect(delivered.body["applied"] as? Bool == true)
            #expect(delivered.body["duplicate"] as? Bool == false)
            let paid = try await till.payment(id)
            #expect(paid["status"] as? String == "succeeded")
            #expect(paid["amountReceived"] as? Int == 4_200)
            let again = try await till.webhook(succeeded)
            #expect(again.body["duplicate"] as? Bool == true)
            #expect(again.body["applied"] as? Bool == false)

            // Delivered late, after the success: it cannot move the payment back.
            let late = try await till.webhook(
                Self.intentEvent("evt_late", "payment_intent.requires_action", reference: reference, status: "requires_action", amount: 4_200, received: 0))
            #expect(late.status == 200)
            #expect(late.body["applied"] as? Bool == false)
            #expect(try await till.payment(id)["status"] as? String == "succeeded")
            #expect(try await till.timeline(id) == ["created", "confirm", "webhook:stripe"])
            try await till.sut.deliver()
            try await till.sut.deliver()
            #expect(try await till.ledgerEntries(sourceId: id) == 1)

            // A hold released at Stripe's dashboard arrives as a cancel.
            let held = try await till.create(1_000, capture: "manual")
            let heldId = try #require(held.body["id"] as? String)
            let canceled = try await till.webhook(
                Self.intentEvent("evt_cancel", "payment_intent.canceled", reference: held.body["gatewayReference"] as! String, status: "canceled",
                                 amount: 1_000, received: 0))
            #expect(canceled.body["applied"] as? Bool == true, "\(canceled.body)")
            #expect(try await till.payment(heldId)["status"] as? String == "canceled")

            // Other event types are acknowledged and ignored; a body that is no event, or an unknown endpoint, is refused.
            let other = try await till.webhook(["id": "evt_other", "type": "customer.created", "data": ["object": ["id": "cus_1"]]])
            #expect(other.status == 200)
            #expect(other.body["applied"] as? Bool == false)
            #expect(try await till.webhook(["unexpected": true]).status == 400)
            let unknown = try await till.client.send(
                .post, "/v1/payments/webhooks/stripe/\(UUID().uuidString.lowercased())", json: Till.json(succeeded),
                headers: [.init("Stripe-Signature")!: "t=1,v1=00"])
            #expect(unknown.status == 404)
        }
    }

    /// A Stripe stand-in that takes every charge (once per idempotency key, as Stripe does) but loses its answer for the
    /// first `lostAnswers` calls, answering 503 instead: the gateway charged, the caller does not know it.
    final class LossyStripe: Sendable {
        struct Ledger {
            var keys: [String] = []
            var charges: [String: String] = [:]
        }
        let lostAnswers: Int
        let ledger = Mutex(Ledger())
        init(lostAnswers: Int) { self.lostAnswers = lostAnswers }

        var keys: [String] { self.ledger.withLock { $0.keys } }
        var charges: Int { self.ledger.withLock { $0.charges.count } }

        var router: Router<BasicRequestContext> {
            let router = Router()
            router.post("/v1/payment_intents") { request, _ -> Response in
                let form = String(buffer: try await request.body.collect(upTo: 1 << 16))
                let fields = Dictionary(form.split(separator: "&").map { pair -> (String, String) in
                    let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                    return (parts[0], parts.count > 1 ? parts[1] : "")
                }, uniquingKeysWith: { first, _ in first })
                let key = request.headers[.init("Idempotency-Key")!] ?? ""
                let (calls, intentId) = self.ledger.withLock { ledger in
                    ledger.keys.append(key)
                    if ledger.charges[key] == nil { ledger.charges[key] = "pi_lossy_\(ledger.charges.count + 1)" }
                    return (ledger.keys.count, ledger.charges[key]!)
                }
                if calls <= self.lostAnswers {
                    return Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"type":"api_error","message":"lost"}}"#)))
                }
                let amount = fields["amount"] ?? "0"
                return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: """
                    {"id":"\(intentId)","status":"succeeded","amount":\(amount),"currency":"usd","amount_received":\(amount),"amount_capturable":0}
                    """)))
            }
            return router
        }
    }

    @Test("the gateway charges but its answer is lost: the client's retry resends the same key and the customer pays once")
    func answerLost() async throws {
        // Three lost answers: every attempt of the first request (the gateway's retries included) goes unanswered.
        let stripe = LossyStripe(lostAnswers: 3)
        try await StandIn.serving(stripe.router) { url in
            let sut = try await TestSystem.make()
            try await sut.test { client in
                let till = try await Till.open(client, sut, gatewayURL: url, tag: "lossy")
                let key: HTTPFields = [.init("Idempotency-Key")!: "order-9-pay"]
                let first = try await till.create(5_000, headers: key)
                #expect(first.status == 503, "\(first.body)")
                #expect(first.body["code"] as? String == "gateway-unavailable")
                #expect(stripe.charges == 1)

                let listed = try await client.send(.get, "/v1/payments", token: till.token)
                let items = try #require(listed.body["items"] as? [[String: Any]])
                #expect(items.count == 1)
                let id = try #require(items.first?["id"] as? String)
                #expect(items.first?["status"] as? String == "requires_confirmation")
                // Nothing else may be done to it while that attempt is unresolved.
                let cancel = try await till.act(id, "cancel")
                #expect(cancel.status == 409)
                #expect(cancel.body["code"] as? String == "payment-attempt-unresolved")

                // The client repeats its request: the unanswered call is resent with its key and Stripe answers the first
                // charge.
                let retry = try await till.create(5_000, headers: key)
                let afterRetry = try await till.payment(id)
                #expect(retry.status == 200, "\(retry.body) \(afterRetry)")
                #expect(retry.body["id"] as? String == id)
                #expect(retry.body["status"] as? String == "succeeded")
                #expect(stripe.charges == 1)
                #expect(stripe.keys.count == 4)
                #expect(Set(stripe.keys).count == 1)
                #expect(try await till.timeline(id) == ["created", "authorize_unanswered", "authorize_resent", "confirm"])
                try await sut.deliver()
                try await sut.deliver()
                #expect(try await till.ledgerEntries(sourceId: id) == 1)
                // Once answered, the same key replays the stored answer.
                let replay = try await till.create(5_000, headers: key)
                #expect(replay.headers[.init("Idempotency-Replayed")!] == "true")
                #expect(stripe.keys.count == 4)
            }
        }
    }

    @Test("bad input is refused with the field named and changes nothing; permissions are checked")
    func badInput() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let owner = try await Fixtures.signUp(client, sut, tag: "pay-owner")
            try await sut.deliver()
            let token = owner.accessToken
            func create(_ object: [String: Any]) async throws -> (status: Int, body: [String: Any], headers: HTTPFields) {
                try await client.send(.post, "/v1/payments", json: Till.json(object), token: token)
            }
            let plain: [String: Any] = ["amount": 1_000, "currency": "USD"]
            let unconfigured = try await create(plain)
            #expect(unconfigured.status == 422)
            #expect(unconfigured.body["code"] as? String == "gateway-not-configured")

            // Gateway settings: plain http only on loopback, the provider's credentials exactly, a known provider.
            for (provider, object) in [
                ("stripe", ["baseUrl": "http://payments.example.com", "credentials": ["secretKey": "sk_test_1"]]),
                ("stripe", ["credentials": [:] as [String: String]]),
                ("stripe", ["credentials": ["secretKey": "sk_test_1", "password": "x"]]),
                ("stripe", ["credentials": ["secretKey": "has space"]]),
                ("stripe", ["credentials": ["secretKey": "sk_test_1"], "priority": 0]),
                ("adyen", ["credentials": ["apiKey": "k"]]),
            ] as [(String, [String: Any])] {
                let refused = try await client.send(.put, "/v1/payments/gateways/\(provider)", json: Till.json(object), token: token)
                #expect(refused.status == 400, "\(provider) \(object): \(refused.body)")
            }
            #expect((try await client.send(.get, "/v1/payments/gateways", token: token).body["items"] as? [Any])?.isEmpty == true)
            let configured = try await client.send(
                .put, "/v1/payments/gateways/stripe", json: Till.json(["baseUrl": "http://127.0.0.1:9", "credentials": ["secretKey": "sk_test_1"]]),
                token: token)
            #expect(configured.status == 200, "\(configured.body)")
            #expect(configured.body["credentialNames"] as? [String] == ["secretKey"])
            #expect(!Till.json(configured.body).contains("sk_test_1"))

            // Payments: each bad field named; a card number is never taken for a token.
            let card: [String: Any] = ["token": "4242424242424242", "brand": "visa", "last4": "4242"]
            for (object, field) in [
                (plain.merging(["paymentMethod": card]) { $1 }, "paymentMethod.token"),
                (plain.merging(["amount": 0]) { $1 }, "amount"),
                (plain.merging(["currency": "XYZ"]) { $1 }, "currency"),
                (plain.merging(["id": "not-a-uuid"]) { $1 }, "id"),
                (plain.merging(["confirm": true]) { $1 }, "confirm"),
                (plain.merging(["paymentMethod": ["token": "pm_card_visa", "last4": "42"]]) { $1 }, "paymentMethod.last4"),
                (plain.merging(["paymentMethod": ["token": "pm_card_visa", "expMonth": 13]]) { $1 }, "paymentMethod.expMonth"),
            ] as [([String: Any], String)] {
                let refused = try await create(object)
                #expect(refused.status == 400, "\(object): \(refused.body)")
                #expect(Till.json(refused.body).contains(field), "\(field) not named in \(refused.body)")
            }
            #expect(try await client.send(.get, "/v1/payments/not-a-uuid", token: token).status == 404)
            #expect(try await client.send(.post, "/v1/payments/\(UUID().uuidString)/capture", json: "{}", token: token).status == 404)
            #expect((try await client.send(.get, "/v1/payments", token: token).body["items"] as? [Any])?.isEmpty == true)

            // A viewer reads but moves no money and configures nothing; an accountant takes payments but holds no keys.
            let viewer = try await Fixtures.member(of: owner, roles: ["viewer"], client, sut, tag: "pay-viewer")
            #expect(try await client.send(.get, "/v1/payments", token: viewer).status == 200)
            #expect(try await client.send(.post, "/v1/payments", json: Till.json(plain), token: viewer).status == 403)
            let accountant = try await Fixtures.member(of: owner, roles: ["accountant"], client, sut, tag: "pay-accountant")
            #expect(try await client.send(
                .put, "/v1/payments/gateways/stripe", json: Till.json(["credentials": ["secretKey": "sk_test_2"]]), token: accountant).status == 403)
            #expect(try await client.send(.post, "/v1/payments", json: Till.json(plain), token: accountant).status == 201)
        }
    }
}
