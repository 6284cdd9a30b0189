import FinFlowCore
import Foundation
import SQLKit

/// What a journal import did.
struct ImportSummary: Sendable {
    let entries: Int
    let accountsCreated: Int
    let lines: Int
    /// Time spent posting the parsed entries (checks, totals, rows), for throughput figures.
    let postingSeconds: Double
}

extension Ledger {
    /// Entries read per query while exporting, so a large journal streams.
    static let exportPageSize = 2000

    /// Writes the posted journal (optionally limited to a date range) in hledger's format, a chunk at a time.
    func exportJournal(
        principal: Principal, from: LedgerDate?, to: LedgerDate?, write: @Sendable (String) async throws -> Void
    ) async throws {
        let (ledger, accounts) = try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            (try await LedgerStore.ledger(tenantId: principal.tenantId, db: db), try await LedgerStore.allAccounts(tenantId: principal.tenantId, db: db))
        }
        let writer = HledgerWriter(accounts: accounts)
        try await write(writer.header(tenantId: principal.tenantId, baseCurrency: ledger.base_currency))
        var after: (String, Int64, String)?
        while true {
            let cursor = after
            let page: [EntryRecord] = try await self.database.tenantRead(tenantId: principal.tenantId) { db in
                var query = SQLQueryString("""
                    SELECT * FROM journal_entries WHERE tenant_id = \(bind: principal.tenantId) AND status = 'posted'
                    """)
                if let from { query.appendInterpolation(unsafeRaw: " AND accounting_date >= "); query.appendInterpolation(bind: from.description) }
                if let to { query.appendInterpolation(unsafeRaw: " AND accounting_date <= "); query.appendInterpolation(bind: to.description) }
                if let (date, posted, id) = cursor {
                    query.appendInterpolation(unsafeRaw: " AND (accounting_date, posted_at_ms, id) > (")
                    query.appendInterpolation(binds: [date, posted, id])
                    query.appendInterpolation(unsafeRaw: ")")
                }
                query.appendInterpolation(unsafeRaw: " ORDER BY accounting_date, posted_at_ms, id LIMIT \(Self.exportPageSize)")
                let entries = try await db.raw(query).all(decoding: EntryRow.self)
                let lines = try await LedgerStore.lines(entryIds: entries.map(\.id), db: db)
                return entries.map { EntryRecord(entry: $0, lines: lines[$0.id] ?? []) }
            }
            guard let last = page.last else { return }
            var chunk = ""
            chunk.reserveCapacity(page.count * 200)
            for record in page { writer.transaction(record.entry, lines: record.lines, into: &chunk) }
            try await write(chunk)
            after = (last.entry.accounting_date, last.entry.posted_at_ms ?? 0, last.entry.id)
        }
    }

    /// Posts every transaction of an hledger journal, all or nothing, opening the accounts it names that the chart
    /// lacks (found by code first, then by their hledger name). With `importId` (derived from the request's
    /// idempotency key) the import is recorded under it in its transaction, and a retry that finds it answers with what
    /// it did instead of posting the journal again.
    func importJournal(principal: Principal, text: String, importId: String? = nil) async throws -> ImportSummary {
        let parsed = try HledgerParser.parse(text)
        let now = self.now
        let kind = self.kind
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            struct Done: Decodable { let entries: Int; let accounts_created: Int; let lines: Int }
            if let importId, let done = try await db.raw("""
                SELECT entries, accounts_created, lines FROM journal_imports WHERE tenant_id = \(bind: principal.tenantId) AND id = \(bind: importId)
                """).first(decoding: Done.self)
            {
                return ImportSummary(entries: done.entries, accountsCreated: done.accounts_created, lines: done.lines, postingSeconds: 0)
            }
            let ledger = try await LedgerStore.ledger(tenantId: principal.tenantId, db: db)
            var accounts = try await LedgerStore.allAccounts(tenantId: principal.tenantId, db: db)
            var resolver = JournalAccountResolver(accounts: accounts, declaredTypes: parsed.declaredTypes)
            var created: [AccountRow] = []
            for transaction in parsed.transactions {
                for posting in transaction.postings {
                    let new = try resolver.resolve(
                        posting.account, currency: posting.currency, line: transaction.line, tenantId: principal.tenantId,
                        ids: self.env.ids, nowMillis: now)
                    created += new
                }
            }
            guard accounts.count + created.count <= LedgerLimits.accountsPerTenantMax else {
                throw AppError(.rejected, code: "too-many-accounts", "the journal would open more accounts than a chart may hold")
            }
            for account in created {
                try await LedgerStore.insert(account: account, db: db)
                try await self.announce(account, on: db)
            }
            accounts += created
            var requests: [EntryRequest] = []
            for transaction in parsed.transactions {
                let lines = try transaction.postings.map { posting -> LineRequest in
                    guard let id = resolver.ids[posting.account], let account = resolver.byId[id] else {
                        throw InvariantViolation("the import resolved no account for \(posting.account)")
                    }
                    guard account.currency == posting.currency else {
                        throw HledgerParser.failure(transaction.line, "account \(posting.account) keeps \(account.currency), not \(posting.currency)")
                    }
                    return LineRequest(accountId: id, side: posting.amountMinor > 0 ? .debit : .credit, amountMinor: abs(posting.amountMinor),
                                       currency: posting.currency, memo: posting.memo)
                }
                do {
                    requests.append(try EntryRequest.validated(
                        id: nil, date: transaction.date.description, description: transaction.description, reference: transaction.code,
                        metadata: nil, lines: lines, source: .import, mode: .post, timeoutSeconds: nil))
                } catch let error as AppError {
                    throw HledgerParser.failure(transaction.line, ([error.message] + error.fieldErrors.map { "\($0.field) \($0.message)" }).joined(separator: "; "))
                }
            }
            let clock = ContinuousClock()
            let posting = try await clock.measure {
                try await self.submitStream(requests, principal: principal, on: db)
            }
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "accounting.journal.imported",
                           target: principal.tenantId,
                           details: ["entries": String(requests.count), "accountsCreated": String(created.count), "baseCurrency": ledger.base_currency]),
                on: db, kind: kind)
            let lines = requests.reduce(0) { $0 + $1.lines.count }
            if let importId {
                try await db.raw("""
                    INSERT INTO journal_imports (tenant_id, id, entries, accounts_created, lines, created_at_ms)
                    VALUES (\(bind: principal.tenantId), \(bind: importId), \(bind: requests.count), \(bind: created.count), \(bind: lines), \(bind: now))
                    """).run()
            }
            return ImportSummary(
                entries: requests.count, accountsCreated: created.count, lines: lines,
                postingSeconds: posting.inSeconds)
        }
    }
}

/// Maps hledger account names to ledger accounts, opening the missing ones (and their parents).
struct JournalAccountResolver {
    private(set) var byId: [String: AccountRow]
    private(set) var ids: [String: String] = [:]
    private var byCode: [String: String]
    let declaredTypes: [String: AccountType]
    private var generated = 0

    init(accounts: [AccountRow], declaredTypes: [String: AccountType]) {
        self.byId = Dictionary(uniqueKeysWithValues: accounts.map { ($0.id, $0) })
        self.byCode = Dictionary(uniqueKeysWithValues: accounts.map { ($0.code, $0.id) })
        self.declaredTypes = declaredTypes
        let writer = HledgerWriter(accounts: accounts)
        for account in accounts { self.ids[writer.name(account.id)] = account.id }
    }

    static func type(ofRoot root: String) -> AccountType? {
        switch root.lowercased() {
        case "assets", "asset": .asset
        case "liabilities", "liability": .liability
        case "equity": .equity
        case "revenues", "revenue", "income": .revenue
        case "expenses", "expense": .expense
        default: nil
        }
    }

    /// Resolves `name`, returning the accounts it had to open.
    mutating func resolve(
        _ name: String, currency: String, line: Int, tenantId: String, ids: IdentifierGenerator, nowMillis: Int64
    ) throws -> [AccountRow] {
        if self.ids[name] != nil { return [] }
        let segments = name.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
        if let last = segments.last, let code = last.split(separator: " ").first.map(String.init), let id = self.byCode[code] {
            self.ids[name] = id
            return []
        }
        guard segments.count >= 1, segments.allSatisfy({ !$0.isEmpty }) else { throw HledgerParser.failure(line, "'\(name.prefix(60))' is not an account name") }
        let declaredTypes = self.declaredTypes
        let declared = declaredTypes[name] ?? (1...segments.count).lazy.compactMap { declaredTypes[segments.prefix($0).joined(separator: ":")] }.first
        guard let type = declared ?? Self.type(ofRoot: segments[0]) else {
            throw HledgerParser.failure(line, "cannot tell the type of '\(name.prefix(60))': start it with assets, liabilities, equity, revenues or expenses")
        }
        let isRoot = declared == nil || Self.type(ofRoot: segments[0]) != nil
        let accountSegments = isRoot && segments.count > 1 ? Array(segments.dropFirst()) : segments
        var created: [AccountRow] = []
        var parentId: String?
        for depth in 1...accountSegments.count {
            let path = (isRoot && segments.count > 1 ? [segments[0]] : []) + accountSegments.prefix(depth)
            let pathName = path.joined(separator: ":")
            if let existing = self.ids[pathName] { parentId = existing; continue }
            let segment = accountSegments[depth - 1]
            var code: String
            var title = segment
            let firstToken = segment.split(separator: " ").first.map(String.init) ?? ""
            var validator = Validator()
            AccountRules.checkCode(firstToken, field: "code", into: &validator)
            if validator.errors.isEmpty && self.byCode[firstToken] == nil && firstToken.first?.isNumber == true {
                code = firstToken
                title = String(segment.dropFirst(firstToken.count)).trimmingCharacters(in: .whitespaces).nonEmpty ?? segment
            } else {
                repeat { self.generated += 1; code = String(format: "I%04d", self.generated) } while self.byCode[code] != nil
            }
            let row = AccountRow(
                id: ids.nextString(), tenant_id: tenantId, code: code, name: String(title.prefix(120)), type: type.rawValue, contra: 0,
                normal_side: type.naturalSide.rawValue, parent_id: parentId, currency: currency, cash_flow_tag: nil,
                balance_constraint: BalanceConstraint.none.rawValue, status: AccountStatus.active.rawValue, system_role: nil,
                posted_debits_minor: 0, posted_credits_minor: 0, pending_debits_minor: 0, pending_credits_minor: 0,
                created_at_ms: nowMillis, updated_at_ms: nowMillis)
            self.byId[row.id] = row
            self.byCode[code] = row.id
            self.ids[pathName] = row.id
            created.append(row)
            parentId = row.id
        }
        self.ids[name] = parentId
        return created
    }
}
