import FinFlowCore
import Foundation
import OpenAPIRuntime

extension AccountingAPI {
    func listJournalEntries(_ input: Operations.ListJournalEntries.Input) async throws -> Operations.ListJournalEntries.Output {
        let principal = try RequestScope.require(Permissions.readJournal)
        var validator = Validator()
        var filter = EntryFilter()
        filter.from = LedgerDate.parse(input.query.from, field: "from", into: &validator)
        filter.to = LedgerDate.parse(input.query.to, field: "to", into: &validator)
        filter.status = input.query.status.flatMap { EntryStatus(rawValue: $0.rawValue) }
        filter.source = input.query.source.flatMap { EntrySource(rawValue: $0.rawValue) }
        if let accountId = input.query.accountId {
            validator.check(UUID(uuidString: accountId) != nil, "accountId", "must be a UUID")
            filter.accountId = accountId
        }
        try validator.throwIfInvalid()
        let page = try PageRequest(limit: input.query.limit, cursor: input.query.cursor)
        let result = try await self.ledger.entries(principal: principal, filter: filter, page: page)
        return .ok(.init(body: .json(.init(items: result.items.map(Self.dto), nextCursor: result.nextCursor))))
    }

    func createJournalEntry(_ input: Operations.CreateJournalEntry.Input) async throws -> Operations.CreateJournalEntry.Output {
        let principal = try RequestScope.require(Permissions.post)
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let request = try Self.request(body, prefix: "", index: 0)
        let records = try await self.ledger.submit([request], principal: principal)
        return .created(.init(body: .json(Self.dto(records[0]))))
    }

    func createJournalEntryBatch(_ input: Operations.CreateJournalEntryBatch.Input) async throws
        -> Operations.CreateJournalEntryBatch.Output
    {
        let principal = try RequestScope.require(Permissions.post)
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        guard (1...LedgerLimits.batchEntriesMax).contains(body.entries.count) else {
            throw AppError.validation([.init(field: "entries", message: "must hold 1–\(LedgerLimits.batchEntriesMax) entries")])
        }
        var requests: [EntryRequest] = []
        var fields: [AppError.FieldError] = []
        for (index, entry) in body.entries.enumerated() {
            do { requests.append(try Self.request(entry, prefix: "entries[\(index)].", index: index)) } catch let error as AppError {
                fields += error.fieldErrors
            }
        }
        if !fields.isEmpty { throw AppError.validation(fields) }
        let batchId = RequestScope.effectId("journal-batch") ?? self.ledger.env.ids.nextString()
        let records = try await self.ledger.submit(requests, principal: principal, batchId: batchId)
        return .created(.init(body: .json(.init(items: records.map(Self.dto)))))
    }

    func getJournalEntry(_ input: Operations.GetJournalEntry.Input) async throws -> Operations.GetJournalEntry.Output {
        let principal = try RequestScope.require(Permissions.readJournal)
        return .ok(.init(body: .json(Self.dto(try await self.ledger.entry(principal: principal, id: input.path.entryId)))))
    }

    func postJournalEntry(_ input: Operations.PostJournalEntry.Input) async throws -> Operations.PostJournalEntry.Output {
        let principal = try RequestScope.require(Permissions.post)
        var body: Components.Schemas.PostPendingEntry?
        if case .json(let decoded) = input.body { body = decoded }
        var validator = Validator()
        let date = LedgerDate.parse(body?.date, field: "date", into: &validator)
        var amounts: [Int: Int64] = [:]
        for (key, value) in body?.amounts?.additionalProperties ?? [:] {
            guard let line = Int(key), line > 0 else { validator.fail("amounts.\(key.prefix(20))", "must be a line number"); continue }
            amounts[line] = value
        }
        try validator.throwIfInvalid()
        let record = try await self.ledger.postEntry(
            principal: principal, id: input.path.entryId, amounts: amounts, date: date, newId: body?.id,
            keyedId: RequestScope.effectId("journal-entry-posting"))
        return .ok(.init(body: .json(Self.dto(record))))
    }

    func approveJournalEntry(_ input: Operations.ApproveJournalEntry.Input) async throws -> Operations.ApproveJournalEntry.Output {
        let principal = try RequestScope.require(Permissions.approve)
        return .ok(.init(body: .json(Self.dto(try await self.ledger.approve(principal: principal, id: input.path.entryId)))))
    }

    func voidJournalEntry(_ input: Operations.VoidJournalEntry.Input) async throws -> Operations.VoidJournalEntry.Output {
        let principal = try RequestScope.require(Permissions.post)
        return .ok(.init(body: .json(Self.dto(try await self.ledger.voidPending(principal: principal, id: input.path.entryId)))))
    }

    func discardJournalEntry(_ input: Operations.DiscardJournalEntry.Input) async throws -> Operations.DiscardJournalEntry.Output {
        let principal = try RequestScope.require(Permissions.post)
        return .ok(.init(body: .json(Self.dto(try await self.ledger.discard(principal: principal, id: input.path.entryId)))))
    }

    func reverseJournalEntry(_ input: Operations.ReverseJournalEntry.Input) async throws -> Operations.ReverseJournalEntry.Output {
        let principal = try RequestScope.require(Permissions.post)
        var body: Components.Schemas.ReverseEntry?
        if case .json(let decoded) = input.body { body = decoded }
        var validator = Validator()
        let date = LedgerDate.parse(body?.date, field: "date", into: &validator)
        try validator.throwIfInvalid()
        let record = try await self.ledger.reverse(
            principal: principal, id: input.path.entryId, date: date, description: body?.description,
            newId: body?.id ?? RequestScope.effectId("journal-entry-reversal"))
        return .created(.init(body: .json(Self.dto(record))))
    }

    /// A caller's entry as a validated request; field names carry `prefix`. Without the caller's id, the entry is named
    /// after the request's `Idempotency-Key` (the `index`th of a batch), so a retry finds what a crashed run posted.
    static func request(_ body: Components.Schemas.CreateJournalEntry, prefix: String, index: Int) throws -> EntryRequest {
        try EntryRequest.validated(
            id: body.id ?? RequestScope.effectId("journal-entry", index: index), date: body.date, description: body.description, reference: body.reference,
            metadata: body.metadata?.additionalProperties,
            lines: body.lines.map {
                LineRequest(accountId: $0.accountId.lowercased(), side: $0.side == .debit ? .debit : .credit, amountMinor: $0.amount,
                            currency: $0.currency?.uppercased(), memo: $0.memo)
            },
            source: .manual, mode: PostingMode(rawValue: body.mode?.rawValue ?? "post") ?? .post,
            timeoutSeconds: body.timeoutSeconds, prefix: prefix)
    }

    static func dto(_ record: EntryRecord) -> Components.Schemas.JournalEntry {
        let entry = record.entry
        return .init(
            id: entry.id, status: Components.Schemas.EntryStatus(rawValue: entry.status) ?? .draft,
            source: Components.Schemas.EntrySource(rawValue: entry.source) ?? .manual, sourceId: entry.source_id,
            date: entry.accounting_date, description: entry.description, reference: entry.reference,
            metadata: .init(additionalProperties: entry.metadataDictionary),
            lines: record.lines.map {
                .init(line: $0.line_no, accountId: $0.account_id, side: $0.side == .debit ? .debit : .credit,
                      amount: $0.amountMinor, currency: $0.currency, memo: $0.memo)
            },
            reversesId: entry.reverses_id, reversedById: entry.reversed_by_id, pendingId: entry.pending_id,
            resolvedById: entry.resolved_by_id, expiresAt: entry.timeout_at_ms.map(Date.init(unixMillis:)),
            createdBy: entry.created_by, approvedBy: entry.approved_by, createdAt: Date(unixMillis: entry.created_at_ms),
            postedAt: entry.posted_at_ms.map(Date.init(unixMillis:)))
    }
}
