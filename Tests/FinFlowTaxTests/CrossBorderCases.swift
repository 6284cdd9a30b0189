import FinFlowCore
import Testing

@testable import FinFlowTax

/// One worked case: a document, what the tenant had sold before it, and the answer worked out by hand.
struct CrossBorderCase: Sendable, CustomTestStringConvertible {
    /// What a line must come to.
    struct Expect: Sendable {
        let treatment: Treatment
        let jurisdiction: String
        let rate: String
        let taxMinor: Int64
        var selfAssessedMinor: Int64 = 0
    }

    let name: String
    var date = "2026-03-02"
    var type = DocumentType.salesInvoice
    var currency = "EUR"
    var eurRate: String?
    /// `DE`, or `US-CA` (with `zip`).
    let seller: String
    let buyer: String
    var business = false
    var vatNumber: String?
    var vatStatus: VATNumberStatus?
    var lines: [(Int64, ProductCode)] = [(10_000, .goods)]
    var ossPrevious: Int64 = 0
    var ossCurrent: Int64 = 0
    var profile = TaxProfile()
    var usPrevious: [String: TaxContext.StateTally] = [:]
    var usCurrent: [String: TaxContext.StateTally] = [:]
    var certificates: [ExemptionCertificate] = []
    var localRates: [LocalRate] = []
    var sellerZip: String?
    var buyerZip: String?
    let expect: [Expect]
    /// A message the answer must carry, when the case is about one.
    var message: String?

    var testDescription: String { self.name }

    static func address(_ place: String, zip: String?) -> TaxAddress {
        place.hasPrefix("US-") ? TaxAddress(country: "US", region: String(place.dropFirst(3)), postalCode: zip) : TaxAddress(country: place)
    }

    var document: TaxDocumentInput {
        TaxDocumentInput(
            type: self.type, date: self.date, currency: self.currency, eurRate: self.eurRate.flatMap(ExchangeRate.init),
            seller: TaxParty(address: Self.address(self.seller, zip: self.sellerZip), isBusiness: true, vatNumber: nil, customerId: nil),
            buyer: TaxParty(
                address: Self.address(self.buyer, zip: self.buyerZip), isBusiness: self.business, vatNumber: self.vatNumber,
                customerId: "customer-1"),
            lines: self.lines.enumerated().map { TaxLineInput(number: $0.offset + 1, amountMinor: $0.element.0, product: $0.element.1) })
    }

    var context: TaxContext {
        TaxContext(
            rules: RuleBook.shipped, profile: self.profile, ossPreviousYearEURMinor: self.ossPrevious, ossCurrentYearEURMinor: self.ossCurrent,
            usPreviousYear: self.usPrevious, usCurrentYear: self.usCurrent, certificates: self.certificates,
            buyerVATNumber: self.vatStatus ?? (self.vatNumber == nil ? nil : .valid(consultation: nil)), localRates: self.localRates)
    }
}

extension CrossBorderCase.Expect {
    init(_ treatment: Treatment, _ jurisdiction: String, _ rate: String, _ taxMinor: Int64, selfAssessed: Int64 = 0) {
        self.init(treatment: treatment, jurisdiction: jurisdiction, rate: rate, taxMinor: taxMinor, selfAssessedMinor: selfAssessed)
    }
}
