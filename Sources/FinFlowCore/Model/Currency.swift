/// An ISO 4217 currency: its alphabetic code, numeric code and minor-unit exponent.
public struct Currency: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The three-letter code, upper case (`EUR`).
    public let code: String
    /// The three-digit numeric code (`978`).
    public let numericCode: Int
    /// Digits after the decimal point of the minor unit (JPY 0, USD 2, BHD 3); `nil` for units without one (gold).
    public let exponent: Int?

    /// Looks up a currency by code; `nil` when ISO 4217 does not list it.
    public init?(code: String) {
        guard let found = CurrencyTable.byCode[code.uppercased()] else { return nil }
        self = found
    }

    init(code: String, numericCode: Int, exponent: Int?) {
        self.code = code
        self.numericCode = numericCode
        self.exponent = exponent
    }

    /// The number of minor units in one major unit (100 for USD, 1 for JPY, 1000 for BHD).
    public var minorUnitsPerMajor: Int64 {
        var factor: Int64 = 1
        for _ in 0..<(self.exponent ?? 0) { factor *= 10 }
        return factor
    }

    /// Minor units of a plain decimal amount (`1234.5`: digits, an optional point and at most the currency's decimals,
    /// no sign or separators, as ISO 20022 and the Berlin Group write amounts); nil when it is not one or overflows.
    public func minorUnits(plainDecimal text: String) -> Int64? {
        guard let exponent = self.exponent else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts[0].count <= 15,
            parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            parts.count == 1 || (1...exponent).contains(parts[1].count)
        else { return nil }
        let fraction = parts.count == 2 ? String(parts[1]) : ""
        return Int64(String(parts[0]) + fraction + String(repeating: "0", count: exponent - fraction.count))
    }

    /// All currencies of ISO 4217 list one, ordered by code.
    public static var all: [Currency] { CurrencyTable.entries }

    public var description: String { self.code }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let code = try container.decode(String.self)
        guard let currency = Currency(code: code) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(code)' is not an ISO 4217 currency code")
        }
        self = currency
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.code)
    }
}
