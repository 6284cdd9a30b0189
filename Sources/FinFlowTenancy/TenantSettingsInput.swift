import FinFlowCore
import Foundation

/// Tenant settings as validated values.
struct TenantSettingsValue: Sendable, Equatable {
    var baseCurrency: String
    var fiscalYearStartMonth: Int
    var timeZone: String
    var locale: String

    static let defaults = TenantSettingsValue(
        baseCurrency: "USD", fiscalYearStartMonth: 1, timeZone: "UTC", locale: "en-US")

    /// Applies the given changes, naming every invalid field.
    func applying(
        baseCurrency: String?, fiscalYearStartMonth: Int?, timeZone: String?, locale: String?
    ) throws -> TenantSettingsValue {
        var validator = Validator()
        var result = self
        if let baseCurrency {
            if let currency = Currency(code: baseCurrency), currency.exponent != nil, baseCurrency.count == 3 {
                result.baseCurrency = currency.code
            } else {
                validator.fail("baseCurrency", "'\(baseCurrency.prefix(16))' is not an ISO 4217 currency that holds money")
            }
        }
        if let fiscalYearStartMonth {
            validator.check((1...12).contains(fiscalYearStartMonth), "fiscalYearStartMonth", "must be 1…12")
            result.fiscalYearStartMonth = fiscalYearStartMonth
        }
        if let timeZone {
            validator.check(
                timeZone.count <= 64 && TimeZone(identifier: timeZone) != nil, "timeZone",
                "is not an IANA time zone (Europe/Berlin)")
            result.timeZone = timeZone
        }
        if let locale {
            validator.check(Self.isLanguageTag(locale), "locale", "is not a BCP 47 language tag (de-DE)")
            result.locale = locale
        }
        try validator.throwIfInvalid()
        return result
    }

    /// A language, an optional script and an optional region: `en`, `de-DE`, `zh-Hant-TW`.
    static func isLanguageTag(_ tag: String) -> Bool {
        let parts = tag.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count), (2...3).contains(parts[0].count),
            parts[0].allSatisfy({ $0.isASCII && $0.isLowercase })
        else { return false }
        for part in parts.dropFirst() {
            let isScript = part.count == 4 && part.first!.isUppercase && part.allSatisfy { $0.isASCII && $0.isLetter }
            let isRegion = (part.count == 2 && part.allSatisfy { $0.isASCII && $0.isUppercase })
                || (part.count == 3 && part.allSatisfy { $0.isASCII && $0.isNumber })
            guard isScript || isRegion else { return false }
        }
        return true
    }
}
