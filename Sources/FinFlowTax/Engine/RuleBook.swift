import FinFlowCore
import Foundation

/// Every rule a calculation may apply, with their effective dates: the shipped EU and US tables, and a tenant's own
/// rules above them. A tenant rule in force wins over a shipped one; among rules of one origin, the latest start wins,
/// so a dated change (a rate cut for six months) needs only the new rule.
struct RuleBook: Sendable {
    /// A rate of a category in a jurisdiction (`DE`, `US-CA`).
    struct RateRule: Sendable {
        let jurisdiction: String
        let category: RateCategory
        let rate: TaxRate
        let period: Period
        /// `shipped:…` or the tenant rule's id.
        let ruleId: String
        var isTenant: Bool { !self.ruleId.hasPrefix("shipped:") }
    }

    /// The category of a product in a jurisdiction (`DE`, `US-TX`, or `EU-*` / `US-*` for the defaults); a rate given
    /// here (a US reduced food rate) replaces the category's.
    struct ProductRule: Sendable {
        let jurisdiction: String
        let product: ProductCode
        let category: RateCategory
        let rate: TaxRate?
        let period: Period
        let ruleId: String
        var isTenant: Bool { !self.ruleId.hasPrefix("shipped:") }
    }

    /// A state's economic-nexus threshold.
    struct NexusRule: Sendable {
        let salesMinor: Int64
        let transactions: Int?
        /// Whether both figures must be passed (New York, Connecticut), not either.
        let both: Bool
        let period: Period
    }

    /// What the tables know of a US state.
    struct State: Sendable {
        let code: String
        let name: String
        let hasSalesTax: Bool
        /// Whether an intrastate sale is taxed at the seller's location.
        let originSourced: Bool
        let nexus: [NexusRule]

        /// The threshold in force on `day`.
        func nexusRule(on day: CalendarDay) -> NexusRule? { self.nexus.last { $0.period.contains(day) } }
    }

    /// What the tables know of an EU VAT jurisdiction.
    struct Country: Sendable {
        let code: String
        let name: String
        /// Northern Ireland: EU VAT rules for goods only.
        let goodsOnly: Bool
        /// A member state (or Northern Ireland); else a country with a VAT or GST of its own (Australia, Singapore…).
        let union: Bool
        /// What the country's tax is called: `vat` or `gst`.
        let taxType: TaxType
    }

    /// The first day the shipped rules cover.
    let rulesFrom: CalendarDay
    /// The EU table's snapshot day, the US table's, and the GST table's.
    let euSnapshot: String
    let usAsOf: String
    let nationalAsOf: String
    var countries: [String: Country]
    var states: [String: State]
    var rates: [String: [RateRule]]
    var products: [String: [ProductRule]]

    /// The rule book with `tenantRates` and `tenantProducts` above the shipped rules.
    func adding(rates tenantRates: [RateRule], products tenantProducts: [ProductRule]) -> RuleBook {
        var book = self
        for rule in tenantRates { book.rates[rule.jurisdiction, default: []].append(rule) }
        for rule in tenantProducts { book.products[rule.jurisdiction, default: []].append(rule) }
        return book
    }

    /// The rate of `category` in `jurisdiction` on `day`.
    func rate(_ jurisdiction: String, _ category: RateCategory, on day: CalendarDay) -> RateRule? {
        Self.winner(self.rates[jurisdiction]?.filter { $0.category == category && $0.period.contains(day) }, isTenant: \.isTenant, period: \.period)
    }

    /// The category of `product` in `jurisdiction` on `day`, falling back to `fallback` (`EU-*`, `US-*`).
    func category(of product: ProductCode, in jurisdiction: String, fallback: String, on day: CalendarDay) -> ProductRule? {
        for key in [jurisdiction, fallback] {
            let candidates = self.products[key]?.filter { $0.product == product && $0.period.contains(day) }
            if let found = Self.winner(candidates, isTenant: \.isTenant, period: \.period) { return found }
        }
        return nil
    }

    /// A tenant's rule before a shipped one; then the latest start.
    private static func winner<Rule>(_ rules: [Rule]?, isTenant: (Rule) -> Bool, period: (Rule) -> Period) -> Rule? {
        rules?.max { a, b in
            let (ta, tb) = (isTenant(a), isTenant(b))
            if ta != tb { return !ta }
            return period(a).from < period(b).from
        }
    }

    /// Every rate rule of `jurisdiction` (for listing).
    func rateRules(of jurisdiction: String) -> [RateRule] { self.rates[jurisdiction] ?? [] }

    /// Every product rule of `jurisdiction` (for listing).
    func productRules(of jurisdiction: String) -> [ProductRule] { self.products[jurisdiction] ?? [] }
}
