import FinFlowCore

extension TaxEngine {
    /// Where and how `line` is taxed.
    func decide(
        _ line: TaxLineInput, in document: TaxDocumentInput, day: CalendarDay, ossDestination: Bool, messages: inout [String]
    ) throws -> Decision {
        let from = line.shipFrom ?? document.seller.address
        let to = line.shipTo ?? document.buyer.address
        if to.country == "US" && (from.country == "US" || document.seller.address.country == "US") {
            return try self.decideUS(line, document: document, to: to, day: day, messages: &messages)
        }
        if let national = self.decideNational(line, document: document, from: from.country, to: to.country) { return national }
        if line.product.isGoods {
            return self.decideEUGoods(line, document: document, from: from.country, to: to.country, ossDestination: ossDestination)
        }
        return self.decideEUServices(line, document: document, ossDestination: ossDestination)
    }

    private func decideEUGoods(_ line: TaxLineInput, document: TaxDocumentInput, from: String, to: String, ossDestination: Bool) -> Decision {
        let directive = Self.directive
        let fromEU = self.isEU(from, goods: true), toEU = self.isEU(to, goods: true)
        if !fromEU {
            if toEU {
                return Decision(
                    treatment: .importation, jurisdiction: to, rule: "eu.article-201",
                    note: "Import into the EU: VAT is charged at importation (Articles 30 and 201 of \(directive))", taxed: false)
            }
            return self.outside(document)
        }
        if from == to { return self.domestic(in: from) }
        if !toEU {
            return Decision(
                treatment: .export, jurisdiction: from, rule: "eu.article-146",
                note: "Export outside the EU: exempt under Article 146 of \(directive)", taxed: false)
        }
        if !document.type.tenantSells {
            // The tenant buys goods shipped to it from another member state: it accounts for the VAT itself.
            return Decision(
                treatment: .intraCommunityAcquisition, jurisdiction: to, rule: "eu.article-200",
                note: "Intra-Community acquisition: VAT self-assessed by the buyer (Articles 20 and 200 of \(directive))", taxed: true,
                selfAssessed: true)
        }
        if self.isB2B(document.buyer) {
            let number = document.buyer.vatNumber.map { "; customer VAT number \($0)" } ?? ""
            return Decision(
                treatment: .intraCommunitySupply, jurisdiction: from, rule: "eu.article-138",
                note: "Exempt intra-Community supply of goods: Article 138 of \(directive)\(number)", taxed: false)
        }
        if ossDestination {
            return Decision(
                treatment: .destinationOSS, jurisdiction: to, rule: "eu.article-33",
                note: "Distance sale taxed in \(to) (Article 33 of \(directive)), declared under the One-Stop Shop", taxed: true)
        }
        return Decision(
            treatment: .originBelowThreshold, jurisdiction: from, rule: "eu.article-59c",
            note: "Taxed in \(from): EU-wide cross-border sales to consumers within EUR 10,000 (Article 59c of \(directive))", taxed: true)
    }

    private func decideEUServices(_ line: TaxLineInput, document: TaxDocumentInput, ossDestination: Bool) -> Decision {
        let directive = Self.directive
        let seller = document.seller.address.country, buyer = document.buyer.address.country
        let sellerEU = self.isEU(seller, goods: false), buyerEU = self.isEU(buyer, goods: false)
        if !document.type.tenantSells {
            if seller == buyer && buyerEU { return self.domestic(in: buyer) }
            guard buyerEU else { return self.outside(document) }
            return Decision(
                treatment: .reverseCharge, jurisdiction: buyer, rule: "eu.article-196",
                note: "Reverse charge: VAT self-assessed by the recipient (Article 196 of \(directive))", taxed: true, selfAssessed: true)
        }
        if self.isB2B(document.buyer) {
            if seller == buyer && sellerEU { return self.domestic(in: seller) }
            if buyerEU {
                return Decision(
                    treatment: .reverseCharge, jurisdiction: buyer, rule: "eu.article-196",
                    note: "Reverse charge: Article 196 of \(directive)", taxed: false)
            }
            guard sellerEU else { return self.outside(document) }
            return Decision(
                treatment: .outsideScope, jurisdiction: seller, rule: "eu.article-44",
                note: "Outside the scope of EU VAT: place of supply \(buyer) (Article 44 of \(directive))", taxed: false)
        }
        if line.product.isElectronic {
            if !sellerEU {
                guard buyerEU else { return self.outside(document) }
                return Decision(
                    treatment: .destinationNonUnion, jurisdiction: buyer, rule: "eu.article-358a",
                    note: "Electronic service taxed in \(buyer) (Article 58 of \(directive)), declared under the non-Union scheme", taxed: true)
            }
            if seller == buyer { return self.domestic(in: seller) }
            if !buyerEU {
                return Decision(
                    treatment: .outsideScope, jurisdiction: seller, rule: "eu.article-58",
                    note: "Outside the scope of EU VAT: electronic service consumed in \(buyer) (Article 58 of \(directive))", taxed: false)
            }
            if ossDestination {
                return Decision(
                    treatment: .destinationOSS, jurisdiction: buyer, rule: "eu.article-58",
                    note: "Electronic service taxed in \(buyer) (Article 58 of \(directive)), declared under the One-Stop Shop", taxed: true)
            }
            return Decision(
                treatment: .originBelowThreshold, jurisdiction: seller, rule: "eu.article-59c",
                note: "Taxed in \(seller): EU-wide cross-border sales to consumers within EUR 10,000 (Article 59c of \(directive))", taxed: true)
        }
        // Other services to consumers are taxed where the supplier is established (Article 45).
        guard sellerEU else { return self.outside(document) }
        return seller == buyer ? self.domestic(in: seller) : Decision(
            treatment: .domestic, jurisdiction: seller, rule: "eu.article-45", note: nil, taxed: true)
    }

    // MARK: GST outside the EU

    /// Where a country with its own GST (Australia, New Zealand, Singapore) decides the line: its domestic supplies;
    /// its exports of goods, and of services to customers outside it and outside the EU (whose VAT, when the customer
    /// is there, the EU rules decide); goods a tenant imports into it; services from abroad to its consumers, which the
    /// non-resident supplier charges (offshore supplies), and to its businesses, which a fully creditable business does
    /// not reverse-charge. Nil leaves the line to the EU rules.
    private func decideNational(_ line: TaxLineInput, document: TaxDocumentInput, from: String, to: String) -> Decision? {
        let seller = document.seller.address.country, buyer = document.buyer.address.country
        func name(_ country: String) -> String { self.rules.countries[country]?.name ?? country }
        if line.product.isGoods {
            if from == to && self.isNational(from) { return self.domestic(in: from, rule: "gst.domestic") }
            if self.isNational(from) {
                return Decision(
                    treatment: .export, jurisdiction: from, rule: "gst.export",
                    note: "Export of goods from \(name(from)): zero-rated (GST-free)", taxed: false)
            }
            if self.isNational(to) && (!document.type.tenantSells || !self.isEU(from, goods: true)) {
                return Decision(
                    treatment: .importation, jurisdiction: to, rule: "gst.import",
                    note: "Import into \(name(to)): GST is collected at importation", taxed: false)
            }
            return nil
        }
        if seller == buyer && self.isNational(seller) { return self.domestic(in: seller, rule: "gst.domestic") }
        let consumer = !document.buyer.isBusiness
        // A consumer in another GST country is charged that country's GST, and one in the EU buying electronic services
        // that member state's VAT (the non-Union scheme); every other service abroad is an export.
        let taxedAbroad = consumer && (self.isNational(buyer) || self.isEU(buyer, goods: false) && line.product.isElectronic)
        if self.isNational(seller) && seller != buyer && !taxedAbroad {
            return Decision(
                treatment: .export, jurisdiction: seller, rule: "gst.export-of-services",
                note: "Services supplied to a customer outside \(name(seller)): zero-rated (GST-free)", taxed: false)
        }
        guard self.isNational(buyer) else { return nil }
        if !consumer {
            return Decision(
                treatment: .outsideScope, jurisdiction: buyer, rule: "gst.imported-services-b2b",
                note: "No GST charged: a business customer in \(name(buyer)) reverse-charges it only if not entitled to full input tax credits",
                taxed: false)
        }
        // A member state's supplier of services other than electronic ones charges its own VAT (Article 45).
        if self.isEU(seller, goods: false) && !line.product.isElectronic { return nil }
        return Decision(
            treatment: .offshoreSupply, jurisdiction: buyer, rule: "gst.offshore-supply",
            note: "\(name(buyer)) GST charged by a non-resident supplier on services to a consumer there", taxed: true)
    }

    private func domestic(in country: String, rule: String) -> Decision {
        Decision(treatment: .domestic, jurisdiction: country, rule: rule, note: nil, taxed: true)
    }

    private func domestic(in country: String) -> Decision {
        Decision(treatment: .domestic, jurisdiction: country, rule: "eu.domestic", note: nil, taxed: true)
    }

    private func outside(_ document: TaxDocumentInput) -> Decision {
        Decision(
            treatment: .outsideScope, jurisdiction: document.seller.address.country, rule: "outside-scope",
            note: "Outside the scope of the tax tables: neither the place of supply nor the parties are in a jurisdiction covered", taxed: false)
    }

    // MARK: US

    private func decideUS(
        _ line: TaxLineInput, document: TaxDocumentInput, to: TaxAddress, day: CalendarDay, messages: inout [String]
    ) throws -> Decision {
        guard let code = to.region, let state = self.rules.states[code] else {
            throw AppError.invalid(code: "unknown-state", "line \(line.number): a US address needs its state (region), a USPS code such as CA")
        }
        let key = "US-\(code)"
        guard state.hasSalesTax else {
            return Decision(treatment: .noSalesTax, jurisdiction: key, rule: "us.no-sales-tax", note: "\(state.name) levies no state sales tax", taxed: false)
        }
        if document.type.tenantSells, !self.hasNexus(in: state, on: day) {
            return Decision(
                treatment: .noNexus, jurisdiction: key, rule: "us.no-nexus",
                note: "No sales tax collected: the seller has no nexus in \(state.name)", taxed: false)
        }
        if let customer = document.buyer.customerId {
            let held = self.context.certificates.filter { $0.customerId == customer && ($0.jurisdictions.contains(key) || $0.jurisdictions.contains("*")) }
            if let valid = held.first(where: { $0.covers(key, on: day) }) {
                let until = valid.expiresOn.map { ", valid until \($0)" } ?? ""
                return Decision(
                    treatment: .exemptionCertificate, jurisdiction: key, rule: "us.exemption-certificate",
                    note: "Exempt: certificate \(valid.number) (\(valid.reason))\(until)", taxed: false)
            }
            for certificate in held where !certificate.revoked {
                if let expiry = certificate.expiresOn, expiry < day {
                    messages.append("line \(line.number): exemption certificate \(certificate.number) expired on \(expiry); the sale is taxed")
                }
            }
        }
        return Decision(treatment: .salesTax, jurisdiction: key, rule: "us.sales-tax", note: nil, taxed: true)
    }

    /// Whether the tenant must collect in `state` on `day`: a physical presence, or sales passing the state's threshold
    /// in the previous calendar year or in this one before the document.
    func hasNexus(in state: RuleBook.State, on day: CalendarDay) -> Bool {
        if self.context.profile.usPhysicalPresence.contains(state.code) { return true }
        guard let rule = state.nexusRule(on: day) else { return false }
        let tallies = [self.context.usPreviousYear[state.code], self.context.usCurrentYear[state.code]].compactMap { $0 }
        return tallies.contains { tally in
            let bySales = tally.salesMinor >= rule.salesMinor
            guard let count = rule.transactions else { return bySales }
            let byCount = tally.transactions >= count
            return rule.both ? bySales && byCount : bySales || byCount
        }
    }
}
