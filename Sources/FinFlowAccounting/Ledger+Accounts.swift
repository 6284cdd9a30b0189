import FinFlowCore
import Foundation
import SQLKit

/// What a caller may change on an account; nil leaves a field as it is.
struct AccountChange: Sendable {
    var name: String?
    var code: String?
    /// `.some(nil)` removes the parent.
    var parentId: String??
    var cashFlowTag: CashFlowTag??
    var balanceConstraint: BalanceConstraint?
    var status: AccountStatus?
}

extension Ledger {
    /// Opens an account.
    func createAccount(principal: Principal, account: ChartAccount, parentId: String?) async throws -> AccountRow {
        var validator = Validator()
        AccountRules.checkCode(account.code, field: "code", into: &validator)
        AccountRules.checkName(account.name, field: "name", into: &validator)
        if let currency = account.currency { validator.check(Currency(code: currency) != nil, "currency", "is not an ISO 4217 code") }
        if let parentId { validator.check(UUID(uuidString: parentId) != nil, "parentId", "must be a UUID") }
        try validator.throwIfInvalid()
        let id = self.env.ids.nextString()
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            try await self.openAccount(tenantId: principal.tenantId, id: id, account: account, parentId: parentId, db: db)
        }
    }

    /// Opens an account with `id` in the caller's transaction (the account already validated).
    func openAccount(tenantId: String, id: String, account: ChartAccount, parentId: String?, db: any SQLDatabase) async throws -> AccountRow {
        let now = self.now
        let ledger = try await LedgerStore.ledger(tenantId: tenantId, db: db)
        let currency = account.currency ?? ledger.base_currency
        if let parentId {
            let parent = try await self.parent(parentId, tenantId: tenantId, db: db)
            try Self.checkParent(parent, type: account.type, currency: currency)
        }
        try await self.requireCodeFree(account.code, tenantId: tenantId, db: db)
        let count = try await db.raw("SELECT COUNT(*) AS n FROM accounts WHERE tenant_id = \(bind: tenantId)")
            .first(decoding: CountRow.self)?.n ?? 0
        guard count < LedgerLimits.accountsPerTenantMax else {
            throw AppError(.rejected, code: "too-many-accounts", "a chart holds at most \(LedgerLimits.accountsPerTenantMax) accounts")
        }
        if let role = account.systemRole,
            try await LedgerStore.accountBySystemRole(tenantId: tenantId, role: role.rawValue, db: db) != nil
        {
            throw AppError.conflict(code: "system-role-taken", "another account already has the role \(role.rawValue)")
        }
        let row = AccountRow(
            id: id, tenant_id: tenantId, code: account.code, name: account.name, type: account.type.rawValue,
            contra: account.contra ? 1 : 0,
            normal_side: (account.contra ? account.type.naturalSide.opposite : account.type.naturalSide).rawValue,
            parent_id: parentId?.lowercased(), currency: currency, cash_flow_tag: account.cashFlowTag?.rawValue,
            balance_constraint: account.balanceConstraint.rawValue, status: AccountStatus.active.rawValue,
            system_role: account.systemRole?.rawValue, posted_debits_minor: 0, posted_credits_minor: 0,
            pending_debits_minor: 0, pending_credits_minor: 0, created_at_ms: now, updated_at_ms: now)
        try await LedgerStore.insert(account: row, db: db)
        try await self.announce(row, on: db)
        return row
    }

    /// Changes an account's name, code, parent, tag, constraint or status.
    func updateAccount(principal: Principal, id: String, change: AccountChange) async throws -> AccountRow {
        var validator = Validator()
        if let name = change.name { AccountRules.checkName(name, field: "name", into: &validator) }
        if let code = change.code { AccountRules.checkCode(code, field: "code", into: &validator) }
        if case .some(.some(let parentId)) = change.parentId {
            validator.check(UUID(uuidString: parentId) != nil, "parentId", "must be a UUID")
            validator.check(parentId.lowercased() != id, "parentId", "cannot be the account itself")
        }
        try validator.throwIfInvalid()
        let now = self.now
        let kind = self.kind
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            guard var account = try await LedgerStore.accounts(
                tenantId: principal.tenantId, ids: [id], forUpdate: kind == .postgres, db: db).first
            else { throw AppError.notFound("account") }
            if let code = change.code, code != account.code {
                try await self.requireCodeFree(code, tenantId: principal.tenantId, db: db)
            }
            var parentId = account.parent_id
            if case .some(let newParent) = change.parentId {
                parentId = newParent?.lowercased()
                if let newParent {
                    let parent = try await self.parent(newParent, tenantId: principal.tenantId, db: db)
                    try Self.checkParent(parent, type: account.accountType, currency: account.currency)
                    try await self.requireNoCycle(accountId: account.id, parent: parent, db: db)
                }
            }
            var tag = account.cash_flow_tag
            if case .some(let newTag) = change.cashFlowTag { tag = newTag?.rawValue }
            let constraint = change.balanceConstraint ?? account.constraint
            account = AccountRow(
                id: account.id, tenant_id: account.tenant_id, code: change.code ?? account.code, name: change.name ?? account.name,
                type: account.type, contra: account.contra, normal_side: account.normal_side, parent_id: parentId,
                currency: account.currency, cash_flow_tag: tag, balance_constraint: constraint.rawValue,
                status: (change.status ?? AccountStatus(rawValue: account.status) ?? .active).rawValue,
                system_role: account.system_role, posted_debits_minor: account.posted_debits_minor,
                posted_credits_minor: account.posted_credits_minor, pending_debits_minor: account.pending_debits_minor,
                pending_credits_minor: account.pending_credits_minor, created_at_ms: account.created_at_ms, updated_at_ms: now)
            do { try PostingContext.checkConstraint(account) } catch {
                throw AppError.conflict(code: "constraint-not-met", "the account's current balance already breaks that constraint")
            }
            if account.status == AccountStatus.archived.rawValue && account.system_role != nil {
                throw AppError.conflict(code: "system-account", "the ledger posts to this account; give its role to another first")
            }
            try await db.raw("""
                UPDATE accounts SET code = \(bind: account.code), name = \(bind: account.name), parent_id = \(bind: account.parent_id),
                    cash_flow_tag = \(bind: account.cash_flow_tag), balance_constraint = \(bind: account.balance_constraint),
                    status = \(bind: account.status), updated_at_ms = \(bind: now)
                WHERE tenant_id = \(bind: principal.tenantId) AND id = \(bind: account.id)
                """).run()
            try await self.announce(account, on: db)
            return account
        }
    }

    /// The tenant's accounts, by code.
    func accounts(principal: Principal) async throws -> [AccountRow] {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            try await LedgerStore.allAccounts(tenantId: principal.tenantId, db: db)
        }
    }

    /// One account.
    func account(principal: Principal, id: String) async throws -> AccountRow {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            try await LedgerStore.account(tenantId: principal.tenantId, id: id.lowercased(), db: db)
        }
    }

    /// Replaces the whole chart with `chart`, allowed only while the journal is empty.
    func importChart(principal: Principal, chart: [ChartAccount]) async throws -> [AccountRow] {
        let now = self.now
        let kind = self.kind
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            let ledger = try await LedgerStore.ledger(tenantId: principal.tenantId, db: db)
            let rows = try ChartBuilder.rows(
                chart, tenantId: principal.tenantId, baseCurrency: ledger.base_currency, ids: self.env.ids, nowMillis: now)
            let entries = try await db.raw("SELECT COUNT(*) AS n FROM journal_entries WHERE tenant_id = \(bind: principal.tenantId)")
                .first(decoding: CountRow.self)?.n ?? 0
            guard entries == 0 else {
                throw AppError.conflict(code: "ledger-in-use", "the chart can be replaced only while the journal is empty")
            }
            let old = try await LedgerStore.allAccounts(tenantId: principal.tenantId, db: db)
            try await db.raw("DELETE FROM accounts WHERE tenant_id = \(bind: principal.tenantId)").run()
            for var account in old {
                account = AccountRow(
                    id: account.id, tenant_id: account.tenant_id, code: account.code, name: account.name, type: account.type,
                    contra: account.contra, normal_side: account.normal_side, parent_id: nil, currency: account.currency,
                    cash_flow_tag: nil, balance_constraint: account.balance_constraint, status: AccountStatus.archived.rawValue,
                    system_role: nil, posted_debits_minor: 0, posted_credits_minor: 0, pending_debits_minor: 0,
                    pending_credits_minor: 0, created_at_ms: account.created_at_ms, updated_at_ms: now)
                try await self.announce(account, on: db)
            }
            for row in rows {
                try await LedgerStore.insert(account: row, db: db)
                try await self.announce(row, on: db)
            }
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "accounting.chart.imported", target: principal.tenantId,
                           details: ["accounts": String(rows.count)]),
                on: db, kind: kind)
            return try await LedgerStore.allAccounts(tenantId: principal.tenantId, db: db)
        }
    }

    private func parent(_ id: String, tenantId: String, db: any SQLDatabase) async throws -> AccountRow {
        guard let parent = try await LedgerStore.accounts(tenantId: tenantId, ids: [id.lowercased()], forUpdate: false, db: db).first else {
            throw AppError.validation([.init(field: "parentId", message: "names no account")])
        }
        return parent
    }

    private static func checkParent(_ parent: AccountRow, type: AccountType, currency: String) throws {
        if parent.accountType != type { throw AppError.validation([.init(field: "parentId", message: "must be an account of the same type")]) }
        if parent.currency != currency { throw AppError.validation([.init(field: "parentId", message: "must be an account of the same currency")]) }
    }

    private func requireNoCycle(accountId: String, parent: AccountRow, db: any SQLDatabase) async throws {
        var cursor: AccountRow? = parent
        var steps = 0
        while let current = cursor, steps <= ChartBuilder.accountsMax {
            if current.id == accountId { throw AppError.validation([.init(field: "parentId", message: "makes a cycle")]) }
            cursor = try await current.parent_id.asyncMap { try await LedgerStore.accounts(tenantId: current.tenant_id, ids: [$0], forUpdate: false, db: db).first } ?? nil
            steps += 1
        }
    }

    private func requireCodeFree(_ code: String, tenantId: String, db: any SQLDatabase) async throws {
        let taken = try await db.raw("SELECT COUNT(*) AS n FROM accounts WHERE tenant_id = \(bind: tenantId) AND code = \(bind: code)")
            .first(decoding: CountRow.self)?.n ?? 0
        if taken > 0 { throw AppError.conflict(code: "code-taken", "an account with code \(code) exists") }
    }
}
