import AsyncHTTPClient
import Crypto
import FinFlowCore
import Foundation
import Logging
import SQLKit

/// A tenant's connection to a QuickBooks Online company or a Xero organisation.
struct ProviderConnection: Sendable {
    enum Status: String, Sendable {
        /// Tokens held; sync can run.
        case connected
        /// The Xero grant reaches several organisations and the user has not said which one these books are.
        case choosingOrganisation = "choosing-organisation"
        /// The provider refused the grant (revoked, expired): only the user, authorising again, mends it.
        case needsAuthorisation = "needs-authorisation"
        /// Disconnected by a manager; tokens revoked and forgotten.
        case disconnected
    }

    let id: String
    let provider: AccountingProvider
    let status: Status
    let externalId: String?
    let externalName: String?
    let organisations: [ProviderOrganisation]
    let accessExpiresAtMillis: Int64?
    let refreshExpiresAtMillis: Int64?
    let refreshedAtMillis: Int64?
    let lastError: String?
    let createdBy: String
    let createdAtMillis: Int64
    let updatedAtMillis: Int64
    /// Whether FinFlow's ledger entries are pushed to the provider's books, and the date the first push caught up from.
    var pushEnabled = false
    var pushSince: String?
}

/// The start of an authorisation: where to send the user's browser, and the state that must come back.
struct ProviderAuthorisation: Sendable {
    let provider: AccountingProvider
    let state: String
    let url: String
    let expiresAtMillis: Int64
}

/// Connections to QuickBooks Online and Xero: the OAuth authorisation (state, PKCE), tokens sealed at rest, refreshed
/// before they lapse with the rotated refresh token stored in the same transaction as its use, and a refused grant
/// marking the connection for the user with an event.
final class ConnectionDesk: Sendable {
    let database: any Database
    let clock: any FinFlowClock
    let ids: IdentifierGenerator
    let audit: AuditLog
    let outbox: Outbox
    let sealer: SecretSealer
    let settings: Settings
    let client: HTTPClient
    let logger: Logger

    /// How long a started authorisation waits for the user to come back.
    static let authorisationMillis: Int64 = 10 * 60_000
    /// An access token this close to its end is refreshed before use.
    static let refreshMarginMillis: Int64 = 5 * 60_000

    init(env: ServiceEnvironment, serviceName: String, sealer: SecretSealer, client: HTTPClient) {
        self.database = env.database
        self.clock = env.clock
        self.ids = env.ids
        self.audit = env.audit
        self.outbox = env.outbox(serviceName: serviceName)
        self.sealer = sealer
        self.settings = env.settings
        self.client = client
        self.logger = env.logger
    }

    /// The provider's OAuth leg, or 409 when this deployment has registered no app with it.
    func oauth(_ provider: AccountingProvider) throws -> ProviderOAuth {
        guard let registration = ProviderRegistration(provider, settings: self.settings) else {
            let names = provider.settingNames
            throw AppError(
                .conflict, code: "provider-not-configured",
                "this FinFlow has no \(provider.title) app registered: its operator sets \(names.clientId) and \(names.clientSecret)")
        }
        return ProviderOAuth(registration: registration, client: self.client)
    }

    // MARK: authorisation

    struct AuthorisationRow: Decodable {
        let state, tenant_id, provider, redirect_uri, created_by: String
        let verifier_sealed: String?
        let expires_at_ms: Int64
    }

    /// Starts an authorisation for `provider`: a single-use `state` (and PKCE verifier) kept for ten minutes, and the
    /// URL the user's browser is sent to. The provider sends the browser back to `redirectURI` with a code.
    func startAuthorisation(provider: AccountingProvider, redirectURI: String, principal: Principal) async throws -> ProviderAuthorisation {
        let oauth = try self.oauth(provider)
        let state = Digest.randomToken(byteCount: 32)
        let verifier = provider.usesPKCE ? Digest.randomToken(byteCount: 48) : nil
        let challenge = verifier.map { Digest.base64URL(Data(SHA256.hash(data: Data($0.utf8)))) }
        let sealedVerifier = try await verifier.asyncMap { try await self.sealer.seal(Data($0.utf8)) }
        let now = self.clock.nowMillis(), expires = now + Self.authorisationMillis, tenantId = principal.tenantId
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            try await db.raw("DELETE FROM integration_authorisations WHERE tenant_id = \(bind: tenantId) AND expires_at_ms < \(bind: now)").run()
            try await db.raw("""
                INSERT INTO integration_authorisations (state, tenant_id, provider, redirect_uri, verifier_sealed, created_by, created_at_ms, expires_at_ms)
                VALUES (\(bind: state), \(bind: tenantId), \(bind: provider.rawValue), \(bind: redirectURI), \(bind: sealedVerifier),
                        \(bind: principal.subject), \(bind: now), \(bind: expires))
                """).run()
        }
        return ProviderAuthorisation(
            provider: provider, state: state, url: oauth.registration.authorisationURL(state: state, redirectURI: redirectURI, challenge: challenge),
            expiresAtMillis: expires)
    }

    /// Finishes the authorisation `state` names with the code the provider sent: the state is used up (by the user who
    /// started it, within ten minutes), the code exchanged, and the connection made, or mended when this tenant already
    /// had one to the same company or organisation. `realmId` (QuickBooks) names the company.
    func completeAuthorisation(state: String, code: String, realmId: String?, principal: Principal) async throws -> ProviderConnection {
        let tenantId = principal.tenantId, now = self.clock.nowMillis()
        let row = try await self.database.tenantTransaction(tenantId: tenantId) { db in
            let row = try await db.raw("""
                DELETE FROM integration_authorisations WHERE state = \(bind: state) AND tenant_id = \(bind: tenantId)
                RETURNING state, tenant_id, provider, redirect_uri, created_by, verifier_sealed, expires_at_ms
                """).first(decoding: AuthorisationRow.self)
            guard let row, row.created_by == principal.subject else {
                throw AppError(.notFound, code: "unknown-authorisation", "no authorisation of yours waits under this state; start again")
            }
            // Refused before the state is used up (the transaction rolls back): the user can pass the callback on whole.
            if row.provider == AccountingProvider.quickbooks.rawValue, realmId == nil {
                throw AppError.validation([.init(field: "realmId", message: "QuickBooks sends the company's realmId with the code; pass it on")])
            }
            return row
        }
        guard row.expires_at_ms >= now else {
            throw AppError(.rejected, code: "authorisation-expired", "the authorisation was started more than ten minutes ago; start again")
        }
        guard let provider = AccountingProvider(rawValue: row.provider) else { throw AppError.notFound("authorisation") }
        let oauth = try self.oauth(provider)
        let verifier = try await row.verifier_sealed.asyncMap { String(decoding: try await self.sealer.open($0).data, as: UTF8.self) }
        let tokens: ProviderTokens
        do {
            tokens = try await oauth.exchange(code: code, redirectURI: row.redirect_uri, verifier: verifier)
        } catch ProviderTokenFailure.refused(let message) {
            throw AppError(.rejected, code: "authorisation-refused", message)
        }
        var external: (id: String?, name: String?) = (realmId, nil)
        var organisations: [ProviderOrganisation] = []
        if provider == .xero {
            organisations = try await oauth.organisations(accessToken: tokens.accessToken)
            guard !organisations.isEmpty else {
                throw AppError(.rejected, code: "no-organisation", "the Xero user allowed FinFlow into no organisation; authorise again and choose one")
            }
            if organisations.count == 1 { external = (organisations[0].id, organisations[0].name) }
        }
        return try await self.store(
            provider: provider, tokens: tokens, external: external, organisations: organisations, principal: principal)
    }

    /// Saves a fresh grant: on the connection this tenant has to the same company or organisation (mended), or a new one.
    private func store(
        provider: AccountingProvider, tokens: ProviderTokens, external: (id: String?, name: String?), organisations: [ProviderOrganisation],
        principal: Principal
    ) async throws -> ProviderConnection {
        let tenantId = principal.tenantId, now = self.clock.nowMillis(), audit = self.audit, kind = self.database.kind, outbox = self.outbox
        let sealedAccess = try await self.sealer.seal(Data(tokens.accessToken.utf8))
        let sealedRefresh = try await self.sealer.seal(Data(tokens.refreshToken.utf8))
        let status: ProviderConnection.Status = external.id == nil ? .choosingOrganisation : .connected
        let listed = organisations.isEmpty ? nil : String(decoding: try JSONEncoder().encode(organisations), as: UTF8.self)
        let accessUntil = now + tokens.accessExpiresIn * 1_000, refreshUntil = tokens.refreshExpiresIn.map { now + $0 * 1_000 }
        let keyed = RequestScope.effectId("integration-connection")
        let newId = keyed ?? self.ids.nextString()
        let id = try await self.database.tenantTransaction(tenantId: tenantId) { db in
            struct Existing: Decodable { let id: String }
            let existing = try await external.id.asyncMap { externalId in
                try await db.raw("""
                    SELECT id FROM integration_connections
                    WHERE tenant_id = \(bind: tenantId) AND provider = \(bind: provider.rawValue) AND external_id = \(bind: externalId)
                    """).first(decoding: Existing.self)?.id
            } ?? nil
            let id = existing ?? newId
            if existing != nil {
                try await db.raw("""
                    UPDATE integration_connections SET status = \(bind: status.rawValue), external_name = COALESCE(\(bind: external.name), external_name),
                        access_sealed = \(bind: sealedAccess), access_expires_at_ms = \(bind: accessUntil), refresh_sealed = \(bind: sealedRefresh),
                        refresh_expires_at_ms = \(bind: refreshUntil), refreshed_at_ms = \(bind: now), last_error = NULL, updated_at_ms = \(bind: now)
                    WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id)
                    """).run()
            } else {
                try await db.raw("""
                    INSERT INTO integration_connections (tenant_id, id, provider, status, external_id, external_name, organisations,
                        access_sealed, access_expires_at_ms, refresh_sealed, refresh_expires_at_ms, refreshed_at_ms, created_by, created_at_ms, updated_at_ms)
                    VALUES (\(bind: tenantId), \(bind: id), \(bind: provider.rawValue), \(bind: status.rawValue), \(bind: external.id), \(bind: external.name),
                        \(bind: listed), \(bind: sealedAccess), \(bind: accessUntil), \(bind: sealedRefresh), \(bind: refreshUntil), \(bind: now),
                        \(bind: principal.subject), \(bind: now), \(bind: now))
                    """).run()
            }
            try await audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "integrations.connection.authorised", target: "connection:\(id)",
                           details: ["provider": provider.rawValue, "externalId": external.id ?? "", "status": status.rawValue]),
                on: db, kind: kind)
            try await outbox.enqueue(
                IntegrationConnectionChanged(
                    tenantId: tenantId, connectionId: id, provider: provider.rawValue, status: status.rawValue, externalId: external.id,
                    reason: nil, changedAtMillis: now),
                subject: id, tenantId: tenantId, on: db)
            return id
        }
        return try await self.connection(tenantId: tenantId, id: id)
    }

    /// Names the Xero organisation a connection waiting for one keeps (one the grant reaches).
    func chooseOrganisation(id: String, organisationId: String, principal: Principal) async throws -> ProviderConnection {
        let tenantId = principal.tenantId, now = self.clock.nowMillis(), audit = self.audit, kind = self.database.kind, outbox = self.outbox
        let current = try await self.connection(tenantId: tenantId, id: id)
        guard current.status == .choosingOrganisation else {
            throw AppError.conflict(code: "organisation-already-chosen", "this connection is \(current.status.rawValue); an organisation is chosen once")
        }
        guard let chosen = current.organisations.first(where: { $0.id == organisationId }) else {
            throw AppError.validation([.init(field: "organisationId", message: "is not one of the organisations this grant reaches")])
        }
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            let taken = try await db.raw("""
                SELECT id FROM integration_connections
                WHERE tenant_id = \(bind: tenantId) AND provider = 'xero' AND external_id = \(bind: chosen.id) AND id <> \(bind: id)
                """).all()
            guard taken.isEmpty else {
                throw AppError.conflict(code: "organisation-connected", "these books already have a connection to \(chosen.name)")
            }
            let changed = try await db.raw("""
                UPDATE integration_connections SET status = 'connected', external_id = \(bind: chosen.id), external_name = \(bind: chosen.name),
                    updated_at_ms = \(bind: now)
                WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id) AND status = 'choosing-organisation' RETURNING id
                """).all()
            guard !changed.isEmpty else { throw AppError.conflict(code: "organisation-already-chosen", "an organisation was chosen meanwhile") }
            try await audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "integrations.connection.organisation-chosen",
                           target: "connection:\(id)", details: ["organisationId": chosen.id]),
                on: db, kind: kind)
            try await outbox.enqueue(
                IntegrationConnectionChanged(
                    tenantId: tenantId, connectionId: id, provider: current.provider.rawValue, status: "connected", externalId: chosen.id,
                    reason: nil, changedAtMillis: now),
                subject: id, tenantId: tenantId, on: db)
        }
        return try await self.connection(tenantId: tenantId, id: id)
    }

    // MARK: reading

    struct ConnectionRow: Decodable {
        let tenant_id, id, provider, status, created_by: String
        let external_id, external_name, organisations, access_sealed, refresh_sealed, last_error: String?
        let access_expires_at_ms, refresh_expires_at_ms, refreshed_at_ms: Int64?
        let created_at_ms, updated_at_ms: Int64
        let push_enabled: Int?
        let push_since: String?
    }

    static func connection(_ row: ConnectionRow) -> ProviderConnection {
        ProviderConnection(
            id: row.id, provider: AccountingProvider(rawValue: row.provider) ?? .quickbooks,
            status: ProviderConnection.Status(rawValue: row.status) ?? .needsAuthorisation, externalId: row.external_id,
            externalName: row.external_name,
            organisations: row.organisations.flatMap { try? JSONDecoder().decode([ProviderOrganisation].self, from: Data($0.utf8)) } ?? [],
            accessExpiresAtMillis: row.access_expires_at_ms, refreshExpiresAtMillis: row.refresh_expires_at_ms,
            refreshedAtMillis: row.refreshed_at_ms, lastError: row.last_error, createdBy: row.created_by, createdAtMillis: row.created_at_ms,
            updatedAtMillis: row.updated_at_ms, pushEnabled: row.push_enabled == 1, pushSince: row.push_since)
    }

    /// A tenant's connections, oldest first.
    func connections(tenantId: String) async throws -> [ProviderConnection] {
        try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.raw("SELECT * FROM integration_connections WHERE tenant_id = \(bind: tenantId) ORDER BY created_at_ms, id")
                .all(decoding: ConnectionRow.self)
        }.map(Self.connection)
    }

    /// One connection, or 404.
    func connection(tenantId: String, id: String) async throws -> ProviderConnection {
        Self.connection(try await self.row(tenantId: tenantId, id: id))
    }

    /// One connection's row, sealed tokens included, or 404.
    private func row(tenantId: String, id: String) async throws -> ConnectionRow {
        guard let row = try await self.database.tenantRead(tenantId: tenantId, { db in
            try await db.raw("SELECT * FROM integration_connections WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id)")
                .first(decoding: ConnectionRow.self)
        }) else { throw AppError.notFound("integration connection") }
        return row
    }

    // MARK: tokens

    /// A live access token for the connection and the company or organisation it reaches, refreshed first when it
    /// lapses within five minutes (or when `force`).
    ///
    /// The refresh runs inside the transaction that stores its answer, holding the connection's row (PostgreSQL) or the
    /// database's write lock (SQLite): two replicas never spend the same refresh token, and the rotated token is saved
    /// with the access token it came with or not at all. A process that dies after the provider answered and before
    /// the commit leaves the used refresh token stored; both providers honour a used refresh token for a grace window
    /// (Xero 30 minutes; QuickBooks keeps a replaced token valid for a day), so the next refresh recovers the grant.
    /// A refused grant marks the connection `needs-authorisation` and says so with an event.
    func accessToken(tenantId: String, id: String, force: Bool = false) async throws -> (token: String, externalId: String) {
        let read = try await self.row(tenantId: tenantId, id: id)
        let current = Self.connection(read)
        try Self.requireConnected(current)
        // A token with time left is answered from a read: the transaction (a write lock on SQLite) is for refreshing.
        if !force, (read.access_expires_at_ms ?? 0) > self.clock.nowMillis() + Self.refreshMarginMillis, let sealed = read.access_sealed,
            let externalId = read.external_id
        {
            return (String(decoding: try await self.sealer.open(sealed).data, as: UTF8.self), externalId)
        }
        let oauth = try self.oauth(current.provider)
        try await self.sealer.prepare()
        let sealer = self.sealer, clock = self.clock, outbox = self.outbox, fault = self.settings.faultInjection
        let lockSuffix = self.database.kind == .postgres ? " FOR UPDATE" : ""
        let outcome: Result<(String, String), AppError> = try await self.database.tenantTransaction(tenantId: tenantId) { db in
            guard let row = try await db.raw("""
                SELECT * FROM integration_connections WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id)\(unsafeRaw: lockSuffix)
                """).first(decoding: ConnectionRow.self)
            else { throw AppError.notFound("integration connection") }
            let connection = Self.connection(row)
            try Self.requireConnected(connection)
            guard let externalId = row.external_id, let accessSealed = row.access_sealed, let refreshSealed = row.refresh_sealed else {
                throw AppError.conflict(code: "connection-not-ready", "the connection holds no tokens")
            }
            let now = clock.nowMillis()
            // Someone else refreshed since `force` was asked: their token is as fresh as ours would be.
            let refreshedMeanwhile = (row.refreshed_at_ms ?? 0) > (current.refreshedAtMillis ?? 0)
            if (row.access_expires_at_ms ?? 0) > now + Self.refreshMarginMillis, !force || refreshedMeanwhile {
                return .success((String(decoding: try await sealer.open(accessSealed).data, as: UTF8.self), externalId))
            }
            let refreshToken = String(decoding: try await sealer.open(refreshSealed).data, as: UTF8.self)
            let tokens: ProviderTokens
            do {
                tokens = try await oauth.refresh(refreshToken)
            } catch ProviderTokenFailure.refused(let message) {
                try await db.raw("""
                    UPDATE integration_connections SET status = 'needs-authorisation', access_sealed = NULL, access_expires_at_ms = NULL,
                        refresh_sealed = NULL, refresh_expires_at_ms = NULL, last_error = \(bind: message), updated_at_ms = \(bind: now)
                    WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id)
                    """).run()
                try await outbox.enqueue(
                    IntegrationConnectionChanged(
                        tenantId: tenantId, connectionId: id, provider: connection.provider.rawValue, status: "needs-authorisation",
                        externalId: externalId, reason: message, changedAtMillis: now),
                    subject: id, tenantId: tenantId, on: db)
                return .failure(Self.needsAuthorisation(connection.provider, message))
            }
            if fault == .crashAfterTokenRefresh { kill(getpid(), SIGKILL) }
            let sealedAccess = try await sealer.seal(Data(tokens.accessToken.utf8))
            let sealedRefresh = try await sealer.seal(Data(tokens.refreshToken.utf8))
            try await db.raw("""
                UPDATE integration_connections SET access_sealed = \(bind: sealedAccess), access_expires_at_ms = \(bind: now + tokens.accessExpiresIn * 1_000),
                    refresh_sealed = \(bind: sealedRefresh),
                    refresh_expires_at_ms = \(bind: tokens.refreshExpiresIn.map { now + $0 * 1_000 } ?? row.refresh_expires_at_ms),
                    refreshed_at_ms = \(bind: now), last_error = NULL, updated_at_ms = \(bind: now)
                WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id)
                """).run()
            return .success((tokens.accessToken, externalId))
        }
        return try outcome.get()
    }

    static func needsAuthorisation(_ provider: AccountingProvider, _ message: String) -> AppError {
        AppError(.conflict, code: "connection-needs-authorisation", "\(message); a manager authorises FinFlow at \(provider.title) again")
    }

    static func requireConnected(_ connection: ProviderConnection) throws {
        switch connection.status {
        case .connected: return
        case .needsAuthorisation: throw Self.needsAuthorisation(connection.provider, connection.lastError ?? "\(connection.provider.title) refused the grant")
        case .choosingOrganisation:
            throw AppError.conflict(code: "organisation-not-chosen", "choose which Xero organisation these books are first")
        case .disconnected: throw AppError.conflict(code: "connection-disconnected", "the connection was disconnected; authorise again")
        }
    }

    /// Disconnects: the grant revoked at the provider (if it still answers), the tokens forgotten, the connection kept
    /// as `disconnected` so what was synced through it stays traceable.
    func disconnect(id: String, principal: Principal) async throws {
        let tenantId = principal.tenantId, now = self.clock.nowMillis(), audit = self.audit, kind = self.database.kind, outbox = self.outbox
        let read = try await self.row(tenantId: tenantId, id: id)
        let current = Self.connection(read)
        var revokeProblem: String?
        if let sealed = read.refresh_sealed {
            let token = String(decoding: try await self.sealer.open(sealed).data, as: UTF8.self)
            do { try await self.oauth(current.provider).revoke(token) } catch {
                revokeProblem = "\(error)"
                self.logger.warning("the provider did not revoke the grant", metadata: ["connection": "\(id)", "error": "\(error)"])
            }
        }
        let problem = revokeProblem
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            try await db.raw("""
                UPDATE integration_connections SET status = 'disconnected', access_sealed = NULL, access_expires_at_ms = NULL, refresh_sealed = NULL,
                    refresh_expires_at_ms = NULL, last_error = \(bind: problem), updated_at_ms = \(bind: now)
                WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id)
                """).run()
            try await audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "integrations.connection.disconnected", target: "connection:\(id)",
                           details: problem.map { ["revokeProblem": $0] } ?? [:]),
                on: db, kind: kind)
            try await outbox.enqueue(
                IntegrationConnectionChanged(
                    tenantId: tenantId, connectionId: id, provider: current.provider.rawValue, status: "disconnected",
                    externalId: current.externalId, reason: "manual", changedAtMillis: now),
                subject: id, tenantId: tenantId, on: db)
        }
    }
}
