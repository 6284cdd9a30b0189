import FinFlowCore
import Testing

@testable import FinFlowTax

/// The cross-border table: every place-of-supply rule, the EUR 10,000 threshold crossed mid-year, dated rate changes,
/// certificates, rounding per line and per document, credit notes, purchases, zero-rated exports and US nexus. Every
/// answer is worked out by hand in the case's comment: amounts are cents, 10,000 is EUR 100.00.
@Suite("Cross-border tax cases, worked by hand")
struct CrossBorderTests {
    typealias C = CrossBorderCase
    typealias E = CrossBorderCase.Expect

    static let validFR = "FR23334175221"

    static let eu: [C] = [
        // Domestic rates by product: 100.00 × 19 % = 19.00; × 7 % = 7.00; Germany taxes medicines at 19 %.
        C(name: "DE domestic goods at 19 %", seller: "DE", buyer: "DE", expect: [E(.domestic, "DE", "19", 1900)]),
        C(name: "DE domestic food at 7 %", seller: "DE", buyer: "DE", lines: [(10_000, .food)], expect: [E(.domestic, "DE", "7", 700)]),
        C(name: "DE medicines at the standard rate", seller: "DE", buyer: "DE", lines: [(10_000, .medicines)], expect: [E(.domestic, "DE", "19", 1900)]),
        // France: reimbursable medicines 2.1 % → 2.10.
        C(name: "FR medicines at 2.1 %", seller: "FR", buyer: "FR", lines: [(10_000, .medicines)], expect: [E(.domestic, "FR", "2.1", 210)]),
        // Ireland zero-rates food: taxable at 0.
        C(name: "IE food zero-rated", seller: "IE", buyer: "IE", lines: [(10_000, .food)], expect: [E(.domestic, "IE", "0", 0)]),
        // Financial services are exempt (Article 135(1)).
        C(name: "DE financial services exempt", seller: "DE", buyer: "DE", lines: [(10_000, .financialServices)], expect: [E(.domestic, "DE", "0", 0)]),
        // Dated changes: Estonia 22 % until 30 June 2025, 24 % from 1 July 2025.
        C(name: "EE 22 % on the last day", date: "2025-06-30", seller: "EE", buyer: "EE", expect: [E(.domestic, "EE", "22", 2200)]),
        C(name: "EE 24 % from 1 July 2025", date: "2025-07-01", seller: "EE", buyer: "EE", expect: [E(.domestic, "EE", "24", 2400)]),
        // Finland 24 % → 25.5 % on 1 September 2024: 25.50.
        C(name: "FI 24 % before September 2024", date: "2024-08-31", seller: "FI", buyer: "FI", expect: [E(.domestic, "FI", "24", 2400)]),
        C(name: "FI 25.5 % from September 2024", date: "2024-09-01", seller: "FI", buyer: "FI", expect: [E(.domestic, "FI", "25.5", 2550)]),
        // Sweden halves food VAT from 12 % to 6 % on 1 April 2026.
        C(name: "SE food 12 % in March 2026", date: "2026-03-31", seller: "SE", buyer: "SE", lines: [(10_000, .food)], expect: [E(.domestic, "SE", "12", 1200)]),
        C(name: "SE food 6 % from April 2026", date: "2026-04-01", seller: "SE", buyer: "SE", lines: [(10_000, .food)], expect: [E(.domestic, "SE", "6", 600)]),
        // Luxembourg's 2023 cut: 16 % for that year only, 17 % again from 2024.
        C(name: "LU 16 % in 2023", date: "2023-06-01", seller: "LU", buyer: "LU", expect: [E(.domestic, "LU", "16", 1600)]),
        C(name: "LU 17 % again in 2024", date: "2024-01-01", seller: "LU", buyer: "LU", expect: [E(.domestic, "LU", "17", 1700)]),
        // Romania: books 5 % until 31 July 2025, then the merged 11 % rate.
        C(name: "RO books 5 % until August 2025", date: "2025-07-31", seller: "RO", buyer: "RO", lines: [(10_000, .books)], expect: [E(.domestic, "RO", "5", 500)]),
        C(name: "RO books 11 % from August 2025", date: "2025-08-01", seller: "RO", buyer: "RO", lines: [(10_000, .books)], expect: [E(.domestic, "RO", "11", 1100)]),
        // Intra-Community B2B: goods exempt in the state of departure (Article 138); services reverse-charged (196).
        C(name: "DE→FR goods to a business: Article 138", seller: "DE", buyer: "FR", business: true, vatNumber: validFR,
          expect: [E(.intraCommunitySupply, "DE", "0", 0)]),
        C(name: "DE→FR services to a business: reverse charge", seller: "DE", buyer: "FR", business: true, vatNumber: validFR,
          lines: [(10_000, .services)], expect: [E(.reverseCharge, "FR", "0", 0)]),
        // B2C distance sales: origin rate within EUR 10,000 (19.00), destination rate past it (France 20 % → 20.00).
        C(name: "DE→FR goods to a consumer below the threshold", seller: "DE", buyer: "FR", expect: [E(.originBelowThreshold, "DE", "19", 1900)]),
        C(name: "DE→FR goods: previous year above EUR 10,000", seller: "DE", buyer: "FR", ossPrevious: 1_200_000,
          expect: [E(.destinationOSS, "FR", "20", 2000)]),
        // 9,950.00 before + 100.00 = 10,050.00 > 10,000.00: this document crosses the threshold.
        C(name: "DE→FR goods: threshold crossed mid-year", seller: "DE", buyer: "FR", ossCurrent: 995_000,
          expect: [E(.destinationOSS, "FR", "20", 2000)], message: "pass EUR 10,000"),
        // 9,900.00 + 100.00 = 10,000.00 does not exceed EUR 10,000.
        C(name: "DE→FR goods: reaching exactly EUR 10,000 is not passing it", seller: "DE", buyer: "FR", ossCurrent: 990_000,
          expect: [E(.originBelowThreshold, "DE", "19", 1900)]),
        C(name: "DE→FR electronic service below the threshold", seller: "DE", buyer: "FR", lines: [(10_000, .digitalServices)],
          expect: [E(.originBelowThreshold, "DE", "19", 1900)]),
        C(name: "DE→FR electronic service above the threshold", seller: "DE", buyer: "FR", lines: [(10_000, .digitalServices)], ossPrevious: 2_000_000,
          expect: [E(.destinationOSS, "FR", "20", 2000)]),
        // France's e-book rate 5.5 % → 5.50.
        C(name: "DE→FR e-book above the threshold at France's reduced rate", seller: "DE", buyer: "FR", lines: [(10_000, .eBooks)],
          ossPrevious: 2_000_000, expect: [E(.destinationOSS, "FR", "5.5", 550)]),
        // The option to tax at destination from the first euro (Article 59c(3)).
        C(name: "DE→FR goods with the destination option", seller: "DE", buyer: "FR", profile: TaxProfile(ossDestinationAlways: true),
          expect: [E(.destinationOSS, "FR", "20", 2000)]),
        // Other services to consumers: where the supplier is (Article 45).
        C(name: "DE→AT consulting to a consumer at the German rate", seller: "DE", buyer: "AT", lines: [(10_000, .services)],
          ossPrevious: 2_000_000, expect: [E(.domestic, "DE", "19", 1900)]),
        C(name: "DE→US goods exported", seller: "DE", buyer: "US-NY", expect: [E(.export, "DE", "0", 0)]),
        C(name: "DE→CH services to a business: outside EU VAT", seller: "DE", buyer: "CH", business: true, lines: [(10_000, .services)],
          expect: [E(.outsideScope, "DE", "0", 0)]),
        C(name: "DE→CH electronic service to a consumer: outside EU VAT", seller: "DE", buyer: "CH", lines: [(10_000, .digitalServices)],
          expect: [E(.outsideScope, "DE", "0", 0)]),
        C(name: "non-EU seller's electronic service to a German consumer: non-Union scheme", seller: "CH", buyer: "DE",
          lines: [(10_000, .digitalServices)], expect: [E(.destinationNonUnion, "DE", "19", 1900)]),
        C(name: "non-EU seller's services to a German business: reverse charge", seller: "CH", buyer: "DE", business: true,
          vatNumber: "DE136695976", lines: [(10_000, .services)], expect: [E(.reverseCharge, "DE", "0", 0)]),
        C(name: "goods from outside the EU: VAT at import", seller: "CH", buyer: "FR", expect: [E(.importation, "FR", "0", 0)]),
        // A VAT number VIES calls invalid makes the buyer a consumer; one VIES cannot confirm does not.
        C(name: "invalid VAT number: taxed as a consumer sale", seller: "DE", buyer: "FR", business: true, vatNumber: validFR,
          vatStatus: .invalid(reason: "not registered"), expect: [E(.originBelowThreshold, "DE", "19", 1900)]),
        C(name: "VAT number VIES cannot confirm: still B2B", seller: "DE", buyer: "FR", business: true, vatNumber: validFR,
          vatStatus: .notConfirmed(reason: "MS_UNAVAILABLE"), expect: [E(.intraCommunitySupply, "DE", "0", 0)]),
        C(name: "a business without a VAT number buys as a consumer", seller: "DE", buyer: "FR", business: true,
          expect: [E(.originBelowThreshold, "DE", "19", 1900)]),
        // Northern Ireland follows EU rules for goods only; its services are the United Kingdom's.
        C(name: "DE→XI goods to a business: Article 138", seller: "DE", buyer: "XI", business: true, vatNumber: "XI980780684",
          expect: [E(.intraCommunitySupply, "DE", "0", 0)]),
        C(name: "DE→XI services to a business: outside EU VAT", seller: "DE", buyer: "XI", business: true, vatNumber: "XI980780684",
          lines: [(10_000, .services)], expect: [E(.outsideScope, "DE", "0", 0)]),
        // Purchases: the tenant (the buyer, in Germany) self-assesses acquisitions and reverse-charged services at 19 %.
        C(name: "purchase of goods from France: acquisition self-assessed", type: .purchaseInvoice, seller: "FR", buyer: "DE", business: true,
          expect: [E(.intraCommunityAcquisition, "DE", "19", 0, selfAssessed: 1900)]),
        C(name: "purchase of services from Switzerland: reverse charge self-assessed", type: .purchaseInvoice, seller: "CH", buyer: "DE",
          business: true, lines: [(10_000, .services)], expect: [E(.reverseCharge, "DE", "19", 0, selfAssessed: 1900)]),
        C(name: "domestic purchase: input VAT on the invoice", type: .purchaseInvoice, seller: "DE", buyer: "DE", business: true,
          expect: [E(.domestic, "DE", "19", 1900)]),
        C(name: "credit note: the tax of the sale it credits", type: .creditNote, seller: "DE", buyer: "DE", expect: [E(.domestic, "DE", "19", 1900)]),
        // USD 100.00 at 0.9 EUR = EUR 90.00; 9,950.00 + 90.00 = 10,040.00 > 10,000.00.
        C(name: "a USD sale counted in EUR crosses the threshold", currency: "USD", eurRate: "0.9", seller: "DE", buyer: "FR", ossCurrent: 995_000,
          expect: [E(.destinationOSS, "FR", "20", 2000)]),
        // Per document: 3 × 0.03 × 19 % = 3 × 0.57 = 1.71 → 0.02, shared 0.01, 0.01, 0.00 by largest remainder.
        C(name: "per-document rounding", seller: "DE", buyer: "DE", lines: [(3, .goods), (3, .goods), (3, .goods)],
          expect: [E(.domestic, "DE", "19", 1), E(.domestic, "DE", "19", 1), E(.domestic, "DE", "19", 0)]),
        // Per line: each 0.57 → 0.01, three lines 0.03.
        C(name: "per-line rounding", seller: "DE", buyer: "DE", lines: [(3, .goods), (3, .goods), (3, .goods)],
          profile: TaxProfile(rounding: "line"), expect: [E(.domestic, "DE", "19", 1), E(.domestic, "DE", "19", 1), E(.domestic, "DE", "19", 1)]),
    ]

    static let certificateTX = ExemptionCertificate(
        id: "c1", customerId: "customer-1", number: "TX-RESALE-1", jurisdictions: ["US-TX"], reason: "resale",
        validFrom: CalendarDay("2025-01-01")!, expiresOn: CalendarDay("2026-12-31")!, revoked: false)
    static let losAngeles = [
        LocalRate(id: "la-county", state: "CA", level: "county", name: "Los Angeles", zipFrom: 90001, zipTo: 91899, rate: TaxRate(percent: "0.25")!,
                  period: Period(from: CalendarDay("2021-07-01")!, to: nil)),
        LocalRate(id: "la-district", state: "CA", level: "district", name: "Los Angeles County districts", zipFrom: 90001, zipTo: 91899,
                  rate: TaxRate(percent: "2.25")!, period: Period(from: CalendarDay("2021-07-01")!, to: nil)),
    ]

    static let us: [C] = [
        C(name: "no nexus in Texas: nothing collected", seller: "US-CA", buyer: "US-TX", expect: [E(.noNexus, "US-TX", "0", 0)]),
        // USD 600,000 into Texas last year passes its USD 500,000 threshold: 100.00 × 6.25 % = 6.25.
        C(name: "economic nexus in Texas from last year's sales", seller: "US-CA", buyer: "US-TX",
          usPrevious: ["TX": .init(salesMinor: 60_000_000, transactions: 10)], expect: [E(.salesTax, "US-TX", "6.25", 625)]),
        // Intrastate California sale, origin-sourced: the seller's ZIP's rates, 7.25 + 0.25 + 2.25 = 9.75 % → 9.75.
        C(name: "California intrastate: state, county and district at the origin", seller: "US-CA", buyer: "US-CA",
          profile: TaxProfile(usPhysicalPresence: ["CA"]), localRates: losAngeles, sellerZip: "90012", buyerZip: "94105",
          expect: [E(.salesTax, "US-CA", "7.25", 725)]),
        // New York needs both USD 500,000 and 100 transactions.
        C(name: "New York: sales without the transactions is no nexus", seller: "US-CA", buyer: "US-NY",
          usPrevious: ["NY": .init(salesMinor: 60_000_000, transactions: 50)], expect: [E(.noNexus, "US-NY", "0", 0)]),
        C(name: "New York: both thresholds passed, 4 %", seller: "US-CA", buyer: "US-NY",
          usPrevious: ["NY": .init(salesMinor: 60_000_000, transactions: 150)], expect: [E(.salesTax, "US-NY", "4", 400)]),
        // Illinois: 200 transactions sufficed until 31 December 2025.
        C(name: "Illinois nexus by transactions in 2025", date: "2025-12-31", seller: "US-CA", buyer: "US-IL",
          usCurrent: ["IL": .init(salesMinor: 1_000_000, transactions: 250)], expect: [E(.salesTax, "US-IL", "6.25", 625)]),
        C(name: "Illinois: transactions alone no longer nexus in 2026", date: "2026-01-02", seller: "US-CA", buyer: "US-IL",
          usPrevious: ["IL": .init(salesMinor: 1_000_000, transactions: 250)], expect: [E(.noNexus, "US-IL", "0", 0)]),
        C(name: "Texas resale certificate", seller: "US-TX", buyer: "US-TX", profile: TaxProfile(usPhysicalPresence: ["TX"]),
          certificates: [certificateTX], expect: [E(.exemptionCertificate, "US-TX", "0", 0)]),
        C(name: "an expired certificate does not exempt", date: "2027-01-05", seller: "US-TX", buyer: "US-TX",
          profile: TaxProfile(usPhysicalPresence: ["TX"]), certificates: [certificateTX], expect: [E(.salesTax, "US-TX", "6.25", 625)],
          message: "expired on 2026-12-31"),
        C(name: "Oregon has no sales tax", seller: "US-CA", buyer: "US-OR", profile: TaxProfile(usPhysicalPresence: ["OR"]),
          expect: [E(.noSalesTax, "US-OR", "0", 0)]),
        // Illinois groceries: 1 % until the state's grocery tax ended on 1 January 2026.
        C(name: "Illinois groceries at 1 % in 2025", date: "2025-12-31", seller: "US-IL", buyer: "US-IL",
          lines: [(10_000, .food)], profile: TaxProfile(usPhysicalPresence: ["IL"]), expect: [E(.salesTax, "US-IL", "1", 100)]),
        C(name: "Illinois groceries exempt from 2026", date: "2026-01-01", seller: "US-IL", buyer: "US-IL",
          lines: [(10_000, .food)], profile: TaxProfile(usPhysicalPresence: ["IL"]), expect: [E(.salesTax, "US-IL", "0", 0)]),
        C(name: "Tennessee groceries at 4 %", seller: "US-TN", buyer: "US-TN", lines: [(10_000, .food)],
          profile: TaxProfile(usPhysicalPresence: ["TN"]), expect: [E(.salesTax, "US-TN", "4", 400)]),
        // Louisiana's state rate rose from 4.45 % to 5 % on 1 January 2025.
        C(name: "Louisiana 4.45 % in 2024", date: "2024-12-31", seller: "US-LA", buyer: "US-LA", profile: TaxProfile(usPhysicalPresence: ["LA"]),
          expect: [E(.salesTax, "US-LA", "4.45", 445)]),
        C(name: "Louisiana 5 % from 2025", date: "2025-01-01", seller: "US-LA", buyer: "US-LA", profile: TaxProfile(usPhysicalPresence: ["LA"]),
          expect: [E(.salesTax, "US-LA", "5", 500)]),
        C(name: "services are not taxable in Texas", seller: "US-TX", buyer: "US-TX", lines: [(10_000, .services)],
          profile: TaxProfile(usPhysicalPresence: ["TX"]), expect: [E(.salesTax, "US-TX", "0", 0)]),
        C(name: "services are taxable in Hawaii", seller: "US-HI", buyer: "US-HI", lines: [(10_000, .services)],
          profile: TaxProfile(usPhysicalPresence: ["HI"]), expect: [E(.salesTax, "US-HI", "4", 400)]),
        // Per line in the US: 3 × 0.03 × 6.25 % = 0.1875 each → 0.00 each.
        C(name: "US tax is rounded per line", seller: "US-TX", buyer: "US-TX", lines: [(3, .goods), (3, .goods), (3, .goods)],
          profile: TaxProfile(usPhysicalPresence: ["TX"]),
          expect: [E(.salesTax, "US-TX", "6.25", 0), E(.salesTax, "US-TX", "6.25", 0), E(.salesTax, "US-TX", "6.25", 0)]),
    ]

    /// GST outside the EU: Australia 10 % (basic food GST-free), New Zealand 15 %, Singapore 7 % → 8 % → 9 %.
    static let gst: [C] = [
        C(name: "AU domestic goods at 10 %", seller: "AU", buyer: "AU", expect: [E(.domestic, "AU", "10", 1000)]),
        C(name: "AU basic food is GST-free", seller: "AU", buyer: "AU", lines: [(10_000, .food)], expect: [E(.domestic, "AU", "0", 0)]),
        C(name: "AU financial services are input-taxed", seller: "AU", buyer: "AU", lines: [(10_000, .financialServices)],
          expect: [E(.domestic, "AU", "0", 0)]),
        C(name: "NZ domestic services at 15 %", seller: "NZ", buyer: "NZ", lines: [(10_000, .services)], expect: [E(.domestic, "NZ", "15", 1500)]),
        C(name: "SG 7 % in 2022", date: "2022-12-31", seller: "SG", buyer: "SG", expect: [E(.domestic, "SG", "7", 700)]),
        C(name: "SG 8 % in 2023", date: "2023-01-01", seller: "SG", buyer: "SG", expect: [E(.domestic, "SG", "8", 800)]),
        C(name: "SG 9 % from 2024", date: "2024-01-01", seller: "SG", buyer: "SG", expect: [E(.domestic, "SG", "9", 900)]),
        C(name: "AU→NZ goods: a GST-free export", seller: "AU", buyer: "NZ", expect: [E(.export, "AU", "0", 0)]),
        C(name: "AU→US business services: a GST-free export", seller: "AU", buyer: "US-CA", business: true, lines: [(10_000, .services)],
          expect: [E(.export, "AU", "0", 0)]),
        C(name: "AU→DE business services: a GST-free export", seller: "AU", buyer: "DE", business: true, lines: [(10_000, .services)],
          expect: [E(.export, "AU", "0", 0)]),
        C(name: "AU→NZ consumer digital services: New Zealand's GST on a remote service", seller: "AU", buyer: "NZ",
          lines: [(10_000, .digitalServices)], expect: [E(.offshoreSupply, "NZ", "15", 1500)]),
        C(name: "DE→AU consumer e-books: Australia's GST on an offshore supply", seller: "DE", buyer: "AU", lines: [(10_000, .eBooks)],
          expect: [E(.offshoreSupply, "AU", "10", 1000)]),
        C(name: "DE→AU consumer services other than electronic: Germany's VAT where the supplier is (Article 45)", seller: "DE", buyer: "AU",
          lines: [(10_000, .services)], expect: [E(.domestic, "DE", "19", 1900)]),
        C(name: "US→SG consumer digital services: Singapore's GST under overseas vendor registration", seller: "US-CA", buyer: "SG",
          lines: [(10_000, .digitalServices)], expect: [E(.offshoreSupply, "SG", "9", 900)]),
        C(name: "US→SG business services: no GST charged", seller: "US-CA", buyer: "SG", business: true, lines: [(10_000, .services)],
          expect: [E(.outsideScope, "SG", "0", 0)]),
        C(name: "AU→DE consumer e-books: Germany's VAT under the non-Union scheme", seller: "AU", buyer: "DE", lines: [(10_000, .eBooks)],
          expect: [E(.destinationNonUnion, "DE", "7", 700)]),
        C(name: "DE→AU goods: an export from the EU", seller: "DE", buyer: "AU", expect: [E(.export, "DE", "0", 0)]),
        C(name: "AU purchase of goods from Germany: GST at importation", type: .purchaseInvoice, seller: "DE", buyer: "AU", business: true,
          expect: [E(.importation, "AU", "0", 0)]),
        C(name: "AU domestic purchase: input tax on the invoice", type: .purchaseInvoice, seller: "AU", buyer: "AU", business: true,
          expect: [E(.domestic, "AU", "10", 1000)]),
    ]

    @Test("GST outside the EU: domestic supplies, exports, imports and offshore supplies to consumers", arguments: gst)
    func gstCase(_ c: C) throws { try Self.check(c) }

    @Test("a GST country's tax is named GST, and Australia's own return declares it")
    func gstType() throws {
        let c = try #require(Self.gst.first)
        let result = try TaxEngine(context: c.context).calculate(c.document)
        #expect(result.summary.map(\.taxType) == [.gst])
        #expect(result.lines.first?.note == nil && result.lines.first?.rule == "gst.domestic")
        let offshore = try #require(Self.gst.first { $0.name.hasPrefix("DE→AU consumer e-books") })
        let note = try TaxEngine(context: offshore.context).calculate(offshore.document).lines.first?.note
        #expect(note == "Australia GST charged by a non-resident supplier on services to a consumer there")
    }

    @Test("EU place of supply, rates and rounding", arguments: eu)
    func euCase(_ c: C) throws { try Self.check(c) }

    @Test("US nexus, taxability, sourcing and certificates", arguments: us)
    func usCase(_ c: C) throws { try Self.check(c) }

    static func check(_ c: C) throws {
        let result = try TaxEngine(context: c.context).calculate(c.document)
        try #require(result.lines.count == c.expect.count)
        for (line, expected) in zip(result.lines, c.expect) {
            #expect(line.treatment == expected.treatment, "line \(line.number)")
            #expect(line.placeOfSupply == expected.jurisdiction, "line \(line.number)")
            #expect(line.components.first?.rate.description == expected.rate, "line \(line.number)")
            #expect(line.selfAssessedTaxMinor == expected.selfAssessedMinor, "line \(line.number)")
            if line.components.count == 1 { #expect(line.taxMinor == expected.taxMinor, "line \(line.number)") }
            else { #expect(line.components[0].taxMinor == expected.taxMinor, "line \(line.number): state part") }
        }
        #expect(result.netMinor == c.lines.reduce(0) { $0 + $1.0 })
        #expect(result.totalMinor == result.netMinor + result.taxMinor)
        if let message = c.message { #expect(result.messages.contains { $0.contains(message) }, "\(result.messages)") }
    }

    @Test("the Californian line adds the county and district to the state: 9.75 % of 100.00")
    func californiaLocalities() throws {
        let c = try #require(Self.us.first { $0.name.hasPrefix("California intrastate") })
        let line = try #require(try TaxEngine(context: c.context).calculate(c.document).lines.first)
        #expect(line.components.map(\.taxMinor) == [725, 25, 225])
        #expect(line.taxMinor == 975)
        #expect(line.components.map(\.level) == ["state", "county", "district"])
    }

    @Test("the legal note names the article")
    func notes() throws {
        let reverse = try #require(Self.eu.first { $0.name.contains("services to a business: reverse charge") })
        let line = try #require(try TaxEngine(context: reverse.context).calculate(reverse.document).lines.first)
        #expect(line.note == "Reverse charge: Article 196 of Directive 2006/112/EC")
        let supply = try #require(Self.eu.first { $0.name.contains("goods to a business: Article 138") })
        let supplied = try #require(try TaxEngine(context: supply.context).calculate(supply.document).lines.first)
        #expect(supplied.note?.contains("Article 138") == true)
        #expect(supplied.note?.contains(Self.validFR) == true)
    }

    @Test("a foreign-currency B2C sale across EU borders needs its EUR rate")
    func eurRateRequired() {
        let c = C(name: "USD without rate", currency: "USD", seller: "DE", buyer: "FR", expect: [])
        #expect(throws: AppError.self) { try TaxEngine(context: c.context).calculate(c.document) }
    }

    @Test("a date before the rules start is refused")
    func tooEarly() {
        let c = C(name: "2020", date: "2020-12-31", seller: "DE", buyer: "DE", expect: [])
        #expect(throws: AppError.self) { try TaxEngine(context: c.context).calculate(c.document) }
    }

    @Test("the table covers at least forty cases")
    func size() { #expect(Self.eu.count + Self.us.count >= 40) }
}
