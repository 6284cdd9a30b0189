/// A vendor bill or vendor credit note entered the books (accounting → tax, analytics): its expense and recoverable
/// input tax are posted against accounts payable. The tax service reads input VAT from it; analytics, what is owed.
public struct BillPosted: EventContract, Equatable {
    public static let eventType = "finflow.bill.posted"
    public static let schemaVersion = 1
    public let billId: String
    public let tenantId: String
    /// `bill` or `vendor_credit` (a vendor's credit note, which lowers what is owed and the input tax).
    public let kind: String
    public let vendorId: String
    /// The vendor's own number of the document, when given.
    public let vendorReference: String?
    public let currency: String
    /// Net of tax, in minor units.
    public let subtotalMinor: Int64
    /// All tax on the document, in minor units.
    public let taxMinor: Int64
    /// The part of the tax that can be reclaimed (posted to input tax); the rest is part of the expense.
    public let recoverableTaxMinor: Int64
    public let totalMinor: Int64
    /// `YYYY-MM-DD`.
    public let billDate: String
    /// `YYYY-MM-DD`.
    public let dueDate: String
    /// The journal entry that posted it.
    public let entryId: String
    /// For a vendor credit note, the bill it credits.
    public let creditedBillId: String?

    public init(
        billId: String, tenantId: String, kind: String, vendorId: String, vendorReference: String?, currency: String, subtotalMinor: Int64,
        taxMinor: Int64, recoverableTaxMinor: Int64, totalMinor: Int64, billDate: String, dueDate: String, entryId: String,
        creditedBillId: String?
    ) {
        self.billId = billId
        self.tenantId = tenantId
        self.kind = kind
        self.vendorId = vendorId
        self.vendorReference = vendorReference
        self.currency = currency
        self.subtotalMinor = subtotalMinor
        self.taxMinor = taxMinor
        self.recoverableTaxMinor = recoverableTaxMinor
        self.totalMinor = totalMinor
        self.billDate = billDate
        self.dueDate = dueDate
        self.entryId = entryId
        self.creditedBillId = creditedBillId
    }
}

/// A vendor bill became fully settled (accounting → analytics, performance): by payments, or by vendor credit notes.
/// Days payable outstanding and on-time payment to vendors follow from it, as `InvoiceSettled` does for customers.
public struct BillSettled: EventContract, Equatable {
    public static let eventType = "finflow.bill.settled"
    public static let schemaVersion = 1
    public let billId: String
    public let tenantId: String
    public let vendorId: String
    public let currency: String
    public let totalMinor: Int64
    /// `YYYY-MM-DD`.
    public let billDate: String
    /// `YYYY-MM-DD`.
    public let dueDate: String
    /// The date of the payment (or credit note) that settled it, `YYYY-MM-DD`.
    public let settledDate: String
    /// `payment` or `credit`.
    public let settledBy: String

    public init(
        billId: String, tenantId: String, vendorId: String, currency: String, totalMinor: Int64, billDate: String, dueDate: String,
        settledDate: String, settledBy: String
    ) {
        self.billId = billId
        self.tenantId = tenantId
        self.vendorId = vendorId
        self.currency = currency
        self.totalMinor = totalMinor
        self.billDate = billDate
        self.dueDate = dueDate
        self.settledDate = settledDate
        self.settledBy = settledBy
    }
}
