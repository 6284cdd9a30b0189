import FinFlowCore
import Foundation
import OpenAPIRuntime

/// The tenancy HTTP contract (generated from `openapi.yaml`) implemented.
struct TenancyAPI: APIProtocol {
    let directory: TenantDirectory

    func createTenant(_ input: Operations.CreateTenant.Input) async throws -> Operations.CreateTenant.Output {
        let principal = try RequestScope.authenticated()
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let settings = try TenantSettingsValue.defaults.applying(
            baseCurrency: body.baseCurrency, fiscalYearStartMonth: body.fiscalYearStartMonth, timeZone: body.timeZone,
            locale: body.locale)
        let tenant = try await self.directory.createTenant(principal: principal, name: body.name, settings: settings)
        return .created(.init(body: .json(Self.dto(tenant))))
    }

    func listMyTenants(_ input: Operations.ListMyTenants.Input) async throws -> Operations.ListMyTenants.Output {
        let principal = try RequestScope.authenticated()
        return .ok(.init(body: .json(.init(items: try await self.directory.myTenants(principal: principal).map(Self.dto)))))
    }

    func getCurrentTenant(_ input: Operations.GetCurrentTenant.Input) async throws -> Operations.GetCurrentTenant.Output {
        let principal = try RequestScope.require("tenant:read")
        return .ok(.init(body: .json(Self.dto(try await self.directory.currentTenant(principal: principal)))))
    }

    func updateCurrentTenant(_ input: Operations.UpdateCurrentTenant.Input) async throws
        -> Operations.UpdateCurrentTenant.Output
    {
        let principal = try RequestScope.require("tenant:update")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let tenant = try await self.directory.updateTenant(
            principal: principal, name: body.name, baseCurrency: body.baseCurrency,
            fiscalYearStartMonth: body.fiscalYearStartMonth, timeZone: body.timeZone, locale: body.locale,
            mfaRequiredRoles: body.mfaRequiredRoles)
        return .ok(.init(body: .json(Self.dto(tenant))))
    }

    func suspendCurrentTenant(_ input: Operations.SuspendCurrentTenant.Input) async throws
        -> Operations.SuspendCurrentTenant.Output
    {
        let principal = try RequestScope.require("tenant:suspend")
        return .ok(.init(body: .json(Self.dto(try await self.directory.suspend(principal: principal)))))
    }

    func listMembers(_ input: Operations.ListMembers.Input) async throws -> Operations.ListMembers.Output {
        let principal = try RequestScope.require("members:read")
        let page = try PageRequest(limit: input.query.limit, cursor: input.query.cursor)
        let result = try await self.directory.members(principal: principal, page: page)
        return .ok(.init(body: .json(.init(items: result.items.map(Self.dto), nextCursor: result.nextCursor))))
    }

    func getMember(_ input: Operations.GetMember.Input) async throws -> Operations.GetMember.Output {
        let principal = try RequestScope.require("members:read")
        try Self.requireUUID(input.path.userId)
        return .ok(.init(body: .json(Self.dto(try await self.directory.member(principal: principal, userId: input.path.userId)))))
    }

    func updateMember(_ input: Operations.UpdateMember.Input) async throws -> Operations.UpdateMember.Output {
        let principal = try RequestScope.require("members:manage")
        try Self.requireUUID(input.path.userId)
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let member = try await self.directory.updateMember(principal: principal, userId: input.path.userId, roles: body.roles)
        return .ok(.init(body: .json(Self.dto(member))))
    }

    func removeMember(_ input: Operations.RemoveMember.Input) async throws -> Operations.RemoveMember.Output {
        let principal = try RequestScope.require("members:manage")
        try Self.requireUUID(input.path.userId)
        try await self.directory.removeMember(principal: principal, userId: input.path.userId)
        return .noContent(.init())
    }

    static func requireUUID(_ value: String) throws {
        guard UUID(uuidString: value) != nil else { throw AppError.validation([.init(field: "userId", message: "is not a UUID")]) }
    }

    static func dto(_ tenant: TenantRecord) -> Components.Schemas.Tenant {
        .init(
            id: tenant.id, name: tenant.name, status: tenant.status == "suspended" ? .suspended : .active,
            settings: .init(
                baseCurrency: tenant.base_currency, fiscalYearStartMonth: tenant.fiscal_year_start_month,
                timeZone: tenant.time_zone, locale: tenant.locale, mfaRequiredRoles: tenant.mfaRequiredRoles),
            createdAt: Date(unixMillis: tenant.created_at_ms))
    }

    static func dto(_ member: MemberRecord) -> Components.Schemas.Member {
        .init(
            userId: member.user_id, email: member.email, displayName: member.display_name, roles: member.roleList,
            joinedAt: Date(unixMillis: member.joined_at_ms))
    }
}

extension TenancyAPI {
    func createInvitation(_ input: Operations.CreateInvitation.Input) async throws -> Operations.CreateInvitation.Output {
        let principal = try RequestScope.require("members:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let invitation = try await self.directory.invite(principal: principal, email: body.email, roles: body.roles)
        return .created(.init(body: .json(Self.dto(invitation))))
    }

    func listInvitations(_ input: Operations.ListInvitations.Input) async throws -> Operations.ListInvitations.Output {
        let principal = try RequestScope.require("members:read")
        return .ok(.init(body: .json(.init(items: try await self.directory.openInvitations(principal: principal).map(Self.dto)))))
    }

    func revokeInvitation(_ input: Operations.RevokeInvitation.Input) async throws -> Operations.RevokeInvitation.Output {
        let principal = try RequestScope.require("members:manage")
        guard UUID(uuidString: input.path.invitationId) != nil else {
            throw AppError.validation([.init(field: "invitationId", message: "is not a UUID")])
        }
        try await self.directory.revokeInvitation(principal: principal, id: input.path.invitationId)
        return .noContent(.init())
    }

    func acceptInvitation(_ input: Operations.AcceptInvitation.Input) async throws -> Operations.AcceptInvitation.Output {
        let principal = try RequestScope.authenticated()
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let joined = try await self.directory.accept(principal: principal, token: body.token)
        return .ok(.init(body: .json(.init(tenantId: joined.tenantId, userId: principal.subject, roles: joined.roles))))
    }

    static func dto(_ invitation: InvitationRecord) -> Components.Schemas.Invitation {
        .init(
            id: invitation.id, email: invitation.email, roles: invitation.roleList,
            createdAt: Date(unixMillis: invitation.created_at_ms), expiresAt: Date(unixMillis: invitation.expires_at_ms))
    }
}

extension TenancyAPI {
    func listTenantRoles(_ input: Operations.ListTenantRoles.Input) async throws -> Operations.ListTenantRoles.Output {
        let principal = try RequestScope.require("roles:read")
        let roles = try await self.directory.listRoles(principal: principal)
        let builtIn = roles.builtIn.map {
            Components.Schemas.TenantRole(name: $0.name, description: $0.description, permissions: $0.permissions, builtIn: true)
        }
        let custom = roles.custom.map {
            Components.Schemas.TenantRole(name: $0.name, description: $0.description, permissions: $0.permissionList, builtIn: false)
        }
        return .ok(.init(body: .json(.init(items: builtIn + custom))))
    }

    func createTenantRole(_ input: Operations.CreateTenantRole.Input) async throws -> Operations.CreateTenantRole.Output {
        let principal = try RequestScope.require("roles:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let role = try await self.directory.createRole(
            principal: principal, name: body.name, description: body.description, permissions: body.permissions)
        return .created(.init(body: .json(.init(
            name: role.name, description: role.description, permissions: role.permissionList, builtIn: false))))
    }

    func deleteTenantRole(_ input: Operations.DeleteTenantRole.Input) async throws -> Operations.DeleteTenantRole.Output {
        let principal = try RequestScope.require("roles:manage")
        try await self.directory.deleteRole(principal: principal, name: input.path.roleName)
        return .noContent(.init())
    }
}
