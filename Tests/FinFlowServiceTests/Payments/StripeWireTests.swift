import FinFlowCore
import FinFlowPayments
import Foundation
import Testing

@Suite("payments: Stripe on the wire")
struct StripeWireTests {
    @Test("create fields are form-encoded with bracketed metadata, lower-case currency and escaped values")
    func encoding() {
        let fields = StripeWire.createFields(
            amount: 1_999, currency: "EUR", paymentMethod: "pm_card_visa", captureMethod: .manual, description: "Order #42 & more",
            metadata: ["order": "42", "customer": "c/1"], confirm: true, returnURL: "https://shop.example/done?x=1")
        #expect(StripeWire.formEncoded(fields) == "amount=1999&currency=eur&capture_method=manual&payment_method=pm_card_visa"
            + "&description=Order%20%2342%20%26%20more&metadata%5Bcustomer%5D=c%2F1&metadata%5Border%5D=42&confirm=true"
            + "&return_url=https%3A%2F%2Fshop.example%2Fdone%3Fx%3D1")
        let unconfirmed = StripeWire.createFields(
            amount: 5, currency: "usd", paymentMethod: nil, captureMethod: .automatic, description: nil, metadata: [:],
            confirm: false, returnURL: "ignored")
        #expect(StripeWire.formEncoded(unconfirmed) == "amount=5&currency=usd&capture_method=automatic")
    }

    static func intent(_ json: String) throws -> StripeWire.PaymentIntent {
        try JSONDecoder().decode(StripeWire.PaymentIntent.self, from: Data(json.utf8))
    }

    @Test("each PaymentIntent status maps to its outcome, with the 3-D Secure address and the decline reason")
    func outcomes() throws {
        let base = #""id":"pi_1","amount":1999,"currency":"eur","object":"payment_intent""#
        #expect(try StripeWire.outcome(of: Self.intent(#"{\#(base),"status":"succeeded","amount_received":1999}"#)) == .captured)
        #expect(try StripeWire.outcome(of: Self.intent(#"{\#(base),"status":"requires_capture","amount_capturable":1999}"#)) == .authorized)
        #expect(try StripeWire.outcome(of: Self.intent(#"{\#(base),"status":"processing"}"#)) == .processing)
        let redirect = #"{"type":"redirect_to_url","redirect_to_url":{"url":"https://hooks.stripe.com/3d_secure/abc","return_url":"https://shop.example"}}"#
        #expect(try StripeWire.outcome(of: Self.intent(#"{\#(base),"status":"requires_action","next_action":\#(redirect)}"#))
            == .actionRequired(redirectURL: "https://hooks.stripe.com/3d_secure/abc"))
        // localstripe's 3-D Secure card answers with the SDK form of the step: no address.
        let sdk = #"{"type":"use_stripe_sdk","use_stripe_sdk":{"type":"three_d_secure_redirect","stripe_js":""}}"#
        #expect(try StripeWire.outcome(of: Self.intent(#"{\#(base),"status":"requires_action","next_action":\#(sdk)}"#))
            == .actionRequired(redirectURL: nil))
        let declined = #"{"code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}"#
        #expect(try StripeWire.outcome(of: Self.intent(#"{\#(base),"status":"requires_payment_method","last_payment_error":\#(declined)}"#))
            == .declined(code: "insufficient_funds", message: "Your card has insufficient funds."))
        let error = #expect(throws: AppError.self) { try StripeWire.outcome(of: Self.intent(#"{\#(base),"status":"canceled"}"#)) }
        #expect(error?.code == "gateway-unexpected-state")
    }

    @Test("error answers: declines, retryable faults and refusals are told apart")
    func failures() {
        func body(_ type: String, _ code: String? = nil, decline: String? = nil) -> Data {
            var inner = #""type":"\#(type)","message":"m""#
            if let code { inner += #","code":"\#(code)""# }
            if let decline { inner += #","decline_code":"\#(decline)""# }
            return Data(#"{"error":{\#(inner)}}"#.utf8)
        }
        #expect(StripeWire.failure(status: 402, body: body("card_error", "card_declined", decline: "generic_decline"))
            == .declined(code: "generic_decline", message: "m"))
        #expect(StripeWire.failure(status: 402, body: Data()) == .declined(code: "card_declined", message: "Stripe answered 402"))
        #expect(StripeWire.failure(status: 500, body: body("api_error")) == .retryable(message: "m"))
        #expect(StripeWire.failure(status: 503, body: Data("<html>".utf8)) == .retryable(message: "Stripe answered 503"))
        #expect(StripeWire.failure(status: 429, body: body("invalid_request_error", "rate_limit")) == .retryable(message: "m"))
        #expect(StripeWire.failure(status: 409, body: body("invalid_request_error", "lock_timeout")) == .retryable(message: "m"))
        guard case .refused(let reused) = StripeWire.failure(status: 400, body: body("idempotency_error")) else {
            Issue.record("an idempotency error is a refusal")
            return
        }
        #expect(reused.code == "idempotency-key-reused")
        guard case .refused(let key) = StripeWire.failure(status: 401, body: body("authentication_error")) else {
            Issue.record("a rejected key is a refusal")
            return
        }
        #expect(key.code == "gateway-credentials-rejected")
        guard case .refused(let invalid) = StripeWire.failure(status: 400, body: body("invalid_request_error", "parameter_missing")) else {
            Issue.record("an invalid request is a refusal")
            return
        }
        #expect(invalid.code == "gateway-request-invalid")
    }
}
