import FinFlowCore

/// A tax rate, exactly: a fraction in parts per ten million (19 % is 1,900,000; 8.875 % is 887,500; 0.125 % is 12,500),
/// read from and written as a plain percentage with at most five decimals. Never a floating-point number.
struct TaxRate: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    let partsPerTenMillion: Int64

    static let scale: Int64 = 10_000_000
    static let zero = TaxRate(partsPerTenMillion: 0)
    /// The highest rate accepted (100 %): a larger one is a typing mistake.
    static let maximum = TaxRate(partsPerTenMillion: scale)

    init(partsPerTenMillion: Int64) {
        self.partsPerTenMillion = partsPerTenMillion
    }

    /// Parses a percentage (`19`, `5.5`, `8.875`, `0.125`); nil when it is not one, has more than five decimals or is
    /// above 100.
    init?(percent text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts[0].count <= 3,
            parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            parts.count == 1 || (1...5).contains(parts[1].count),
            let whole = Int64(parts[0])
        else { return nil }
        let fraction = parts.count == 2 ? String(parts[1]) : ""
        let fractionValue = Int64(fraction + String(repeating: "0", count: 5 - fraction.count)) ?? 0
        let value = whole * 100_000 + fractionValue
        guard value <= Self.scale else { return nil }
        self.partsPerTenMillion = value
    }

    /// The percentage as written in rules and answers: `19`, `5.5`, `8.875`.
    var description: String {
        let whole = self.partsPerTenMillion / 100_000
        var fraction = String(self.partsPerTenMillion % 100_000)
        fraction = String(repeating: "0", count: 5 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return fraction.isEmpty ? "\(whole)" : "\(whole).\(fraction)"
    }

    static func < (lhs: TaxRate, rhs: TaxRate) -> Bool { lhs.partsPerTenMillion < rhs.partsPerTenMillion }

    static func + (lhs: TaxRate, rhs: TaxRate) -> TaxRate {
        TaxRate(partsPerTenMillion: lhs.partsPerTenMillion + rhs.partsPerTenMillion)
    }

    /// The exact tax on `amountMinor`, as a numerator over `scale`: rounding is the caller's, once, where the
    /// jurisdiction says.
    func exactTax(on amountMinor: Int64) -> Int128 {
        Int128(amountMinor) * Int128(self.partsPerTenMillion)
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let rate = TaxRate(percent: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not a percentage 0–100 with at most five decimals")
        }
        self = rate
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.description)
    }
}

/// Rounding of exact tax amounts to minor units: half away from zero, as the EU member states and the US states
/// that publish a rule require.
enum TaxRounding {
    /// `numerator / TaxRate.scale` rounded half away from zero.
    static func round(_ numerator: Int128) -> Int128 {
        let scale = Int128(TaxRate.scale)
        let quotient = numerator / scale
        let remainder = numerator % scale
        if remainder * 2 >= scale { return quotient + 1 }
        if remainder * 2 <= -scale { return quotient - 1 }
        return quotient
    }
}
