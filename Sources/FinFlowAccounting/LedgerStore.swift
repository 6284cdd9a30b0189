import FinFlowCore
import Foundation
import SQLKit

/// The accounting service's SQL, written once for SQLite and PostgreSQL. Every query names the tenant.
enum LedgerStore {
    static func ledger(tenantId: String, db: any SQLDatabase) async throws -> LedgerRow {
        guard let row = try await self.ledgerIfAny(tenantId: tenantId, db: db) else { throw AccountingError.ledgerNotReady() }
        return row
    }

    /// How a transaction holds the tenant's period statuses while it runs (PostgreSQL; SQLite has one writer at a
    /// time): shared by postings, which check them, exclusive while they change, so a period never closes under a
    /// posting that found it open, nor while a pending entry is reserved into it.
    enum PeriodsLock {
        case shared, exclusive
    }

    /// The advisory lock key of a tenant's periods (hashed by PostgreSQL's `hashtext`).
    static func periodsLockKey(tenantId: String) -> String {
        "finflow.periods." + tenantId
    }

    /// The tenant's ledger, read with `lock` held on its periods until the transaction ends.
    static func ledger(tenantId: String, locking lock: PeriodsLock, kind: DatabaseKind, db: any SQLDatabase) async throws -> LedgerRow {
        guard kind == .postgres else { return try await self.ledger(tenantId: tenantId, db: db) }
        let function = lock == .shared ? "pg_advisory_xact_lock_shared" : "pg_advisory_xact_lock"
        guard let row = try await db.raw("""
            SELECT *, \(unsafeRaw: function)(hashtext(\(bind: Self.periodsLockKey(tenantId: tenantId)))) AS periods_lock FROM ledgers
            WHERE tenant_id = \(bind: tenantId)
            """).first(decoding: LedgerRow.self)
        else { throw AccountingError.ledgerNotReady() }
        return row
    }

    static func ledgerIfAny(tenantId: String, db: any SQLDatabase) async throws -> LedgerRow? {
        try await db.raw("SELECT * FROM ledgers WHERE tenant_id = \(bind: tenantId)").first(decoding: LedgerRow.self)
    }

    /// The accounts among `ids` (sorted), locked for update when asked (PostgreSQL).
    static func accounts(tenantId: String, ids: [String], forUpdate: Bool, db: any SQLDatabase) async throws -> [AccountRow] {
        var result: [AccountRow] = []
        for chunk in ids.chunked(LedgerLimits.insertChunkRows) {
            result += try await db.raw("""
                SELECT \(unsafeRaw: AccountRow.columns) FROM accounts
                WHERE tenant_id = \(bind: tenantId) AND id IN (\(binds: Array(chunk))) ORDER BY id\(unsafeRaw: forUpdate ? " FOR UPDATE" : "")
                """).all(decoding: AccountRow.self)
        }
        return result
    }

    static func account(tenantId: String, id: String, db: any SQLDatabase) async throws -> AccountRow {
        guard let row = try await db.raw("""
            SELECT \(unsafeRaw: AccountRow.columns) FROM accounts WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id)
            """).first(decoding: AccountRow.self)
        else { throw AppError.notFound("account") }
        return row
    }

    static func allAccounts(tenantId: String, db: any SQLDatabase) async throws -> [AccountRow] {
        try await db.raw("""
            SELECT \(unsafeRaw: AccountRow.columns) FROM accounts WHERE tenant_id = \(bind: tenantId) ORDER BY code
            """).all(decoding: AccountRow.self)
    }

    static func accountBySystemRole(tenantId: String, role: String, db: any SQLDatabase) async throws -> AccountRow? {
        try await db.raw("""
            SELECT \(unsafeRaw: AccountRow.columns) FROM accounts WHERE tenant_id = \(bind: tenantId) AND system_role = \(bind: role)
            """).first(decoding: AccountRow.self)
    }

    static func insert(account: AccountRow, db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO accounts (\(unsafeRaw: AccountRow.columns)) VALUES (
                \(bind: account.id), \(bind: account.tenant_id), \(bind: account.code), \(bind: account.name),
                \(bind: account.type), \(bind: account.contra), \(bind: account.normal_side), \(bind: account.parent_id),
                \(bind: account.currency), \(bind: account.cash_flow_tag), \(bind: account.balance_constraint),
                \(bind: account.status), \(bind: account.system_role), 0, 0, 0, 0, \(bind: account.created_at_ms),
                \(bind: account.updated_at_ms))
            """).run()
    }

    static func entry(tenantId: String, id: String, forUpdate: Bool, db: any SQLDatabase) async throws -> EntryRow? {
        try await db.raw("""
            SELECT * FROM journal_entries WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id)\(unsafeRaw: forUpdate ? " FOR UPDATE" : "")
            """).first(decoding: EntryRow.self)
    }

    static func lines(entryIds: [String], db: any SQLDatabase) async throws -> [String: [LineRow]] {
        var result: [String: [LineRow]] = [:]
        for chunk in entryIds.chunked(LedgerLimits.insertChunkRows) {
            let rows = try await db.raw("""
                SELECT * FROM journal_lines WHERE entry_id IN (\(binds: Array(chunk))) ORDER BY entry_id, line_no
                """).all(decoding: LineRow.self)
            for row in rows { result[row.entry_id, default: []].append(row) }
        }
        return result
    }

    static func record(tenantId: String, id: String, db: any SQLDatabase) async throws -> EntryRecord {
        guard let entry = try await self.entry(tenantId: tenantId, id: id, forUpdate: false, db: db) else {
            throw AppError.notFound("journal entry")
        }
        return EntryRecord(entry: entry, lines: try await self.lines(entryIds: [id], db: db)[id] ?? [])
    }

    static let entryColumns = entryColumnTypes.map(\.0)

    /// The entry columns with their types (int8 or text), in the order of `cells(_:)`.
    static let entryColumnTypes: [(String, integer: Bool)] = [
        ("id", false), ("tenant_id", false), ("status", false), ("source", false), ("source_id", false), ("accounting_date", false),
        ("description", false), ("reference", false), ("metadata", false), ("request_hash", false), ("reverses_id", false),
        ("reversed_by_id", false), ("pending_id", false), ("resolved_by_id", false), ("timeout_at_ms", true), ("batch_id", false),
        ("created_by", false), ("approved_by", false), ("created_at_ms", true), ("posted_at_ms", true), ("resolved_at_ms", true),
    ]

    static func cells(_ e: EntryRow) -> [SQLCell] {
        [
            .init(e.id), .init(e.tenant_id), .init(e.status), .init(e.source), .init(e.source_id), .init(e.accounting_date),
            .init(e.description), .init(e.reference), .init(e.metadata), .init(e.request_hash), .init(e.reverses_id),
            .init(e.reversed_by_id), .init(e.pending_id), .init(e.resolved_by_id), .init(e.timeout_at_ms), .init(e.batch_id),
            .init(e.created_by), .init(e.approved_by), .init(e.created_at_ms), .init(e.posted_at_ms), .init(e.resolved_at_ms),
        ]
    }

    /// Inserts entry headers; returns the ids that were new (an id already present, say a client's id that a
    /// concurrent request took first, is left alone).
    static func insert(entries: [EntryRow], db: any SQLDatabase) async throws -> Set<String> {
        var inserted: Set<String> = []
        for chunk in entries.chunked(LedgerLimits.insertChunkRows / 4) {
            var builder = db.insert(into: "journal_entries").columns(Self.entryColumns)
            for e in chunk {
                builder = builder.values([
                    e.id, e.tenant_id, e.status, e.source, e.source_id, e.accounting_date, e.description, e.reference,
                    e.metadata, e.request_hash, e.reverses_id, e.reversed_by_id, e.pending_id, e.resolved_by_id,
                    e.timeout_at_ms, e.batch_id, e.created_by, e.approved_by, e.created_at_ms, e.posted_at_ms, e.resolved_at_ms,
                ] as [any Encodable & Sendable])
            }
            let rows = try await builder.ignoringConflicts(with: ["id"]).returning("id").all()
            for row in rows { inserted.insert(try row.decode(column: "id", as: String.self)) }
        }
        return inserted
    }

    /// Inserts entry headers whose ids were generated here, so none can exist: the bulk path, without a conflict
    /// check per row.
    static func insert(generatedEntries entries: [EntryRow], db: any SQLDatabase) async throws {
        try await db.insertRows(into: "journal_entries", columns: Self.entryColumns, rows: entries.map(Self.cells))
    }

    static func insert(lines: [LineRow], db: any SQLDatabase) async throws {
        try await db.insertRows(into: "journal_lines", columns: Self.lineColumns, rows: lines.map(Self.cells))
    }

    static let lineColumns = lineColumnTypes.map(\.0)

    /// The line columns with their types, in the order of `cells(_:)`.
    static let lineColumnTypes: [(String, integer: Bool)] = [
        ("entry_id", false), ("line_no", true), ("tenant_id", false), ("account_id", false), ("state", false), ("source", false),
        ("accounting_date", false), ("posted_at_ms", true), ("debit_minor", true), ("credit_minor", true), ("currency", false),
        ("memo", false),
    ]

    static func cells(_ l: LineRow) -> [SQLCell] {
        [
            .init(l.entry_id), .init(l.line_no), .init(l.tenant_id), .init(l.account_id), .init(l.state), .init(l.source),
            .init(l.accounting_date), .init(l.posted_at_ms), .init(l.debit_minor), .init(l.credit_minor), .init(l.currency),
            .init(l.memo),
        ]
    }

    /// Sets a period's status; with `onlyIfOpen`, a period already closed or locked keeps its status.
    static func setPeriod(
        tenantId: String, key: String, status: PeriodStatus, by actor: String, nowMillis: Int64, onlyIfOpen: Bool = false, db: any SQLDatabase
    ) async throws {
        try await db.raw("""
            INSERT INTO fiscal_periods (tenant_id, period, status, changed_at_ms, changed_by)
            VALUES (\(bind: tenantId), \(bind: key), \(bind: status.rawValue), \(bind: nowMillis), \(bind: actor))
            ON CONFLICT (tenant_id, period) DO UPDATE SET status = excluded.status, changed_at_ms = excluded.changed_at_ms,
                changed_by = excluded.changed_by
            \(unsafeRaw: onlyIfOpen ? "WHERE fiscal_periods.status = 'open'" : "")
            """).run()
    }

    static func periodStatuses(tenantId: String, db: any SQLDatabase) async throws -> [String: PeriodStatus] {
        let rows = try await db.raw("SELECT period, status FROM fiscal_periods WHERE tenant_id = \(bind: tenantId)")
            .all(decoding: PeriodRow.self)
        return Dictionary(rows.map { ($0.period, PeriodStatus(rawValue: $0.status) ?? .open) }, uniquingKeysWith: { a, _ in a })
    }
}
