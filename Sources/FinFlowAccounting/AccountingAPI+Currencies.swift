import FinFlowCore
import Foundation
import OpenAPIRuntime

extension AccountingAPI {
    func listExchangeRates(_ input: Operations.ListExchangeRates.Input) async throws -> Operations.ListExchangeRates.Output {
        let principal = try RequestScope.require(Permissions.readAccounts)
        var validator = Validator()
        let from = LedgerDate.parse(input.query.from, field: "from", into: &validator)
        let to = LedgerDate.parse(input.query.to, field: "to", into: &validator)
        if let currency = input.query.currency { validator.check(Currency(code: currency) != nil, "currency", "is not an ISO 4217 code") }
        try validator.throwIfInvalid()
        let rates = try await self.ledger.rates(principal: principal, currency: input.query.currency, from: from, to: to)
        return .ok(.init(body: .json(.init(rates: rates.map { .init(currency: $0.currency, date: $0.rate_date, rate: $0.rate) }))))
    }

    func putExchangeRates(_ input: Operations.PutExchangeRates.Input) async throws -> Operations.PutExchangeRates.Output {
        let principal = try RequestScope.require(Permissions.manageAccounts)
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let stored = try await self.ledger.setRates(principal: principal, rates: body.rates.map { ($0.currency, $0.date, $0.rate) })
        return .ok(.init(body: .json(.init(stored: stored))))
    }

    func createConversion(_ input: Operations.CreateConversion.Input) async throws -> Operations.CreateConversion.Output {
        let principal = try RequestScope.require(Permissions.post)
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let date = LedgerDate.parse(body.date, field: "date", into: &validator)
        validator.check(UUID(uuidString: body.fromAccountId) != nil, "fromAccountId", "must be a UUID")
        validator.check(UUID(uuidString: body.toAccountId) != nil, "toAccountId", "must be a UUID")
        validator.check(body.fromAmount > 0, "fromAmount", "must be positive")
        validator.check(body.toAmount > 0, "toAmount", "must be positive")
        if let id = body.id { validator.check(UUID(uuidString: id) != nil, "id", "must be a UUID") }
        try validator.throwIfInvalid()
        let record = try await self.ledger.convert(
            principal: principal, date: date!, fromAccountId: body.fromAccountId, fromAmountMinor: body.fromAmount,
            toAccountId: body.toAccountId, toAmountMinor: body.toAmount, description: body.description ?? "Currency conversion",
            id: body.id ?? RequestScope.effectId("conversion"))
        return .created(.init(body: .json(Self.dto(record))))
    }

    func createRevaluation(_ input: Operations.CreateRevaluation.Input) async throws -> Operations.CreateRevaluation.Output {
        let principal = try RequestScope.require(Permissions.post)
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let date = LedgerDate.parse(body.date, field: "date", into: &validator)
        try validator.throwIfInvalid()
        guard let record = try await self.ledger.revalue(principal: principal, date: date!) else { return .noContent(.init()) }
        return .created(.init(body: .json(Self.dto(record))))
    }
}
