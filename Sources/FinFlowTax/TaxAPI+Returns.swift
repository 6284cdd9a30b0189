import FinFlowCore
import Foundation
import OpenAPIRuntime

extension TaxAPI {
    /// The longest period one return covers.
    static let returnDaysMax = 366

    /// A return asked for, validated: the jurisdiction fits the kind, the period is a real one (a calendar quarter for
    /// the One-Stop Shop), the currency is ISO 4217.
    static func returnRequest(
        kind: Components.Schemas.ReturnKind, jurisdiction: String?, periodStart: String, periodEnd: String, currency: String?
    ) throws -> ReturnRequest {
        var validator = Validator()
        let returnKind = ReturnKind(rawValue: kind.rawValue) ?? .vat
        var key = jurisdiction?.uppercased() ?? ""
        switch returnKind {
        case .vat:
            validator.check(!key.hasPrefix("US-") && TaxDesk.knownJurisdiction(key), "jurisdiction", "a VAT or GST return is a country's (DE, FR, XI, AU, NZ, SG)")
        case .oss:
            validator.check(jurisdiction == nil || key == "OSS", "jurisdiction", "the One-Stop Shop return has none (or OSS)")
            key = "OSS"
        case .usSales:
            validator.check(key.hasPrefix("US-") && TaxDesk.knownJurisdiction(key), "jurisdiction", "a US return is a state's, as US-CA")
        }
        let start = CalendarDay(periodStart), end = CalendarDay(periodEnd)
        validator.check(start != nil, "periodStart", "must be a date YYYY-MM-DD")
        validator.check(end != nil, "periodEnd", "must be a date YYYY-MM-DD")
        if let start, let end {
            validator.check(start <= end, "periodEnd", "must not be before periodStart")
            validator.check(start.addingDays(Self.returnDaysMax) > end, "periodEnd", "a return covers at most a year")
            if returnKind == .oss {
                let quarterStart = start.day == 1 && [1, 4, 7, 10].contains(start.month)
                let quarterEnd = quarterStart && end == CalendarDay(year: start.year, month: start.month + 2, day: 1)?.endOfMonth
                validator.check(quarterStart && quarterEnd, "periodStart", "the One-Stop Shop return is for a calendar quarter (2026-01-01 to 2026-03-31)")
            }
        }
        let code = (currency ?? (returnKind == .usSales ? "USD" : "EUR")).uppercased()
        validator.check(Currency(code: code)?.exponent != nil, "currency", "is not an ISO 4217 currency of money")
        try validator.throwIfInvalid()
        return ReturnRequest(kind: returnKind, jurisdiction: key, start: start!, end: end!, currency: code)
    }

    func previewReturn(_ input: Operations.PreviewReturn.Input) async throws -> Operations.PreviewReturn.Output {
        let principal = try RequestScope.require("tax:read")
        let query = input.query
        let request = try Self.returnRequest(
            kind: query.kind, jurisdiction: query.jurisdiction, periodStart: query.periodStart, periodEnd: query.periodEnd, currency: query.currency)
        let figures = try await self.desk.taxReturn(request, tenantId: principal.tenantId)
        if query.format == .csv { return .ok(.init(body: .csv(HTTPBody(TaxDesk.csv(figures))))) }
        return .ok(.init(body: .json(Self.dto(figures))))
    }

    func fileReturn(_ input: Operations.FileReturn.Input) async throws -> Operations.FileReturn.Output {
        let principal = try RequestScope.require("tax:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        if let id = body.id, UUID(uuidString: id) == nil { throw AppError.validation([.init(field: "id", message: "must be a UUID")]) }
        let request = try Self.returnRequest(
            kind: body.kind, jurisdiction: body.jurisdiction, periodStart: body.periodStart, periodEnd: body.periodEnd, currency: body.currency)
        let (row, created) = try await self.desk.file(request, id: body.id?.lowercased(), principal: principal)
        let dto = try Self.dto(row)
        return created ? .created(.init(body: .json(dto))) : .ok(.init(body: .json(dto)))
    }

    func listReturns(_ input: Operations.ListReturns.Input) async throws -> Operations.ListReturns.Output {
        let principal = try RequestScope.require("tax:read")
        let items = try await self.desk.filings(tenantId: principal.tenantId).map { row in
            Components.Schemas.FilingSummary(
                id: row.id, kind: .init(rawValue: row.kind) ?? .vat, jurisdiction: row.jurisdiction, periodStart: row.period_start,
                periodEnd: row.period_end, currency: row.currency, outputTaxMinor: row.output_tax_minor, inputTaxMinor: row.input_tax_minor,
                netMinor: row.net_minor, filedBy: row.filed_by, filedAt: Date(unixMillis: row.filed_at_ms))
        }
        return .ok(.init(body: .json(.init(items: items))))
    }

    func getReturn(_ input: Operations.GetReturn.Input) async throws -> Operations.GetReturn.Output {
        let principal = try RequestScope.require("tax:read")
        guard let row = try await self.desk.filing(id: input.path.filingId, tenantId: principal.tenantId) else { throw AppError.notFound("filing") }
        if input.query.format == .csv {
            return .ok(.init(body: .csv(HTTPBody(TaxDesk.csv(try TaxDesk.decode(TaxReturn.self, row.figures))))))
        }
        return .ok(.init(body: .json(try Self.dto(row))))
    }

    static func dto(_ row: FilingRow) throws -> Components.Schemas.Filing {
        .init(id: row.id, filedBy: row.filed_by, filedAt: Date(unixMillis: row.filed_at_ms), _return: Self.dto(try TaxDesk.decode(TaxReturn.self, row.figures)))
    }

    static func dto(_ figures: TaxReturn) -> Components.Schemas.TaxReturn {
        let reconciliation = figures.reconciliation
        return .init(
            kind: .init(rawValue: figures.kind.rawValue) ?? .vat, jurisdiction: figures.jurisdiction, periodStart: figures.periodStart,
            periodEnd: figures.periodEnd, currency: figures.currency,
            rows: figures.rows.map {
                .init(section: $0.section, jurisdiction: $0.jurisdiction, rate: $0.rate, treatment: $0.treatment, taxableMinor: $0.taxableMinor,
                      taxMinor: $0.taxMinor, documents: $0.documents)
            },
            outputTaxMinor: figures.outputTaxMinor, inputTaxMinor: figures.inputTaxMinor, netMinor: figures.netMinor, documents: figures.documents,
            reconciliation: .init(
                reconciled: reconciliation.reconciled,
                accounts: reconciliation.accounts.map {
                    .init(account: $0.account, returnOutputTaxMinor: $0.returnOutputTaxMinor, returnInputTaxMinor: $0.returnInputTaxMinor,
                          ledgerOutputTaxMinor: $0.ledgerOutputTaxMinor, ledgerInputTaxMinor: $0.ledgerInputTaxMinor,
                          outputDifferenceMinor: $0.outputDifferenceMinor, inputDifferenceMinor: $0.inputDifferenceMinor)
                },
                unexplainedEntries: reconciliation.unexplainedEntries.map {
                    .init(entryId: $0.entryId, accountingDate: $0.accountingDate, account: $0.account, kind: $0.kind == "input" ? .input : .output,
                          amountMinor: $0.amountMinor, documentId: $0.documentId,
                          reason: $0.reason == "no-calculation" ? .noCalculation : .calculationNotInReturn)
                },
                documentsNotInLedger: reconciliation.documentsNotInLedger),
            messages: figures.messages)
    }
}
