import FinFlowCore
import Foundation

extension RuleBook {
    /// The EU table's file layout (`Resources/eu-vat.json`).
    private struct EUFile: Decodable {
        struct Rate: Decodable { let category: RateCategory; let rate: TaxRate; let from: String; let to: String? }
        struct Product: Decodable { let product: ProductCode; let category: RateCategory; let from: String; let to: String? }
        struct Country: Decodable { let name: String; let goodsOnly: Bool?; let tax: TaxType?; let rates: [Rate]; let products: [Product] }
        let snapshot: String
        let rulesFrom: String
        let countries: [String: Country]
    }

    /// The US table's file layout (`Resources/us-sales-tax.json`).
    private struct USFile: Decodable {
        struct Rate: Decodable { let rate: TaxRate; let from: String; let to: String? }
        struct Nexus: Decodable { let salesMinor: Int64; let transactions: Int?; let both: Bool?; let from: String; let to: String? }
        struct State: Decodable { let name: String; let noSalesTax: Bool?; let sourcing: String?; let rates: [Rate]?; let nexus: [Nexus]? }
        struct Taxability: Decodable { let product: ProductCode; let state: String; let category: RateCategory; let rate: TaxRate?; let from: String; let to: String? }
        let asOf: String
        let states: [String: State]
        let taxability: [Taxability]
    }

    /// The EU-wide defaults for product codes no member state maps: goods and services at the standard rate,
    /// financial services exempt (Article 135(1)).
    private static let euDefaults: [(ProductCode, RateCategory)] = [
        (.goods, .standard), (.services, .standard), (.digitalServices, .standard), (.financialServices, .exempt),
        (.food, .standard), (.books, .standard), (.eBooks, .standard), (.medicines, .standard),
    ]

    /// The shipped rules, read once from the module's resources. The service reads them while it starts
    /// (`TaxService`), so a build without them, or with a broken one, refuses to start instead of failing a request.
    static let shipped: RuleBook = {
        do { return try RuleBook.load(bundle: .module) } catch {
            fatalError("the shipped tax tables cannot be read: \(error)")
        }
    }()

    /// Reads the shipped tables, throwing what is wrong with them: the check a start makes before `shipped` is used.
    static func checkShipped() throws {
        _ = try RuleBook.load(bundle: .module)
    }

    /// Reads the shipped tables from `bundle`.
    static func load(bundle: Bundle) throws -> RuleBook {
        func data(_ name: String) throws -> Data {
            guard let url = bundle.url(forResource: name, withExtension: "json", subdirectory: "Resources")
                ?? bundle.url(forResource: name, withExtension: "json")
            else { throw InvariantViolation("\(name).json is missing from the tax bundle") }
            return try Data(contentsOf: url)
        }
        let eu = try JSONDecoder().decode(EUFile.self, from: try data("eu-vat"))
        let us = try JSONDecoder().decode(USFile.self, from: try data("us-sales-tax"))
        let national = try JSONDecoder().decode(EUFile.self, from: try data("national-gst"))
        return try RuleBook(eu: eu, us: us, national: national)
    }

    /// `national`: countries outside the EU with a VAT or GST of their own, in the EU table's layout.
    private init(eu: EUFile, us: USFile, national: EUFile) throws {
        func period(_ from: String, _ to: String?, _ what: String) throws -> Period {
            guard let start = CalendarDay(from), to.map({ CalendarDay($0).map { start < $0 } ?? false }) ?? true else {
                throw InvariantViolation("\(what): bad dates \(from)…\(to ?? "")")
            }
            return Period(from: start, to: to.flatMap(CalendarDay.init))
        }
        guard let rulesFrom = CalendarDay(eu.rulesFrom), national.rulesFrom == eu.rulesFrom else {
            throw InvariantViolation("eu-vat.json and national-gst.json: bad or differing rulesFrom")
        }
        var rates: [String: [RateRule]] = [:]
        var products: [String: [ProductRule]] = [:]
        var countries: [String: Country] = [:]
        let tables = eu.countries.map { ($0.key, $0.value, true) } + national.countries.map { ($0.key, $0.value, false) }
        for (code, country, union) in tables {
            guard countries[code] == nil else { throw InvariantViolation("\(code) is in two country tables") }
            countries[code] = Country(code: code, name: country.name, goodsOnly: country.goodsOnly ?? false, union: union, taxType: country.tax ?? .vat)
            let table = union ? "eu" : "national"
            for (index, rule) in country.rates.enumerated() {
                rates[code, default: []].append(RateRule(
                    jurisdiction: code, category: rule.category, rate: rule.rate,
                    period: try period(rule.from, rule.to, "\(code) rate"), ruleId: "shipped:\(table):\(code):rate:\(index)"))
            }
            for (index, rule) in country.products.enumerated() {
                products[code, default: []].append(ProductRule(
                    jurisdiction: code, product: rule.product, category: rule.category, rate: nil,
                    period: try period(rule.from, rule.to, "\(code) product"), ruleId: "shipped:\(table):\(code):product:\(index)"))
            }
            // Zero-rated and exempt supplies have a rate of nothing in every jurisdiction.
            for category in [RateCategory.zero, .exempt] {
                rates[code, default: []].append(RateRule(
                    jurisdiction: code, category: category, rate: .zero, period: Period(from: rulesFrom, to: nil),
                    ruleId: "shipped:\(table):\(code):\(category.rawValue)"))
            }
        }
        for (product, category) in Self.euDefaults {
            products["EU-*", default: []].append(ProductRule(
                jurisdiction: "EU-*", product: product, category: category, rate: nil, period: Period(from: rulesFrom, to: nil),
                ruleId: "shipped:eu:default:\(product.rawValue)"))
        }
        var states: [String: State] = [:]
        for (code, state) in us.states {
            let key = "US-\(code)"
            let nexus = try (state.nexus ?? []).map {
                NexusRule(salesMinor: $0.salesMinor, transactions: $0.transactions, both: $0.both ?? false, period: try period($0.from, $0.to, "\(code) nexus"))
            }
            states[code] = State(
                code: code, name: state.name, hasSalesTax: !(state.noSalesTax ?? false), originSourced: state.sourcing == "origin", nexus: nexus)
            for (index, rule) in (state.rates ?? []).enumerated() {
                rates[key, default: []].append(RateRule(
                    jurisdiction: key, category: .standard, rate: rule.rate, period: try period(rule.from, rule.to, "\(code) rate"),
                    ruleId: "shipped:us:\(code):rate:\(index)"))
            }
            for category in [RateCategory.zero, .exempt] {
                rates[key, default: []].append(RateRule(
                    jurisdiction: key, category: category, rate: .zero, period: Period(from: rulesFrom, to: nil),
                    ruleId: "shipped:us:\(code):\(category.rawValue)"))
            }
        }
        for (index, rule) in us.taxability.enumerated() {
            let key = rule.state == "*" ? "US-*" : "US-\(rule.state)"
            products[key, default: []].append(ProductRule(
                jurisdiction: key, product: rule.product, category: rule.category, rate: rule.rate,
                period: try period(rule.from, rule.to, "\(rule.state) taxability"), ruleId: "shipped:us:taxability:\(index)"))
        }
        self.init(
            rulesFrom: rulesFrom, euSnapshot: eu.snapshot, usAsOf: us.asOf, nationalAsOf: national.snapshot, countries: countries, states: states,
            rates: rates, products: products)
    }
}
