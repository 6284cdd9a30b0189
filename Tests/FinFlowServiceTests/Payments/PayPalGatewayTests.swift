import FinFlowCore
import FinFlowPayments
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The PayPal adapter against the PayPal test server, then PayPal through the payment API: the buyer's approval as
/// the next action, and webhooks verified by PayPal's verify-signature call.
@Suite("payments: PayPal (a test server written to its Orders v2 and Payments v2 APIs)")
struct PayPalGatewayTests {
    static func charge(_ amount: Int64, token: String = "vault-ok", capture: CaptureMethod = .automatic) -> GatewayCharge {
        GatewayCharge(
            amountMinor: amount, currency: "USD", paymentMethodToken: token, captureMethod: capture, description: "order 7",
            metadata: ["finflow_payment_id": UUID().uuidString.lowercased()], returnURL: "https://shop.example.com/back")
    }

    @Test("amounts are PayPal's decimal strings in the currency's decimals, and back")
    func money() throws {
        #expect(try PayPalWire.money(1_234, currency: "usd") == .init(currency_code: "USD", value: "12.34"))
        #expect(try PayPalWire.money(500, currency: "JPY") == .init(currency_code: "JPY", value: "500"))
        #expect(try PayPalWire.money(1_005, currency: "BHD") == .init(currency_code: "BHD", value: "1.005"))
        #expect(PayPalWire.minor(.init(currency_code: "USD", value: "12.3")) == 1_230)
        #expect(PayPalWire.minor(.init(currency_code: "USD", value: "0.49")) == 49)
        #expect(PayPalWire.minor(.init(currency_code: "USD", value: "1.234")) == nil)
        #expect(PayPalWire.minor(.init(currency_code: "USD", value: "-1")) == nil)
    }

    @Test("the adapter: a vaulted wallet charged at once, an authorization captured in part, voided, refunded; declines; one OAuth token, fetched again when refused")
    func adapter() async throws {
        let paypal = PayPalSandbox()
        try await StandIn.serving(paypal.router) { url in
            let gateway = PayPalGateway(baseURL: url, clientId: PayPalSandbox.clientId, clientSecret: PayPalSandbox.clientSecret)
            let paid = try await gateway.authorize(Self.charge(2_000), idempotencyKey: "pp-1")
            #expect(paid.outcome == .captured)
            #expect(paid.feeMinor == 119) // 3.49 % of 20.00 + 0.49, rounded
            #expect(try await gateway.authorize(Self.charge(2_000), idempotencyKey: "pp-1").reference == paid.reference)
            #expect(paypal.orderCount == 1)

            let held = try await gateway.authorize(Self.charge(5_000, capture: .manual), idempotencyKey: "pp-2")
            #expect(held.outcome == .authorized)
            let orderId = try #require(held.reference)
            let captured = try await gateway.capture(reference: orderId, amountMinor: 3_000, idempotencyKey: "pp-2-capture")
            #expect(captured.outcome == .captured)
            #expect(paypal.order(orderId)?.captureAmount?["value"] == "30.00")
            #expect(try await gateway.capture(reference: orderId, amountMinor: 3_000, idempotencyKey: "pp-2-capture").outcome == .captured)
            let refund = try await gateway.refund(reference: orderId, amountMinor: 1_000, currency: "USD", idempotencyKey: "pp-2-refund-1")
            #expect(refund.accepted && refund.amountMinor == 1_000)
            await #expect(throws: GatewayError.self) {
                try await gateway.refund(reference: orderId, amountMinor: 2_001, currency: "USD", idempotencyKey: "pp-2-refund-2")
            }

            let voided = try await gateway.authorize(Self.charge(900, capture: .manual), idempotencyKey: "pp-3")
            #expect(try await gateway.cancel(reference: try #require(voided.reference), idempotencyKey: "pp-3-cancel").outcome
                == .failed(code: "canceled", message: "voided at PayPal"))
            #expect(paypal.order(voided.reference!)?.authorizationStatus == "VOIDED")

            let declined = try await gateway.authorize(Self.charge(700, token: "vault-declined"), idempotencyKey: "pp-4")
            guard case .declined(let code, _) = declined.outcome else { Issue.record("not declined: \(declined)"); return }
            #expect(code == "instrument_declined")
            #expect(paypal.tokensIssued == 1)

            // The token expires at PayPal: the refusal fetches a new one and the call goes through.
            paypal.expireTokens()
            #expect(try await gateway.status(reference: orderId).outcome == .captured)
            #expect(paypal.tokensIssued == 2)

            let stranger = PayPalGateway(baseURL: url, clientId: PayPalSandbox.clientId, clientSecret: "wrong")
            await #expect {
                try await stranger.status(reference: orderId)
            } throws: { error in
                guard case GatewayError.refused(let refusal) = error else { return false }
                return refusal.code == "gateway-credentials-rejected"
            }
        }
    }

    @Test("PayPal through the payment API: the buyer approves at PayPal, a verified webhook takes the payment, the ledger posts it once")
    func approvalThroughTheAPI() async throws {
        let paypal = PayPalSandbox()
        try await StandIn.serving(paypal.router) { url in
            let sut = try await TestSystem.make()
            try await sut.test { client in
                let owner = try await Fixtures.signUp(client, sut, tag: "paypal")
                try await sut.deliver()
                let configured = try await client.send(
                    .put, "/v1/payments/gateways/paypal",
                    json: Till.json([
                        "baseUrl": url, "credentials": ["clientId": PayPalSandbox.clientId, "clientSecret": PayPalSandbox.clientSecret],
                        "webhookSecret": PayPalSandbox.webhookId,
                    ]), token: owner.accessToken)
                try #require(configured.status == 200, "paypal: \(configured.body)")
                let till = Till(client: client, sut: sut, user: owner, gatewayURL: url)

                let pending = try await till.create(6_500, method: PayPalGateway.approvalToken)
                #expect(pending.body["status"] as? String == "requires_action", "\(pending.body)")
                let next = try #require(pending.body["nextAction"] as? [String: Any])
                #expect(next["type"] as? String == "redirect_to_url")
                #expect((next["redirectUrl"] as? String)?.contains("checkoutnow?token=") == true)
                let id = try #require(pending.body["id"] as? String)
                let orderId = try #require(pending.body["gatewayReference"] as? String)
                #expect(try await till.act(id, "sync").body["status"] as? String == "requires_action")

                // The buyer approves at PayPal; PayPal says so by webhook, and the order is captured then.
                _ = try await StripeGatewayTests.post(url + "/test/approve/\(orderId)", "")
                let event: [String: Any] = [
                    "id": "WH-EVT-\(UUID().uuidString)", "event_version": "1.0", "event_type": "CHECKOUT.ORDER.APPROVED",
                    "resource_type": "checkout-order", "resource": paypal.render(try #require(paypal.order(orderId))),
                ]
                func deliver(_ headers: [String: String]) async throws -> (status: Int, body: [String: Any], headers: HTTPFields) {
                    var fields = HTTPFields()
                    for (name, value) in headers { fields[HTTPField.Name(name)!] = value }
                    return try await client.send(.post, "/v1/payments/webhooks/paypal/\(owner.tenantId)", json: Till.json(event), headers: fields)
                }
                var forged = paypal.sign()
                forged["PAYPAL-TRANSMISSION-SIG"] = "sig-forged"
                #expect(try await deliver(forged).status == 401)
                #expect(try await deliver([:]).status == 401)
                let signed = paypal.sign()
                let delivered = try await deliver(signed)
                #expect(delivered.status == 200, "\(delivered.body)")
                #expect(delivered.body["applied"] as? Bool == true)
                #expect(try await deliver(signed).body["duplicate"] as? Bool == true)
                let paid = try await till.payment(id)
                #expect(paid["status"] as? String == "succeeded", "\(paid)")
                #expect(paid["fee"] as? Int == 276) // 3.49 % of 65.00 + 0.49
                #expect(try await till.timeline(id) == ["created", "confirm", "webhook:paypal"])
                try await sut.deliver()
                try await sut.deliver()
                #expect(try await till.ledgerEntries(sourceId: id) == 1)

                // Refunded through the API, against the capture inside the order.
                let refunded = try await till.act(id, "refunds", ["amount": 500])
                #expect(refunded.body["status"] as? String == "partially_refunded", "\(refunded.body)")
            }
        }
    }
}
