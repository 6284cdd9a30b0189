import FinFlowCore
import Foundation

/// One line of an invoice as a caller asks for it.
struct InvoiceLineRequest: Sendable {
    let description: String
    let quantity: Decimal
    let unitPriceMinor: Int64
    /// Percent (`19`, `7.5`).
    let taxRate: Decimal
    let revenueAccountId: String?
}

/// An invoice or credit note as a caller asks for it, validated in shape.
struct InvoiceRequest: Sendable {
    let id: String?
    let customerId: String
    let customerName: String
    let currency: String?
    let issueDate: LedgerDate
    let dueDate: LedgerDate
    let lines: [InvoiceLineRequest]
    let receivableAccountId: String?
    let memo: String?
    /// The tax service's committed calculation the lines take their tax from.
    let taxCalculationId: String?
    let fingerprint: String

    static let linesMax = 200
    static let quantityMax = Decimal(1_000_000_000)
    static let unitPriceMinorMax: Int64 = 10_000_000_000_000
    static let paymentTermsDaysMax = 3650

    /// Parses a decimal text with at most `fractionDigits` decimals.
    static func decimal(_ text: String, fractionDigits: Int) -> Decimal? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts[0].count <= 12,
            parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            parts.count == 1 || (1...fractionDigits).contains(parts[1].count)
        else { return nil }
        return Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
    }

    static func validated(
        id: String?, customerId: String, customerName: String, currency: String?, issueDate: String, dueDate: String?,
        paymentTermsDays: Int?, lines: [(description: String, quantity: String, unitPrice: Int64, taxRate: String?, revenueAccountId: String?)],
        receivableAccountId: String?, memo: String?, taxCalculationId: String? = nil
    ) throws -> InvoiceRequest {
        var validator = Validator()
        if let taxCalculationId { validator.check(UUID(uuidString: taxCalculationId) != nil, "taxCalculationId", "must be a UUID") }
        if let id { validator.check(UUID(uuidString: id) != nil, "id", "must be a UUID") }
        validator.check((1...100).contains(customerId.count), "customerId", "must be 1–100 characters")
        validator.check((1...200).contains(customerName.trimmingCharacters(in: .whitespaces).count), "customerName", "must be 1–200 characters")
        if let currency { validator.check(Currency(code: currency)?.exponent != nil, "currency", "is not an ISO 4217 currency of money") }
        let issue = LedgerDate.parse(issueDate, field: "issueDate", into: &validator)
        var due = LedgerDate.parse(dueDate, field: "dueDate", into: &validator)
        if let paymentTermsDays {
            validator.check(dueDate == nil, "paymentTermsDays", "cannot be combined with dueDate")
            validator.check((0...Self.paymentTermsDaysMax).contains(paymentTermsDays), "paymentTermsDays", "must be 0–\(Self.paymentTermsDaysMax)")
            due = issue?.addingDays(paymentTermsDays)
        }
        if let issue, let due { validator.check(due >= issue, "dueDate", "must not be before issueDate") }
        if let receivableAccountId { validator.check(UUID(uuidString: receivableAccountId) != nil, "receivableAccountId", "must be a UUID") }
        if let memo { validator.check(memo.count <= LedgerLimits.descriptionLengthMax, "memo", "is too long") }
        validator.check((1...Self.linesMax).contains(lines.count), "lines", "must have 1–\(Self.linesMax) lines")
        var parsed: [InvoiceLineRequest] = []
        for (index, line) in lines.enumerated() {
            let field = "lines[\(index)]"
            validator.check((1...LedgerLimits.descriptionLengthMax).contains(line.description.count), field + ".description", "must be 1–\(LedgerLimits.descriptionLengthMax) characters")
            let quantity = Self.decimal(line.quantity, fractionDigits: 6)
            validator.check(quantity.map { $0 > 0 && $0 <= Self.quantityMax } ?? false, field + ".quantity", "must be a positive decimal up to 1e9 with at most 6 decimals")
            validator.check((0...Self.unitPriceMinorMax).contains(line.unitPrice), field + ".unitPrice", "must be 0–\(Self.unitPriceMinorMax) minor units")
            let rate = Self.decimal(line.taxRate ?? "0", fractionDigits: 4)
            validator.check(rate.map { $0 >= 0 && $0 <= 100 } ?? false, field + ".taxRate", "must be a percentage 0–100 with at most 4 decimals")
            if taxCalculationId != nil { validator.check(line.taxRate == nil, field + ".taxRate", "comes from the tax calculation: leave it out") }
            if let account = line.revenueAccountId { validator.check(UUID(uuidString: account) != nil, field + ".revenueAccountId", "must be a UUID") }
            if let quantity, let rate {
                parsed.append(InvoiceLineRequest(description: line.description, quantity: quantity, unitPriceMinor: line.unitPrice,
                                                 taxRate: rate, revenueAccountId: line.revenueAccountId?.lowercased()))
            }
        }
        try validator.throwIfInvalid()
        // Without a due date or terms, the document is due on the day it is dated.
        let dueOn = due ?? issue!
        let fingerprint = Digest.sha256Hex(([customerId, customerName, currency ?? "", issueDate, dueOn.description, receivableAccountId ?? "", memo ?? "",
                                             taxCalculationId?.lowercased() ?? ""]
            + lines.map { "\($0.description)|\($0.quantity)|\($0.unitPrice)|\($0.taxRate ?? "0")|\($0.revenueAccountId ?? "")" }).joined(separator: "\u{1f}"))
        return InvoiceRequest(
            id: id?.lowercased(), customerId: customerId, customerName: customerName, currency: currency?.uppercased(), issueDate: issue!,
            dueDate: dueOn, lines: parsed, receivableAccountId: receivableAccountId?.lowercased(), memo: memo,
            taxCalculationId: taxCalculationId?.lowercased(), fingerprint: fingerprint)
    }
}

/// Invoice arithmetic: each line rounded to minor units, half away from zero, before it is summed.
enum InvoiceMath {
    static func rounded(_ value: Decimal) -> Decimal {
        var input = value
        var result = Decimal()
        NSDecimalRound(&result, &input, 0, .plain)
        return result
    }

    /// The net and tax of a line in minor units.
    static func amounts(quantity: Decimal, unitPriceMinor: Int64, taxRate: Decimal) throws -> (net: Int64, tax: Int64) {
        let net = Self.rounded(quantity * Decimal(unitPriceMinor))
        let tax = Self.rounded(net * taxRate / 100)
        let limit = Decimal(Int64.max / 4)
        guard net <= limit, tax <= limit, net >= -limit, tax >= -limit else { throw AppError.invalid(code: "amount-overflow", "the invoice line's amount is too large") }
        return (NSDecimalNumber(decimal: net).int64Value, NSDecimalNumber(decimal: tax).int64Value)
    }
}
