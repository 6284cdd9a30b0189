import FinFlowCore

/// What a calculation knows besides the document: the rules, the tenant's profile, what it has sold so far (for the
/// OSS threshold and US nexus), the buyer's certificates and VAT number status, and local US rates.
struct TaxContext: Sendable {
    var rules: RuleBook
    var profile: TaxProfile
    /// EU cross-border sales to consumers (net, EUR cents) committed in the previous calendar year, and in the
    /// document's year before it.
    var ossPreviousYearEURMinor: Int64 = 0
    var ossCurrentYearEURMinor: Int64 = 0
    /// Sales into each US state committed in the previous calendar year and in the current year before this document.
    var usPreviousYear: [String: StateTally] = [:]
    var usCurrentYear: [String: StateTally] = [:]
    /// The buyer's exemption certificates.
    var certificates: [ExemptionCertificate] = []
    /// What is known of the buyer's VAT number.
    var buyerVATNumber: VATNumberStatus?
    /// The tenant's local US rates for the states the document ships to.
    var localRates: [LocalRate] = []

    /// Sales and transactions into one US state in one year.
    struct StateTally: Sendable, Equatable {
        var salesMinor: Int64
        var transactions: Int
    }
}

/// The tenant's standing as a taxpayer, which the rules read.
struct TaxProfile: Sendable, Codable, Equatable {
    /// Apply the destination rate to EU cross-border sales to consumers from the first euro (Article 59c(3)).
    var ossDestinationAlways: Bool = false
    /// US states where the tenant has a physical presence (nexus whatever its sales).
    var usPhysicalPresence: [String] = []
    /// Round every jurisdiction's tax per `line` or per `document`, instead of each jurisdiction's own practice.
    var rounding: String?
    /// The tenant's own EU VAT number: VIES issues consultation numbers to a requester that names one.
    var vatNumber: String?

    static let `default` = TaxProfile()
}

/// A buyer's certificate exempting its purchases in some jurisdictions (resale, non-profit, government, …).
struct ExemptionCertificate: Sendable, Equatable {
    var id: String
    var customerId: String
    var number: String
    /// `US-TX`, `DE`, or `*` for every jurisdiction.
    var jurisdictions: [String]
    var reason: String
    var validFrom: CalendarDay
    var expiresOn: CalendarDay?
    var revoked: Bool

    /// Whether it covers `jurisdiction` on `day`.
    func covers(_ jurisdiction: String, on day: CalendarDay) -> Bool {
        !self.revoked && (self.jurisdictions.contains("*") || self.jurisdictions.contains(jurisdiction)) && self.validFrom <= day
            && (self.expiresOn.map { day <= $0 } ?? true)
    }
}

/// What is known of a VAT number: its form and check digits, and what VIES said.
enum VATNumberStatus: Sendable, Equatable {
    /// VIES confirmed it (with the consultation number, when VIES gave one).
    case valid(consultation: String?)
    /// Its form or check digits are wrong, or VIES says it is not registered.
    case invalid(reason: String)
    /// Its form and check digits are right but VIES could not answer: not confirmed, never invalid.
    case notConfirmed(reason: String)

    /// Whether a calculation treats the buyer as a VAT-registered business.
    var allowsB2B: Bool {
        if case .invalid = self { return false }
        return true
    }
}

/// A local US rate loaded by the tenant: a county, city or special district's rate over a range of ZIP codes.
struct LocalRate: Sendable, Codable, Equatable {
    var id: String
    var state: String
    /// `county`, `city` or `district`.
    var level: String
    var name: String
    var zipFrom: Int
    var zipTo: Int
    var rate: TaxRate
    var period: Period
}
