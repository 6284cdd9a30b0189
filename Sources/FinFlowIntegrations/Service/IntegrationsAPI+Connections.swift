import FinFlowCore
import Foundation
import OpenAPIRuntime

/// The connection operations: authorising FinFlow at QuickBooks Online and Xero, and the connections that come of it.
extension IntegrationsAPI {
    func listConnections(_ input: Operations.ListConnections.Input) async throws -> Operations.ListConnections.Output {
        let principal = try RequestScope.require("integrations:read")
        return .ok(.init(body: .json(.init(items: try await self.connections.connections(tenantId: principal.tenantId).map(Self.dto)))))
    }

    func startConnection(_ input: Operations.StartConnection.Input) async throws -> Operations.StartConnection.Output {
        let principal = try RequestScope.require("integrations:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        guard let provider = AccountingProvider(rawValue: body.provider.rawValue) else {
            throw AppError.validation([.init(field: "provider", message: "must be quickbooks or xero")])
        }
        try Self.checkRedirect(body.redirectUri)
        let started = try await self.connections.startAuthorisation(provider: provider, redirectURI: body.redirectUri, principal: principal)
        return .created(.init(body: .json(.init(
            provider: .init(rawValue: started.provider.rawValue) ?? .quickbooks, state: started.state, authorisationUrl: started.url,
            expiresAt: Self.date(started.expiresAtMillis)))))
    }

    func completeConnection(_ input: Operations.CompleteConnection.Input) async throws -> Operations.CompleteConnection.Output {
        let principal = try RequestScope.require("integrations:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        if let realmId = body.realmId, !realmId.allSatisfy({ $0.isASCII && $0.isNumber }) {
            throw AppError.validation([.init(field: "realmId", message: "a QuickBooks realmId is digits")])
        }
        let connection = try await self.connections.completeAuthorisation(
            state: body.state, code: body.code, realmId: body.realmId, principal: principal)
        return .created(.init(body: .json(Self.dto(connection))))
    }

    func getConnection(_ input: Operations.GetConnection.Input) async throws -> Operations.GetConnection.Output {
        let principal = try RequestScope.require("integrations:read")
        return .ok(.init(body: .json(Self.dto(try await self.connections.connection(tenantId: principal.tenantId, id: input.path.connectionId)))))
    }

    func chooseConnectionOrganisation(
        _ input: Operations.ChooseConnectionOrganisation.Input
    ) async throws -> Operations.ChooseConnectionOrganisation.Output {
        let principal = try RequestScope.require("integrations:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let chosen = try await self.connections.chooseOrganisation(
            id: input.path.connectionId, organisationId: body.organisationId, principal: principal)
        return .ok(.init(body: .json(Self.dto(chosen))))
    }

    func disconnectConnection(_ input: Operations.DisconnectConnection.Input) async throws -> Operations.DisconnectConnection.Output {
        let principal = try RequestScope.require("integrations:manage")
        try await self.connections.disconnect(id: input.path.connectionId, principal: principal)
        return .noContent(.init())
    }

    func refreshConnection(_ input: Operations.RefreshConnection.Input) async throws -> Operations.RefreshConnection.Output {
        let principal = try RequestScope.require("integrations:manage")
        _ = try await self.connections.accessToken(tenantId: principal.tenantId, id: input.path.connectionId, force: true)
        return .ok(.init(body: .json(Self.dto(try await self.connections.connection(tenantId: principal.tenantId, id: input.path.connectionId)))))
    }

    /// A redirect URI the provider can send a browser back to: https, or http on this machine for trying it out; no
    /// credentials or fragment.
    static func checkRedirect(_ text: String) throws {
        let refuse = { (message: String) in AppError.validation([.init(field: "redirectUri", message: message)]) }
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased(), !host.isEmpty else {
            throw refuse("is not an absolute URL")
        }
        guard url.fragment == nil, url.user == nil, url.password == nil else { throw refuse("must carry no fragment or credentials") }
        guard scheme == "https" || (scheme == "http" && ["127.0.0.1", "localhost", "[::1]", "::1"].contains(host)) else {
            throw refuse("must be https (http only on 127.0.0.1 or localhost)")
        }
    }

    static func dto(_ c: ProviderConnection) -> Components.Schemas.Connection {
        .init(
            id: c.id, provider: .init(rawValue: c.provider.rawValue) ?? .quickbooks,
            status: .init(rawValue: c.status.rawValue) ?? .needsAuthorisation, externalId: c.externalId, externalName: c.externalName,
            organisations: c.organisations.map { .init(id: $0.id, name: $0.name) },
            accessExpiresAt: c.accessExpiresAtMillis.map(Self.date), refreshExpiresAt: c.refreshExpiresAtMillis.map(Self.date),
            refreshedAt: c.refreshedAtMillis.map(Self.date), lastError: c.lastError, createdBy: c.createdBy, createdAt: Self.date(c.createdAtMillis),
            updatedAt: Self.date(c.updatedAtMillis), push: .init(enabled: c.pushEnabled, since: c.pushSince))
    }
}
