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

        public init(jurisdiction: String, taxType: String, rate: String, treatment: String, taxableMinor: Int64, taxMinor: Int64) {
            self.jurisdiction = jurisdiction
            self.taxType = taxType
            self.rate = rate
            self.treatment = treatment
            self.taxableMinor = taxableMinor
            self.taxMinor = taxMinor
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

    public init(
        documentId: String, tenantId: String, code: String, documentType: String, documentDate: String, currency: String, netMinor: Int64,
        taxMinor: Int64, selfAssessedTaxMinor: Int64, totalMinor: Int64, amounts: [Amount]
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
