import Crypto
import FinFlowCore
import Foundation

/// Square's Payments API v2 wire format as pure functions: the JSON bodies, a Payment's status read as an outcome, and
/// its error categories told apart as decline, retryable or refusal.
public enum SquareWire {
    /// The API version every call names (`Square-Version`), so Square answers in the shape this code reads.
    public static let version = "2025-10-16"
    /// Square's longest idempotency key for CreatePayment, UpdatePayment and RefundPayment.
    public static let idempotencyKeyLengthMax = 45

    /// Money as Square writes it: an integer amount in the currency's smallest unit.
    public struct Money: Codable, Sendable, Equatable {
        public let amount: Int64
        public let currency: String
        public init(amount: Int64, currency: String) {
            self.amount = amount
            self.currency = currency
        }
    }

    /// The parts of Square's Payment object FinFlow reads.
    public struct Payment: Decodable, Sendable, Equatable {
        public struct Fee: Decodable, Sendable, Equatable { public let amount_money: Money? }
        public struct CardDetails: Decodable, Sendable, Equatable {
            public struct CardError: Decodable, Sendable, Equatable {
                public let code: String?
                public let detail: String?
            }
            public let status: String?
            public let errors: [CardError]?
        }
        public let id: String
        public let status: String
        public let amount_money: Money
        public let approved_money: Money?
        public let processing_fee: [Fee]?
        public let card_details: CardDetails?
        public let version_token: String?
    }

    /// A refund as Square reports it.
    public struct Refund: Decodable, Sendable, Equatable {
        public let id: String
        public let status: String
        public let amount_money: Money
    }

    /// Square's error object (`errors` of every failed answer).
    public struct ErrorBody: Decodable, Sendable {
        public struct Item: Decodable, Sendable {
            public let category: String?
            public let code: String?
            public let detail: String?
        }
        public let errors: [Item]?
    }

    /// `key` as Square takes it: itself when short enough, else a digest of it (the same key always gives the same
    /// digest, so a resend still names the first attempt).
    public static func idempotencyKey(_ key: String) -> String {
        if key.utf8.count <= Self.idempotencyKeyLengthMax { return key }
        let digest = SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
        return "ff-" + digest.prefix(Self.idempotencyKeyLengthMax - 3)
    }

    /// A body of CreatePayment.
    public struct CreatePayment: Encodable, Sendable, Equatable {
        public let source_id: String
        public let idempotency_key: String
        public let amount_money: Money
        public let autocomplete: Bool
        public let location_id: String?
        public let reference_id: String?
        public let note: String?
    }

    public static func createPayment(_ charge: GatewayCharge, idempotencyKey: String, locationId: String?) -> CreatePayment {
        CreatePayment(
            source_id: charge.paymentMethodToken, idempotency_key: Self.idempotencyKey(idempotencyKey),
            amount_money: Money(amount: charge.amountMinor, currency: charge.currency.uppercased()),
            autocomplete: charge.captureMethod == .automatic, location_id: locationId,
            // Square's limits: reference_id 40 characters, note 500.
            reference_id: charge.metadata["finflow_payment_id"].map { String($0.prefix(40)) }, note: charge.description.map { String($0.prefix(500)) })
    }

    /// What a Payment's status says.
    public static func outcome(of payment: Payment) throws -> GatewayOutcome {
        switch payment.status {
        case "APPROVED": return .authorized
        case "COMPLETED": return .captured
        case "PENDING": return .processing
        case "CANCELED": return .failed(code: "canceled", message: "canceled at Square")
        case "FAILED":
            let error = payment.card_details?.errors?.first
            return .declined(code: Self.declineCode(error?.code ?? "GENERIC_DECLINE"), message: error?.detail ?? "the card was declined")
        default:
            throw AppError(.unavailable, code: "gateway-unexpected-state", "Square answered with payment \(payment.id) in status \(payment.status)")
        }
    }

    /// The payment's processing fees, summed, when Square has reported them.
    public static func fee(of payment: Payment) -> Int64? {
        let fees = (payment.processing_fee ?? []).compactMap(\.amount_money?.amount)
        return fees.isEmpty ? nil : fees.reduce(0, +)
    }

    /// Square's decline codes in the lower-case form the API reports (`GENERIC_DECLINE` → `generic_decline`); the
    /// one that asks for the buyer's verification reads as Stripe's `authentication_required`.
    static func declineCode(_ code: String) -> String {
        code == "CARD_DECLINED_VERIFICATION_REQUIRED" ? "authentication_required" : code.lowercased()
    }

    /// Classifies an answer with HTTP status `status` and body `body` by Square's documented error categories.
    public static func failure(status: Int, body: Data) -> GatewayFailure {
        let first = (try? JSONDecoder().decode(ErrorBody.self, from: body))?.errors?.first
        let message = first.map { "\($0.code ?? "ERROR"): \($0.detail ?? "")" } ?? "Square answered \(status)"
        if status >= 500 || status == 429 || first?.category == "API_ERROR" || first?.category == "RATE_LIMIT_ERROR" {
            return .retryable(message: message)
        }
        switch (first?.category, first?.code, status) {
        case ("PAYMENT_METHOD_ERROR", let code, _):
            return .declined(code: Self.declineCode(code ?? "GENERIC_DECLINE"), message: message)
        case (_, "IDEMPOTENCY_KEY_REUSED", _):
            return .refused(AppError.conflict(code: "idempotency-key-reused", "Square: \(message)"))
        case ("AUTHENTICATION_ERROR", _, _), (_, _, 401), (_, _, 403):
            return .refused(AppError(.unavailable, code: "gateway-credentials-rejected", "Square refused the access token: \(message)"))
        case ("REFUND_ERROR", _, _):
            return .refused(AppError.conflict(code: "refund-refused", "Square refused the refund: \(message)"))
        default:
            return .refused(AppError.invalid(code: "gateway-request-invalid", "Square: \(message)"))
        }
    }
}
