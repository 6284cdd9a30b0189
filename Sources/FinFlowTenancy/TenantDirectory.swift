import FinFlowCore
import Foundation
import SQLKit

/// A tenant row.
struct TenantRecord: Decodable, Sendable {
    let id: String
    let name: String
    let status: String
    let base_currency: String
    let fiscal_year_start_month: Int
    let time_zone: String
    let locale: String
    let mfa_required_roles: String
    let created_at_ms: Int64

    var mfaRequiredRoles: [String] { self.mfa_required_roles.split(separator: ",").map(String.init) }

    var settings: TenantSettingsValue {
        TenantSettingsValue(
            baseCurrency: self.base_currency, fiscalYearStartMonth: self.fiscal_year_start_month,
            timeZone: self.time_zone, locale: self.locale)
    }
}

/// A membership joined with the member's name.
struct MemberRecord: Decodable, Sendable {
    let user_id: String
    let email: String
    let display_name: String
    let roles: String
    let joined_at_ms: Int64

    var roleList: [String] { self.roles.split(separator: ",").map(String.init) }
}

/// The tenancy service's use cases. Every call that reads or changes a tenant takes it from the principal.
struct TenantDirectory: Sendable {
    let env: ServiceEnvironment
    static let serviceName = "tenancy"
    var database: any Database { self.env.database }
    var outbox: Outbox { self.env.outbox(serviceName: Self.serviceName) }

    // MARK: Provisioning

    /// Records a registered user and gives them a tenant of their own, as its owner.
    func provision(_ registered: UserRegistered, on db: any SQLDatabase) async throws {
        let now = self.env.clock.nowMillis()
        try await db.raw("""
            INSERT INTO users (id, email, display_name, registered_at_ms)
            VALUES (\(bind: registered.userId), \(bind: registered.email), \(bind: registered.displayName), \(bind: now))
            ON CONFLICT DO NOTHING
            """).run()
        let name = registered.organizationName ?? "\(registered.displayName)'s organisation"
        try await self.insertTenant(name: String(name.prefix(120)), settings: .defaults, owner: registered.userId, on: db)
    }

    @discardableResult
    func insertTenant(name: String, settings: TenantSettingsValue, owner: String, on db: any SQLDatabase) async throws
        -> String
    {
        let id = self.env.ids.nextString()
        let now = self.env.clock.nowMillis()
        try await db.raw("""
            INSERT INTO tenants (id, name, status, base_currency, fiscal_year_start_month, time_zone, locale, created_at_ms, updated_at_ms)
            VALUES (\(bind: id), \(bind: name), 'active', \(bind: settings.baseCurrency), \(bind: settings.fiscalYearStartMonth),
                    \(bind: settings.timeZone), \(bind: settings.locale), \(bind: now), \(bind: now))
            """).run()
        try await db.raw("""
            INSERT INTO memberships (tenant_id, user_id, roles, joined_at_ms) VALUES (\(bind: id), \(bind: owner), 'owner', \(bind: now))
            """).run()
        try await self.outbox.enqueue(
            TenantCreated(tenantId: id, name: name, baseCurrency: settings.baseCurrency,
                          fiscalYearStartMonth: settings.fiscalYearStartMonth, ownerUserId: owner),
            subject: id, tenantId: id, on: db)
        try await self.announceMembership(tenantId: id, userId: owner, roles: ["owner"], status: "active", on: db)
        try await self.env.audit.append(
            AuditEntry(tenantId: id, actorId: owner, action: "tenancy.tenant.created", target: id, details: ["name": name]),
            on: db, kind: self.database.kind)
        return id
    }

    func announceMembership(tenantId: String, userId: String, roles: [String], status: String, on db: any SQLDatabase)
        async throws
    {
        let permissions = try await self.permissions(of: roles, tenantId: tenantId, on: db)
        try await self.outbox.enqueue(
            MembershipChanged(tenantId: tenantId, userId: userId, roles: roles, status: status,
                              changedAtMillis: self.env.clock.nowMillis(), permissions: permissions),
            subject: userId, tenantId: tenantId, on: db)
    }

    // MARK: Tenants

    func createTenant(principal: Principal, name rawName: String, settings: TenantSettingsValue) async throws -> TenantRecord {
        let name = rawName.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...120).contains(name.count) else {
            throw AppError.validation([.init(field: "name", message: "must be 1–120 characters")])
        }
        return try await self.database.transaction { db in
            let id = try await self.insertTenant(name: name, settings: settings, owner: principal.subject, on: db)
            guard let tenant = try await self.tenant(id: id, on: db) else { preconditionFailure("tenant just inserted") }
            return tenant
        }
    }

    func tenant(id: String, on db: any SQLDatabase) async throws -> TenantRecord? {
        try await db.raw("""
            SELECT id, name, status, base_currency, fiscal_year_start_month, time_zone, locale, mfa_required_roles, created_at_ms
            FROM tenants WHERE id = \(bind: id)
            """).first(decoding: TenantRecord.self)
    }

    func currentTenant(principal: Principal) async throws -> TenantRecord {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            guard let tenant = try await self.tenant(id: principal.tenantId, on: db) else {
                throw AppError.notFound("tenant")
            }
            return tenant
        }
    }

    func myTenants(principal: Principal) async throws -> [TenantRecord] {
        try await self.database.read { db in
            try await db.raw("""
                SELECT t.id, t.name, t.status, t.base_currency, t.fiscal_year_start_month, t.time_zone, t.locale, t.mfa_required_roles, t.created_at_ms
                FROM tenants t JOIN memberships m ON m.tenant_id = t.id
                WHERE m.user_id = \(bind: principal.subject) ORDER BY m.joined_at_ms LIMIT \(bind: PageRequest.pageSizeMax)
                """).all(decoding: TenantRecord.self)
        }
    }

    func updateTenant(
        principal: Principal, name: String?, baseCurrency: String?, fiscalYearStartMonth: Int?, timeZone: String?,
        locale: String?, mfaRequiredRoles: [String]? = nil
    ) async throws -> TenantRecord {
        let current = try await self.currentTenant(principal: principal)
        var validator = Validator()
        let trimmedName = name?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let trimmedName { validator.check((1...120).contains(trimmedName.count), "name", "must be 1–120 characters") }
        var mfaRoles = current.mfaRequiredRoles
        if let requested = mfaRequiredRoles {
            mfaRoles = Array(Set(requested.map { $0.lowercased() })).sorted()
            let custom = Set(try await self.database.tenantRead(tenantId: principal.tenantId) { db in
                try await self.customRoles(tenantId: principal.tenantId, on: db).map(\.name)
            })
            for (index, role) in mfaRoles.enumerated() where !Roles.isBuiltIn(role) && !custom.contains(role) {
                validator.fail("mfaRequiredRoles[\(index)]", "'\(role.prefix(32))' is not a role of this tenant")
            }
        }
        let policyChanged = mfaRoles != current.mfaRequiredRoles
        let newMfaRoles = mfaRoles
        let settings: TenantSettingsValue
        do {
            settings = try current.settings.applying(
                baseCurrency: baseCurrency, fiscalYearStartMonth: fiscalYearStartMonth, timeZone: timeZone, locale: locale)
        } catch let error as AppError {
            throw AppError.validation(validator.errors + error.fieldErrors)
        }
        try validator.throwIfInvalid()
        let now = self.env.clock.nowMillis()
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            try await db.raw("""
                UPDATE tenants SET name = \(bind: trimmedName ?? current.name), base_currency = \(bind: settings.baseCurrency),
                    fiscal_year_start_month = \(bind: settings.fiscalYearStartMonth), time_zone = \(bind: settings.timeZone),
                    locale = \(bind: settings.locale), mfa_required_roles = \(bind: newMfaRoles.joined(separator: ",")),
                    updated_at_ms = \(bind: now)
                WHERE id = \(bind: principal.tenantId)
                """).run()
            if policyChanged {
                try await self.outbox.enqueue(
                    TenantPolicyChanged(tenantId: principal.tenantId, mfaRequiredRoles: newMfaRoles),
                    subject: principal.tenantId, tenantId: principal.tenantId, on: db)
            }
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "tenancy.tenant.updated",
                           target: principal.tenantId),
                on: db, kind: self.database.kind)
            guard let tenant = try await self.tenant(id: principal.tenantId, on: db) else { throw AppError.notFound("tenant") }
            return tenant
        }
    }

    /// Suspends the tenant: every service learns it by event and refuses the tenant's tokens.
    func suspend(principal: Principal) async throws -> TenantRecord {
        let tenant = try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            try await db.raw("UPDATE tenants SET status = 'suspended' WHERE id = \(bind: principal.tenantId)").run()
            try await self.outbox.enqueue(
                TenantStatusChanged(tenantId: principal.tenantId, status: "suspended"), subject: principal.tenantId,
                tenantId: principal.tenantId, on: db)
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "tenancy.tenant.suspended",
                           target: principal.tenantId),
                on: db, kind: self.database.kind)
            guard let tenant = try await self.tenant(id: principal.tenantId, on: db) else { throw AppError.notFound("tenant") }
            return tenant
        }
        self.env.revocations.setTenant(principal.tenantId, suspended: true)
        return tenant
    }

    /// Reactivates a suspended tenant, as a platform operator: the tenant is active again, every service learns it by
    /// `TenantStatusChanged` and lets its tokens in again, and the audit trail names the operator and the reason.
    /// Returns false (and changes nothing) when the tenant is already active.
    func reactivate(tenantId: String, operatorName: String, reason: String) async throws -> Bool {
        var validator = Validator()
        validator.check(UUID(uuidString: tenantId) != nil, "tenant", "must be a tenant id (UUID)")
        validator.check((1...120).contains(operatorName.count), "operator", "must name who reactivates (1–120 characters)")
        validator.check((1...500).contains(reason.count), "reason", "must say why (1–500 characters)")
        try validator.throwIfInvalid()
        let id = tenantId.lowercased()
        let changed = try await self.database.tenantTransaction(tenantId: id) { db -> Bool in
            guard let tenant = try await self.tenant(id: id, on: db) else { throw AppError.notFound("tenant") }
            guard tenant.status == "suspended" else { return false }
            try await db.raw("UPDATE tenants SET status = 'active' WHERE id = \(bind: id)").run()
            try await self.outbox.enqueue(TenantStatusChanged(tenantId: id, status: "active"), subject: id, tenantId: id, on: db)
            try await self.env.audit.append(
                AuditEntry(tenantId: id, actorId: "operator:\(operatorName)", action: "tenancy.tenant.reactivated", target: id,
                           details: ["reason": reason]),
                on: db, kind: self.database.kind)
            return true
        }
        if changed { self.env.revocations.setTenant(id, suspended: false) }
        return changed
    }
}
