import FinFlowCore
import Foundation

/// PayPal's Orders v2 and Payments v2 wire format as pure functions: amounts as decimal strings, an order's status
/// (and the payments inside it) read as an outcome, and its error bodies told apart as decline, retryable or refusal.
public enum PayPalWire {
    /// Money as PayPal writes it: a decimal string in the currency's major unit.
    public struct Money: Codable, Sendable, Equatable {
        public let currency_code: String
        public let value: String
        public init(currency_code: String, value: String) {
            self.currency_code = currency_code
            self.value = value
        }
    }

    /// `amountMinor` of `currency` as PayPal's money (`1234` USD → `"12.34"`).
    public static func money(_ amountMinor: Int64, currency: String) throws -> Money {
        guard let known = Currency(code: currency.uppercased()) else {
            throw GatewayError.refused(AppError.invalid(code: "currency-not-supported", "\(currency) is not an ISO 4217 currency"))
        }
        let money = try FinFlowCore.Money(amountMinor: amountMinor, currency: known)
        return Money(currency_code: known.code, value: money.decimalText)
    }

    /// PayPal's decimal string in minor units; nil when it is not a plain decimal within the currency's decimals.
    public static func minor(_ money: Money) -> Int64? {
        guard let currency = Currency(code: money.currency_code), let exponent = currency.exponent else { return nil }
        let parts = money.value.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = Int64(parts[0]), whole >= 0 else { return nil }
        let fraction = parts.count == 2 ? String(parts[1]) : ""
        guard fraction.count <= exponent, fraction.allSatisfy(\.isNumber) else { return nil }
        let padded = fraction + String(repeating: "0", count: exponent - fraction.count)
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: currency.minorUnitsPerMajor)
        guard !overflow else { return nil }
        return scaled + (Int64(padded) ?? 0)
    }

    /// A HATEOAS link.
    public struct Link: Decodable, Sendable, Equatable {
        public let href: String
        public let rel: String
    }

    /// A capture (also an authorization, which has the same fields FinFlow reads).
    public struct Payment: Decodable, Sendable, Equatable {
        public struct Breakdown: Decodable, Sendable, Equatable { public let paypal_fee: Money? }
        public struct StatusDetails: Decodable, Sendable, Equatable { public let reason: String? }
        public struct Supplementary: Decodable, Sendable, Equatable {
            public struct Related: Decodable, Sendable, Equatable { public let order_id: String? }
            public let related_ids: Related?
        }
        public let id: String
        public let status: String
        public let amount: Money?
        public let seller_receivable_breakdown: Breakdown?
        public let status_details: StatusDetails?
        public let supplementary_data: Supplementary?

        /// The order this capture or authorization belongs to, where PayPal says (its webhooks do).
        public var orderId: String? { self.supplementary_data?.related_ids?.order_id }
    }

    /// The parts of an order FinFlow reads.
    public struct Order: Decodable, Sendable, Equatable {
        public struct Unit: Decodable, Sendable, Equatable {
            public struct Payments: Decodable, Sendable, Equatable {
                public let authorizations: [Payment]?
                public let captures: [Payment]?
            }
            public let payments: Payments?
        }
        public let id: String
        public let status: String
        public let intent: String?
        public let purchase_units: [Unit]?
        public let links: [Link]?

        /// The newest authorization of the order's purchase unit, if any.
        public var authorization: Payment? { self.purchase_units?.first?.payments?.authorizations?.last }
        /// The newest capture of the order's purchase unit, if any.
        public var capture: Payment? { self.purchase_units?.first?.payments?.captures?.last }
    }

    /// A refund as PayPal reports it.
    public struct Refund: Decodable, Sendable, Equatable {
        public let id: String
        public let status: String
        public let amount: Money?
    }

    /// What an order says about the payment.
    public static func outcome(of order: Order) throws -> GatewayOutcome {
        switch order.status {
        case "PAYER_ACTION_REQUIRED", "CREATED", "SAVED":
            let link = order.links?.first { $0.rel == "payer-action" } ?? order.links?.first { $0.rel == "approve" }
            return .actionRequired(redirectURL: link?.href)
        case "APPROVED":
            return .processing
        case "VOIDED":
            return .failed(code: "canceled", message: "voided at PayPal")
        case "COMPLETED":
            if let capture = order.capture { return try Self.outcome(ofCapture: capture) }
            if let authorization = order.authorization {
                switch authorization.status {
                case "CREATED", "PENDING": return .authorized
                case "CAPTURED": return .captured
                case "VOIDED", "EXPIRED": return .failed(code: "canceled", message: "authorization \(authorization.status.lowercased()) at PayPal")
                default: return .declined(code: "authorization_denied", message: "PayPal answered authorization \(authorization.status)")
                }
            }
            throw AppError(.unavailable, code: "gateway-unexpected-state", "PayPal order \(order.id) is COMPLETED without a payment")
        default:
            throw AppError(.unavailable, code: "gateway-unexpected-state", "PayPal answered with order \(order.id) in status \(order.status)")
        }
    }

    /// What a capture says.
    public static func outcome(ofCapture capture: Payment) throws -> GatewayOutcome {
        switch capture.status {
        case "COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED": return .captured
        case "PENDING": return .processing
        case "DECLINED", "FAILED":
            return .declined(code: (capture.status_details?.reason ?? capture.status).lowercased(), message: "PayPal answered capture \(capture.status)")
        default:
            throw AppError(.unavailable, code: "gateway-unexpected-state", "PayPal answered with capture \(capture.id) in status \(capture.status)")
        }
    }

    /// PayPal's fee on an order's capture, in minor units, when reported.
    public static func fee(of capture: Payment?) -> Int64? {
        capture?.seller_receivable_breakdown?.paypal_fee.flatMap(Self.minor)
    }

    /// PayPal's error object.
    public struct ErrorBody: Decodable, Sendable {
        public struct Detail: Decodable, Sendable {
            public let issue: String?
            public let description: String?
        }
        public let name: String?
        public let message: String?
        public let details: [Detail]?
        /// OAuth errors are shaped differently (`error`, `error_description`).
        public let error: String?
        public let error_description: String?
    }

    /// The issues that mean the payer's instrument was refused: answers, not faults.
    static let declineIssues: Set<String> = [
        "INSTRUMENT_DECLINED", "TRANSACTION_REFUSED", "PAYER_CANNOT_PAY", "CARD_EXPIRED", "PAYEE_BLOCKED_TRANSACTION",
        "COMPLIANCE_VIOLATION", "MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED", "PAYER_ACTION_REQUIRED",
    ]

    /// Classifies an answer with HTTP status `status` and body `body` by PayPal's documented error names and issues.
    public static func failure(status: Int, body: Data) -> GatewayFailure {
        let error = try? JSONDecoder().decode(ErrorBody.self, from: body)
        let issue = error?.details?.first?.issue
        let message = [error?.name ?? error?.error, issue, error?.details?.first?.description ?? error?.message ?? error?.error_description]
            .compactMap { $0 }.joined(separator: ": ")
        let text = message.isEmpty ? "PayPal answered \(status)" : message
        if status >= 500 || status == 429 || error?.name == "INTERNAL_SERVER_ERROR" { return .retryable(message: text) }
        if let issue, Self.declineIssues.contains(issue) { return .declined(code: issue.lowercased(), message: text) }
        switch (status, issue) {
        case (401, _), (403, _):
            return .refused(AppError(.unavailable, code: "gateway-credentials-rejected", "PayPal refused the credentials: \(text)"))
        case (_, "DUPLICATE_INVOICE_ID"), (_, "DUPLICATE_REQUEST_ID"):
            return .refused(AppError.conflict(code: "idempotency-key-reused", "PayPal: \(text)"))
        case (_, let issue?) where issue.hasPrefix("REFUND") || issue == "CAPTURE_FULLY_REFUNDED":
            return .refused(AppError.conflict(code: "refund-refused", "PayPal refused the refund: \(text)"))
        default:
            return .refused(AppError.invalid(code: "gateway-request-invalid", "PayPal: \(text)"))
        }
    }
}
