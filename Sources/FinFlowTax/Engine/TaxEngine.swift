import FinFlowCore

/// The calculation: where each line is taxed and why (EU place of supply, US nexus and sourcing), at which rate on the
/// document's date, and the rounding each jurisdiction asks for. Pure: everything it reads is in the document and
/// the context, so the same inputs always give the same answer.
struct TaxEngine: Sendable {
    /// The EU-wide threshold for cross-border sales to consumers (Article 59c): EUR 10,000, in cents.
    static let ossThresholdEURMinor: Int64 = 1_000_000
    static let directive = "Directive 2006/112/EC"

    let context: TaxContext
    var rules: RuleBook { self.context.rules }

    /// A line's treatment before rates: where it is taxed, how and why.
    struct Decision {
        var treatment: Treatment
        /// The jurisdiction whose rates apply (or whose return reports the line).
        var jurisdiction: String
        var rule: String
        var note: String?
        /// Whether a rate applies (false: the line is reported at 0 under `jurisdiction`).
        var taxed: Bool
        var selfAssessed: Bool = false
    }

    /// The whole document's answer.
    func calculate(_ document: TaxDocumentInput) throws -> TaxResult {
        guard let day = CalendarDay(document.date) else { throw AppError.invalid(code: "invalid-date", "date must be YYYY-MM-DD") }
        guard day >= self.rules.rulesFrom else {
            throw AppError.invalid(code: "no-tax-rules", "the rules start on \(self.rules.rulesFrom); a document dated \(day) cannot be calculated")
        }
        guard let currency = Currency(code: document.currency), let exponent = currency.exponent else {
            throw AppError.invalid(code: "invalid-currency", "currency must be an ISO 4217 code with minor units")
        }
        var messages: [String] = []
        let oss = try self.ossDestination(document, day: day, exponent: exponent, messages: &messages)
        var pending: [(line: TaxLineInput, decision: Decision, components: [PendingComponent])] = []
        var usSales: [String: Int64] = [:]
        for line in document.lines {
            let decision = try self.decide(line, in: document, day: day, ossDestination: oss.destination, messages: &messages)
            if decision.jurisdiction.hasPrefix("US-") {
                let state = String(decision.jurisdiction.dropFirst(3))
                usSales[state, default: 0] = try MinorUnits.add(usSales[state, default: 0], line.amountMinor)
            }
            pending.append((line, decision, try self.components(line, decision, document: document, day: day)))
        }
        let rounded = self.round(pending.map(\.components))
        var lines: [LineResult] = []
        for (index, entry) in pending.enumerated() {
            let components = rounded[index]
            var tax: Int64 = 0, selfAssessed: Int64 = 0
            for component in components {
                if component.selfAssessed { selfAssessed = try MinorUnits.add(selfAssessed, component.taxMinor) }
                else { tax = try MinorUnits.add(tax, component.taxMinor) }
            }
            lines.append(LineResult(
                number: entry.line.number, amountMinor: entry.line.amountMinor, product: entry.line.product, treatment: entry.decision.treatment,
                placeOfSupply: entry.decision.jurisdiction, rule: entry.decision.rule, note: entry.decision.note, taxMinor: tax,
                selfAssessedTaxMinor: selfAssessed, components: components))
        }
        var net: Int64 = 0, tax: Int64 = 0, selfAssessed: Int64 = 0
        for line in lines {
            net = try MinorUnits.add(net, line.amountMinor)
            tax = try MinorUnits.add(tax, line.taxMinor)
            selfAssessed = try MinorUnits.add(selfAssessed, line.selfAssessedTaxMinor)
        }
        var rounding: [String: String] = [:]
        for component in rounded.joined() { rounding[component.jurisdiction] = self.roundsPerDocument(component.jurisdiction) ? "document" : "line" }
        return TaxResult(
            lines: lines, summary: try Self.summarise(lines), netMinor: net, taxMinor: tax, selfAssessedTaxMinor: selfAssessed,
            totalMinor: try MinorUnits.add(net, tax), rounding: rounding, messages: messages, ossCountedEURMinor: oss.countedEURMinor,
            usSalesByState: usSales)
    }

    // MARK: threshold

    /// Whether this document's EU cross-border sales to consumers are taxed at destination, and what it adds to the
    /// threshold's count.
    private func ossDestination(
        _ document: TaxDocumentInput, day: CalendarDay, exponent: Int, messages: inout [String]
    ) throws -> (destination: Bool, countedEURMinor: Int64) {
        guard document.type.tenantSells, self.isEU(document.seller.address.country, goods: true) else { return (false, 0) }
        var counted: Int64 = 0
        for line in document.lines where self.countsTowardsThreshold(line, document: document) {
            counted = try MinorUnits.add(counted, line.amountMinor)
        }
        guard counted > 0 else { return (self.context.profile.ossDestinationAlways, 0) }
        let rate: ExchangeRate
        if document.currency == "EUR" { rate = .one } else if let given = document.eurRate { rate = given } else {
            throw AppError.invalid(
                code: "eur-rate-required",
                "eurRate is required: the document sells across EU borders to consumers in \(document.currency), and the EUR 10,000 threshold is counted in EUR")
        }
        let countedEUR = rate.convert(counted, fromExponent: exponent, toExponent: 2)
        if self.context.profile.ossDestinationAlways { return (true, countedEUR) }
        let previous = self.context.ossPreviousYearEURMinor
        let current = try MinorUnits.add(self.context.ossCurrentYearEURMinor, countedEUR)
        if Self.passesThreshold(previous: previous, current: 0) { return (true, countedEUR) }
        if Self.passesThreshold(previous: 0, current: current) {
            messages.append(
                "EU cross-border sales to consumers pass EUR 10,000 in \(day.year) with this document: from it on they are taxed where they are consumed (Article 59c of \(Self.directive))")
            return (true, countedEUR)
        }
        return (false, countedEUR)
    }

    /// Whether `line` is an EU distance sale of goods or an electronic service to a consumer in another member state.
    private func countsTowardsThreshold(_ line: TaxLineInput, document: TaxDocumentInput) -> Bool {
        guard !self.isB2B(document.buyer) else { return false }
        if line.product.isGoods {
            let from = (line.shipFrom ?? document.seller.address).country
            let to = (line.shipTo ?? document.buyer.address).country
            return from != to && self.isEU(from, goods: true) && self.isEU(to, goods: true)
        }
        let seller = document.seller.address.country
        let buyer = document.buyer.address.country
        return line.product.isElectronic && seller != buyer && self.isEU(seller, goods: false) && self.isEU(buyer, goods: false)
    }

    /// Whether EU-wide cross-border sales to consumers of the previous or the current calendar year pass EUR 10,000
    /// (reaching it exactly is not passing it).
    static func passesThreshold(previous: Int64, current: Int64) -> Bool {
        previous > Self.ossThresholdEURMinor || current > Self.ossThresholdEURMinor
    }

    // MARK: helpers

    /// Whether `country` applies EU VAT to this kind of supply (Northern Ireland: goods only).
    func isEU(_ country: String, goods: Bool) -> Bool {
        guard let found = self.rules.countries[country], found.union else { return false }
        return goods || !found.goodsOnly
    }

    /// Whether `country` has a VAT or GST of its own outside the EU (Australia, New Zealand, Singapore).
    func isNational(_ country: String) -> Bool {
        self.rules.countries[country].map { !$0.union } ?? false
    }

    /// Whether the buyer is a business for VAT: a business with a VAT number not found invalid (an unconfirmed one is
    /// not invalid), or a business outside the EU, where no EU number exists.
    func isB2B(_ buyer: TaxParty) -> Bool {
        guard buyer.isBusiness else { return false }
        if !self.isEU(buyer.address.country, goods: true) { return true }
        guard buyer.vatNumber != nil else { return false }
        return self.context.buyerVATNumber?.allowsB2B ?? true
    }

    /// Whether `jurisdiction`'s tax is rounded once per document (EU practice: VAT per rate on the invoice total,
    /// Article 226(10)) rather than per line (US practice).
    func roundsPerDocument(_ jurisdiction: String) -> Bool {
        if let chosen = self.context.profile.rounding { return chosen == "document" }
        return !jurisdiction.hasPrefix("US-")
    }
}
