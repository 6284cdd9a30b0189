import FinFlowCore
import Foundation
import SQLKit

extension TenantDirectory {
    static let memberColumns = "m.user_id, u.email, u.display_name, m.roles, m.joined_at_ms"

    /// A page of the tenant's members, ordered by user id.
    func members(principal: Principal, page: PageRequest) async throws -> (items: [MemberRecord], nextCursor: String?) {
        let after = page.after ?? ""
        let rows = try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.memberColumns) FROM memberships m JOIN users u ON u.id = m.user_id
                WHERE m.tenant_id = \(bind: principal.tenantId) AND m.user_id > \(bind: after)
                ORDER BY m.user_id LIMIT \(bind: page.limit + 1)
                """).all(decoding: MemberRecord.self)
        }
        return page.page(rows) { $0.user_id }
    }

    func member(principal: Principal, userId: String, on db: any SQLDatabase) async throws -> MemberRecord {
        guard let member = try await db.raw("""
            SELECT \(unsafeRaw: Self.memberColumns) FROM memberships m JOIN users u ON u.id = m.user_id
            WHERE m.tenant_id = \(bind: principal.tenantId) AND m.user_id = \(bind: userId.lowercased())
            """).first(decoding: MemberRecord.self)
        else { throw AppError.notFound("member") }
        return member
    }

    func member(principal: Principal, userId: String) async throws -> MemberRecord {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            try await self.member(principal: principal, userId: userId, on: db)
        }
    }

    /// Replaces a member's roles. Only an owner grants or removes `owner`, and the last owner stays one.
    func updateMember(principal: Principal, userId: String, roles rawRoles: [String]) async throws -> MemberRecord {
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            let roles = try await self.validatedRoles(rawRoles, tenantId: principal.tenantId, on: db)
            let current = try await self.member(principal: principal, userId: userId, on: db)
            let touchesOwner = current.roleList.contains("owner") != roles.contains("owner")
            if touchesOwner {
                guard principal.roles.contains("owner") else {
                    throw AppError.forbidden(code: "owner-required", "only an owner can grant or remove the owner role")
                }
                if current.roleList.contains("owner") { try await self.requireAnotherOwner(principal: principal, userId: current.user_id, on: db) }
            }
            try await db.raw("""
                UPDATE memberships SET roles = \(bind: roles.joined(separator: ","))
                WHERE tenant_id = \(bind: principal.tenantId) AND user_id = \(bind: current.user_id)
                """).run()
            try await self.announceMembership(tenantId: principal.tenantId, userId: current.user_id, roles: roles, status: "active", on: db)
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "tenancy.membership.roles-changed",
                           target: current.user_id,
                           details: ["from": current.roles, "to": roles.joined(separator: ",")]),
                on: db, kind: self.database.kind)
            return try await self.member(principal: principal, userId: current.user_id, on: db)
        }
    }

    /// Removes a member; the last owner cannot be removed.
    func removeMember(principal: Principal, userId: String) async throws {
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            let current = try await self.member(principal: principal, userId: userId, on: db)
            if current.roleList.contains("owner") {
                guard principal.roles.contains("owner") else {
                    throw AppError.forbidden(code: "owner-required", "only an owner can remove an owner")
                }
                try await self.requireAnotherOwner(principal: principal, userId: current.user_id, on: db)
            }
            try await db.raw("""
                DELETE FROM memberships WHERE tenant_id = \(bind: principal.tenantId) AND user_id = \(bind: current.user_id)
                """).run()
            try await self.announceMembership(tenantId: principal.tenantId, userId: current.user_id, roles: [], status: "removed", on: db)
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "tenancy.membership.removed",
                           target: current.user_id),
                on: db, kind: self.database.kind)
        }
    }

    private func requireAnotherOwner(principal: Principal, userId: String, on db: any SQLDatabase) async throws {
        struct Count: Decodable { let owners: Int }
        let owners = try await db.raw("""
            SELECT COUNT(*) AS owners FROM memberships
            WHERE tenant_id = \(bind: principal.tenantId) AND user_id <> \(bind: userId)
              AND (',' || roles || ',') LIKE '%,owner,%'
            """).first(decoding: Count.self)?.owners ?? 0
        guard owners > 0 else {
            throw AppError.conflict(code: "last-owner", "a tenant must keep at least one owner")
        }
    }
}
