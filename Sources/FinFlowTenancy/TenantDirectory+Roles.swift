import FinFlowCore
import Foundation
import SQLKit

/// A tenant's own role.
struct CustomRoleRecord: Decodable, Sendable {
    let name: String
    let description: String
    let permissions: String

    var permissionList: [String] { self.permissions.split(separator: " ").map(String.init) }
}

extension TenantDirectory {
    static let customRolesMax = 50

    func customRoles(tenantId: String, on db: any SQLDatabase) async throws -> [CustomRoleRecord] {
        try await db.raw("""
            SELECT name, description, permissions FROM custom_roles WHERE tenant_id = \(bind: tenantId) ORDER BY name
            LIMIT \(bind: Self.customRolesMax)
            """).all(decoding: CustomRoleRecord.self)
    }

    /// Distinct role names (one to ten) that are built in or defined by the tenant; each bad one is named.
    func validatedRoles(_ rawRoles: [String], tenantId: String, field: String = "roles", on db: any SQLDatabase)
        async throws -> [String]
    {
        let roles = Array(Set(rawRoles.map { $0.lowercased() })).sorted()
        let custom = Set(try await self.customRoles(tenantId: tenantId, on: db).map(\.name))
        var validator = Validator()
        validator.check(!roles.isEmpty, field, "must name at least one role")
        validator.check(roles.count <= 10, field, "at most 10 roles")
        for (index, role) in roles.enumerated() where !Roles.isBuiltIn(role) && !custom.contains(role) {
            validator.fail("\(field)[\(index)]", "'\(role.prefix(32))' is not a role of this tenant")
        }
        try validator.throwIfInvalid()
        return roles
    }

    /// The permissions `roles` grant in the tenant: the built-in table plus the tenant's custom roles.
    func permissions(of roles: [String], tenantId: String, on db: any SQLDatabase) async throws -> [String] {
        let custom = try await self.customRoles(tenantId: tenantId, on: db).filter { roles.contains($0.name) }
        let granted = Set(Roles.permissions(of: roles) + custom.flatMap(\.permissionList))
        return Roles.allPermissions.filter(granted.contains)
    }

    func listRoles(principal: Principal) async throws -> (builtIn: [Roles.Role], custom: [CustomRoleRecord]) {
        let custom = try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            try await self.customRoles(tenantId: principal.tenantId, on: db)
        }
        return (Roles.builtIn, custom)
    }

    /// Defines a custom role; its permissions must be known and within the caller's own (no escalation).
    func createRole(principal: Principal, name rawName: String, description: String?, permissions rawPermissions: [String])
        async throws -> CustomRoleRecord
    {
        let name = rawName.lowercased()
        let permissions = Array(Set(rawPermissions)).sorted()
        let text = (description ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        var validator = Validator()
        validator.check(Self.isRoleName(name), "name", "must be 2–32 lower-case letters, digits or hyphens")
        validator.check(!Roles.isBuiltIn(name), "name", "is a built-in role")
        validator.check(text.count <= 200, "description", "at most 200 characters")
        validator.check(!permissions.isEmpty && permissions.count <= 64, "permissions", "must name 1–64 permissions")
        for (index, permission) in permissions.enumerated() {
            if !Roles.allPermissions.contains(permission) {
                validator.fail("permissions[\(index)]", "'\(permission.prefix(40))' is not a permission")
            } else if !principal.has(permission) {
                validator.fail("permissions[\(index)]", "'\(permission)' is beyond your own permissions")
            }
        }
        try validator.throwIfInvalid()
        let now = self.env.clock.nowMillis()
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            guard try await self.customRoles(tenantId: principal.tenantId, on: db).count < Self.customRolesMax else {
                throw AppError.conflict(code: "too-many-roles", "a tenant may define at most \(Self.customRolesMax) roles")
            }
            guard try await db.raw("""
                INSERT INTO custom_roles (tenant_id, name, description, permissions, created_at_ms)
                VALUES (\(bind: principal.tenantId), \(bind: name), \(bind: text), \(bind: permissions.joined(separator: " ")), \(bind: now))
                ON CONFLICT DO NOTHING RETURNING name
                """).first() != nil
            else { throw AppError.conflict(code: "role-exists", "the tenant already has a role named '\(name)'") }
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "tenancy.role.created",
                           target: name,
                           details: ["permissions": permissions.joined(separator: " ")]), on: db, kind: self.database.kind)
            return CustomRoleRecord(name: name, description: text, permissions: permissions.joined(separator: " "))
        }
    }

    /// Whether `name` can name a custom role: 2–32 lower-case letters, digits or hyphens.
    static func isRoleName(_ name: String) -> Bool {
        (2...32).contains(name.count) && name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
    }

    /// Deletes a custom role that no member holds.
    func deleteRole(principal: Principal, name: String) async throws {
        let name = name.lowercased()
        // Anything else cannot exist, and must not reach the LIKE pattern below as a wildcard.
        guard Self.isRoleName(name) else { throw AppError.notFound("role") }
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            struct Count: Decodable { let n: Int }
            let holders = try await db.raw("""
                SELECT COUNT(*) AS n FROM memberships WHERE tenant_id = \(bind: principal.tenantId)
                AND (',' || roles || ',') LIKE \(bind: "%," + name + ",%")
                """).first(decoding: Count.self)?.n ?? 0
            guard holders == 0 else {
                throw AppError.conflict(code: "role-in-use", "\(holders) member(s) hold this role; change their roles first")
            }
            guard try await db.raw("""
                DELETE FROM custom_roles WHERE tenant_id = \(bind: principal.tenantId) AND name = \(bind: name) RETURNING name
                """).first() != nil
            else { throw AppError.notFound("role") }
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "tenancy.role.deleted",
                           target: name), on: db, kind: self.database.kind)
        }
    }
}
