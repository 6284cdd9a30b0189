import FinFlowCore
import Foundation
import OpenAPIRuntime

/// The tax service's HTTP contract (generated from `openapi.yaml`) implemented: decode, validate, call the desk, map.
struct TaxAPI: APIProtocol {
    let desk: TaxDesk

    static let codeLengthMax = 64
    static let voidReasonLengthMax = 500
    static let localRatesBytesMax = 8 << 20

    func calculateTax(_ input: Operations.CalculateTax.Input) async throws -> Operations.CalculateTax.Output {
        let principal = try RequestScope.require("tax:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let id = validator.clientId(body.id, field: "id")
        validator.check((1...Self.codeLengthMax).contains(body.code.count) && !body.code.contains(where: \.isNewline), "code", "must be 1–\(Self.codeLengthMax) characters on one line")
        validator.check(CalendarDay(body.date) != nil, "date", "must be a date YYYY-MM-DD")
        let currency = Currency(code: body.currency)
        validator.check(currency?.exponent != nil, "currency", "is not an ISO 4217 code with minor units")
        var eurRate: ExchangeRate?
        if let text = body.eurRate {
            eurRate = ExchangeRate(text)
            validator.check(eurRate != nil, "eurRate", "must be a positive decimal with at most eight decimals")
        }
        let seller = Self.party(body.seller, field: "seller", into: &validator)
        let buyer = Self.party(body.buyer, field: "buyer", into: &validator)
        validator.check((1...1000).contains(body.lines.count), "lines", "must hold 1–1000 lines")
        var lines: [TaxLineInput] = []
        var numbers = Set<Int>()
        for (index, line) in body.lines.prefix(1000).enumerated() {
            let field = "lines[\(index)]"
            let number = line.number ?? index + 1
            validator.check((1...100_000).contains(number) && numbers.insert(number).inserted, "\(field).number", "must be 1–100000 and unique")
            validator.check(line.amount >= 0, "\(field).amount", "must be zero or more minor units (a discount lowers the line's amount)")
            validator.check((line.description?.count ?? 0) <= 500, "\(field).description", "is longer than 500 characters")
            lines.append(TaxLineInput(
                number: number, amountMinor: line.amount, product: ProductCode(rawValue: line.productCode.rawValue) ?? .goods,
                shipFrom: line.shipFrom.map { Self.address($0, field: "\(field).shipFrom", into: &validator) },
                shipTo: line.shipTo.map { Self.address($0, field: "\(field).shipTo", into: &validator) }))
        }
        try validator.throwIfInvalid()
        let document = TaxDocumentInput(
            type: DocumentType(rawValue: body._type.rawValue) ?? .salesInvoice, date: body.date, currency: currency!.code, eurRate: eurRate,
            seller: seller, buyer: buyer, lines: lines)
        let (row, created) = try await self.desk.calculate(
            CalculationRequest(id: id, code: body.code, document: document, commit: body.commit ?? false), principal: principal)
        let dto = try Self.dto(row)
        return created ? .created(.init(body: .json(dto))) : .ok(.init(body: .json(dto)))
    }

    func listCalculations(_ input: Operations.ListCalculations.Input) async throws -> Operations.ListCalculations.Output {
        let principal = try RequestScope.require("tax:read")
        let page = try PageRequest(limit: input.query.limit, cursor: input.query.cursor)
        let filter = DocumentFilter(status: input.query.status?.rawValue, type: input.query._type?.rawValue)
        let result = try await self.desk.documents(tenantId: principal.tenantId, filter: filter, page: page)
        return .ok(.init(body: .json(.init(items: try result.items.map(Self.dto), nextCursor: result.nextCursor))))
    }

    func getCalculation(_ input: Operations.GetCalculation.Input) async throws -> Operations.GetCalculation.Output {
        let principal = try RequestScope.require("tax:read")
        return .ok(.init(body: .json(try Self.dto(try await self.desk.document(tenantId: principal.tenantId, id: input.path.documentId)))))
    }

    func commitCalculation(_ input: Operations.CommitCalculation.Input) async throws -> Operations.CommitCalculation.Output {
        let principal = try RequestScope.require("tax:manage")
        return .ok(.init(body: .json(try Self.dto(try await self.desk.commit(id: input.path.documentId, principal: principal)))))
    }

    func voidCalculation(_ input: Operations.VoidCalculation.Input) async throws -> Operations.VoidCalculation.Output {
        let principal = try RequestScope.require("tax:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let reason = body.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        validator.check((1...Self.voidReasonLengthMax).contains(reason.count), "reason", "must be 1–\(Self.voidReasonLengthMax) characters")
        try validator.throwIfInvalid()
        return .ok(.init(body: .json(try Self.dto(try await self.desk.void(id: input.path.documentId, reason: reason, principal: principal)))))
    }

    // MARK: reading the request

    static func address(_ address: Components.Schemas.Address, field: String, into validator: inout Validator) -> TaxAddress {
        let country = address.country.uppercased()
        validator.check(country.count == 2 && country.allSatisfy { $0.isASCII && $0.isLetter }, "\(field).country", "must be an ISO 3166-1 alpha-2 code (XI for Northern Ireland)")
        let region = address.region?.uppercased()
        if country == "US" {
            validator.check(region.map { RuleBook.shipped.states[$0] != nil } ?? false, "\(field).region", "a US address needs its state's USPS code")
        }
        if let postal = address.postalCode {
            validator.check((1...16).contains(postal.count) && postal.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == " " || $0 == "-") },
                            "\(field).postalCode", "must be 1–16 letters, digits, spaces or dashes")
        }
        return TaxAddress(country: country, region: region, postalCode: address.postalCode)
    }

    static func party(_ party: Components.Schemas.Party, field: String, into validator: inout Validator) -> TaxParty {
        let address = Self.address(party.address, field: "\(field).address", into: &validator)
        var vatNumber: String?
        if let text = party.vatNumber {
            vatNumber = VATNumber.normalise(text)
            validator.check(vatNumber != nil, "\(field).vatNumber", "must be a VAT number: a country prefix and letters or digits")
        }
        if let customer = party.customerId {
            validator.check((1...TaxDesk.customerIdLengthMax).contains(customer.count), "\(field).customerId", "must be 1–\(TaxDesk.customerIdLengthMax) characters")
        }
        return TaxParty(address: address, isBusiness: party.business ?? true, vatNumber: vatNumber, customerId: party.customerId)
    }

    // MARK: mapping

    static func date(_ millis: Int64?) -> Date? { millis.map { Date(timeIntervalSince1970: Double($0) / 1000) } }

    static func dto(_ row: DocumentRow) throws -> Components.Schemas.TaxDocument {
        let result = try TaxDesk.decode(TaxResult.self, row.result)
        let check = try row.vat_check.map { try TaxDesk.decode(VATCheck.self, $0) }
        return .init(
            id: row.id, code: row.code, _type: .init(rawValue: row.type) ?? .salesInvoice, status: .init(rawValue: row.status) ?? .calculated,
            date: row.document_date, currency: row.currency, net: row.net_minor, tax: row.tax_minor, selfAssessedTax: row.self_assessed_minor,
            total: row.total_minor,
            lines: result.lines.map { line in
                .init(
                    number: line.number, amount: line.amountMinor, productCode: .init(rawValue: line.product.rawValue) ?? .goods,
                    treatment: line.treatment.rawValue, placeOfSupply: line.placeOfSupply, rule: line.rule, note: line.note, tax: line.taxMinor,
                    selfAssessedTax: line.selfAssessedTaxMinor,
                    components: line.components.map { c in
                        .init(
                            jurisdiction: c.jurisdiction, name: c.name, level: c.level, taxType: .init(rawValue: c.taxType.rawValue) ?? .vat,
                            category: .init(rawValue: c.category.rawValue) ?? .standard, rate: c.rate.description, taxable: c.taxableMinor,
                            tax: c.taxMinor, selfAssessed: c.selfAssessed, rule: c.ruleId)
                    })
            },
            summary: result.summary.map { s in
                .init(
                    jurisdiction: s.jurisdiction, name: s.name, taxType: s.taxType.rawValue, category: .init(rawValue: s.category.rawValue) ?? .standard,
                    rate: s.rate.description, treatment: s.treatment.rawValue, selfAssessed: s.selfAssessed, taxable: s.taxableMinor, tax: s.taxMinor)
            },
            rounding: .init(additionalProperties: result.rounding), messages: result.messages, buyerVatNumber: check.map(Self.dto),
            ruleSetVersion: row.rule_set_version, createdAt: Self.date(row.created_at_ms)!, committedAt: Self.date(row.committed_at_ms),
            voidedAt: Self.date(row.voided_at_ms), voidReason: row.void_reason)
    }

    static func dto(_ check: VATCheck) -> Components.Schemas.VATNumberCheck {
        .init(
            number: check.number, country: check.country, status: .init(rawValue: check.status) ?? .notConfirmed, detail: check.detail,
            name: check.name, address: check.address, consultationNumber: check.consultationNumber, checkedAt: Self.date(check.checkedAtMs)!)
    }
}
