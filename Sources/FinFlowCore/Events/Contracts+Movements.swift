/// What a posting did to the ledger's accounts, day by day (accounting → insights, analytics): for each account and
/// accounting date, the debits and credits the posted entries added. Year-end closing amounts are left out, so
/// revenue and expense accounts show trading only. One event per posting transaction (a bulk import's batch is
/// split into events of at most `LedgerMovementsRecorded.movementsMax` movements).
public struct LedgerMovementsRecorded: EventContract, Equatable {
    public static let eventType = "finflow.ledger.movements-recorded"
    public static let schemaVersion = 1
    public static let movementsMax = 500
    public static let entriesPerMovementMax = 20

    /// One account's movement on one day.
    public struct Movement: Codable, Sendable, Equatable {
        /// `YYYY-MM-DD`.
        public let accountingDate: String
        public let accountId: String
        public let code: String
        public let name: String
        /// asset, liability, equity, revenue, expense.
        public let type: String
        /// cash, operating, investing, financing or noncash: how the cash flow statement treats the account.
        public let cashFlowTag: String?
        /// The part the ledger gives the account (`receivables`, `payables`, `revenue`…), when it has one.
        public let role: String?
        public let currency: String
        public let debitMinor: Int64
        public let creditMinor: Int64
        /// The first entries behind the movement (at most `entriesPerMovementMax`).
        public let entryIds: [String]?

        public init(
            accountingDate: String, accountId: String, code: String, name: String, type: String, cashFlowTag: String?, role: String? = nil,
            currency: String, debitMinor: Int64, creditMinor: Int64, entryIds: [String]? = nil
        ) {
            self.accountingDate = accountingDate
            self.accountId = accountId
            self.code = code
            self.name = name
            self.type = type
            self.cashFlowTag = cashFlowTag
            self.role = role
            self.currency = currency
            self.debitMinor = debitMinor
            self.creditMinor = creditMinor
            self.entryIds = entryIds
        }
    }

    public let tenantId: String
    /// The posted entries behind the movements (at most 100 named; `entryCount` counts them all).
    public let entryIds: [String]
    public let entryCount: Int
    public let movements: [Movement]

    public init(tenantId: String, entryIds: [String], entryCount: Int, movements: [Movement]) {
        self.tenantId = tenantId
        self.entryIds = entryIds
        self.entryCount = entryCount
        self.movements = movements
    }
}

/// A receivable invoice or customer credit note was issued (accounting → insights, analytics): what the customer owes
/// and by when. Payment of it is told by `PaymentProcessed` naming it and `InvoiceSettled`; a void by `InvoiceVoided`.
public struct InvoiceIssued: EventContract, Equatable {
    public static let eventType = "finflow.invoice.issued"
    public static let schemaVersion = 1
    public let invoiceId: String
    public let tenantId: String
    /// `invoice` or `credit_note`.
    public let kind: String
    public let number: String
    public let customerId: String
    public let currency: String
    public let totalMinor: Int64
    /// `YYYY-MM-DD`.
    public let issueDate: String
    /// `YYYY-MM-DD`.
    public let dueDate: String
    /// For a credit note, the invoice it credits.
    public let creditedInvoiceId: String?

    public init(
        invoiceId: String, tenantId: String, kind: String, number: String, customerId: String, currency: String, totalMinor: Int64,
        issueDate: String, dueDate: String, creditedInvoiceId: String?
    ) {
        self.invoiceId = invoiceId
        self.tenantId = tenantId
        self.kind = kind
        self.number = number
        self.customerId = customerId
        self.currency = currency
        self.totalMinor = totalMinor
        self.issueDate = issueDate
        self.dueDate = dueDate
        self.creditedInvoiceId = creditedInvoiceId
    }
}

/// An issued invoice with nothing applied to it was voided (accounting → insights, analytics): it is no longer owed.
public struct InvoiceVoided: EventContract, Equatable {
    public static let eventType = "finflow.invoice.voided"
    public static let schemaVersion = 1
    public let invoiceId: String
    public let tenantId: String
    /// `YYYY-MM-DD` (UTC) of the void.
    public let voidedDate: String

    public init(invoiceId: String, tenantId: String, voidedDate: String) {
        self.invoiceId = invoiceId
        self.tenantId = tenantId
        self.voidedDate = voidedDate
    }
}

/// The insights service found something in a tenant's books worth acting on (insights → any service): a cash runway,
/// receivables outpacing sales, a late payer… Announced once when first raised (again only if it was resolved and
/// came back), with the money at stake and the sentence shown to the user.
public struct InsightRaised: EventContract, Equatable {
    public static let eventType = "finflow.insight.raised"
    public static let schemaVersion = 1
    public let insightId: String
    public let tenantId: String
    /// `cash-runway`, `receivables-outpacing-sales`, `dso-rising`, `customer-concentration`, `expense-above-trend`,
    /// `recurring-charge-new`, `recurring-charge-rose`, `overdue-invoices`, `late-payer`, `seasonal-low`.
    public let kind: String
    /// What it is about: a customer id, an account id, a vendor id, or `cash`, `receivables`, `revenue`.
    public let subject: String
    public let currency: String
    public let amountAtStakeMinor: Int64
    public let sentence: String
    public let raisedAtMillis: Int64

    public init(
        insightId: String, tenantId: String, kind: String, subject: String, currency: String, amountAtStakeMinor: Int64, sentence: String,
        raisedAtMillis: Int64
    ) {
        self.insightId = insightId
        self.tenantId = tenantId
        self.kind = kind
        self.subject = subject
        self.currency = currency
        self.amountAtStakeMinor = amountAtStakeMinor
        self.sentence = sentence
        self.raisedAtMillis = raisedAtMillis
    }
}
