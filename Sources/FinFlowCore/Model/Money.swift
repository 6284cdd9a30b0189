/// An amount of money: signed minor units of one currency. Arithmetic is overflow-checked and never mixes currencies.
public struct Money: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The amount in minor units (cents for USD, yen for JPY, fils for BHD).
    public let amountMinor: Int64
    /// The currency of the amount.
    public let currency: Currency

    /// Creates an amount; throws when the currency has no minor unit and so cannot carry money.
    public init(amountMinor: Int64, currency: Currency) throws {
        guard currency.exponent != nil else {
            throw AppError.invalid(code: "currency-not-monetary", "\(currency.code) has no minor unit and cannot hold money")
        }
        self.amountMinor = amountMinor
        self.currency = currency
    }

    /// The sum of two amounts of one currency.
    public func adding(_ other: Money) throws -> Money {
        try self.requireSameCurrency(other)
        let (sum, overflow) = self.amountMinor.addingReportingOverflow(other.amountMinor)
        guard !overflow else { throw AppError.invalid(code: "amount-overflow", "the sum exceeds the largest amount") }
        return try Money(amountMinor: sum, currency: self.currency)
    }

    /// The difference of two amounts of one currency.
    public func subtracting(_ other: Money) throws -> Money {
        try self.requireSameCurrency(other)
        let (difference, overflow) = self.amountMinor.subtractingReportingOverflow(other.amountMinor)
        guard !overflow else { throw AppError.invalid(code: "amount-overflow", "the difference exceeds the largest amount") }
        return try Money(amountMinor: difference, currency: self.currency)
    }

    /// The amount multiplied by a whole factor.
    public func multiplied(by factor: Int64) throws -> Money {
        let (product, overflow) = self.amountMinor.multipliedReportingOverflow(by: factor)
        guard !overflow else { throw AppError.invalid(code: "amount-overflow", "the product exceeds the largest amount") }
        return try Money(amountMinor: product, currency: self.currency)
    }

    /// The amount with its sign reversed.
    public func negated() throws -> Money {
        guard self.amountMinor != .min else { throw AppError.invalid(code: "amount-overflow", "the amount cannot be negated") }
        return try Money(amountMinor: -self.amountMinor, currency: self.currency)
    }

    private func requireSameCurrency(_ other: Money) throws {
        guard self.currency == other.currency else {
            throw AppError.invalid(
                code: "currency-mismatch", "cannot combine \(self.currency.code) with \(other.currency.code)")
        }
    }

    /// The amount written in major units with the currency's decimals (`12.50 EUR`).
    public var description: String { "\(self.decimalText) \(self.currency.code)" }

    /// The amount in major units with the currency's decimals and no code (`-12.50`), as spreadsheets read it.
    public var decimalText: String {
        let exponent = self.currency.exponent ?? 0
        let magnitude = self.amountMinor.magnitude
        let factor = UInt64(self.currency.minorUnitsPerMajor)
        let sign = self.amountMinor < 0 ? "-" : ""
        guard exponent > 0 else { return "\(sign)\(magnitude)" }
        let fraction = String(magnitude % factor)
        let padded = String(repeating: "0", count: exponent - fraction.count) + fraction
        return "\(sign)\(magnitude / factor).\(padded)"
    }

    enum CodingKeys: String, CodingKey {
        case amountMinor = "amount"
        case currency
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let currency = try container.decode(Currency.self, forKey: .currency)
        let amount = try container.decode(Int64.self, forKey: .amountMinor)
        do {
            try self.init(amountMinor: amount, currency: currency)
        } catch {
            throw DecodingError.dataCorruptedError(
                forKey: .currency, in: container, debugDescription: "\(currency.code) has no minor unit")
        }
    }
}
