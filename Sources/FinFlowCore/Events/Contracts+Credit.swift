/// A borrower accepted a loan offer (credit engine → accounting): the accounting service posts the loan receivable
/// against the cash paid out and the origination fee earned, once.
public struct LoanOfferAccepted: EventContract, Equatable {
    public static let eventType = "finflow.credit.loan-offer-accepted"
    public static let schemaVersion = 1
    public let offerId: String
    public let tenantId: String
    public let decisionId: String
    public let customerId: String?
    /// The loan's principal, owed by the borrower, in minor units.
    public let principalMinor: Int64
    /// The origination fee kept from the amount paid out (principal − fee is disbursed).
    public let feeMinor: Int64
    public let currency: String
    public let termMonths: Int
    /// Nominal annual interest rate, basis points.
    public let rateBps: Int
    public let monthlyPaymentMinor: Int64
    /// The accounting date of the disbursement, `YYYY-MM-DD`.
    public let disbursementDate: String
    /// Unix milliseconds of the acceptance.
    public let acceptedAtMillis: Int64

    public init(
        offerId: String, tenantId: String, decisionId: String, customerId: String?, principalMinor: Int64, feeMinor: Int64,
        currency: String, termMonths: Int, rateBps: Int, monthlyPaymentMinor: Int64, disbursementDate: String, acceptedAtMillis: Int64
    ) {
        self.offerId = offerId
        self.tenantId = tenantId
        self.decisionId = decisionId
        self.customerId = customerId
        self.principalMinor = principalMinor
        self.feeMinor = feeMinor
        self.currency = currency
        self.termMonths = termMonths
        self.rateBps = rateBps
        self.monthlyPaymentMinor = monthlyPaymentMinor
        self.disbursementDate = disbursementDate
        self.acceptedAtMillis = acceptedAtMillis
    }
}

/// A receivable invoice became fully settled (accounting → credit engine): by payments, or by a credit note. The
/// credit engine counts whether the customer paid by the due date.
public struct InvoiceSettled: EventContract, Equatable {
    public static let eventType = "finflow.invoice.settled"
    public static let schemaVersion = 1
    public let invoiceId: String
    public let tenantId: String
    public let customerId: String
    public let currency: String
    public let totalMinor: Int64
    /// `YYYY-MM-DD`.
    public let dueDate: String
    /// The date of the payment (or credit note) that settled it, `YYYY-MM-DD`.
    public let settledDate: String
    /// `payment` or `credit`.
    public let settledBy: String

    public init(
        invoiceId: String, tenantId: String, customerId: String, currency: String, totalMinor: Int64, dueDate: String,
        settledDate: String, settledBy: String
    ) {
        self.invoiceId = invoiceId
        self.tenantId = tenantId
        self.customerId = customerId
        self.currency = currency
        self.totalMinor = totalMinor
        self.dueDate = dueDate
        self.settledDate = settledDate
        self.settledBy = settledBy
    }
}
