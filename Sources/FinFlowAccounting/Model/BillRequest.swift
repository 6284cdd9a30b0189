import FinFlowCore
import Foundation

/// One line of a vendor bill as a caller asks for it.
struct BillLineRequest: Sendable {
    let description: String
    let quantity: Decimal
    let unitPriceMinor: Int64
    /// Percent (`19`, `7.5`).
    let taxRate: Decimal
    /// The tax the vendor's document states for the line, when it differs from the rate's (rounding on their side).
    let taxMinor: Int64?
    /// Whether the line's tax can be reclaimed: posted to input tax, or else added to the expense.
    let taxRecoverable: Bool
    let expenseAccountId: String
}

/// A vendor bill or vendor credit note as a caller asks for it, validated in shape.
struct BillRequest: Sendable {
    let id: String?
    let vendorId: String
    let vendorName: String
    /// The vendor's own number of the document: a second bill from the vendor with the same number is refused.
    let vendorReference: String?
    let currency: String?
    let billDate: LedgerDate
    let dueDate: LedgerDate
    let lines: [BillLineRequest]
    let payableAccountId: String?
    let memo: String?
    /// The tax service's committed calculation the lines take their tax from.
    let taxCalculationId: String?
    let fingerprint: String

    /// A line as it arrives: description, quantity, unit price, tax rate, stated tax, recoverable, expense account.
    typealias Line = (description: String, quantity: String, unitPrice: Int64, taxRate: String?, tax: Int64?, taxRecoverable: Bool?, expenseAccountId: String)

    static let referenceLengthMax = 100

    static func validated(
        id: String?, vendorId: String, vendorName: String, vendorReference: String?, currency: String?, billDate: String, dueDate: String?,
        paymentTermsDays: Int?, lines: [Line], payableAccountId: String?, memo: String?, taxCalculationId: String? = nil
    ) throws -> BillRequest {
        var validator = Validator()
        if let taxCalculationId { validator.check(UUID(uuidString: taxCalculationId) != nil, "taxCalculationId", "must be a UUID") }
        if let id { validator.check(UUID(uuidString: id) != nil, "id", "must be a UUID") }
        validator.check((1...100).contains(vendorId.count), "vendorId", "must be 1–100 characters")
        validator.check((1...200).contains(vendorName.trimmingCharacters(in: .whitespaces).count), "vendorName", "must be 1–200 characters")
        if let vendorReference {
            validator.check((1...Self.referenceLengthMax).contains(vendorReference.trimmingCharacters(in: .whitespaces).count),
                            "vendorReference", "must be 1–\(Self.referenceLengthMax) characters")
        }
        if let currency { validator.check(Currency(code: currency)?.exponent != nil, "currency", "is not an ISO 4217 currency of money") }
        let issued = LedgerDate.parse(billDate, field: "billDate", into: &validator)
        var due = LedgerDate.parse(dueDate, field: "dueDate", into: &validator)
        if let paymentTermsDays {
            validator.check(dueDate == nil, "paymentTermsDays", "cannot be combined with dueDate")
            validator.check((0...InvoiceRequest.paymentTermsDaysMax).contains(paymentTermsDays), "paymentTermsDays", "must be 0–\(InvoiceRequest.paymentTermsDaysMax)")
            due = issued?.addingDays(paymentTermsDays)
        }
        if let issued, let due { validator.check(due >= issued, "dueDate", "must not be before billDate") }
        if let payableAccountId { validator.check(UUID(uuidString: payableAccountId) != nil, "payableAccountId", "must be a UUID") }
        if let memo { validator.check(memo.count <= LedgerLimits.descriptionLengthMax, "memo", "is too long") }
        validator.check((1...InvoiceRequest.linesMax).contains(lines.count), "lines", "must have 1–\(InvoiceRequest.linesMax) lines")
        var parsed: [BillLineRequest] = []
        for (index, line) in lines.enumerated() {
            let field = "lines[\(index)]"
            validator.check((1...LedgerLimits.descriptionLengthMax).contains(line.description.count), field + ".description",
                            "must be 1–\(LedgerLimits.descriptionLengthMax) characters")
            let quantity = InvoiceRequest.decimal(line.quantity, fractionDigits: 6)
            validator.check(quantity.map { $0 > 0 && $0 <= InvoiceRequest.quantityMax } ?? false, field + ".quantity",
                            "must be a positive decimal up to 1e9 with at most 6 decimals")
            validator.check((0...InvoiceRequest.unitPriceMinorMax).contains(line.unitPrice), field + ".unitPrice",
                            "must be 0–\(InvoiceRequest.unitPriceMinorMax) minor units")
            let rate = InvoiceRequest.decimal(line.taxRate ?? "0", fractionDigits: 4)
            validator.check(rate.map { $0 >= 0 && $0 <= 100 } ?? false, field + ".taxRate", "must be a percentage 0–100 with at most 4 decimals")
            if taxCalculationId != nil {
                validator.check(line.taxRate == nil && line.tax == nil && line.taxRecoverable == nil, field + ".taxRate",
                                "the tax and whether it is recoverable come from the tax calculation: leave out taxRate, tax and taxRecoverable")
            }
            if let tax = line.tax { validator.check((0...InvoiceRequest.unitPriceMinorMax).contains(tax), field + ".tax", "must be 0–\(InvoiceRequest.unitPriceMinorMax) minor units") }
            validator.check(UUID(uuidString: line.expenseAccountId) != nil, field + ".expenseAccountId", "must be a UUID")
            if let quantity, let rate {
                parsed.append(BillLineRequest(
                    description: line.description, quantity: quantity, unitPriceMinor: line.unitPrice, taxRate: rate, taxMinor: line.tax,
                    taxRecoverable: line.taxRecoverable ?? true, expenseAccountId: line.expenseAccountId.lowercased()))
            }
        }
        try validator.throwIfInvalid()
        // Without a due date or terms, the document is due on the day it is dated.
        let dueOn = due ?? issued!
        let fingerprint = Digest.sha256Hex(
            ([vendorId, vendorName, vendorReference ?? "", currency ?? "", billDate, dueOn.description, payableAccountId ?? "", memo ?? "",
              taxCalculationId?.lowercased() ?? ""]
                + lines.map {
                    "\($0.description)|\($0.quantity)|\($0.unitPrice)|\($0.taxRate ?? "0")|\($0.tax.map(String.init) ?? "")|\($0.taxRecoverable ?? true)|\($0.expenseAccountId.lowercased())"
                }).joined(separator: "\u{1f}"))
        return BillRequest(
            id: id?.lowercased(), vendorId: vendorId, vendorName: vendorName, vendorReference: vendorReference?.trimmingCharacters(in: .whitespaces),
            currency: currency?.uppercased(), billDate: issued!, dueDate: dueOn, lines: parsed, payableAccountId: payableAccountId?.lowercased(),
            memo: memo, taxCalculationId: taxCalculationId?.lowercased(), fingerprint: fingerprint)
    }
}
