import FinFlowCore
import Foundation
import JWTKit
import SQLKit

extension Authenticator {
    static let oidcRequestTTLMillis: Int64 = 600_000
    /// How long a first sign-in waits for the new account's tenant to be provisioned.
    static let provisioningWaitMillis = 5_000

    func requireOidc() throws -> OIDCClient {
        guard let oidc = self.oidc else {
            throw AppError(.notFound, code: "oidc-not-configured", "no external sign-in provider is configured")
        }
        return oidc
    }

    /// Starts an authorization-code flow: state, nonce and PKCE verifier are kept (state hashed) for ten minutes.
    func startOidc() async throws -> (url: String, state: String) {
        let oidc = try self.requireOidc()
        let state = Digest.randomToken()
        let nonce = Digest.randomToken()
        let verifier = Digest.randomToken()
        let url = try await oidc.authorizationURL(state: state, nonce: nonce, verifier: verifier)
        let now = self.clock.nowMillis()
        try await self.database.write { db in
            try await db.raw("""
                INSERT INTO oidc_requests (state_hash, code_verifier, nonce, created_at_ms, expires_at_ms)
                VALUES (\(bind: Digest.sha256Hex(state)), \(bind: verifier), \(bind: nonce), \(bind: now),
                        \(bind: now + Self.oidcRequestTTLMillis))
                """).run()
        }
        return (url, state)
    }

    /// Completes the flow: spends the state, exchanges the code, then signs in the linked, matched or new user.
    func completeOidc(code: String, state: String) async throws -> SignInResult {
        let oidc = try self.requireOidc()
        let now = self.clock.nowMillis()
        struct Pending: Decodable { let code_verifier: String; let nonce: String }
        let pending = try await self.database.write { db in
            try await db.raw("""
                UPDATE oidc_requests SET used_at_ms = \(bind: now)
                WHERE state_hash = \(bind: Digest.sha256Hex(state)) AND used_at_ms IS NULL AND expires_at_ms > \(bind: now)
                RETURNING code_verifier, nonce
                """).first(decoding: Pending.self)
        }
        guard let pending else {
            throw AppError.unauthenticated(code: "oidc-invalid-state", "the sign-in request is unknown, used or expired; start again")
        }
        let claims = try await oidc.exchange(code: code, verifier: pending.code_verifier, nonce: pending.nonce)
        let issuer = oidc.configuration.issuer
        let (user, created) = try await self.linkedUser(issuer: issuer, claims: claims)
        if created { try await self.awaitProvisioning(userId: user.id) }
        return try await self.finishSignIn(user: user, tenantId: nil, method: "oidc")
    }

    /// The user behind an external identity: already linked, linked now by verified email, or created.
    private func linkedUser(issuer: String, claims: OIDCClient.IDToken) async throws -> (UserRecord, created: Bool) {
        struct Link: Decodable { let user_id: String }
        let subject = claims.sub.value
        if let link = try await self.database.read({ db in
            try await db.raw("SELECT user_id FROM external_identities WHERE issuer = \(bind: issuer) AND subject = \(bind: subject)")
                .first(decoding: Link.self)
        }), let user = try await self.database.read({ db in try await self.store.user(id: link.user_id, on: db) }) {
            return (user, false)
        }
        guard let email = claims.email.flatMap(EmailAddress.normalized), claims.emailVerified else {
            throw AppError.forbidden(
                code: "oidc-email-unverified", "the sign-in provider did not vouch for a verified email address")
        }
        let now = self.clock.nowMillis()
        let newId = self.env.ids.nextString()
        let unusablePassword = await self.hash(Digest.randomToken())
        return try await self.database.transaction { db in
            var created = false
            var user = try await self.store.user(email: email, on: db)
            if user == nil {
                _ = try await self.store.insertUser(
                    id: newId, email: email, displayName: String(email.split(separator: "@")[0].prefix(120)),
                    passwordHash: unusablePassword, now: now, on: db)
                try await db.raw("UPDATE users SET email_verified_at_ms = \(bind: now) WHERE id = \(bind: newId)").run()
                try await self.outbox.enqueue(
                    UserRegistered(userId: newId, email: email, displayName: String(email.split(separator: "@")[0]), organizationName: nil),
                    subject: newId, tenantId: nil, on: db)
                user = try await self.store.user(id: newId, on: db)
                created = true
            }
            guard let user else { preconditionFailure("user found or just inserted") }
            try await db.raw("""
                INSERT INTO external_identities (issuer, subject, user_id, email, linked_at_ms)
                VALUES (\(bind: issuer), \(bind: subject), \(bind: user.id), \(bind: email), \(bind: now))
                """).run()
            try await self.audit.append(
                AuditEntry(tenantId: AuditLog.platformTenant, actorId: user.id, action: "auth.identity.linked", target: user.id,
                           details: ["issuer": issuer, "created": String(created)]), on: db, kind: self.database.kind)
            return (user, created)
        }
    }

    /// Waits (bounded) until the tenancy service has given a new user a tenant.
    private func awaitProvisioning(userId: String) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Self.provisioningWaitMillis)
        while ContinuousClock.now < deadline {
            let memberships = try await self.database.read { db in try await self.store.memberships(userId: userId, on: db) }
            if !memberships.isEmpty { return }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
