import FinFlowCore

extension TaxEngine {
    /// A jurisdiction's part of a line before rounding: the exact tax as a numerator over `TaxRate.scale`.
    struct PendingComponent {
        var component: TaxComponent
        var exactTax: Int128
    }

    /// The components of `line` under `decision`: one per jurisdiction that taxes it (a US line: the state and each
    /// locality), or one at 0 naming where the untaxed line is reported.
    func components(_ line: TaxLineInput, _ decision: Decision, document: TaxDocumentInput, day: CalendarDay) throws -> [PendingComponent] {
        let key = decision.jurisdiction
        let us = key.hasPrefix("US-")
        let name = us ? self.rules.states[String(key.dropFirst(3))]?.name ?? key : self.rules.countries[key]?.name ?? key
        let taxType: TaxType = decision.selfAssessed ? .use : (us ? .sales : self.rules.countries[key]?.taxType ?? .vat)
        func untaxed(_ category: RateCategory, rule: String) -> [PendingComponent] {
            [PendingComponent(component: TaxComponent(
                jurisdiction: key, name: name, level: us ? "state" : "country", taxType: taxType, category: category, rate: .zero,
                taxableMinor: line.amountMinor, taxMinor: 0, selfAssessed: decision.selfAssessed, ruleId: rule), exactTax: 0)]
        }
        guard decision.taxed else {
            let category: RateCategory = [.export, .intraCommunitySupply].contains(decision.treatment) ? .zero : .exempt
            return untaxed(category, rule: decision.rule)
        }
        guard let productRule = self.rules.category(of: line.product, in: key, fallback: us ? "US-*" : "EU-*", on: day) else {
            throw AppError.invalid(code: "no-tax-rules", "no rule in force on \(day) says how \(line.product.rawValue) is taxed in \(key)")
        }
        if productRule.category == .exempt || productRule.category == .zero {
            return untaxed(productRule.category, rule: productRule.ruleId)
        }
        let rate: TaxRate, ruleId: String
        if let own = productRule.rate {
            (rate, ruleId) = (own, productRule.ruleId)
        } else {
            guard let rule = self.rules.rate(key, productRule.category, on: day) else {
                throw AppError.invalid(code: "no-tax-rules", "no \(productRule.category.rawValue) rate of \(key) is in force on \(day)")
            }
            (rate, ruleId) = (rule.rate, rule.ruleId)
        }
        var result = [PendingComponent(
            component: TaxComponent(
                jurisdiction: key, name: name, level: us ? "state" : "country", taxType: taxType, category: productRule.category, rate: rate,
                taxableMinor: line.amountMinor, taxMinor: 0, selfAssessed: decision.selfAssessed, ruleId: ruleId),
            exactTax: rate.exactTax(on: line.amountMinor))]
        if us { result += self.localComponents(line, document: document, state: String(key.dropFirst(3)), category: productRule.category, day: day) }
        return result
    }

    /// The tenant's county, city and district rates for the line's sourcing address: the ship-from address for an
    /// intrastate sale in an origin-sourced state, the ship-to address otherwise.
    private func localComponents(
        _ line: TaxLineInput, document: TaxDocumentInput, state: String, category: RateCategory, day: CalendarDay
    ) -> [PendingComponent] {
        let from = line.shipFrom ?? document.seller.address
        let to = line.shipTo ?? document.buyer.address
        let origin = (self.rules.states[state]?.originSourced ?? false) && from.country == "US" && from.region == state
        guard let zip = (origin ? from : to).zip5 else { return [] }
        return self.context.localRates
            .filter { $0.state == state && $0.zipFrom <= zip && zip <= $0.zipTo && $0.period.contains(day) }
            .sorted { ($0.level, $0.name) < ($1.level, $1.name) }
            .map { local in
                PendingComponent(
                    component: TaxComponent(
                        jurisdiction: "US-\(state)/\(local.level)/\(local.name)", name: local.name, level: local.level, taxType: .sales,
                        category: category, rate: local.rate, taxableMinor: line.amountMinor, taxMinor: 0, selfAssessed: false,
                        ruleId: "local:\(local.id)"),
                    exactTax: local.rate.exactTax(on: line.amountMinor))
            }
    }

    /// Rounds every component: per line, or per document, where each jurisdiction and rate's exact total is rounded once
    /// and shared out over its lines by largest remainder, so the lines add up to the rounded total.
    func round(_ pending: [[PendingComponent]]) -> [[TaxComponent]] {
        var result = pending.map { $0.map(\.component) }
        struct Key: Hashable { let jurisdiction: String; let rate: TaxRate; let selfAssessed: Bool }
        var groups: [Key: [(line: Int, index: Int, exact: Int128)]] = [:]
        for (line, components) in pending.enumerated() {
            for (index, entry) in components.enumerated() {
                if self.roundsPerDocument(entry.component.jurisdiction) {
                    let key = Key(jurisdiction: entry.component.jurisdiction, rate: entry.component.rate, selfAssessed: entry.component.selfAssessed)
                    groups[key, default: []].append((line, index, entry.exactTax))
                } else {
                    result[line][index].taxMinor = Int64(clamping: TaxRounding.round(entry.exactTax))
                }
            }
        }
        let scale = Int128(TaxRate.scale)
        for members in groups.values {
            let total = TaxRounding.round(members.reduce(Int128(0)) { $0 + $1.exact })
            var shares = members.map { (line: $0.line, index: $0.index, floor: $0.exact / scale, remainder: $0.exact % scale) }
            var left = total - shares.reduce(Int128(0)) { $0 + $1.floor }
            // Largest remainder first; equal remainders in line order, so the answer never depends on hashing.
            let order = shares.indices.sorted { (shares[$0].remainder, -shares[$0].line) > (shares[$1].remainder, -shares[$1].line) }
            for position in order where left > 0 {
                shares[position].floor += 1
                left -= 1
            }
            for share in shares { result[share.line][share.index].taxMinor = Int64(clamping: share.floor) }
        }
        return result
    }

    /// The document's tax by jurisdiction, rate and treatment, in a stable order.
    static func summarise(_ lines: [LineResult]) throws -> [SummaryRow] {
        var rows: [SummaryRow] = []
        var index: [String: Int] = [:]
        for line in lines {
            for component in line.components {
                let key = "\(component.jurisdiction)|\(component.rate)|\(component.category.rawValue)|\(line.treatment.rawValue)|\(component.selfAssessed)"
                if let at = index[key] {
                    rows[at].taxableMinor = try MinorUnits.add(rows[at].taxableMinor, component.taxableMinor)
                    rows[at].taxMinor = try MinorUnits.add(rows[at].taxMinor, component.taxMinor)
                } else {
                    index[key] = rows.count
                    rows.append(SummaryRow(
                        jurisdiction: component.jurisdiction, name: component.name, taxType: component.taxType, category: component.category,
                        rate: component.rate, treatment: line.treatment, selfAssessed: component.selfAssessed,
                        taxableMinor: component.taxableMinor, taxMinor: component.taxMinor))
                }
            }
        }
        return rows
    }
}
