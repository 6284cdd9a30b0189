import FinFlowCore
import Foundation
import SQLKit

/// Filters for listing the journal.
struct EntryFilter: Sendable {
    var from: LedgerDate?
    var to: LedgerDate?
    var status: EntryStatus?
    var source: EntrySource?
    var accountId: String?
}

/// An account's posted totals up to a date.
struct BalanceAt: Sendable {
    let account: AccountRow
    let asOf: LedgerDate?
    let debitsMinor: Int64
    let creditsMinor: Int64

    /// Positive on the account's normal side.
    var balanceMinor: Int64 {
        self.account.normalSide == .debit ? self.debitsMinor - self.creditsMinor : self.creditsMinor - self.debitsMinor
    }
}

/// One line of an account statement with the balance after it.
struct StatementLine: Sendable {
    let line: LineRow
    let description: String
    let reference: String?
    let runningBalanceMinor: Int64
}

/// Sums of debits and credits.
struct SumsRow: Decodable, Sendable {
    let debits: Int64?
    let credits: Int64?
}

extension Ledger {
    /// One entry with its lines.
    func entry(principal: Principal, id: String) async throws -> EntryRecord {
        guard UUID(uuidString: id) != nil else { throw AppError.notFound("journal entry") }
        return try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            try await LedgerStore.record(tenantId: principal.tenantId, id: id.lowercased(), db: db)
        }
    }

    /// The journal, oldest accounting date first, a page at a time.
    func entries(principal: Principal, filter: EntryFilter, page: PageRequest) async throws -> (items: [EntryRecord], nextCursor: String?) {
        let after = try page.after.map { cursor -> (String, String) in
            let parts = cursor.split(separator: "|").map(String.init)
            guard parts.count == 2 else { throw AppError.validation([.init(field: "cursor", message: "is not a cursor this API issued")]) }
            return (parts[0], parts[1])
        }
        return try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            var query = SQLQueryString("SELECT * FROM journal_entries WHERE tenant_id = \(bind: principal.tenantId)")
            if let from = filter.from { query.appendInterpolation(unsafeRaw: " AND accounting_date >= "); query.appendInterpolation(bind: from.description) }
            if let to = filter.to { query.appendInterpolation(unsafeRaw: " AND accounting_date <= "); query.appendInterpolation(bind: to.description) }
            if let status = filter.status { query.appendInterpolation(unsafeRaw: " AND status = "); query.appendInterpolation(bind: status.rawValue) }
            if let source = filter.source { query.appendInterpolation(unsafeRaw: " AND source = "); query.appendInterpolation(bind: source.rawValue) }
            if let accountId = filter.accountId {
                query.appendInterpolation(unsafeRaw: " AND id IN (SELECT entry_id FROM journal_lines WHERE tenant_id = ")
                query.appendInterpolation(bind: principal.tenantId)
                query.appendInterpolation(unsafeRaw: " AND account_id = ")
                query.appendInterpolation(bind: accountId.lowercased())
                query.appendInterpolation(unsafeRaw: ")")
            }
            if let (date, id) = after {
                query.appendInterpolation(unsafeRaw: " AND (accounting_date > ")
                query.appendInterpolation(bind: date)
                query.appendInterpolation(unsafeRaw: " OR (accounting_date = ")
                query.appendInterpolation(bind: date)
                query.appendInterpolation(unsafeRaw: " AND id > ")
                query.appendInterpolation(bind: id)
                query.appendInterpolation(unsafeRaw: "))")
            }
            query.appendInterpolation(unsafeRaw: " ORDER BY accounting_date, id LIMIT \(page.limit + 1)")
            let rows = try await db.raw(query).all(decoding: EntryRow.self)
            let cut = page.page(rows) { "\($0.accounting_date)|\($0.id)" }
            let lines = try await LedgerStore.lines(entryIds: cut.items.map(\.id), db: db)
            return (cut.items.map { EntryRecord(entry: $0, lines: lines[$0.id] ?? []) }, cut.nextCursor)
        }
    }

    /// An account's posted totals up to `asOf` (from history), or its running totals now.
    func balance(principal: Principal, accountId: String, asOf: LedgerDate?) async throws -> BalanceAt {
        guard UUID(uuidString: accountId) != nil else { throw AppError.notFound("account") }
        return try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            let account = try await LedgerStore.account(tenantId: principal.tenantId, id: accountId.lowercased(), db: db)
            guard let asOf else {
                return BalanceAt(account: account, asOf: nil, debitsMinor: account.posted_debits_minor, creditsMinor: account.posted_credits_minor)
            }
            let sums = try await db.raw("""
                SELECT CAST(SUM(debit_minor) AS BIGINT) AS debits, CAST(SUM(credit_minor) AS BIGINT) AS credits FROM journal_lines
                WHERE tenant_id = \(bind: principal.tenantId) AND account_id = \(bind: account.id) AND state = 'posted'
                AND accounting_date <= \(bind: asOf.description)
                """).first(decoding: SumsRow.self)
            return BalanceAt(account: account, asOf: asOf, debitsMinor: sums?.debits ?? 0, creditsMinor: sums?.credits ?? 0)
        }
    }

    /// An account's posted lines between two dates with the balance after each, a page at a time; the opening
    /// balance is the balance before the page's first line.
    func statement(principal: Principal, accountId: String, from: LedgerDate?, to: LedgerDate?, page: PageRequest) async throws
        -> (account: AccountRow, openingMinor: Int64, lines: [StatementLine], nextCursor: String?)
    {
        guard UUID(uuidString: accountId) != nil else { throw AppError.notFound("account") }
        let after = try page.after.map { cursor -> (String, Int64, String, Int) in
            let parts = cursor.split(separator: "|").map(String.init)
            guard parts.count == 4, let posted = Int64(parts[1]), let lineNo = Int(parts[3]) else {
                throw AppError.validation([.init(field: "cursor", message: "is not a cursor this API issued")])
            }
            return (parts[0], posted, parts[2], lineNo)
        }
        return try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            let account = try await LedgerStore.account(tenantId: principal.tenantId, id: accountId.lowercased(), db: db)
            var before = SQLQueryString("""
                SELECT CAST(SUM(debit_minor) AS BIGINT) AS debits, CAST(SUM(credit_minor) AS BIGINT) AS credits FROM journal_lines
                WHERE tenant_id = \(bind: principal.tenantId) AND account_id = \(bind: account.id) AND state = 'posted'
                """)
            if let (date, posted, entryId, lineNo) = after {
                before.appendInterpolation(unsafeRaw: " AND (accounting_date, posted_at_ms, entry_id, line_no) <= (")
                before.appendInterpolation(binds: [date, posted, entryId, lineNo])
                before.appendInterpolation(unsafeRaw: ")")
            } else if let from {
                before.appendInterpolation(unsafeRaw: " AND accounting_date < ")
                before.appendInterpolation(bind: from.description)
            } else {
                before.appendInterpolation(unsafeRaw: " AND 1 = 0")
            }
            let sums = try await db.raw(before).first(decoding: SumsRow.self)
            let sign: Int64 = account.normalSide == .debit ? 1 : -1
            let opening = try MinorUnits.narrow(Int128(sign) * (Int128(sums?.debits ?? 0) - Int128(sums?.credits ?? 0)))
            var query = SQLQueryString("""
                SELECT * FROM journal_lines WHERE tenant_id = \(bind: principal.tenantId) AND account_id = \(bind: account.id)
                AND state = 'posted'
                """)
            if let from { query.appendInterpolation(unsafeRaw: " AND accounting_date >= "); query.appendInterpolation(bind: from.description) }
            if let to { query.appendInterpolation(unsafeRaw: " AND accounting_date <= "); query.appendInterpolation(bind: to.description) }
            if let (date, posted, entryId, lineNo) = after {
                query.appendInterpolation(unsafeRaw: " AND (accounting_date, posted_at_ms, entry_id, line_no) > (")
                query.appendInterpolation(binds: [date, posted, entryId, lineNo])
                query.appendInterpolation(unsafeRaw: ")")
            }
            query.appendInterpolation(unsafeRaw: " ORDER BY accounting_date, posted_at_ms, entry_id, line_no LIMIT \(page.limit + 1)")
            let rows = try await db.raw(query).all(decoding: LineRow.self)
            let cut = page.page(rows) { "\($0.accounting_date)|\($0.posted_at_ms)|\($0.entry_id)|\($0.line_no)" }
            let headers = try await self.headers(ids: Array(Set(cut.items.map(\.entry_id))), db: db)
            var running = opening
            let lines = try cut.items.map { line in
                running = try Self.runningBalance(running, sign: sign, line)
                return StatementLine(
                    line: line, description: headers[line.entry_id]?.description ?? "", reference: headers[line.entry_id]?.reference,
                    runningBalanceMinor: running)
            }
            return (account, opening, lines, cut.nextCursor)
        }
    }

    private func headers(ids: [String], db: any SQLDatabase) async throws -> [String: EntryRow] {
        var result: [String: EntryRow] = [:]
        for chunk in ids.chunked(LedgerLimits.insertChunkRows) {
            for row in try await db.raw("SELECT * FROM journal_entries WHERE id IN (\(binds: Array(chunk)))").all(decoding: EntryRow.self) {
                result[row.id] = row
            }
        }
        return result
    }
}
