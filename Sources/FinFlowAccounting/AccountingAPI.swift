import FinFlowCore
import Foundation
import OpenAPIRuntime

/// The accounting HTTP contract (generated from `openapi.yaml`) implemented: decode, call the ledger, map.
struct AccountingAPI: APIProtocol {
    let ledger: Ledger

    func getLedgerSettings(_ input: Operations.GetLedgerSettings.Input) async throws -> Operations.GetLedgerSettings.Output {
        let principal = try RequestScope.require(Permissions.readAccounts)
        return .ok(.init(body: .json(Self.dto(try await self.ledger.settings(principal: principal)))))
    }

    func updateLedgerSettings(_ input: Operations.UpdateLedgerSettings.Input) async throws -> Operations.UpdateLedgerSettings.Output {
        let principal = try RequestScope.require(Permissions.manageAccounts)
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        if body.clearApprovalThreshold == true && body.approvalThreshold != nil {
            throw AppError.validation([.init(field: "clearApprovalThreshold", message: "cannot be combined with approvalThreshold")])
        }
        let threshold: Int64?? = body.clearApprovalThreshold == true ? .some(nil) : body.approvalThreshold.map { .some($0) }
        let settings = try await self.ledger.updateSettings(
            principal: principal, approvalThresholdMinor: threshold, baseCurrency: body.baseCurrency,
            fiscalYearStartMonth: body.fiscalYearStartMonth)
        return .ok(.init(body: .json(Self.dto(settings))))
    }

    func listAccounts(_ input: Operations.ListAccounts.Input) async throws -> Operations.ListAccounts.Output {
        let principal = try RequestScope.require(Permissions.readAccounts)
        return .ok(.init(body: .json(.init(items: try await self.ledger.accounts(principal: principal).map(Self.dto)))))
    }

    func createAccount(_ input: Operations.CreateAccount.Input) async throws -> Operations.CreateAccount.Output {
        let principal = try RequestScope.require(Permissions.manageAccounts)
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let account = ChartAccount(
            body.code, body.name, AccountType(rawValue: body._type.rawValue)!, contra: body.contra ?? false,
            currency: body.currency?.uppercased(), tag: body.cashFlowTag.flatMap { CashFlowTag(rawValue: $0.rawValue) },
            constraint: body.balanceConstraint.flatMap { BalanceConstraint(rawValue: $0.rawValue) } ?? .none,
            role: body.systemRole.flatMap { SystemRole(rawValue: $0.rawValue) })
        let row = try await self.ledger.createAccount(principal: principal, account: account, parentId: body.parentId)
        return .created(.init(body: .json(Self.dto(row))))
    }

    func getAccount(_ input: Operations.GetAccount.Input) async throws -> Operations.GetAccount.Output {
        let principal = try RequestScope.require(Permissions.readAccounts)
        guard UUID(uuidString: input.path.accountId) != nil else { throw AppError.notFound("account") }
        return .ok(.init(body: .json(Self.dto(try await self.ledger.account(principal: principal, id: input.path.accountId)))))
    }

    func updateAccount(_ input: Operations.UpdateAccount.Input) async throws -> Operations.UpdateAccount.Output {
        let principal = try RequestScope.require(Permissions.manageAccounts)
        guard UUID(uuidString: input.path.accountId) != nil else { throw AppError.notFound("account") }
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var change = AccountChange()
        change.name = body.name
        change.code = body.code
        if let parentId = body.parentId { change.parentId = .some(parentId.isEmpty ? nil : parentId) }
        if let tag = body.cashFlowTag { change.cashFlowTag = .some(CashFlowTag(rawValue: tag.rawValue)) }
        change.balanceConstraint = body.balanceConstraint.flatMap { BalanceConstraint(rawValue: $0.rawValue) }
        change.status = body.status.flatMap { AccountStatus(rawValue: $0.rawValue) }
        let row = try await self.ledger.updateAccount(principal: principal, id: input.path.accountId.lowercased(), change: change)
        return .ok(.init(body: .json(Self.dto(row))))
    }

    func getAccountBalance(_ input: Operations.GetAccountBalance.Input) async throws -> Operations.GetAccountBalance.Output {
        let principal = try RequestScope.require(Permissions.readAccounts)
        var validator = Validator()
        let asOf = LedgerDate.parse(input.query.asOf, field: "asOf", into: &validator)
        try validator.throwIfInvalid()
        let balance = try await self.ledger.balance(principal: principal, accountId: input.path.accountId, asOf: asOf)
        return .ok(.init(body: .json(.init(
            accountId: balance.account.id, asOf: asOf?.description, currency: balance.account.currency,
            debits: balance.debitsMinor, credits: balance.creditsMinor, balance: balance.balanceMinor))))
    }

    func getAccountStatement(_ input: Operations.GetAccountStatement.Input) async throws -> Operations.GetAccountStatement.Output {
        let principal = try RequestScope.require(Permissions.readJournal)
        var validator = Validator()
        let from = LedgerDate.parse(input.query.from, field: "from", into: &validator)
        let to = LedgerDate.parse(input.query.to, field: "to", into: &validator)
        try validator.throwIfInvalid()
        let page = try PageRequest(limit: input.query.limit, cursor: input.query.cursor)
        let result = try await self.ledger.statement(principal: principal, accountId: input.path.accountId, from: from, to: to, page: page)
        return .ok(.init(body: .json(.init(
            accountId: result.account.id, currency: result.account.currency, openingBalance: result.openingMinor,
            lines: result.lines.map(Self.dto),
            nextCursor: result.nextCursor))))
    }

    func importChart(_ input: Operations.ImportChart.Input) async throws -> Operations.ImportChart.Output {
        let principal = try RequestScope.require(Permissions.manageAccounts)
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let chart = body.accounts.map {
            ChartAccount(
                $0.code, $0.name, AccountType(rawValue: $0._type.rawValue)!, contra: $0.contra ?? false, parent: $0.parentCode,
                currency: $0.currency?.uppercased(), tag: $0.cashFlowTag.flatMap { CashFlowTag(rawValue: $0.rawValue) },
                constraint: $0.balanceConstraint.flatMap { BalanceConstraint(rawValue: $0.rawValue) } ?? .none,
                role: $0.systemRole.flatMap { SystemRole(rawValue: $0.rawValue) })
        }
        let rows = try await self.ledger.importChart(principal: principal, chart: chart)
        return .ok(.init(body: .json(.init(items: rows.map(Self.dto)))))
    }

    static func dto(_ item: StatementLine) -> Components.Schemas.StatementLine {
        .init(entryId: item.line.entry_id, line: item.line.line_no, accountingDate: item.line.accounting_date,
              side: item.line.side == .debit ? .debit : .credit, amount: item.line.amountMinor, description: item.description,
              reference: item.reference, memo: item.line.memo, runningBalance: item.runningBalanceMinor)
    }

    static func dto(_ ledger: LedgerRow) -> Components.Schemas.LedgerSettings {
        .init(baseCurrency: ledger.base_currency, fiscalYearStartMonth: ledger.fiscal_year_start_month,
              approvalThreshold: ledger.approval_threshold_minor)
    }

    static func dto(_ account: AccountRow) -> Components.Schemas.Account {
        .init(
            id: account.id, code: account.code, name: account.name,
            _type: Components.Schemas.AccountType(rawValue: account.type) ?? .asset, contra: account.contra != 0,
            normalBalance: account.normalSide == .debit ? .debit : .credit, parentId: account.parent_id,
            currency: account.currency, cashFlowTag: account.cash_flow_tag.flatMap(Components.Schemas.CashFlowTag.init(rawValue:)),
            balanceConstraint: Components.Schemas.BalanceConstraint(rawValue: account.balance_constraint) ?? .none,
            status: account.isActive ? .active : .archived,
            systemRole: account.system_role.flatMap(Components.Schemas.SystemRole.init(rawValue:)),
            balances: .init(
                postedDebits: account.posted_debits_minor, postedCredits: account.posted_credits_minor,
                pendingDebits: account.pending_debits_minor, pendingCredits: account.pending_credits_minor,
                balance: account.postedBalanceMinor))
    }
}
