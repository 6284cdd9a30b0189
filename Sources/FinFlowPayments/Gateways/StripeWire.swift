import FinFlowCore
import Foundation

/// Stripe's API v1 on the wire: form-encoded requests with bracketed nesting, JSON answers, and its error object.
/// Pure functions, so the adapter's HTTP code stays small and every mapping is tested without a network.
public enum StripeWire {
    /// `application/x-www-form-urlencoded` text of `fields` in order, nested keys as Stripe writes them
    /// (`metadata[order]=42`). Only RFC 3986's unreserved characters go unescaped.
    public static func formEncoded(_ fields: [(String, String)]) -> String {
        FormEncoding.encode(fields)
    }

    /// The fields of a PaymentIntent create call.
    public static func createFields(
        amount: Int64, currency: String, paymentMethod: String?, captureMethod: CaptureMethod, description: String?,
        metadata: [String: String], confirm: Bool, returnURL: String?
    ) -> [(String, String)] {
        var fields: [(String, String)] = [
            ("amount", String(amount)), ("currency", currency.lowercased()), ("capture_method", captureMethod.rawValue),
        ]
        if let paymentMethod { fields.append(("payment_method", paymentMethod)) }
        if let description { fields.append(("description", description)) }
        for key in metadata.keys.sorted() { fields.append(("metadata[\(key)]", metadata[key]!)) }
        if confirm {
            fields.append(("confirm", "true"))
            if let returnURL { fields.append(("return_url", returnURL)) }
        }
        return fields
    }

    /// The parts of a PaymentIntent FinFlow reads.
    public struct PaymentIntent: Decodable, Sendable, Equatable {
        public struct NextAction: Decodable, Sendable, Equatable {
            public struct Redirect: Decodable, Sendable, Equatable { public let url: String? }
            public let type: String
            public let redirect_to_url: Redirect?
        }
        public struct PaymentError: Decodable, Sendable, Equatable {
            public let code: String?
            public let decline_code: String?
            public let message: String?
        }
        public let id: String
        public let status: String
        public let amount: Int64
        public let currency: String
        public let amount_capturable: Int64?
        public let amount_received: Int64?
        public let next_action: NextAction?
        public let last_payment_error: PaymentError?
    }

    /// What a PaymentIntent's status says about the attempt just made.
    public static func outcome(of intent: PaymentIntent) throws -> GatewayOutcome {
        switch intent.status {
        case "requires_action":
            return .actionRequired(redirectURL: intent.next_action?.redirect_to_url?.url)
        case "processing":
            return .processing
        case "requires_capture":
            return .authorized
        case "succeeded":
            return .captured
        case "requires_payment_method":
            let error = intent.last_payment_error
            return .declined(
                code: error?.decline_code ?? error?.code ?? "payment_method_required",
                message: error?.message ?? "the payment method was refused")
        default:
            throw AppError(
                .unavailable, code: "gateway-unexpected-state",
                "Stripe answered with payment intent \(intent.id) in status \(intent.status)")
        }
    }

    /// Stripe's error object.
    public struct ErrorBody: Decodable, Sendable {
        public struct Inner: Decodable, Sendable {
            public let type: String?
            public let code: String?
            public let decline_code: String?
            public let message: String?
        }
        public let error: Inner
    }

    /// Classifies an answer with HTTP status `status` and body `body` (Stripe's documented error types and codes).
    public static func failure(status: Int, body: Data) -> GatewayFailure {
        let inner = (try? JSONDecoder().decode(ErrorBody.self, from: body))?.error
        let message = inner?.message ?? "Stripe answered \(status)"
        if status >= 500 || inner?.type == "api_error" { return .retryable(message: message) }
        if status == 429 || inner?.code == "lock_timeout" || inner?.type == "rate_limit_error" {
            return .retryable(message: message)
        }
        let declined = GatewayFailure.declined(code: inner?.decline_code ?? inner?.code ?? "card_declined", message: message)
        switch (inner?.type, status) {
        case ("card_error", _):
            return declined
        case ("idempotency_error", _):
            return .refused(AppError.conflict(code: "idempotency-key-reused", "Stripe: \(message)"))
        case ("authentication_error", _), (_, 401), (_, 403):
            return .refused(AppError(.unavailable, code: "gateway-credentials-rejected", "Stripe refused the API key: \(message)"))
        case (_, 402):
            return declined
        default:
            return .refused(AppError.invalid(code: "gateway-request-invalid", "Stripe: \(message)"))
        }
    }
}
