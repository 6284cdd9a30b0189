import FinFlowCore

/// A charge as every gateway is asked for it: the amount, the customer's payment-method token (never a card number)
/// and how to capture.
public struct GatewayCharge: Sendable, Equatable {
    public let amountMinor: Int64
    public let currency: String
    public let paymentMethodToken: String
    public let captureMethod: CaptureMethod
    public let description: String?
    public let metadata: [String: String]
    /// Where the customer comes back after a 3-D Secure challenge.
    public let returnURL: String?

    public init(
        amountMinor: Int64, currency: String, paymentMethodToken: String, captureMethod: CaptureMethod, description: String?,
        metadata: [String: String], returnURL: String?
    ) {
        self.amountMinor = amountMinor
        self.currency = currency
        self.paymentMethodToken = paymentMethodToken
        self.captureMethod = captureMethod
        self.description = description
        self.metadata = metadata
        self.returnURL = returnURL
    }
}

/// A gateway's answer about a payment: its own reference (when it made one) and what the attempt came to.
public struct GatewayPayment: Sendable, Equatable {
    /// The gateway's id of the payment (Stripe's `pi_…`); nil when it refused before making one.
    public let reference: String?
    public let outcome: GatewayOutcome
    /// The gateway's fee, in the payment's minor units, when it reports one.
    public let feeMinor: Int64?

    public init(reference: String?, outcome: GatewayOutcome, feeMinor: Int64? = nil) {
        self.reference = reference
        self.outcome = outcome
        self.feeMinor = feeMinor
    }
}

/// A gateway's answer to a refund.
public struct GatewayRefund: Sendable, Equatable {
    public let reference: String
    public let amountMinor: Int64
    /// Whether the money is on its way back (`succeeded` or `pending` at the gateway).
    public let accepted: Bool

    public init(reference: String, amountMinor: Int64, accepted: Bool) {
        self.reference = reference
        self.amountMinor = amountMinor
        self.accepted = accepted
    }
}

/// A gateway call that got no answer meant for it.
public enum GatewayError: Error, Sendable {
    /// Still failing for want of the gateway after every attempt; whether the last attempt reached it is unknown, so
    /// only the same call with the same idempotency key may follow.
    case unavailable(String)
    /// Not sent: the circuit breaker is open after repeated faults, so no charge attempt can have happened (the case
    /// where failing over to another gateway is safe).
    case circuitOpen
    /// Not sent: no connection could be made on any attempt, so the request reached nobody (also safe to fail over).
    case unreachable(String)
    /// The gateway refused the request itself (bad credentials, invalid request).
    case refused(AppError)
}

/// One protocol over every processor. Each call carries the caller's idempotency key; the same key always means the
/// same call, so a retry after a fault cannot take money twice.
public protocol PaymentGateway: Sendable {
    /// `stripe`, `paypal` or `square`.
    var provider: String { get }
    /// Creates the payment at the gateway and confirms it: authorizes (manual capture) or takes it at once.
    func authorize(_ charge: GatewayCharge, idempotencyKey: String) async throws -> GatewayPayment
    /// Takes `amountMinor` of an authorized payment (nil: all of it).
    func capture(reference: String, amountMinor: Int64?, idempotencyKey: String) async throws -> GatewayPayment
    /// Releases an authorized or unconfirmed payment.
    func cancel(reference: String, idempotencyKey: String) async throws -> GatewayPayment
    /// Returns `amountMinor` (in `currency`, the payment's) of a taken payment to the customer.
    func refund(reference: String, amountMinor: Int64, currency: String, idempotencyKey: String) async throws -> GatewayRefund
    /// Where the payment stands now (after a customer's 3-D Secure step, or while processing).
    func status(reference: String) async throws -> GatewayPayment
}
