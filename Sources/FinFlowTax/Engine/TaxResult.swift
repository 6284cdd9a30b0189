/// How a line was treated: the rule of law that decided where and whether it is taxed.
enum Treatment: String, Sendable, Codable, CaseIterable {
    /// Taxed where the seller is, both parties there.
    case domestic
    /// EU cross-border sale to a consumer within the EUR 10,000 threshold: taxed where the seller is (Article 59c).
    case originBelowThreshold = "origin-below-threshold"
    /// EU cross-border sale to a consumer taxed where it is consumed, declared under the One-Stop Shop (Articles 33, 58).
    case destinationOSS = "destination-oss"
    /// A non-EU seller's electronic service to an EU consumer, under the non-Union scheme (Articles 58 and 358a).
    case destinationNonUnion = "destination-non-union"
    /// Exempt intra-Community supply of goods to a business with a valid VAT number (Article 138).
    case intraCommunitySupply = "intra-community-supply"
    /// Intra-Community acquisition of goods: the buyer accounts for the VAT (Articles 20 and 200).
    case intraCommunityAcquisition = "intra-community-acquisition"
    /// B2B services across borders: the customer accounts for the VAT (Articles 44 and 196).
    case reverseCharge = "reverse-charge"
    /// Goods leaving the EU: exempt with the right to deduct (Article 146).
    case export
    /// Goods entering the EU: VAT is charged at importation, not on the invoice (Articles 30 and 201).
    case importation = "import"
    /// A non-resident's supply of services to a consumer in a GST country, taxed there (Australia's offshore supplies,
    /// New Zealand's remote services, Singapore's overseas vendor registration).
    case offshoreSupply = "offshore-supply"
    /// The place of supply is outside every jurisdiction taxed here.
    case outsideScope = "outside-scope"
    /// US: taxed by the state (and its localities).
    case salesTax = "sales-tax"
    /// US: the seller has no nexus in the state; nothing is collected.
    case noNexus = "no-nexus"
    /// US: the state levies no sales tax.
    case noSalesTax = "no-sales-tax"
    /// The buyer's exemption certificate covers the sale.
    case exemptionCertificate = "exemption-certificate"
}

/// One jurisdiction's part of a line's tax.
struct TaxComponent: Sendable, Codable, Equatable {
    /// `DE`, `US-CA`, or a US locality `US-CA/county/Los Angeles`.
    var jurisdiction: String
    var name: String
    /// `country`, `state`, `county`, `city`, `district`.
    var level: String
    var taxType: TaxType
    var category: RateCategory
    var rate: TaxRate
    var taxableMinor: Int64
    var taxMinor: Int64
    /// Tax the tenant accounts for itself as buyer (acquisition, reverse charge): not on the invoice total.
    var selfAssessed: Bool
    var ruleId: String
}

/// One line's answer.
struct LineResult: Sendable, Codable, Equatable {
    var number: Int
    var amountMinor: Int64
    var product: ProductCode
    var treatment: Treatment
    /// Where the supply is taxed (country, or `US-XX`).
    var placeOfSupply: String
    /// The rule that decided it, named (`eu.article-138`).
    var rule: String
    /// What the invoice must say, when the law asks for a note.
    var note: String?
    var taxMinor: Int64
    var selfAssessedTaxMinor: Int64
    var components: [TaxComponent]
}

/// Tax per jurisdiction, rate and treatment over the document: what a return adds up.
struct SummaryRow: Sendable, Codable, Equatable {
    var jurisdiction: String
    var name: String
    var taxType: TaxType
    var category: RateCategory
    var rate: TaxRate
    var treatment: Treatment
    var selfAssessed: Bool
    var taxableMinor: Int64
    var taxMinor: Int64
}

/// The answer for a whole document.
struct TaxResult: Sendable, Codable, Equatable {
    var lines: [LineResult]
    var summary: [SummaryRow]
    var netMinor: Int64
    var taxMinor: Int64
    var selfAssessedTaxMinor: Int64
    var totalMinor: Int64
    /// How each jurisdiction's tax was rounded (`line` or `document`).
    var rounding: [String: String]
    /// Warnings the caller should read (an expired certificate, an unconfirmed VAT number).
    var messages: [String]
    /// This document's EU cross-border sales to consumers, in EUR cents, as counted towards the EUR 10,000 threshold.
    var ossCountedEURMinor: Int64
    /// This document's sales into each US state (net, in the document's minor units), as counted towards nexus.
    var usSalesByState: [String: Int64]
}
