import FinFlowCore
import Foundation
import OpenAPIRuntime

/// The transaction HTTP contract (generated from `openapi.yaml`) implemented: decode, call the book, map to DTOs.
struct TransactionsAPI: APIProtocol {
    let book: TransactionBook

    func createTransaction(_ input: Operations.CreateTransaction.Input) async throws -> Operations.CreateTransaction.Output {
        let principal = try RequestScope.require("transactions:create")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let outcome = try await self.book.create([try Self.draft(body, prefix: "", index: 0)], principal: principal)[0]
        let record = try await self.book.records(tenantId: principal.tenantId, rows: [outcome.row])[0]
        switch outcome {
        case .created: return .created(.init(body: .json(Self.dto(record))))
        // Without a caller's id, only a retry of a crashed run under the same Idempotency-Key finds its transaction:
        // it answers as the first run would have.
        case .replayed where body.id == nil: return .created(.init(body: .json(Self.dto(record))))
        case .replayed: return .ok(.init(body: .json(Self.dto(record))))
        }
    }

    func createTransactionBatch(_ input: Operations.CreateTransactionBatch.Input) async throws -> Operations.CreateTransactionBatch.Output {
        let principal = try RequestScope.require("transactions:create")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let bound = TransactionLimitsBounds.batchSizeMax
        guard (1...bound).contains(body.transactions.count) else {
            throw AppError.validation([.init(field: "transactions", message: "must hold 1–\(bound) transactions")])
        }
        var drafts: [TransactionDraft] = []
        var fields: [AppError.FieldError] = []
        for (index, item) in body.transactions.enumerated() {
            do { drafts.append(try Self.draft(item, prefix: "transactions[\(index)].", index: index)) } catch let error as AppError {
                fields += error.fieldErrors
            }
        }
        if !fields.isEmpty { throw AppError.validation(fields) }
        let ids = drafts.compactMap(\.id)
        guard Set(ids).count == ids.count else {
            throw AppError.validation([.init(field: "transactions", message: "two transactions carry the same id")])
        }
        let outcomes = try await self.book.create(drafts, principal: principal) { "transactions[\($0)]." }
        let records = try await self.book.records(tenantId: principal.tenantId, rows: outcomes.map(\.row))
        return .created(.init(body: .json(.init(items: records.map(Self.dto)))))
    }

    func listTransactions(_ input: Operations.ListTransactions.Input) async throws -> Operations.ListTransactions.Output {
        let principal = try RequestScope.require("transactions:read")
        let query = input.query
        var validator = Validator()
        var filter = TransactionFilter()
        func date(_ text: String?, _ field: String) -> ValueDate? {
            guard let text else { return nil }
            let date = ValueDate(text)
            validator.check(date != nil, field, "must be a date YYYY-MM-DD")
            return date
        }
        filter.from = date(query.from, "from")
        filter.to = date(query.to, "to")
        if let accountId = query.accountId {
            validator.check(UUID(uuidString: accountId) != nil, "accountId", "must be a UUID")
            filter.accountId = accountId.lowercased()
        }
        if let counterparty = query.counterparty {
            filter.counterpartyKey = Counterparty.key(counterparty)
            validator.check(!filter.counterpartyKey!.isEmpty, "counterparty", "must hold a letter or digit")
        }
        if let category = query.category {
            validator.check((1...TransactionLimitsBounds.categoryLengthMax).contains(category.count), "category", "must be 1–\(TransactionLimitsBounds.categoryLengthMax) characters")
            filter.category = category
        }
        filter.status = query.status.flatMap { TransactionStatus(rawValue: $0.rawValue) }
        filter.kind = query.kind.flatMap { TransactionKind(rawValue: $0.rawValue) }
        if let currency = query.currency {
            validator.check(Currency(code: currency.uppercased()) != nil, "currency", "is not an ISO 4217 code")
            filter.currency = currency.uppercased()
        }
        filter.amountMin = query.amountMin
        filter.amountMax = query.amountMax
        if let min = query.amountMin, let max = query.amountMax { validator.check(min <= max, "amountMin", "must not exceed amountMax") }
        if let text = query.q {
            validator.check((1...TransactionLimitsBounds.searchLengthMax).contains(text.count), "q", "must be 1–\(TransactionLimitsBounds.searchLengthMax) characters")
            filter.text = text
        }
        try validator.throwIfInvalid()
        let page = try PageRequest(limit: query.limit, cursor: query.cursor)
        let result = try await self.book.search(principal: principal, filter: filter, page: page)
        let records = result.items.map { TransactionRecord(row: $0, history: []) }
        return .ok(.init(body: .json(.init(items: records.map { Self.dto($0, withHistory: false) }, nextCursor: result.nextCursor))))
    }

    func getTransaction(_ input: Operations.GetTransaction.Input) async throws -> Operations.GetTransaction.Output {
        let principal = try RequestScope.require("transactions:read")
        return .ok(.init(body: .json(Self.dto(try await self.book.transaction(principal: principal, id: input.path.transactionId)))))
    }

    func reverseTransaction(_ input: Operations.ReverseTransaction.Input) async throws -> Operations.ReverseTransaction.Output {
        let principal = try RequestScope.require("transactions:reverse")
        var body: Components.Schemas.ReverseTransaction?
        if case .json(let decoded) = input.body { body = decoded }
        let record = try await self.book.reverse(principal: principal, id: input.path.transactionId, date: body?.date, reason: body?.reason)
        return .accepted(.init(body: .json(Self.dto(record))))
    }

    func listTransactionAccounts(_ input: Operations.ListTransactionAccounts.Input) async throws -> Operations.ListTransactionAccounts.Output {
        let principal = try RequestScope.require("transactions:read")
        let accounts = try await self.book.accounts(principal: principal)
        return .ok(.init(body: .json(.init(items: accounts.map {
            .init(id: $0.id, code: $0.code, name: $0.name, _type: $0.type, currency: $0.currency, status: $0.status)
        }))))
    }

    func getTransactionLimits(_ input: Operations.GetTransactionLimits.Input) async throws -> Operations.GetTransactionLimits.Output {
        let principal = try RequestScope.require("transactions:read")
        return .ok(.init(body: .json(Self.dto(try await self.book.limits(principal: principal)))))
    }

    func updateTransactionLimits(_ input: Operations.UpdateTransactionLimits.Input) async throws -> Operations.UpdateTransactionLimits.Output {
        let principal = try RequestScope.require("tenant:update")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        func velocity(_ v: Components.Schemas.Velocity) -> VelocityLimit {
            VelocityLimit(windowSeconds: v.windowSeconds, countMax: v.countMax, amountMaxMinor: v.amountMax?.additionalProperties ?? [:])
        }
        let limits = TransactionLimits(
            transactionAmountMaxMinor: body.transactionAmountMax?.additionalProperties ?? [:], allowedCurrencies: body.allowedCurrencies,
            accountVelocity: velocity(body.accountVelocity), tenantVelocity: velocity(body.tenantVelocity),
            duplicateWindowDays: body.duplicateWindowDays, holdForCompliance: body.holdForCompliance == true ? true : nil)
        return .ok(.init(body: .json(Self.dto(try await self.book.setLimits(principal: principal, limits)))))
    }

    /// A caller's transaction as a validated draft; field names carry `prefix`. Without the caller's id, it is named
    /// after the request's `Idempotency-Key` (the `index`th of a batch), so a retry finds what a crashed run created.
    static func draft(_ body: Components.Schemas.CreateTransaction, prefix: String, index: Int) throws -> TransactionDraft {
        try TransactionDraft.validated(
            id: body.id ?? RequestScope.effectId("transaction", index: index), kind: body.kind.rawValue, amountMinor: body.amount, currency: body.currency, valueDate: body.valueDate,
            sourceAccountId: body.sourceAccountId, destinationAccountId: body.destinationAccountId,
            counterpartyName: body.counterparty?.name, counterpartyCountry: body.counterparty?.country,
            counterpartyAccount: body.counterparty?.accountNumber, category: body.category, description: body.description,
            externalReference: body.externalReference, metadata: body.metadata?.additionalProperties,
            allowDuplicate: body.allowDuplicate ?? false, prefix: prefix)
    }

    static func dto(_ record: TransactionRecord) -> Components.Schemas.Transaction {
        self.dto(record, withHistory: true)
    }

    static func dto(_ record: TransactionRecord, withHistory: Bool) -> Components.Schemas.Transaction {
        let row = record.row
        return .init(
            id: row.id, kind: Components.Schemas.TransactionKind(rawValue: row.kind) ?? .adjustment,
            status: Components.Schemas.TransactionStatus(rawValue: row.status) ?? .pending, amount: row.amount_minor,
            currency: row.currency, valueDate: row.value_date, sourceAccountId: row.source_account_id,
            destinationAccountId: row.destination_account_id,
            counterparty: row.counterparty.map { .init(name: $0, country: row.counterparty_country, accountNumber: row.counterparty_account) },
            category: row.category, description: row.description, externalReference: row.external_reference,
            metadata: .init(additionalProperties: row.metadataDictionary), statusCode: row.status_code, statusReason: row.status_reason,
            entryId: row.entry_id, reversalEntryId: row.reversal_entry_id, importId: row.import_id, createdBy: row.created_by,
            createdAt: Date(unixMillis: row.created_at_ms), updatedAt: Date(unixMillis: row.updated_at_ms),
            history: withHistory ? record.history.map {
                .init(status: Components.Schemas.TransactionStatus(rawValue: $0.status) ?? .pending, code: $0.code, reason: $0.reason,
                      entryId: $0.entry_id, at: Date(unixMillis: $0.at_ms))
            } : nil)
    }

    static func dto(_ limits: TransactionLimits) -> Components.Schemas.TransactionLimits {
        func velocity(_ v: VelocityLimit) -> Components.Schemas.Velocity {
            .init(windowSeconds: v.windowSeconds, countMax: v.countMax, amountMax: .init(additionalProperties: v.amountMaxMinor))
        }
        return .init(
            transactionAmountMax: .init(additionalProperties: limits.transactionAmountMaxMinor), allowedCurrencies: limits.allowedCurrencies,
            accountVelocity: velocity(limits.accountVelocity), tenantVelocity: velocity(limits.tenantVelocity),
            duplicateWindowDays: limits.duplicateWindowDays, holdForCompliance: limits.holdForCompliance ?? false)
    }
}
