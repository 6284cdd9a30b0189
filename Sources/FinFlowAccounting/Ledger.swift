import FinFlowCore
import Foundation
import SQLKit

/// The accounting service's use cases: the only API its HTTP handlers and event consumers call. Every call takes
/// the tenant from the principal.
struct Ledger: Sendable {
    let env: ServiceEnvironment
    /// Commits concurrent postings together (one transaction, a savepoint each), so single-entry posting is not
    /// bounded by one disk flush per request.
    let committer: GroupCommit<Submission, [EntryRecord]>?

    init(env: ServiceEnvironment) {
        self.env = env
        let staging = Ledger(stagingOnly: env)
        // The group commit takes the tenant's periods shared as it names the tenant, one round trip for both.
        self.committer = GroupCommit(database: env.database, sharedLockKey: LedgerStore.periodsLockKey) { submissions, db, optimistic in
            try await staging.submitGroup(submissions, on: db, optimistic: optimistic, periodsLocked: true)
        }
    }

    /// The ledger the group commit stages with: it needs no committer of its own.
    private init(stagingOnly env: ServiceEnvironment) {
        self.env = env
        self.committer = nil
    }
    static let serviceName = "accounting"
    var database: any Database { self.env.database }
    var kind: DatabaseKind { self.env.database.kind }
    var outbox: Outbox { self.env.outbox(serviceName: Self.serviceName) }
    var now: Int64 { self.env.clock.nowMillis() }

    // MARK: Ledger set-up

    /// Opens the ledger of a new tenant with the default chart of accounts; a second delivery changes nothing.
    func open(tenant: TenantCreated, on db: any SQLDatabase) async throws {
        let currency = Currency(code: tenant.baseCurrency)?.code ?? "USD"
        let startMonth = (1...12).contains(tenant.fiscalYearStartMonth) ? tenant.fiscalYearStartMonth : 1
        let now = self.now
        let inserted = try await db.raw("""
            INSERT INTO ledgers (tenant_id, base_currency, fiscal_year_start_month, approval_threshold_minor, created_at_ms, updated_at_ms)
            VALUES (\(bind: tenant.tenantId), \(bind: currency), \(bind: startMonth), NULL, \(bind: now), \(bind: now))
            ON CONFLICT DO NOTHING RETURNING tenant_id
            """).first()
        guard inserted != nil else { return }
        for account in try DefaultChart.accounts(tenantId: tenant.tenantId, currency: currency, ids: self.env.ids, nowMillis: now) {
            try await LedgerStore.insert(account: account, db: db)
            try await self.announce(account, on: db)
        }
    }

    /// Publishes an account's current state for other services' read models.
    func announce(_ account: AccountRow, on db: any SQLDatabase) async throws {
        try await self.outbox.enqueue(
            LedgerAccountChanged(
                accountId: account.id, tenantId: account.tenant_id, code: account.code, name: account.name,
                type: account.type, currency: account.currency, status: account.status, changedAtMillis: self.now),
            subject: account.id, tenantId: account.tenant_id, on: db)
    }

    /// The caller's ledger settings.
    func settings(principal: Principal) async throws -> LedgerRow {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            try await LedgerStore.ledger(tenantId: principal.tenantId, db: db)
        }
    }

    /// Changes the approval threshold, and the base currency or fiscal start month while nothing is posted.
    func updateSettings(
        principal: Principal, approvalThresholdMinor: Int64??, baseCurrency: String?, fiscalYearStartMonth: Int?
    ) async throws -> LedgerRow {
        var validator = Validator()
        if case .some(.some(let threshold)) = approvalThresholdMinor {
            validator.check(threshold >= 0, "approvalThreshold", "must be zero or more minor units")
        }
        if let baseCurrency { validator.check(Currency(code: baseCurrency) != nil, "baseCurrency", "is not an ISO 4217 code") }
        if let fiscalYearStartMonth { validator.check((1...12).contains(fiscalYearStartMonth), "fiscalYearStartMonth", "must be 1–12") }
        try validator.throwIfInvalid()
        let now = self.now
        let kind = self.kind
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            let current = try await LedgerStore.ledger(tenantId: principal.tenantId, db: db)
            let structural = (baseCurrency.map { $0 != current.base_currency } ?? false)
                || (fiscalYearStartMonth.map { $0 != current.fiscal_year_start_month } ?? false)
            if structural {
                let posted = try await db.raw("""
                    SELECT COUNT(*) AS n FROM journal_entries WHERE tenant_id = \(bind: principal.tenantId) AND status <> 'draft'
                    """).first(decoding: CountRow.self)?.n ?? 0
                if posted > 0 {
                    throw AppError.conflict(code: "ledger-in-use", "the base currency and fiscal year change only before the first posting")
                }
            }
            let threshold: Int64? = approvalThresholdMinor ?? current.approval_threshold_minor
            let currency = baseCurrency ?? current.base_currency
            let month = fiscalYearStartMonth ?? current.fiscal_year_start_month
            try await db.raw("""
                UPDATE ledgers SET approval_threshold_minor = \(bind: threshold), base_currency = \(bind: currency),
                    fiscal_year_start_month = \(bind: month), updated_at_ms = \(bind: now)
                WHERE tenant_id = \(bind: principal.tenantId)
                """).run()
            if baseCurrency != nil && currency != current.base_currency {
                try await db.raw("""
                    UPDATE accounts SET currency = \(bind: currency) WHERE tenant_id = \(bind: principal.tenantId)
                    AND currency = \(bind: current.base_currency)
                    """).run()
                // Other services' read models of the accounts learn their new currency.
                for account in try await LedgerStore.allAccounts(tenantId: principal.tenantId, db: db) where account.currency == currency {
                    try await self.announce(account, on: db)
                }
            }
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "accounting.settings.updated", target: principal.tenantId,
                           details: ["approvalThresholdMinor": threshold.map(String.init) ?? "none", "baseCurrency": currency,
                                     "fiscalYearStartMonth": String(month)]),
                on: db, kind: kind)
            return try await LedgerStore.ledger(tenantId: principal.tenantId, db: db)
        }
    }
}

/// A `COUNT(*) AS n` result.
struct CountRow: Decodable, Sendable {
    let n: Int64
}
