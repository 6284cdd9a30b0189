import FinFlowCore

/// A rolling-window limit: at most `countMax` transactions, and per currency at most `amountMaxMinor`, in any window
/// of `windowSeconds`.
struct VelocityLimit: Codable, Sendable, Equatable {
    var windowSeconds: Int
    var countMax: Int
    var amountMaxMinor: [String: Int64]
    static let windowSecondsRange = 60...(31 * 86_400)
}

/// A tenant's limits on the transactions it takes in. Stored as JSON per tenant; the defaults apply until it sets its own.
struct TransactionLimits: Codable, Sendable, Equatable {
    /// Currency → the largest single transaction, minor units.
    var transactionAmountMaxMinor: [String: Int64]
    /// The only currencies taken in; any when nil.
    var allowedCurrencies: [String]?
    /// Per source account.
    var accountVelocity: VelocityLimit
    /// Across the tenant.
    var tenantVelocity: VelocityLimit
    /// Value dates this many days apart or closer can be duplicates; 0 turns the check off.
    var duplicateWindowDays: Int
    /// Holds every new transaction until the compliance service approves it (then the ledger is asked to post it) or
    /// declines it (then it is rejected); nil or false posts at once.
    var holdForCompliance: Bool?
    static let duplicateWindowDaysMax = 366
    static let countMaxRange = 1...10_000_000

    /// What a tenant gets before it sets any: no amount or currency limit, generous velocity, three days for duplicates.
    static let defaults = TransactionLimits(
        transactionAmountMaxMinor: [:], allowedCurrencies: nil,
        accountVelocity: VelocityLimit(windowSeconds: 86_400, countMax: 10_000, amountMaxMinor: [:]),
        tenantVelocity: VelocityLimit(windowSeconds: 86_400, countMax: 1_000_000, amountMaxMinor: [:]),
        duplicateWindowDays: 3, holdForCompliance: nil)

    /// Checks a caller's limits, naming each bad field.
    func validate() throws {
        var validator = Validator()
        func amounts(_ map: [String: Int64], _ field: String) {
            for (currency, amount) in map {
                validator.check(Currency(code: currency) != nil && currency == currency.uppercased(), "\(field).\(currency.prefix(8))", "is not an ISO 4217 code")
                validator.check(amount > 0, "\(field).\(currency.prefix(8))", "must be a positive number of minor units")
            }
        }
        amounts(self.transactionAmountMaxMinor, "transactionAmountMax")
        if let allowed = self.allowedCurrencies {
            validator.check(!allowed.isEmpty && allowed.count <= 200, "allowedCurrencies", "must name 1–200 currencies")
            for code in allowed { validator.check(Currency(code: code) != nil && code == code.uppercased(), "allowedCurrencies", "'\(code.prefix(8))' is not an ISO 4217 code") }
        }
        for (velocity, field) in [(self.accountVelocity, "accountVelocity"), (self.tenantVelocity, "tenantVelocity")] {
            validator.check(VelocityLimit.windowSecondsRange.contains(velocity.windowSeconds), "\(field).windowSeconds",
                            "must be \(VelocityLimit.windowSecondsRange.lowerBound)–\(VelocityLimit.windowSecondsRange.upperBound)")
            validator.check(Self.countMaxRange.contains(velocity.countMax), "\(field).countMax", "must be \(Self.countMaxRange.lowerBound)–\(Self.countMaxRange.upperBound)")
            amounts(velocity.amountMaxMinor, "\(field).amountMax")
        }
        validator.check((0...Self.duplicateWindowDaysMax).contains(self.duplicateWindowDays), "duplicateWindowDays", "must be 0–\(Self.duplicateWindowDaysMax)")
        try validator.throwIfInvalid()
    }
}
