import FinFlowCore
import Foundation
import SQLKit

/// The transaction service's use cases: the only API its HTTP handlers and event consumers call.
public struct TransactionBook: Sendable {
    let env: ServiceEnvironment
    let outbox: Outbox
    let screening: Screening
    /// Creations that arrive together share one commit (nil in the book that applies them).
    private let creations: GroupCommit<Creation, [Outcome]>?
    var database: any Database { self.env.database }
    var kind: DatabaseKind { self.env.database.kind }
    var now: Int64 { self.env.clock.nowMillis() }

    /// The book of `env`'s database.
    init(env: ServiceEnvironment) {
        self.init(env: env, grouping: true)
    }

    /// A book whose creations go through a group commit, or (`grouping` false) the book that applies them.
    private init(env: ServiceEnvironment, grouping: Bool) {
        self.env = env
        self.outbox = env.outbox(serviceName: "transactions")
        self.screening = Screening(settings: env.settings)
        if grouping {
            let applier = TransactionBook(env: env, grouping: false)
            self.creations = GroupCommit(database: env.database) { inputs, db in try await applier.apply(inputs, db: db) }
        } else {
            self.creations = nil
        }
    }

    /// One creation request, as the group commit carries it.
    struct Creation: Sendable {
        let drafts: [TransactionDraft]
        let principal: Principal
        let prefix: @Sendable (Int) -> String
    }

    /// What a creation did with one draft.
    enum Outcome: Sendable {
        case created(TransactionRow)
        /// The client id named a transaction created before with the same content.
        case replayed(TransactionRow)

        var row: TransactionRow {
            switch self {
            case .created(let row), .replayed(let row): row
            }
        }
    }

    /// Takes drafts in, all or nothing: each passes the whole pipeline or the first refusal is thrown, its fields named
    /// with `prefix(index)`. Each new transaction is pending (held, when the tenant holds them for compliance) and
    /// announced with `TransactionCreated`. Requests that
    /// arrive together are checked against one another and committed together.
    func create(_ drafts: [TransactionDraft], principal: Principal, prefix: @escaping @Sendable (Int) -> String = { _ in "" })
        async throws -> [Outcome]
    {
        guard let creations = self.creations else { preconditionFailure("the applying book creates through apply(_:db:)") }
        return try await creations.run(tenantId: principal.tenantId, Creation(drafts: drafts, principal: principal, prefix: prefix))
    }

    /// Applies one tenant's creation requests inside the group's transaction: each is refused on its own (nothing of
    /// it written) or written whole; a database error throws, and the group commit then runs each request alone.
    func apply(_ inputs: [Creation], db: any SQLDatabase) async throws -> [Result<[Outcome], any Error>] {
        guard let first = inputs.first else { return [] }
        var pipeline = try await self.pipeline(for: inputs.flatMap(\.drafts), principal: first.principal, db: db)
        var results: [Result<[Outcome], any Error>] = []
        for input in inputs {
            var trial = pipeline
            var outcomes: [Outcome?] = Array(repeating: nil, count: input.drafts.count)
            var accepted: [(Int, TransactionDraft)] = []
            do {
                for (index, draft) in input.drafts.enumerated() {
                    if let existing = trial.existing(draft) {
                        guard existing.request_hash == draft.requestHash else { throw TransactionsError.idReused() }
                        outcomes[index] = .replayed(existing)
                        continue
                    }
                    try await trial.check(draft, prefix: input.prefix(index), db: db)
                    accepted.append((index, draft))
                }
            } catch let error as AppError {
                results.append(.failure(error))
                continue
            }
            let rows = try await self.insert(
                accepted.map(\.1), principal: input.principal, importId: nil, held: trial.limits.holdForCompliance == true, db: db)
            for ((index, _), row) in zip(accepted, rows) {
                outcomes[index] = .created(row)
                trial.existingById[row.id] = row
            }
            pipeline = trial
            results.append(.success(outcomes.map { $0! }))
        }
        return results
    }

    /// Writes accepted drafts as pending (or, `held`, held) transactions with their first history row and their events.
    func insert(_ drafts: [TransactionDraft], principal: Principal, importId: String?, held: Bool, db: any SQLDatabase) async throws
        -> [TransactionRow]
    {
        let now = self.now
        let rows = drafts.map { draft in
            TransactionRow(
                id: draft.id ?? self.env.ids.nextString(), tenant_id: principal.tenantId, kind: draft.kind.rawValue,
                status: (held ? TransactionStatus.held : .pending).rawValue, amount_minor: draft.amountMinor, currency: draft.currency,
                value_date: draft.valueDate.description, source_account_id: draft.sourceAccountId,
                destination_account_id: draft.destinationAccountId, counterparty: draft.counterparty?.name,
                counterparty_country: draft.counterparty?.country, counterparty_account: draft.counterparty?.accountNumber,
                counterparty_key: Counterparty.key(draft.counterparty?.name), category: draft.category, description: draft.description,
                external_reference: draft.externalReference, reference_key: draft.referenceKey, metadata: Self.json(draft.metadata),
                request_hash: draft.requestHash, import_id: importId, import_fingerprint: draft.importFingerprint, entry_id: nil,
                reversal_entry_id: nil, status_code: nil, status_reason: nil, created_by: principal.subject, created_at_ms: now,
                updated_at_ms: now)
        }
        guard !rows.isEmpty else { return [] }
        do {
            try await db.insertRows(into: "transactions", columns: TransactionRow.columns, rows: rows.map(\.cells))
        } catch where violatedConstraint(error) != nil {
            // Only a client id that another tenant's transaction holds gets here: this tenant's were looked up first.
            throw TransactionsError.idReused()
        }
        let history = rows.map {
            HistoryRow(id: self.env.ids.nextString(), tenant_id: $0.tenant_id, transaction_id: $0.id, status: $0.status, code: nil,
                       reason: nil, entry_id: nil, at_ms: now)
        }
        try await db.insertRows(into: "transaction_history", columns: HistoryRow.columns, rows: history.map(\.cells))
        try await TransactionStore.count(
            rows.map { ($0.source_account_id, $0.currency, $0.amount_minor, $0.created_at_ms) }, sign: 1, tenantId: principal.tenantId, db: db)
        for row in rows {
            try await self.outbox.enqueue(row.created, subject: row.id, tenantId: row.tenant_id, on: db)
        }
        return rows
    }

    /// The pipeline for `drafts`, with what it needs loaded: limits, accounts, existing ids and the velocity so far.
    /// On PostgreSQL the tenant's creations queue behind one another, so duplicate and velocity checks see every
    /// transaction committed before them (SQLite's writer is single already).
    func pipeline(for drafts: [TransactionDraft], principal: Principal, db: any SQLDatabase) async throws -> Pipeline {
        if self.kind == .postgres {
            try await db.raw("SELECT pg_advisory_xact_lock(hashtext(\(bind: "transactions:" + principal.tenantId)))").run()
        }
        let limits = try await TransactionStore.limits(tenantId: principal.tenantId, db: db) ?? .defaults
        let accountIds = Set(drafts.flatMap { [$0.sourceAccountId, $0.destinationAccountId] })
        let accounts = try await TransactionStore.accounts(tenantId: principal.tenantId, ids: Array(accountIds), db: db)
        let existing = try await TransactionStore.transactions(tenantId: principal.tenantId, ids: drafts.compactMap(\.id), db: db)
        // Velocity is counted in minute buckets: a window holds its whole first minute, so it errs on the strict side.
        let now = self.now
        func since(_ limit: VelocityLimit) -> Int64 { (now - Int64(limit.windowSeconds) * 1000) / 60_000 }
        var accountUsage: [String: Usage] = [:]
        for source in Set(drafts.map(\.sourceAccountId)) {
            accountUsage[source] = try await TransactionStore.usage(
                tenantId: principal.tenantId, scope: source, sinceMinute: since(limits.accountVelocity), db: db)
        }
        let tenantUsage = try await TransactionStore.usage(
            tenantId: principal.tenantId, scope: TransactionStore.tenantScope, sinceMinute: since(limits.tenantVelocity), db: db)
        return Pipeline(
            tenantId: principal.tenantId, limits: limits, screening: self.screening,
            accounts: Dictionary(uniqueKeysWithValues: accounts.map { ($0.id, $0) }),
            existingById: Dictionary(uniqueKeysWithValues: existing.map { ($0.id, $0) }), accountUsage: accountUsage, tenantUsage: tenantUsage)
    }

    /// Encodes with sorted keys, so equal values are equal text (JSONEncoder is safe to share).
    static let sortedEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static func json(_ metadata: [String: String]) -> String {
        guard !metadata.isEmpty else { return "{}" }
        return String(decoding: (try? Self.sortedEncoder.encode(metadata)) ?? Data("{}".utf8), as: UTF8.self)
    }
}

/// How many transactions, and how much per currency, left an account (or the tenant) within a window.
struct Usage: Sendable {
    var count: Int64 = 0
    var amountMinor: [String: Int64] = [:]

    mutating func add(_ amountMinor: Int64, currency: String) {
        self.count += 1
        self.amountMinor[currency, default: 0] = (self.amountMinor[currency] ?? 0).addingReportingOverflow(amountMinor).partialValue
    }
}

/// The screening lists from configuration, ready to compare.
struct Screening: Sendable {
    let sanctionedCountries: Set<String>
    let blockedKeys: Set<String>

    init(settings: Settings) {
        self.sanctionedCountries = settings.transactionsSanctionedCountries
        self.blockedKeys = Set(settings.transactionsBlockedCounterparties.map(Counterparty.key).filter { !$0.isEmpty })
    }
}
