import FinFlowCore
import Foundation
import SQLKit

/// The transaction service's SQL, one implementation for SQLite and PostgreSQL. Every call names its tenant.
enum TransactionStore {
    struct LimitsRow: Decodable { let limits: String }

    /// The tenant's own limits, when it set any.
    static func limits(tenantId: String, db: any SQLDatabase) async throws -> TransactionLimits? {
        guard let row = try await db.raw("SELECT limits FROM transaction_limits WHERE tenant_id = \(bind: tenantId)")
            .first(decoding: LimitsRow.self)
        else { return nil }
        return try JSONDecoder().decode(TransactionLimits.self, from: Data(row.limits.utf8))
    }

    /// Replaces the tenant's limits.
    static func setLimits(_ limits: TransactionLimits, tenantId: String, by subject: String, nowMillis: Int64, db: any SQLDatabase) async throws {
        let json = String(decoding: try TransactionBook.sortedEncoder.encode(limits), as: UTF8.self)
        try await db.raw("""
            INSERT INTO transaction_limits (tenant_id, limits, updated_by, updated_at_ms)
            VALUES (\(bind: tenantId), \(bind: json), \(bind: subject), \(bind: nowMillis))
            ON CONFLICT (tenant_id) DO UPDATE SET limits = excluded.limits, updated_by = excluded.updated_by,
                updated_at_ms = excluded.updated_at_ms
            """).run()
    }

    /// The known accounts among `ids`.
    static func accounts(tenantId: String, ids: [String], db: any SQLDatabase) async throws -> [AccountRow] {
        guard !ids.isEmpty else { return [] }
        return try await db.select().column("*").from("ledger_accounts")
            .where("tenant_id", .equal, tenantId).where("id", .in, ids)
            .all(decoding: AccountRow.self)
    }

    /// Every known account of the tenant, by code.
    static func allAccounts(tenantId: String, db: any SQLDatabase) async throws -> [AccountRow] {
        try await db.raw("SELECT * FROM ledger_accounts WHERE tenant_id = \(bind: tenantId) ORDER BY code, id").all(decoding: AccountRow.self)
    }

    /// Records an account's announced state unless a newer one is recorded already.
    static func upsert(account: AccountRow, db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO ledger_accounts (tenant_id, id, code, name, type, currency, status, changed_at_ms)
            VALUES (\(bind: account.tenant_id), \(bind: account.id), \(bind: account.code), \(bind: account.name), \(bind: account.type),
                    \(bind: account.currency), \(bind: account.status), \(bind: account.changed_at_ms))
            ON CONFLICT (tenant_id, id) DO UPDATE SET code = excluded.code, name = excluded.name, type = excluded.type,
                currency = excluded.currency, status = excluded.status, changed_at_ms = excluded.changed_at_ms
            WHERE ledger_accounts.changed_at_ms <= excluded.changed_at_ms
            """).run()
    }

    /// The tenant's transactions among `ids`.
    static func transactions(tenantId: String, ids: [String], db: any SQLDatabase) async throws -> [TransactionRow] {
        guard !ids.isEmpty else { return [] }
        var rows: [TransactionRow] = []
        for chunk in ids.chunked(500) {
            rows += try await db.select().column("*").from("transactions")
                .where("tenant_id", .equal, tenantId).where("id", .in, Array(chunk))
                .all(decoding: TransactionRow.self)
        }
        return rows
    }

    /// One transaction, locked for the rest of the transaction on PostgreSQL.
    static func transaction(tenantId: String, id: String, forUpdate: Bool, db: any SQLDatabase) async throws -> TransactionRow? {
        try await db.raw("""
            SELECT * FROM transactions WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id) \(unsafeRaw: forUpdate ? "FOR UPDATE" : "")
            """).first(decoding: TransactionRow.self)
    }

    /// A transaction's status changes, oldest first.
    static func history(tenantId: String, transactionIds: [String], db: any SQLDatabase) async throws -> [String: [HistoryRow]] {
        guard !transactionIds.isEmpty else { return [:] }
        let rows = try await db.select().column("*").from("transaction_history")
            .where("tenant_id", .equal, tenantId).where("transaction_id", .in, transactionIds)
            .orderBy("at_ms").orderBy("id")
            .all(decoding: HistoryRow.self)
        return Dictionary(grouping: rows, by: \.transaction_id)
    }

    struct UsageRow: Decodable {
        let currency: String
        let n: Int64
        let total: Int64
    }

    /// The scope of the tenant-wide velocity buckets (the others are source account ids).
    static let tenantScope = "*"
    /// How long buckets are kept: past the longest window a limit may have.
    static let bucketRetentionMinutes = Int64(VelocityLimit.windowSecondsRange.upperBound / 60 + 1)

    /// What left `scope` (a source account, or the whole tenant) in the minutes from `sinceMinute` on, rejected
    /// transactions apart.
    static func usage(tenantId: String, scope: String, sinceMinute: Int64, db: any SQLDatabase) async throws -> Usage {
        let rows = try await db.raw("""
            SELECT currency, CAST(COALESCE(SUM(transactions), 0) AS BIGINT) AS n, CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS total
            FROM transaction_velocity WHERE tenant_id = \(bind: tenantId) AND scope = \(bind: scope) AND minute >= \(bind: sinceMinute)
            GROUP BY currency
            """).all(decoding: UsageRow.self)
        var usage = Usage()
        for row in rows {
            usage.count += row.n
            usage.amountMinor[row.currency] = row.total
        }
        return usage
    }

    /// Adds (or, with negative figures, takes back) transactions to the velocity buckets of their source account and
    /// tenant, and drops the buckets too old for any window.
    static func count(
        _ rows: [(sourceAccountId: String, currency: String, amountMinor: Int64, createdAtMillis: Int64)], sign: Int64, tenantId: String,
        db: any SQLDatabase
    ) async throws {
        struct Key: Hashable { let scope: String, currency: String, minute: Int64 }
        var buckets: [Key: (Int64, Int64)] = [:]
        for row in rows {
            let minute = row.createdAtMillis / 60_000
            for scope in [row.sourceAccountId, Self.tenantScope] {
                let key = Key(scope: scope, currency: row.currency, minute: minute)
                let (count, amount) = buckets[key] ?? (0, 0)
                buckets[key] = (count + sign, amount &+ sign &* row.amountMinor)
            }
        }
        for (key, (count, amount)) in buckets.sorted(by: { ($0.key.scope, $0.key.minute) < ($1.key.scope, $1.key.minute) }) {
            try await db.raw("""
                INSERT INTO transaction_velocity (tenant_id, scope, currency, minute, transactions, amount_minor)
                VALUES (\(bind: tenantId), \(bind: key.scope), \(bind: key.currency), \(bind: key.minute), \(bind: count), \(bind: amount))
                ON CONFLICT (tenant_id, scope, currency, minute) DO UPDATE SET
                    transactions = transaction_velocity.transactions + excluded.transactions,
                    amount_minor = transaction_velocity.amount_minor + excluded.amount_minor
                """).run()
            try await db.raw("""
                DELETE FROM transaction_velocity WHERE tenant_id = \(bind: tenantId) AND scope = \(bind: key.scope)
                AND currency = \(bind: key.currency) AND minute < \(bind: key.minute - Self.bucketRetentionMinutes)
                """).run()
        }
    }

    struct IdRow: Decodable { let id: String }

    /// A stored transaction that looks like `draft` (see `Pipeline.checkDuplicate`).
    static func lookalike(
        tenantId: String, draft: TransactionDraft, counterpartyKey: String, windowDays: Int, manualOnly: Bool, db: any SQLDatabase
    ) async throws -> String? {
        let manual: SQLQueryString = manualOnly ? "AND import_id IS NULL" : ""
        return try await db.raw("""
            SELECT id FROM transactions WHERE tenant_id = \(bind: tenantId) AND amount_minor = \(bind: draft.amountMinor)
            AND counterparty_key = \(bind: counterpartyKey)
            AND value_date >= \(bind: draft.valueDate.adding(days: -windowDays).description)
            AND value_date <= \(bind: draft.valueDate.adding(days: windowDays).description)
            AND currency = \(bind: draft.currency) AND reference_key = \(bind: draft.referenceKey)
            AND source_account_id = \(bind: draft.sourceAccountId) AND destination_account_id = \(bind: draft.destinationAccountId)
            AND status <> \(bind: TransactionStatus.rejected.rawValue) \(manual) LIMIT 1
            """).first(decoding: IdRow.self)?.id
    }

    struct FingerprintRow: Decodable {
        let id: String
        let import_fingerprint: String
    }

    /// The transactions holding any of `fingerprints`, by fingerprint.
    static func fingerprints(tenantId: String, _ fingerprints: [String], db: any SQLDatabase) async throws -> [String: String] {
        var found: [String: String] = [:]
        for chunk in fingerprints.chunked(500) {
            let rows = try await db.select().column("id").column("import_fingerprint").from("transactions")
                .where("tenant_id", .equal, tenantId).where("import_fingerprint", .in, Array(chunk))
                .all(decoding: FingerprintRow.self)
            for row in rows { found[row.import_fingerprint] = row.id }
        }
        return found
    }

    /// A page of the tenant's transactions matching `filter`, newest first.
    static func search(tenantId: String, filter: TransactionFilter, page: PageRequest, db: any SQLDatabase) async throws -> [TransactionRow] {
        var query = db.select().column("*").from("transactions").where("tenant_id", .equal, tenantId)
        if let from = filter.from { query = query.where("value_date", .greaterThanOrEqual, from.description) }
        if let to = filter.to { query = query.where("value_date", .lessThanOrEqual, to.description) }
        if let accountId = filter.accountId {
            query = query.where { $0.where("source_account_id", .equal, accountId).orWhere("destination_account_id", .equal, accountId) }
        }
        if let key = filter.counterpartyKey { query = query.where("counterparty_key", .equal, key) }
        if let category = filter.category { query = query.where("category", .equal, category) }
        if let status = filter.status { query = query.where("status", .equal, status.rawValue) }
        if let kind = filter.kind { query = query.where("kind", .equal, kind.rawValue) }
        if let currency = filter.currency { query = query.where("currency", .equal, currency) }
        if let amountMin = filter.amountMin { query = query.where("amount_minor", .greaterThanOrEqual, amountMin) }
        if let amountMax = filter.amountMax { query = query.where("amount_minor", .lessThanOrEqual, amountMax) }
        if let text = filter.text {
            let pattern = "%" + text.lowercased().replacingOccurrences(of: "\\", with: "\\\\")
                .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%"
            query = query.where(SQLQueryString("""
                (LOWER(COALESCE(description, '')) LIKE \(bind: pattern) ESCAPE '\\' OR LOWER(COALESCE(counterparty, '')) LIKE \(bind: pattern) ESCAPE '\\'
                 OR LOWER(COALESCE(external_reference, '')) LIKE \(bind: pattern) ESCAPE '\\')
                """))
        }
        if let after = page.after { query = query.where("id", .lessThan, after) }
        return try await query.orderBy("id", .descending).limit(page.limit + 1).all(decoding: TransactionRow.self)
    }

    /// Sets a transaction's status and what came with it.
    static func update(_ row: TransactionRow, db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE transactions SET status = \(bind: row.status), entry_id = \(bind: row.entry_id),
                reversal_entry_id = \(bind: row.reversal_entry_id), status_code = \(bind: row.status_code),
                status_reason = \(bind: row.status_reason), updated_at_ms = \(bind: row.updated_at_ms)
            WHERE tenant_id = \(bind: row.tenant_id) AND id = \(bind: row.id)
            """).run()
    }
}
