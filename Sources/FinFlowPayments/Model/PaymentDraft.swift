import FinFlowCore
import Foundation

/// The bounds of the payment API's inputs.
public enum PaymentLimits {
    /// The largest amount one payment may ask for, in minor units.
    public static let amountMinorMax: Int64 = 100_000_000_000
    public static let descriptionLengthMax = 500
    public static let customerIdLengthMax = 100
    public static let tokenLengthMax = 255
    public static let returnURLLengthMax = 2_048
    /// Stripe's metadata bounds: 50 keys, keys up to 40 characters, values up to 500.
    public static let metadataKeysMax = 50
    public static let metadataKeyLengthMax = 40
    public static let metadataValueLengthMax = 500
    public static let reasonLengthMax = 500
}

/// The customer's payment method: the gateway's token and what may be shown of the card. Never the card number.
public struct PaymentMethodInput: Sendable, Equatable {
    public let token: String
    public let brand: String?
    public let last4: String?
    public let expMonth: Int?
    public let expYear: Int?
    /// The same card's tokens at the tenant's other gateways, by provider: used only to fail over to one of them when
    /// the payment's gateway could not be called at all.
    public let fallbackTokens: [String: String]

    static let brands: Set<String> = ["visa", "mastercard", "amex", "discover", "diners", "jcb", "unionpay", "cartes_bancaires", "interac", "unknown"]

    /// Validates each field, naming it under `prefix`; a token that is a card number is refused outright.
    public init(
        token: String, brand: String?, last4: String?, expMonth: Int?, expYear: Int?, fallbackTokens: [String: String] = [:], prefix: String,
        into validator: inout Validator
    ) {
        Self.check(token: token, field: prefix + "token", into: &validator)
        for (provider, fallback) in fallbackTokens {
            let field = prefix + "fallbackTokens." + String(provider.prefix(40))
            validator.check(GatewayProvider(rawValue: provider) != nil, field, "is not a gateway (\(GatewayProvider.allCases.map(\.rawValue).joined(separator: ", ")))")
            Self.check(token: fallback, field: field, into: &validator)
        }
        if let brand { validator.check(Self.brands.contains(brand), prefix + "brand", "must be one of \(Self.brands.sorted().joined(separator: ", "))") }
        if let last4 { validator.check(last4.count == 4 && last4.allSatisfy(\.isASCII) && last4.allSatisfy(\.isNumber), prefix + "last4", "must be 4 digits") }
        if let expMonth { validator.check((1...12).contains(expMonth), prefix + "expMonth", "must be 1–12") }
        if let expYear { validator.check((2000...2100).contains(expYear), prefix + "expYear", "must be a four-digit year") }
        self.token = token
        self.brand = brand
        self.last4 = last4
        self.expMonth = expMonth
        self.expYear = expYear
        self.fallbackTokens = fallbackTokens
    }

    /// A gateway token: bounded visible ASCII, and never a card number.
    static func check(token: String, field: String, into validator: inout Validator) {
        validator.check((1...PaymentLimits.tokenLengthMax).contains(token.count), field, "must be 1–\(PaymentLimits.tokenLengthMax) characters")
        validator.check(token.allSatisfy { $0.isASCII && !$0.isWhitespace && !$0.isNewline }, field, "must be visible ASCII")
        validator.check(!Self.looksLikeCardNumber(token), field, "is a card number; send the gateway's token, never the number")
    }

    /// Twelve to nineteen digits (spaces and dashes aside) passing the Luhn check: a primary account number.
    static func looksLikeCardNumber(_ text: String) -> Bool {
        let digits = text.filter { $0 != " " && $0 != "-" }
        guard (12...19).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        var sum = 0
        for (index, character) in digits.reversed().enumerated() {
            var digit = Int(String(character))!
            if index % 2 == 1 {
                digit *= 2
                if digit > 9 { digit -= 9 }
            }
            sum += digit
        }
        return sum % 10 == 0
    }
}

/// A validated request to create a payment.
public struct PaymentDraft: Sendable {
    public let id: String?
    public let amountMinor: Int64
    public let currency: String
    public let customerId: String?
    public let invoiceId: String?
    public let paymentMethod: PaymentMethodInput?
    public let captureMethod: CaptureMethod
    public let description: String?
    public let metadata: [String: String]
    public let returnURL: String?
    /// The gateway asked for; the tenant's first when nil.
    public let gateway: String?
    /// Who is paid, as `Payee.key` normalises it.
    public let payee: String?
    /// The payment is one of a series of the same amount to the same payee (RTS article 14).
    public let recurring: Bool
    /// A hash of the content, so a client id reused with other content is told apart.
    public let requestHash: String

    /// Validates every field, all problems named at once.
    public init(
        id: String?, amountMinor: Int64, currency: String, customerId: String?, invoiceId: String?, paymentMethod: PaymentMethodInput?,
        captureMethod: CaptureMethod, description: String?, metadata: [String: String], returnURL: String?, gateway: String?,
        payee: String? = nil, recurring: Bool = false, validator: inout Validator
    ) {
        var payeeKey: String?
        if let payee {
            payeeKey = Payee.key(payee)
            validator.check(payeeKey != nil, "payee", "must be 1–\(Payee.lengthMax) characters without control characters")
        }
        if let id { validator.check(UUID(uuidString: id) != nil, "id", "must be a UUID") }
        validator.check((1...PaymentLimits.amountMinorMax).contains(amountMinor), "amount", "must be 1–\(PaymentLimits.amountMinorMax) minor units")
        let currencyCode = currency.uppercased()
        if let known = Currency(code: currencyCode) {
            validator.check(known.exponent != nil, "currency", "has no minor unit and cannot be paid")
        } else {
            validator.fail("currency", "is not an ISO 4217 code")
        }
        if let customerId {
            validator.check((1...PaymentLimits.customerIdLengthMax).contains(customerId.count), "customerId", "must be 1–\(PaymentLimits.customerIdLengthMax) characters")
        }
        if let invoiceId { validator.check(UUID(uuidString: invoiceId) != nil, "invoiceId", "must be a UUID") }
        if let description {
            validator.check((1...PaymentLimits.descriptionLengthMax).contains(description.count), "description", "must be 1–\(PaymentLimits.descriptionLengthMax) characters")
        }
        validator.check(metadata.count <= PaymentLimits.metadataKeysMax, "metadata", "must hold at most \(PaymentLimits.metadataKeysMax) keys")
        for (key, value) in metadata {
            validator.check((1...PaymentLimits.metadataKeyLengthMax).contains(key.count) && !key.contains("[") && !key.contains("]"),
                            "metadata", "keys must be 1–\(PaymentLimits.metadataKeyLengthMax) characters without brackets")
            validator.check(value.count <= PaymentLimits.metadataValueLengthMax, "metadata.\(key)", "must be at most \(PaymentLimits.metadataValueLengthMax) characters")
        }
        if let returnURL {
            let url = URL(string: returnURL)
            validator.check(returnURL.count <= PaymentLimits.returnURLLengthMax && ["http", "https"].contains(url?.scheme ?? "") && url?.host != nil,
                            "returnUrl", "must be an http(s) URL of at most \(PaymentLimits.returnURLLengthMax) characters")
        }
        self.id = id?.lowercased()
        self.amountMinor = amountMinor
        self.currency = currencyCode
        self.customerId = customerId
        self.invoiceId = invoiceId?.lowercased()
        self.paymentMethod = paymentMethod
        self.captureMethod = captureMethod
        self.description = description
        self.metadata = metadata
        self.returnURL = returnURL
        self.gateway = gateway
        self.payee = payeeKey
        self.recurring = recurring
        var canonical: [String] = [
            String(amountMinor), currencyCode, customerId ?? "", invoiceId?.lowercased() ?? "", paymentMethod?.token ?? "",
            paymentMethod?.brand ?? "", paymentMethod?.last4 ?? "", paymentMethod.flatMap { $0.expMonth.map(String.init) } ?? "",
            paymentMethod.flatMap { $0.expYear.map(String.init) } ?? "",
            paymentMethod.map { m in m.fallbackTokens.keys.sorted().map { "\($0)=\(m.fallbackTokens[$0]!)" }.joined(separator: "&") } ?? "",
            captureMethod.rawValue, description ?? "",
            metadata.keys.sorted().map { "\($0)=\(metadata[$0]!)" }.joined(separator: "&"), returnURL ?? "", gateway ?? "",
        ]
        // Appended only when given, so the hash of a payment made before these fields existed is unchanged.
        if payeeKey != nil || recurring { canonical += [payeeKey ?? "", recurring ? "recurring" : ""] }
        self.requestHash = Digest.sha256Hex(canonical.joined(separator: "\u{1F}"))
    }
}
