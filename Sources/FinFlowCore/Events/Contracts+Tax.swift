/// A tax calculation was committed: it is now the tax record of a document (tax → accounting, analytics). Its amounts,
/// by jurisdiction, rate and treatment, are what the ledger posts to each jurisdiction's tax accounts and what returns add up.
public struct TaxCommitted: EventContract, Equatable {
    public static let eventType = "finflow.tax.committed"
    public static let schemaVersion = 1

    /// One jurisdiction-rate-treatment amount of the document.
    public struct Amount: Codable, Sendable, Equatable {
        /// `DE`, `US-CA`, or a US locality `US-CA/county/Los Angeles`.
        public let jurisdiction: String
        /// `vat`, `sales`, or `use` for tax the tenant accounts for itself as buyer (acquisitions, reverse charge).
        public let taxType: String
        /// A percentage as a decimal string (`19`, `5.5`).
        public let rate: String
        /// The rule of law that decided it (`domestic`, `intra-community-supply`, `reverse-charge`, `destination-oss`, …).
        public let treatment: String
        public let taxableMinor: Int64
        public let taxMinor: Int64
        /// Tax the tenant accounts for itself as buyer: owed as output tax, not paid to the seller.
        public let selfAssessed: Bool
        /// Whether the tenant, as buyer, reclaims the tax as input tax (VAT); US sales and use tax is a cost.
        public let recoverable: Bool
        /// The tax account the ledger keeps it in, which the return of the same key is reconciled against: the country
        /// (`DE`), `OSS-DE` for tax declared through the One-Stop Shop, or the US state (`US-CA`, localities included).
        public let account: String

        public init(
            jurisdiction: String, taxType: String, rate: String, treatment: String, taxableMinor: Int64, taxMinor: Int64, selfAssessed: Bool,
            recoverable: Bool, account: String
        ) {
            self.jurisdiction = jurisdiction
            self.taxType = taxType
            self.rate = rate
            self.treatment = treatment
            self.taxableMinor = taxableMinor
            self.taxMinor = taxMinor
            self.selfAssessed = selfAssessed
            self.recoverable = recoverable
            self.account = account
        }
    }

    /// One line of the document as the tax service reckoned it: what a ledger invoice's line must net to, and its tax.
    public struct Line: Codable, Sendable, Equatable {
        /// 1-based, in the document's order.
        public let number: Int
        public let amountMinor: Int64
        /// Tax charged on the line (paid to the seller).
        public let taxMinor: Int64
        public let selfAssessedTaxMinor: Int64
        /// The line's charged rate as a percentage (state and local rates added up), `0` when none is charged.
        public let rate: String
        /// Whether the line's tax is reclaimable input tax for a buyer (VAT), or a cost (US sales and use tax).
        public let recoverable: Bool

        public init(number: Int, amountMinor: Int64, taxMinor: Int64, selfAssessedTaxMinor: Int64, rate: String, recoverable: Bool) {
            self.number = number
            self.amountMinor = amountMinor
            self.taxMinor = taxMinor
            self.selfAssessedTaxMinor = selfAssessedTaxMinor
            self.rate = rate
            self.recoverable = recoverable
        }
    }

    public let documentId: String
    public let tenantId: String
    /// The tenant's number of the document.
    public let code: String
    /// `sales-invoice`, `purchase-invoice` or `credit-note`.
    public let documentType: String
    /// `YYYY-MM-DD`.
    public let documentDate: String
    public let currency: String
    public let netMinor: Int64
    /// Tax on the document (what the buyer pays the seller).
    public let taxMinor: Int64
    /// Tax the tenant accounts for itself as buyer.
    public let selfAssessedTaxMinor: Int64
    public let totalMinor: Int64
    public let amounts: [Amount]
    public let lines: [Line]

    public init(
        documentId: String, tenantId: String, code: String, documentType: String, documentDate: String, currency: String, netMinor: Int64,
        taxMinor: Int64, selfAssessedTaxMinor: Int64, totalMinor: Int64, amounts: [Amount], lines: [Line]
    ) {
        self.documentId = documentId
        self.tenantId = tenantId
        self.code = code
        self.documentType = documentType
        self.documentDate = documentDate
        self.currency = currency
        self.netMinor = netMinor
        self.taxMinor = taxMinor
        self.selfAssessedTaxMinor = selfAssessedTaxMinor
        self.totalMinor = totalMinor
        self.amounts = amounts
        self.lines = lines
    }
}

/// A committed tax calculation was voided (tax → accounting, analytics): the document's tax record is withdrawn.
public struct TaxVoided: EventContract, Equatable {
    public static let eventType = "finflow.tax.voided"
    public static let schemaVersion = 1
    public let documentId: String
    public let tenantId: String
    public let code: String
    public let documentType: String
    public let reason: String

    public init(documentId: String, tenantId: String, code: String, documentType: String, reason: String) {
        self.documentId = documentId
        self.tenantId = tenantId
        self.code = code
        self.documentType = documentType
        self.reason = reason
    }
}

/// Entries moved the ledger's per-jurisdiction tax accounts (accounting → tax): what a return is reconciled against.
/// Every posted entry that touches such an account is announced, a hand-made journal entry as much as an invoice.
public struct TaxLedgerPosted: EventContract, Equatable {
    public static let eventType = "finflow.tax.ledger-posted"
    public static let schemaVersion = 1

    /// One jurisdiction account's movement in the entry.
    public struct Movement: Codable, Sendable, Equatable {
        /// The account's key, as `TaxCommitted.Amount.account` names it (`DE`, `OSS-FR`, `US-CA`).
        public let jurisdiction: String
        /// `output` (tax owed: credits less debits) or `input` (tax reclaimable: debits less credits).
        public let kind: String
        public let currency: String
        public let amountMinor: Int64

        public init(jurisdiction: String, kind: String, currency: String, amountMinor: Int64) {
            self.jurisdiction = jurisdiction
            self.kind = kind
            self.currency = currency
            self.amountMinor = amountMinor
        }
    }

    public let entryId: String
    public let tenantId: String
    /// `YYYY-MM-DD`.
    public let accountingDate: String
    /// The tax calculation the entry posted, when it posted one.
    public let taxDocumentId: String?
    /// The filed return the entry settles, when it is a settlement (left out of the reconciliation of that return).
    public let filingId: String?
    public let movements: [Movement]

    public init(entryId: String, tenantId: String, accountingDate: String, taxDocumentId: String?, filingId: String?, movements: [Movement]) {
        self.entryId = entryId
        self.tenantId = tenantId
        self.accountingDate = accountingDate
        self.taxDocumentId = taxDocumentId
        self.filingId = filingId
        self.movements = movements
    }
}

/// A tax return was filed (tax → accounting): the period is closed to tax documents, and the ledger moves the
/// jurisdiction's output and input tax of the period to what is owed to (or reclaimed from) the authority.
public struct TaxReturnFiled: EventContract, Equatable {
    public static let eventType = "finflow.tax.return-filed"
    public static let schemaVersion = 1

    /// One ledger tax account's part of the return (an OSS return has one per member state of consumption).
    public struct Account: Codable, Sendable, Equatable {
        public let account: String
        public let outputTaxMinor: Int64
        public let inputTaxMinor: Int64

        public init(account: String, outputTaxMinor: Int64, inputTaxMinor: Int64) {
            self.account = account
            self.outputTaxMinor = outputTaxMinor
            self.inputTaxMinor = inputTaxMinor
        }
    }

    public let filingId: String
    public let tenantId: String
    /// `vat`, `oss` or `us-sales`.
    public let kind: String
    public let jurisdiction: String
    /// `YYYY-MM-DD`, inclusive.
    public let periodStart: String
    public let periodEnd: String
    public let currency: String
    /// Output tax of the period as declared (what the settlement moves out of the jurisdiction's output tax account).
    public let outputTaxMinor: Int64
    public let inputTaxMinor: Int64
    /// Output less input: owed to the authority when positive, reclaimed when negative.
    public let netMinor: Int64
    public let accounts: [Account]

    public init(
        filingId: String, tenantId: String, kind: String, jurisdiction: String, periodStart: String, periodEnd: String, currency: String,
        outputTaxMinor: Int64, inputTaxMinor: Int64, netMinor: Int64, accounts: [Account]
    ) {
        self.filingId = filingId
        self.tenantId = tenantId
        self.kind = kind
        self.jurisdiction = jurisdiction
        self.periodStart = periodStart
        self.periodEnd = periodEnd
        self.currency = currency
        self.outputTaxMinor = outputTaxMinor
        self.inputTaxMinor = inputTaxMinor
        self.netMinor = netMinor
        self.accounts = accounts
    }
}
