import FinFlowCore
import Foundation
import SQLKit

/// An API client row.
struct ClientRecord: Decodable, Sendable {
    let id: String
    let tenant_id: String
    let name: String
    let secret_hash: String
    let scopes: String
    let created_at_ms: Int64
    let revoked_at_ms: Int64?

    var scopeList: [String] { self.scopes.split(separator: " ").map(String.init) }
}

extension Authenticator {
    static let clientsPerTenantMax = 100

    /// Creates an API client of the caller's tenant with scopes within the caller's own permissions.
    func createClient(principal: Principal, name rawName: String, scopes rawScopes: [String]) async throws
        -> (client: ClientRecord, secret: String)
    {
        let name = rawName.trimmingCharacters(in: .whitespacesAndNewlines)
        let scopes = Array(Set(rawScopes)).sorted()
        var validator = Validator()
        validator.check((1...120).contains(name.count), "name", "must be 1–120 characters")
        validator.check(!scopes.isEmpty, "scopes", "must name at least one permission")
        for (index, scope) in scopes.enumerated() {
            if !Roles.allPermissions.contains(scope) {
                validator.fail("scopes[\(index)]", "'\(scope.prefix(40))' is not a permission")
            } else if !principal.has(scope) {
                validator.fail("scopes[\(index)]", "'\(scope)' is beyond your own permissions")
            }
        }
        try validator.throwIfInvalid()
        let id = self.env.ids.nextString()
        let secret = "ffs_" + Digest.randomToken()
        let now = self.clock.nowMillis()
        let client = try await self.database.transaction { db in
            struct Count: Decodable { let n: Int }
            let existing = try await db.raw("""
                SELECT COUNT(*) AS n FROM api_clients WHERE tenant_id = \(bind: principal.tenantId) AND revoked_at_ms IS NULL
                """).first(decoding: Count.self)?.n ?? 0
            guard existing < Self.clientsPerTenantMax else {
                throw AppError.conflict(code: "too-many-clients", "a tenant may have at most \(Self.clientsPerTenantMax) active API clients")
            }
            try await db.raw("""
                INSERT INTO api_clients (id, tenant_id, name, secret_hash, scopes, created_by, created_at_ms)
                VALUES (\(bind: id), \(bind: principal.tenantId), \(bind: name), \(bind: Digest.sha256Hex(secret)),
                        \(bind: scopes.joined(separator: " ")), \(bind: principal.subject), \(bind: now))
                """).run()
            try await self.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "auth.client.created",
                           target: id,
                           details: ["scopes": scopes.joined(separator: " ")]), on: db, kind: self.database.kind)
            guard let client = try await self.client(id: id, on: db) else { preconditionFailure("client just inserted") }
            return client
        }
        return (client, secret)
    }

    func client(id: String, on db: any SQLDatabase) async throws -> ClientRecord? {
        try await db.raw("""
            SELECT id, tenant_id, name, secret_hash, scopes, created_at_ms, revoked_at_ms FROM api_clients WHERE id = \(bind: id)
            """).first(decoding: ClientRecord.self)
    }

    func clients(principal: Principal) async throws -> [ClientRecord] {
        try await self.database.read { db in
            try await db.raw("""
                SELECT id, tenant_id, name, secret_hash, scopes, created_at_ms, revoked_at_ms FROM api_clients
                WHERE tenant_id = \(bind: principal.tenantId) AND revoked_at_ms IS NULL ORDER BY created_at_ms
                LIMIT \(bind: Self.clientsPerTenantMax)
                """).all(decoding: ClientRecord.self)
        }
    }

    /// Revokes a client of the caller's tenant; another tenant's client is "not found".
    func revokeClient(principal: Principal, clientId: String) async throws {
        let now = self.clock.nowMillis()
        try await self.database.transaction { db in
            guard let client = try await self.client(id: clientId.lowercased(), on: db),
                client.tenant_id == principal.tenantId, client.revoked_at_ms == nil
            else { throw AppError.notFound("client") }
            try await db.raw("UPDATE api_clients SET revoked_at_ms = \(bind: now) WHERE id = \(bind: client.id)").run()
            try await self.outbox.enqueue(
                SessionRevoked(sessionId: client.id, userId: client.id, reason: "client-revoked"), subject: client.id,
                tenantId: client.tenant_id, on: db)
            try await self.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "auth.client.revoked",
                           target: client.id), on: db,
                kind: self.database.kind)
        }
        self.env.revocations.revokeSession(clientId.lowercased(), at: self.clock.now())
    }

    /// The client-credentials grant: an access token whose permissions are the requested scopes.
    func clientToken(grantType: String, clientId: String?, secret: String?, scope: String?) async throws
        -> (token: String, scopes: [String])
    {
        guard grantType == "client_credentials" else {
            throw AppError.invalid(code: "unsupported-grant-type", "only grant_type=client_credentials is supported here")
        }
        let invalidClient = AppError.unauthenticated(code: "invalid-client", "the client id or secret is wrong")
        guard let clientId, let secret, UUID(uuidString: clientId) != nil, secret.count <= 256 else { throw invalidClient }
        guard let client = try await self.database.read({ db in try await self.client(id: clientId.lowercased(), on: db) }),
            client.revoked_at_ms == nil,
            Digest.sha256Hex(secret).utf8.elementsEqual(client.secret_hash.utf8)
        else {
            try await self.recordAudit(tenantId: AuditLog.platformTenant, actor: nil, action: "auth.client.token",
                                       target: clientId.prefix(64).description, outcome: "failure")
            throw invalidClient
        }
        let granted = client.scopeList
        let requested = scope.map { $0.split(separator: " ").map(String.init) } ?? granted
        guard !requested.isEmpty, requested.allSatisfy(granted.contains) else {
            throw AppError.invalid(code: "invalid-scope", "the requested scope exceeds the client's scopes")
        }
        guard try await !self.database.read({ db in try await self.store.isTenantSuspended(client.tenant_id, on: db) }) else {
            throw AppError.forbidden(code: "tenant-suspended", "the tenant is suspended")
        }
        let now = self.clock.now()
        let claims = AccessClaims(
            issuer: self.settings.tokenIssuer, audience: self.settings.tokenAudience, subject: client.id,
            expiresAt: now.addingTimeInterval(TimeInterval(self.settings.accessTokenTTLSeconds)), issuedAt: now,
            tokenId: self.env.ids.nextString(), tenantId: client.tenant_id, roles: [], permissions: requested,
            sessionId: client.id)
        return (try await self.keys.sign(claims), requested)
    }
}
