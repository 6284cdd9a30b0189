import FinFlowCore
import Foundation
import OpenAPIRuntime

extension TaxAPI {
    func getProfile(_ input: Operations.GetProfile.Input) async throws -> Operations.GetProfile.Output {
        let principal = try RequestScope.require("tax:read")
        return .ok(.init(body: .json(Self.dto(try await self.desk.profile(tenantId: principal.tenantId)))))
    }

    func setProfile(_ input: Operations.SetProfile.Input) async throws -> Operations.SetProfile.Output {
        let principal = try RequestScope.require("tax:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let states = (body.usPhysicalPresence ?? []).map { $0.uppercased() }
        validator.check(states.count <= 60, "usPhysicalPresence", "lists at most 60 states")
        for (index, state) in states.prefix(60).enumerated() {
            validator.check(RuleBook.shipped.states[state] != nil, "usPhysicalPresence[\(index)]", "is not a US state's USPS code")
        }
        let profile = TaxProfile(
            ossDestinationAlways: body.ossDestinationAlways ?? false, usPhysicalPresence: Array(Set(states)).sorted(),
            rounding: body.rounding?.rawValue, vatNumber: nil)
        try validator.throwIfInvalid()
        try await self.desk.setProfile(profile, principal: principal)
        return .ok(.init(body: .json(Self.dto(profile))))
    }

    static func dto(_ profile: TaxProfile) -> Components.Schemas.Profile {
        .init(
            ossDestinationAlways: profile.ossDestinationAlways, usPhysicalPresence: profile.usPhysicalPresence,
            rounding: profile.rounding.flatMap { .init(rawValue: $0) })
    }

    func listRules(_ input: Operations.ListRules.Input) async throws -> Operations.ListRules.Output {
        let principal = try RequestScope.require("tax:read")
        var validator = Validator()
        let jurisdiction = input.query.jurisdiction.uppercased()
        validator.check(TaxDesk.knownJurisdiction(jurisdiction), "jurisdiction", "is not a jurisdiction of the tables: an EU country (XI for Northern Ireland), AU, NZ, SG, or a US state as US-CA")
        let day = input.query.date.map { CalendarDay($0) } ?? self.desk.today
        validator.check(day != nil, "date", "must be a date YYYY-MM-DD")
        try validator.throwIfInvalid()
        let rules = try await self.desk.rules(tenantId: principal.tenantId, jurisdiction: jurisdiction, day: day!)
        let book = RuleBook.shipped
        let source = jurisdiction.hasPrefix("US-")
            ? "US state tables as of \(book.usAsOf) (Sources/FinFlowTax/Resources/SOURCE.md), and the tenant's rules"
            : book.countries[jurisdiction]?.union == false
            ? "GST tables compiled from the statutes as of \(book.nationalAsOf) (Sources/FinFlowTax/Resources/SOURCE.md), and the tenant's rules"
            : "EU VAT tables, snapshot \(book.euSnapshot) of the Commission's TEDB (Sources/FinFlowTax/Resources/SOURCE.md), and the tenant's rules"
        return .ok(.init(body: .json(.init(jurisdiction: jurisdiction, date: day!.description, source: source, items: rules.map(Self.dto)))))
    }

    static func dto(_ rule: ListedRule) -> Components.Schemas.Rule {
        .init(
            id: rule.id, kind: rule.kind == "rate" ? .rate : .product, jurisdiction: rule.jurisdiction,
            category: .init(rawValue: rule.category.rawValue) ?? .standard, productCode: rule.product.flatMap { .init(rawValue: $0.rawValue) },
            rate: rule.rate?.description, from: rule.period.from.description, to: rule.period.to?.description,
            origin: rule.tenant ? .tenant : .shipped, inForce: rule.inForce, note: rule.note)
    }

    func addRule(_ input: Operations.AddRule.Input) async throws -> Operations.AddRule.Output {
        let principal = try RequestScope.require("tax:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let jurisdiction = body.jurisdiction.uppercased()
        let isRate = body.kind == .rate
        validator.check(TaxDesk.knownJurisdiction(jurisdiction), "jurisdiction", "is not a jurisdiction of the tables: an EU country (XI), AU, NZ, SG, or a US state as US-CA")
        let category = RateCategory(rawValue: body.category.rawValue) ?? .standard
        var rate: TaxRate?
        if let text = body.rate {
            rate = TaxRate(percent: text)
            validator.check(rate != nil, "rate", "must be a percentage 0–100 with at most five decimals")
        }
        if isRate {
            validator.check(body.rate != nil, "rate", "a rate rule needs its rate")
            validator.check(body.productCode == nil, "productCode", "a rate rule is for a category; a product's category is a product rule")
            validator.check(![.zero, .exempt].contains(category), "category", "zero and exempt have no rate to set")
        } else {
            validator.check(body.productCode != nil, "productCode", "a product rule names its product code")
        }
        let from = CalendarDay(body.from)
        validator.check(from.map { $0 >= RuleBook.shipped.rulesFrom } ?? false, "from", "must be a date from \(RuleBook.shipped.rulesFrom) on")
        var to: CalendarDay?
        if let text = body.to {
            to = CalendarDay(text)
            validator.check(to.map { day in from.map { day > $0 } ?? true } ?? false, "to", "must be a date after from")
        }
        validator.check((body.note?.count ?? 0) <= 500, "note", "is longer than 500 characters")
        try validator.throwIfInvalid()
        let row = try await self.desk.addRule(
            RuleDraft(
                kind: isRate ? "rate" : "product", jurisdiction: jurisdiction, category: category,
                product: body.productCode.flatMap { ProductCode(rawValue: $0.rawValue) }, rate: rate, period: Period(from: from!, to: to),
                note: body.note),
            principal: principal)
        return .created(.init(body: .json(.init(
            id: row.id, kind: isRate ? .rate : .product, jurisdiction: row.jurisdiction, category: body.category, productCode: body.productCode,
            rate: row.rate, from: row.valid_from, to: row.valid_to, origin: .tenant, inForce: false, note: row.note))))
    }

    func retireRule(_ input: Operations.RetireRule.Input) async throws -> Operations.RetireRule.Output {
        let principal = try RequestScope.require("tax:manage")
        guard let uuid = UUID(uuidString: input.path.ruleId) else { throw AppError.notFound("tax rule") }
        try await self.desk.retireRule(id: uuid.uuidString.lowercased(), principal: principal)
        return .noContent(.init())
    }

    func listRuleSets(_ input: Operations.ListRuleSets.Input) async throws -> Operations.ListRuleSets.Output {
        let principal = try RequestScope.require("tax:read")
        let rows = try await self.desk.ruleSets(tenantId: principal.tenantId)
        return .ok(.init(body: .json(.init(items: rows.map {
            .init(version: $0.version, summary: $0.summary, changedBy: $0.changed_by, changedAt: Self.date($0.changed_at_ms)!)
        }))))
    }

    func loadLocalRates(_ input: Operations.LoadLocalRates.Input) async throws -> Operations.LoadLocalRates.Output {
        let principal = try RequestScope.require("tax:manage")
        guard case .csv(let body) = input.body else { throw AppError.invalid("expected a text/csv body") }
        let text = try await String(collecting: body, upTo: Self.localRatesBytesMax)
        let loaded = try await self.desk.loadLocalRates(csv: text, principal: principal)
        return .created(.init(body: .json(.init(rows: loaded.rows, states: loaded.states, ruleSetVersion: loaded.version))))
    }

    func listLocalRates(_ input: Operations.ListLocalRates.Input) async throws -> Operations.ListLocalRates.Output {
        let principal = try RequestScope.require("tax:read")
        let state = input.query.state.uppercased()
        guard RuleBook.shipped.states[state] != nil else { throw AppError.validation([.init(field: "state", message: "is not a US state's USPS code")]) }
        let rows = try await self.desk.localRates(tenantId: principal.tenantId, state: state)
        func zip(_ value: Int) -> String { String(repeating: "0", count: max(0, 5 - String(value).count)) + String(value) }
        return .ok(.init(body: .json(.init(items: rows.map {
            .init(id: $0.id, state: $0.state, level: $0.level, name: $0.name, zipFrom: zip($0.zip_from), zipTo: zip($0.zip_to), rate: $0.rate,
                  from: $0.valid_from, to: $0.valid_to)
        }))))
    }

    func addCertificate(_ input: Operations.AddCertificate.Input) async throws -> Operations.AddCertificate.Output {
        let principal = try RequestScope.require("tax:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let id = validator.clientId(body.id, field: "id")
        validator.check((1...TaxDesk.customerIdLengthMax).contains(body.customerId.count), "customerId", "must be 1–\(TaxDesk.customerIdLengthMax) characters")
        validator.check((1...64).contains(body.number.count) && !body.number.contains(","), "number", "must be 1–64 characters")
        validator.check((1...200).contains(body.reason.count), "reason", "must be 1–200 characters")
        let jurisdictions = body.jurisdictions.map { $0.uppercased() }
        validator.check((1...60).contains(jurisdictions.count), "jurisdictions", "must list 1–60 jurisdictions")
        for (index, jurisdiction) in jurisdictions.prefix(60).enumerated() {
            validator.check(jurisdiction == "*" || TaxDesk.knownJurisdiction(jurisdiction), "jurisdictions[\(index)]", "is not a jurisdiction of the tables (US-TX, DE) or *")
        }
        let from = CalendarDay(body.validFrom)
        validator.check(from != nil, "validFrom", "must be a date YYYY-MM-DD")
        var expires: CalendarDay?
        if let text = body.expiresOn {
            expires = CalendarDay(text)
            validator.check(expires.map { day in from.map { day >= $0 } ?? true } ?? false, "expiresOn", "must be a date on or after validFrom")
        }
        try validator.throwIfInvalid()
        let (row, created) = try await self.desk.addCertificate(
            .init(id: id, customerId: body.customerId, number: body.number, jurisdictions: Array(Set(jurisdictions)).sorted(), reason: body.reason,
                  validFrom: from!, expiresOn: expires),
            principal: principal)
        return created ? .created(.init(body: .json(Self.dto(row)))) : .ok(.init(body: .json(Self.dto(row))))
    }

    static func dto(_ row: CertificateRow) -> Components.Schemas.Certificate {
        .init(
            id: row.id, customerId: row.customer_id, number: row.number, jurisdictions: row.jurisdictions.split(separator: ",").map(String.init),
            reason: row.reason, validFrom: row.valid_from, expiresOn: row.expires_on, revoked: row.revoked_at_ms != nil,
            createdAt: Self.date(row.created_at_ms)!)
    }

    func listCertificates(_ input: Operations.ListCertificates.Input) async throws -> Operations.ListCertificates.Output {
        let principal = try RequestScope.require("tax:read")
        if let customer = input.query.customerId, !(1...TaxDesk.customerIdLengthMax).contains(customer.count) {
            throw AppError.validation([.init(field: "customerId", message: "must be 1–\(TaxDesk.customerIdLengthMax) characters")])
        }
        let rows = try await self.desk.certificates(tenantId: principal.tenantId, customerId: input.query.customerId)
        return .ok(.init(body: .json(.init(items: rows.map(Self.dto)))))
    }

    func revokeCertificate(_ input: Operations.RevokeCertificate.Input) async throws -> Operations.RevokeCertificate.Output {
        let principal = try RequestScope.require("tax:manage")
        guard let uuid = UUID(uuidString: input.path.certificateId) else { throw AppError.notFound("certificate") }
        try await self.desk.revokeCertificate(id: uuid.uuidString.lowercased(), principal: principal)
        return .noContent(.init())
    }

    func checkVATNumber(_ input: Operations.CheckVATNumber.Input) async throws -> Operations.CheckVATNumber.Output {
        let principal = try RequestScope.require("tax:read")
        guard input.path.number.count <= VATNumber.textLengthMax else {
            throw AppError.validation([.init(field: "number", message: "is longer than \(VATNumber.textLengthMax) characters")])
        }
        return .ok(.init(body: .json(Self.dto(try await self.desk.checkVATNumber(input.path.number, tenantId: principal.tenantId)))))
    }

    func getThresholds(_ input: Operations.GetThresholds.Input) async throws -> Operations.GetThresholds.Output {
        let principal = try RequestScope.require("tax:read")
        let day = input.query.date.map { CalendarDay($0) } ?? self.desk.today
        guard let day else { throw AppError.validation([.init(field: "date", message: "must be a date YYYY-MM-DD")]) }
        let figures = try await self.desk.thresholds(tenantId: principal.tenantId, day: day)
        return .ok(.init(body: .json(.init(
            date: day.description,
            oss: .init(
                thresholdEUR: TaxEngine.ossThresholdEURMinor, previousYearEUR: figures.ossPreviousEURMinor, currentYearEUR: figures.ossCurrentEURMinor,
                destination: figures.ossDestination),
            states: figures.states.map {
                .init(
                    state: $0.state, previousYearSales: $0.previous.salesMinor, previousYearTransactions: $0.previous.transactions,
                    currentYearSales: $0.current.salesMinor, currentYearTransactions: $0.current.transactions, thresholdSales: $0.thresholdSalesMinor,
                    thresholdTransactions: $0.thresholdTransactions, nexus: $0.nexus, physicalPresence: $0.physicalPresence)
            }))))
    }
}
