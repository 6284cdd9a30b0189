import FinFlowCore
import Foundation
import OpenAPIRuntime

extension AccountingAPI {
    func listPeriods(_ input: Operations.ListPeriods.Input) async throws -> Operations.ListPeriods.Output {
        let principal = try RequestScope.require(Permissions.readJournal)
        let periods = try await self.ledger.periods(principal: principal, fiscalYear: input.query.fiscalYear)
        return .ok(.init(body: .json(.init(items: periods.map(Self.dto)))))
    }

    func closePeriod(_ input: Operations.ClosePeriod.Input) async throws -> Operations.ClosePeriod.Output {
        let principal = try RequestScope.require(Permissions.closePeriods)
        return .ok(.init(body: .json(Self.dto(try await self.ledger.setPeriod(principal: principal, key: input.path.period, to: .closed)))))
    }

    func reopenPeriod(_ input: Operations.ReopenPeriod.Input) async throws -> Operations.ReopenPeriod.Output {
        let principal = try RequestScope.require(Permissions.reopenPeriods)
        return .ok(.init(body: .json(Self.dto(try await self.ledger.setPeriod(principal: principal, key: input.path.period, to: .open)))))
    }

    func lockPeriod(_ input: Operations.LockPeriod.Input) async throws -> Operations.LockPeriod.Output {
        let principal = try RequestScope.require(Permissions.reopenPeriods)
        return .ok(.init(body: .json(Self.dto(try await self.ledger.setPeriod(principal: principal, key: input.path.period, to: .locked)))))
    }

    func getTrialBalance(_ input: Operations.GetTrialBalance.Input) async throws -> Operations.GetTrialBalance.Output {
        let principal = try RequestScope.require(Permissions.readStatements)
        let range = try self.range(from: input.query.from, to: input.query.to, fromField: "from", toField: "to")
        let compare = try self.compareRange(from: input.query.compareFrom, to: input.query.compareTo)
        let balances = try await self.ledger.trialBalance(principal: principal, range: range, compare: compare)
        if input.query.format == .csv {
            let compareHeader = compare == nil ? [] : ["compare_opening", "compare_debits", "compare_credits", "compare_closing"]
            var csv = CSVWriter(header: ["currency", "code", "name", "type", "opening", "debits", "credits", "closing"] + compareHeader)
            for balance in balances {
                let amount = { (value: Int64) in CSVWriter.amount(value, balance.currency) }
                for row in balance.rows {
                    let compared = row.compare.map { [amount($0.openingMinor), amount($0.debitsMinor), amount($0.creditsMinor), amount(row.compareClosingMinor ?? 0)] } ?? []
                    csv.row([balance.currency, row.account.code, row.account.name, row.account.type, amount(row.openingMinor),
                             amount(row.debitsMinor), amount(row.creditsMinor), amount(row.closingMinor)] + compared)
                }
                csv.row([balance.currency, "", "Total", "", "", amount(balance.totalDebitsMinor), amount(balance.totalCreditsMinor), amount(0)])
            }
            return .ok(.init(body: .csv(HTTPBody(csv.text))))
        }
        return .ok(.init(body: .json(.init(
            from: range.from?.description, to: range.to.description, compareFrom: compare?.from?.description, compareTo: compare?.to.description,
            currencies: balances.map { balance in
                .init(currency: balance.currency, totalDebits: balance.totalDebitsMinor, totalCredits: balance.totalCreditsMinor,
                      closingDebits: balance.closingDebitsMinor, closingCredits: balance.closingCreditsMinor,
                      rows: balance.rows.map {
                          .init(accountId: $0.account.id, code: $0.account.code, name: $0.account.name,
                                _type: Components.Schemas.AccountType(rawValue: $0.account.type) ?? .asset,
                                opening: $0.openingMinor, debits: $0.debitsMinor, credits: $0.creditsMinor, closing: $0.closingMinor,
                                compareOpening: $0.compare?.openingMinor, compareDebits: $0.compare?.debitsMinor,
                                compareCredits: $0.compare?.creditsMinor, compareClosing: $0.compareClosingMinor)
                      })
            }))))
    }

    func getBalanceSheet(_ input: Operations.GetBalanceSheet.Input) async throws -> Operations.GetBalanceSheet.Output {
        let principal = try RequestScope.require(Permissions.readStatements)
        var validator = Validator()
        let asOf = LedgerDate.parse(input.query.asOf, field: "asOf", into: &validator) ?? self.today
        let compare = LedgerDate.parse(input.query.compareAsOf, field: "compareAsOf", into: &validator)
        try validator.throwIfInvalid()
        let reports = input.query.translate == true
            ? [try await self.ledger.translatedBalanceSheet(principal: principal, asOf: asOf, compareAsOf: compare)]
            : try await self.ledger.balanceSheet(principal: principal, asOf: asOf, compareAsOf: compare)
        if input.query.format == .csv { return .ok(.init(body: .csv(HTTPBody(Self.csv(reports))))) }
        return .ok(.init(body: .json(Self.dto(reports, kind: .balanceSheet, from: nil, to: asOf, compareFrom: nil, compareTo: compare))))
    }

    func getIncomeStatement(_ input: Operations.GetIncomeStatement.Input) async throws -> Operations.GetIncomeStatement.Output {
        let principal = try RequestScope.require(Permissions.readStatements)
        let range = try self.range(from: input.query.from, to: input.query.to, fromField: "from", toField: "to")
        let compare = try self.compareRange(from: input.query.compareFrom, to: input.query.compareTo)
        let reports = input.query.translate == true
            ? [try await self.ledger.translatedIncomeStatement(principal: principal, range: range, compare: compare)]
            : try await self.ledger.incomeStatement(principal: principal, range: range, compare: compare)
        if input.query.format == .csv { return .ok(.init(body: .csv(HTTPBody(Self.csv(reports))))) }
        return .ok(.init(body: .json(Self.dto(
            reports, kind: .incomeStatement, from: range.from, to: range.to, compareFrom: compare?.from, compareTo: compare?.to))))
    }

    var today: LedgerDate { LedgerDate(instant: self.ledger.env.clock.now()) }

    func range(from: String?, to: String?, fromField: String, toField: String) throws -> ReportRange {
        var validator = Validator()
        let start = LedgerDate.parse(from, field: fromField, into: &validator)
        let end = LedgerDate.parse(to, field: toField, into: &validator) ?? self.today
        if let start { validator.check(start <= end, fromField, "must not be after \(toField)") }
        try validator.throwIfInvalid()
        return ReportRange(from: start, to: end)
    }

    /// The comparative range of a report: none when neither bound is given; `compareTo` is required with `compareFrom`.
    func compareRange(from: String?, to: String?) throws -> ReportRange? {
        guard from != nil || to != nil else { return nil }
        guard to != nil else { throw AppError.validation([.init(field: "compareTo", message: "is needed with compareFrom")]) }
        return try self.range(from: from, to: to, fromField: "compareFrom", toField: "compareTo")
    }

    static func dto(_ period: PeriodView) -> Components.Schemas.Period {
        .init(period: period.key, fiscalYear: period.fiscalYear, start: period.start.description, end: period.end.description,
              status: Components.Schemas.Period.StatusPayload(rawValue: period.status.rawValue) ?? .open)
    }

    static func dto(
        _ reports: [CurrencyReport], kind: Components.Schemas.FinancialReport.KindPayload, from: LedgerDate?, to: LedgerDate,
        compareFrom: LedgerDate?, compareTo: LedgerDate?
    ) -> Components.Schemas.FinancialReport {
        .init(
            kind: kind, from: from?.description, to: to.description, compareFrom: compareFrom?.description,
            compareTo: compareTo?.description,
            currencies: reports.map { report in
                .init(currency: report.currency, result: report.resultMinor, compareResult: report.compareResultMinor,
                      sections: report.sections.map { section in
                          .init(name: section.name, total: section.totalMinor, compareTotal: section.compareTotalMinor,
                                items: section.items.map {
                                    .init(accountId: $0.accountId, code: $0.code, name: $0.name, level: $0.level,
                                          amount: $0.amountMinor, compareAmount: $0.compareAmountMinor)
                                })
                      })
            })
    }

    static func csv(_ reports: [CurrencyReport]) -> String {
        var csv = CSVWriter(header: ["currency", "section", "code", "name", "level", "amount", "compare_amount"])
        for report in reports {
            for section in report.sections {
                for item in section.items {
                    csv.row([report.currency, section.name, item.code ?? "", item.name, String(item.level),
                             CSVWriter.amount(item.amountMinor, report.currency),
                             item.compareAmountMinor.map { CSVWriter.amount($0, report.currency) } ?? ""])
                }
                csv.row([report.currency, section.name, "", "Total \(section.name)", "", CSVWriter.amount(section.totalMinor, report.currency),
                         section.compareTotalMinor.map { CSVWriter.amount($0, report.currency) } ?? ""])
            }
            csv.row([report.currency, "result", "", "Result", "", CSVWriter.amount(report.resultMinor, report.currency),
                     report.compareResultMinor.map { CSVWriter.amount($0, report.currency) } ?? ""])
        }
        return csv.text
    }
}

/// RFC 4180 CSV with amounts in major units, as spreadsheets read them.
struct CSVWriter {
    private(set) var text: String

    init(header: [String]) {
        self.text = ""
        self.row(header)
    }

    mutating func row(_ fields: [String]) {
        self.text += fields.map(CSVRecords.field).joined(separator: ",") + "\r\n"
    }

    static func amount(_ minor: Int64, _ currency: String) -> String {
        guard let code = Currency(code: currency), let money = try? Money(amountMinor: minor, currency: code) else { return String(minor) }
        return money.decimalText
    }
}

extension AccountingAPI {
    func closeFiscalYear(_ input: Operations.CloseFiscalYear.Input) async throws -> Operations.CloseFiscalYear.Output {
        let principal = try RequestScope.require(Permissions.closePeriods)
        return .ok(.init(body: .json(Self.dto(try await self.ledger.closeYear(principal: principal, year: input.path.fiscalYear)))))
    }

    func reopenFiscalYear(_ input: Operations.ReopenFiscalYear.Input) async throws -> Operations.ReopenFiscalYear.Output {
        let principal = try RequestScope.require(Permissions.reopenPeriods)
        return .ok(.init(body: .json(Self.dto(try await self.ledger.reopenYear(principal: principal, year: input.path.fiscalYear)))))
    }

    static func dto(_ close: YearClose) -> Components.Schemas.FiscalYearClose {
        .init(
            fiscalYear: close.fiscalYear, status: close.status == "closed" ? .closed : .open, closingEntry: close.closingEntry.map(Self.dto),
            openingBalances: close.openingBalances.map {
                .init(accountId: $0.account.id, code: $0.account.code, name: $0.account.name, currency: $0.account.currency,
                      balance: $0.balanceMinor)
            })
    }
}

extension AccountingAPI {
    func getCashFlowStatement(_ input: Operations.GetCashFlowStatement.Input) async throws -> Operations.GetCashFlowStatement.Output {
        let principal = try RequestScope.require(Permissions.readStatements)
        let range = try self.range(from: input.query.from, to: input.query.to, fromField: "from", toField: "to")
        let compare = try self.compareRange(from: input.query.compareFrom, to: input.query.compareTo)
        let reports = try await self.ledger.cashFlow(principal: principal, range: range, compare: compare)
        if input.query.format == .csv { return .ok(.init(body: .csv(HTTPBody(Self.csv(reports))))) }
        return .ok(.init(body: .json(Self.dto(
            reports, kind: .cashFlow, from: range.from, to: range.to, compareFrom: compare?.from, compareTo: compare?.to))))
    }

    func getGeneralLedger(_ input: Operations.GetGeneralLedger.Input) async throws -> Operations.GetGeneralLedger.Output {
        let principal = try RequestScope.require(Permissions.readStatements)
        let range = try self.range(from: input.query.from, to: input.query.to, fromField: "from", toField: "to")
        if let accountId = input.query.accountId, UUID(uuidString: accountId) == nil {
            throw AppError.validation([.init(field: "accountId", message: "must be a UUID")])
        }
        let blocks = try await self.ledger.generalLedger(principal: principal, range: range, accountId: input.query.accountId)
        if input.query.format == .csv {
            var csv = CSVWriter(header: ["code", "name", "currency", "date", "entry", "description", "debit", "credit", "balance"])
            for block in blocks {
                let currency = block.account.currency
                csv.row([block.account.code, block.account.name, currency, range.from?.description ?? "", "", "Opening balance", "", "",
                         CSVWriter.amount(block.openingMinor, currency)])
                for item in block.lines {
                    csv.row([block.account.code, block.account.name, currency, item.line.accounting_date, item.line.entry_id, item.description,
                             item.line.debit_minor > 0 ? CSVWriter.amount(item.line.debit_minor, currency) : "",
                             item.line.credit_minor > 0 ? CSVWriter.amount(item.line.credit_minor, currency) : "",
                             CSVWriter.amount(item.runningBalanceMinor, currency)])
                }
                csv.row([block.account.code, block.account.name, currency, range.to.description, "", "Closing balance", "", "",
                         CSVWriter.amount(block.closingMinor, currency)])
            }
            return .ok(.init(body: .csv(HTTPBody(csv.text))))
        }
        return .ok(.init(body: .json(.init(
            from: range.from?.description, to: range.to.description,
            accounts: blocks.map { block in
                .init(accountId: block.account.id, code: block.account.code, name: block.account.name, currency: block.account.currency,
                      opening: block.openingMinor, closing: block.closingMinor,
                      lines: block.lines.map(Self.dto))
            }))))
    }
}
