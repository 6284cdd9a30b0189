import FinFlowCore

extension StripeGateway: PaymentGateway {
    public var provider: String { "stripe" }

    /// One call: a PaymentIntent created and confirmed with the payment method.
    public func authorize(_ charge: GatewayCharge, idempotencyKey: String) async throws -> GatewayPayment {
        try Self.payment(
            await self.create(
                amount: charge.amountMinor, currency: charge.currency, paymentMethod: charge.paymentMethodToken,
                captureMethod: charge.captureMethod, description: charge.description, metadata: charge.metadata, confirm: true,
                returnURL: charge.returnURL, idempotencyKey: idempotencyKey))
    }

    public func capture(reference: String, amountMinor: Int64?, idempotencyKey: String) async throws -> GatewayPayment {
        try Self.payment(await self.capture(reference, amount: amountMinor, idempotencyKey: idempotencyKey), reference: reference)
    }

    public func cancel(reference: String, idempotencyKey: String) async throws -> GatewayPayment {
        try Self.payment(await self.cancel(reference, idempotencyKey: idempotencyKey), reference: reference)
    }

    public func refund(reference: String, amountMinor: Int64, currency: String, idempotencyKey: String) async throws -> GatewayRefund {
        let refund: Refund = try await self.refund(paymentIntent: reference, amount: amountMinor, idempotencyKey: idempotencyKey)
        return GatewayRefund(reference: refund.id, amountMinor: refund.amount, accepted: ["succeeded", "pending"].contains(refund.status))
    }

    public func status(reference: String) async throws -> GatewayPayment {
        try Self.payment(await self.retrieve(reference), reference: reference)
    }

    /// Stripe's answer as a gateway payment. A canceled intent reads as `declined` only where the caller asked for a
    /// cancel, so it is mapped here by status rather than through `outcome(of:)`.
    static func payment(_ answer: Answer, reference: String? = nil) throws -> GatewayPayment {
        switch answer {
        case .declined(let code, let message):
            return GatewayPayment(reference: reference, outcome: .declined(code: code, message: message))
        case .intent(let intent) where intent.status == "canceled":
            return GatewayPayment(reference: intent.id, outcome: .failed(code: "canceled", message: "canceled at Stripe"))
        case .intent(let intent):
            return GatewayPayment(reference: intent.id, outcome: try StripeWire.outcome(of: intent))
        }
    }
}
