import FinFlowCore
import Foundation
import SQLKit

/// An invitation row.
struct InvitationRecord: Decodable, Sendable {
    let id: String
    let tenant_id: String
    let email: String
    let roles: String
    let created_at_ms: Int64
    let expires_at_ms: Int64
    let accepted_at_ms: Int64?
    let revoked_at_ms: Int64?

    var roleList: [String] { self.roles.split(separator: ",").map(String.init) }
}

extension TenantDirectory {
    static let invitationTTLMillis: Int64 = 7 * 86_400_000
    static let openInvitationsMax = 200
    static let invitationColumns = "id, tenant_id, email, roles, created_at_ms, expires_at_ms, accepted_at_ms, revoked_at_ms"

    /// Invites `email` with `roles`; the token goes out by mail and only its hash is kept.
    func invite(principal: Principal, email rawEmail: String, roles rawRoles: [String]) async throws -> InvitationRecord {
        guard let email = EmailAddress.normalized(rawEmail) else {
            throw AppError.validation([.init(field: "email", message: "is not a valid email address")])
        }
        let token = Digest.randomToken()
        let id = self.env.ids.nextString()
        let now = self.env.clock.nowMillis()
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            let roles = try await self.validatedRoles(rawRoles, tenantId: principal.tenantId, on: db)
            if roles.contains("owner"), !principal.roles.contains("owner") {
                throw AppError.forbidden(code: "owner-required", "only an owner can invite an owner")
            }
            struct Count: Decodable { let n: Int }
            let open = try await db.raw("""
                SELECT COUNT(*) AS n FROM invitations WHERE tenant_id = \(bind: principal.tenantId)
                AND accepted_at_ms IS NULL AND revoked_at_ms IS NULL AND expires_at_ms > \(bind: now)
                """).first(decoding: Count.self)?.n ?? 0
            guard open < Self.openInvitationsMax else {
                throw AppError.conflict(code: "too-many-invitations", "at most \(Self.openInvitationsMax) open invitations")
            }
            let tenant = try await self.tenant(id: principal.tenantId, on: db)
            try await db.raw("""
                INSERT INTO invitations (id, tenant_id, email, roles, token_hash, invited_by, created_at_ms, expires_at_ms)
                VALUES (\(bind: id), \(bind: principal.tenantId), \(bind: email), \(bind: roles.joined(separator: ",")),
                        \(bind: Digest.sha256Hex(token)), \(bind: principal.subject), \(bind: now), \(bind: now + Self.invitationTTLMillis))
                """).run()
            // The token goes by mail from tenancy's own outbox: never through the event bus or a log.
            try await self.env.mail.enqueue(
                to: email, subject: "You are invited to \(tenant?.name ?? "a FinFlow organisation")",
                body: "Accept the invitation within 7 days with this token: \(token)", purpose: "invitation", on: db)
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "tenancy.invitation.created",
                           target: id,
                           details: ["roles": roles.joined(separator: ",")]), on: db, kind: self.database.kind)
            guard let invitation = try await db.raw("SELECT \(unsafeRaw: Self.invitationColumns) FROM invitations WHERE id = \(bind: id)")
                .first(decoding: InvitationRecord.self)
            else { preconditionFailure("invitation just inserted") }
            return invitation
        }
    }

    func openInvitations(principal: Principal) async throws -> [InvitationRecord] {
        let now = self.env.clock.nowMillis()
        return try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.invitationColumns) FROM invitations WHERE tenant_id = \(bind: principal.tenantId)
                AND accepted_at_ms IS NULL AND revoked_at_ms IS NULL AND expires_at_ms > \(bind: now)
                ORDER BY created_at_ms LIMIT \(bind: Self.openInvitationsMax)
                """).all(decoding: InvitationRecord.self)
        }
    }

    func revokeInvitation(principal: Principal, id: String) async throws {
        let now = self.env.clock.nowMillis()
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            guard try await db.raw("""
                UPDATE invitations SET revoked_at_ms = \(bind: now)
                WHERE id = \(bind: id.lowercased()) AND tenant_id = \(bind: principal.tenantId)
                AND accepted_at_ms IS NULL AND revoked_at_ms IS NULL RETURNING id
                """).first() != nil
            else { throw AppError.notFound("invitation") }
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "tenancy.invitation.revoked",
                           target: id.lowercased()),
                on: db, kind: self.database.kind)
        }
    }

    /// Joins the invitation's tenant; the caller's registered email must be the invited one.
    func accept(principal: Principal, token: String) async throws -> (tenantId: String, roles: [String]) {
        let now = self.env.clock.nowMillis()
        let refused = AppError(.rejected, code: "invalid-invitation", "the invitation is invalid, used, withdrawn or expired")
        return try await self.database.transaction { db in
            guard let invitation = try await db.raw("""
                SELECT \(unsafeRaw: Self.invitationColumns) FROM invitations WHERE token_hash = \(bind: Digest.sha256Hex(token))
                """).first(decoding: InvitationRecord.self),
                invitation.accepted_at_ms == nil, invitation.revoked_at_ms == nil, invitation.expires_at_ms > now
            else { throw refused }
            struct UserRow: Decodable { let email: String }
            let user = try await db.raw("SELECT email FROM users WHERE id = \(bind: principal.subject)").first(decoding: UserRow.self)
            guard let user, user.email == invitation.email else {
                throw AppError.forbidden(code: "invitation-email-mismatch", "the invitation was sent to another email address")
            }
            guard try await db.raw("""
                INSERT INTO memberships (tenant_id, user_id, roles, joined_at_ms)
                VALUES (\(bind: invitation.tenant_id), \(bind: principal.subject), \(bind: invitation.roles), \(bind: now))
                ON CONFLICT DO NOTHING RETURNING user_id
                """).first() != nil
            else { throw AppError.conflict(code: "already-a-member", "you are already a member of this tenant") }
            try await db.raw("""
                UPDATE invitations SET accepted_at_ms = \(bind: now), accepted_by = \(bind: principal.subject) WHERE id = \(bind: invitation.id)
                """).run()
            try await self.announceMembership(
                tenantId: invitation.tenant_id, userId: principal.subject, roles: invitation.roleList, status: "active", on: db)
            try await self.env.audit.append(
                AuditEntry(tenantId: invitation.tenant_id, actorId: principal.subject, action: "tenancy.membership.joined",
                           target: principal.subject,
                           details: ["invitation": invitation.id, "roles": invitation.roles]), on: db, kind: self.database.kind)
            return (invitation.tenant_id, invitation.roleList)
        }
    }
}
