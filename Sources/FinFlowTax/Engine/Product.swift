/// What is sold, as the rules know it: each code decides goods or services (and so the place-of-supply rule) and,
/// per jurisdiction, the rate category.
enum ProductCode: String, CaseIterable, Sendable, Codable {
    case goods
    case books
    case food
    case medicines
    case services
    case digitalServices = "digital-services"
    case eBooks = "e-books"
    case financialServices = "financial-services"

    /// Whether a supply of it is a supply of goods (shipped, so its place is where the transport ends or starts).
    var isGoods: Bool {
        switch self {
        case .goods, .books, .food, .medicines: true
        case .services, .digitalServices, .eBooks, .financialServices: false
        }
    }

    /// Whether it is an electronically supplied service (Article 58 of Directive 2006/112/EC: taxed where the consumer
    /// is, and counted towards the EUR 10,000 threshold).
    var isElectronic: Bool { self == .digitalServices || self == .eBooks }
}

/// A rate category of a jurisdiction: which of its rates applies.
enum RateCategory: String, CaseIterable, Sendable, Codable {
    case standard
    case reduced
    case secondReduced = "second-reduced"
    case superReduced = "super-reduced"
    case parking
    /// Taxable at 0 %: the supply carries the right to deduct input tax.
    case zero
    /// Not taxed, without the right to deduct (EU exemptions of Articles 132 and 135; US non-taxable products).
    case exempt
}

/// The kind of tax a jurisdiction levies.
enum TaxType: String, Sendable, Codable {
    case vat
    /// A value-added tax under the name of goods and services tax (Australia, New Zealand, Singapore).
    case gst
    case sales
    /// Tax the buyer accounts for itself: US use tax, EU VAT self-assessed on an acquisition or reverse charge.
    case use
}
