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
