import FinFlowCore

/// The kind of document a calculation is for, from the tenant's side.
enum DocumentType: String, Sendable, Codable, CaseIterable {
    /// The tenant sells: output tax.
    case salesInvoice = "sales-invoice"
    /// The tenant buys: input tax, and tax it accounts for itself on acquisitions and reverse-charged services.
    case purchaseInvoice = "purchase-invoice"
    /// The tenant credits a customer: output tax taken back.
    case creditNote = "credit-note"

    /// Whether the tenant is the seller.
    var tenantSells: Bool { self != .purchaseInvoice }
    /// +1, or −1 for a credit note: how the document counts in thresholds and returns.
    var sign: Int64 { self == .creditNote ? -1 : 1 }
}

/// A place: country (ISO 3166-1 alpha-2; `XI` for Northern Ireland), and for the US the state and ZIP code.
struct TaxAddress: Sendable, Hashable, Codable {
    var country: String
    var region: String?
    var postalCode: String?

    /// The five-digit ZIP code of a US address, when it has one.
    var zip5: Int? {
        guard let code = self.postalCode, code.count >= 5 else { return nil }
        let digits = code.prefix(5)
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }
}

/// A party to the document: where it is, whether it is a business, its VAT number and the tenant's id for it.
struct TaxParty: Sendable, Codable {
    var address: TaxAddress
    /// A business (with a VAT number in the EU) or a consumer.
    var isBusiness: Bool
    /// Normalised: upper case, no spaces or punctuation, with its prefix (`DE123456789`, `EL…`, `XI…`).
    var vatNumber: String?
    var customerId: String?
}

/// One line to tax: its net amount (after discounts, before tax) and what it is.
struct TaxLineInput: Sendable, Codable {
    var number: Int
    var amountMinor: Int64
    var product: ProductCode
    var shipFrom: TaxAddress?
    var shipTo: TaxAddress?
}

/// A document to calculate tax for.
struct TaxDocumentInput: Sendable, Codable {
    var type: DocumentType
    var date: String
    var currency: String
    /// The value of one unit of the document's currency in EUR, for the EUR 10,000 threshold (1 for EUR).
    var eurRate: ExchangeRate?
    var seller: TaxParty
    var buyer: TaxParty
    var lines: [TaxLineInput]
}

/// An exchange rate, exactly: units of the target currency per unit of the source, in parts per 10^8.
struct ExchangeRate: Sendable, Hashable, Codable, CustomStringConvertible {
    let partsPerHundredMillion: Int64
    static let one = ExchangeRate(partsPerHundredMillion: 100_000_000)

    init(partsPerHundredMillion: Int64) {
        self.partsPerHundredMillion = partsPerHundredMillion
    }

    /// Parses a positive decimal with at most eight decimals (`1`, `0.92345`).
    init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts[0].count <= 9,
            parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }), parts.count == 1 || (1...8).contains(parts[1].count),
            let whole = Int64(parts[0])
        else { return nil }
        let fraction = parts.count == 2 ? String(parts[1]) : ""
        let value = whole * 100_000_000 + (Int64(fraction + String(repeating: "0", count: 8 - fraction.count)) ?? 0)
        guard value > 0 else { return nil }
        self.partsPerHundredMillion = value
    }

    var description: String {
        var fraction = String(self.partsPerHundredMillion % 100_000_000)
        fraction = String(repeating: "0", count: 8 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        let whole = self.partsPerHundredMillion / 100_000_000
        return fraction.isEmpty ? "\(whole)" : "\(whole).\(fraction)"
    }

    /// `amountMinor` of a currency with `fromExponent` decimals in minor units of one with `toExponent`, rounded half up.
    func convert(_ amountMinor: Int64, fromExponent: Int, toExponent: Int) -> Int64 {
        var numerator = Int128(amountMinor) * Int128(self.partsPerHundredMillion)
        var denominator = Int128(100_000_000)
        for _ in 0..<max(0, toExponent - fromExponent) {
            let (scaled, overflow) = numerator.multipliedReportingOverflow(by: 10)
            // Beyond 128 bits is far beyond 64: the answer is the largest amount there is.
            if overflow { return amountMinor < 0 ? Int64.min : Int64.max }
            numerator = scaled
        }
        for _ in 0..<max(0, fromExponent - toExponent) { denominator *= 10 }
        // Half up without doubling the numerator, which at the largest amounts and rates would leave 128 bits.
        return Int64(clamping: (numerator + denominator / 2) / denominator)
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let rate = ExchangeRate(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not a positive rate")
        }
        self = rate
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.description)
    }
}
