import FinFlowCore
import Foundation
import HummingbirdBcrypt
import Logging
import NIOPosix
import SQLKit

/// Tokens handed to a signed-in caller.
struct IssuedTokens: Sendable {
    let accessToken: String
    let refreshToken: String
    let expiresInSeconds: Int
    let tenantId: String
    let sessionId: String
    /// The tenant requires a second factor of this user, who has none yet: the token grants no permissions.
    let mfaEnrollmentRequired: Bool
}

/// The outcome of a password sign-in: tokens, or a challenge for the second factor.
enum SignInResult: Sendable {
    case authenticated(IssuedTokens)
    case mfaRequired(challenge: String)
}

/// The auth service's use cases: the only API its HTTP handlers and consumers call.
struct Authenticator: Sendable {
    let env: ServiceEnvironment
    let keys: KeyRing
    let store = AuthStore()
    let policy: PasswordPolicy
    let limiter: AttemptLimiter
    /// A bcrypt hash of a random password, verified against when the email is unknown so both cases cost the same.
    let decoyHash: String
    /// The external OpenID Connect provider, when one is configured.
    let oidc: OIDCClient?
    /// Profiles read for `GET /v1/auth/me`, kept briefly because front ends ask for them on every page.
    let profiles = ProfileCache()
    static let serviceName = "auth"
    static let verificationTTLMillis: Int64 = 48 * 3_600_000
    static let resetTTLMillis: Int64 = 3_600_000
    static let mfaChallengeTTLMillis: Int64 = 300_000

    var settings: Settings { self.env.settings }
    var database: any Database { self.env.database }
    var clock: any FinFlowClock { self.env.clock }
    var outbox: Outbox { self.env.outbox(serviceName: Self.serviceName) }
    var audit: AuditLog { self.env.audit }

    init(env: ServiceEnvironment, keys: KeyRing, policy: PasswordPolicy) async {
        self.env = env
        self.keys = keys
        self.policy = policy
        self.limiter = AttemptLimiter(limitPerMinute: env.settings.signInAttemptsPerAddressPerMinute, shared: env.shared)
        let cost = UInt8(env.settings.bcryptCost)
        self.decoyHash = await Self.hashPassword(Digest.randomToken(), cost: cost)
        let settings = env.settings
        if let issuer = settings.oidcIssuer, let clientId = settings.oidcClientId, let redirect = settings.oidcRedirectURI {
            self.oidc = OIDCClient(
                configuration: .init(issuer: issuer, clientId: clientId, clientSecret: settings.oidcClientSecret, redirectURI: redirect),
                clock: env.clock)
        } else {
            self.oidc = nil
        }
    }

    // MARK: Passwords off the event loop

    static func hashPassword(_ password: String, cost: UInt8) async -> String {
        (try? await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }) ?? Bcrypt.hash(password, cost: cost)
    }

    static func verifyPassword(_ password: String, hash: String) async -> Bool {
        (try? await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }) ?? false
    }

    func hash(_ password: String) async -> String {
        await Self.hashPassword(password, cost: UInt8(self.settings.bcryptCost))
    }

    // MARK: Registration and email verification

    /// Registers a user, mails the verification link and announces `UserRegistered`, all in one transaction.
    /// Returns the new user, or nil when the email was taken (the caller answers alike, so as not to tell).
    func register(email rawEmail: String, password: String, displayName rawName: String, organizationName: String?)
        async throws -> UserRecord?
    {
        var validator = Validator()
        let email = EmailAddress.normalized(rawEmail)
        validator.check(email != nil, "email", "is not a valid email address")
        let displayName = rawName.trimmingCharacters(in: .whitespacesAndNewlines)
        validator.check((1...120).contains(displayName.count), "displayName", "must be 1–120 characters")
        let organization = organizationName?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let organization { validator.check((1...120).contains(organization.count), "organizationName", "must be 1–120 characters") }
        for problem in self.policy.problems(password: password, email: email ?? "", field: "password") {
            validator.fail(problem.field, problem.message)
        }
        try validator.throwIfInvalid()
        guard let email else { preconditionFailure("validated above") }
        let passwordHash = await self.hash(password)
        let id = self.env.ids.nextString()
        let token = Digest.randomToken()
        let now = self.clock.nowMillis()
        let scope = RequestScope.current
        return try await self.database.transaction { db -> UserRecord? in
            guard try await self.store.insertUser(
                id: id, email: email, displayName: displayName, passwordHash: passwordHash, now: now, on: db)
            else {
                // The answer must not reveal that the account exists: the owner is told by mail instead.
                try await self.env.mail.enqueue(
                    to: email, subject: "Someone tried to register with your email",
                    body: "An account with this address already exists. Sign in, or reset your password if you lost it.",
                    purpose: "registration-attempt", on: db)
                try await self.audit.append(
                    AuditEntry(tenantId: AuditLog.platformTenant, actorId: nil, action: "auth.user.register-existing",
                               target: nil, outcome: "failure", clientAddress: scope?.clientAddress), on: db,
                    kind: self.database.kind)
                return nil
            }
            try await self.store.insertToken(
                hash: Digest.sha256Hex(token), userId: id, purpose: "verify-email", context: nil, now: now,
                expiresAt: now + Self.verificationTTLMillis, on: db)
            // The token goes by mail from auth's own outbox: never through the event bus or a log.
            try await self.env.mail.enqueue(
                to: email, subject: "Confirm your FinFlow email",
                body: "Confirm your address with this token: \(token)\n\(self.link("verify-email", token))", purpose: "verify-email", on: db)
            try await self.outbox.enqueue(
                UserRegistered(userId: id, email: email, displayName: displayName, organizationName: organization),
                subject: id, tenantId: nil, on: db)
            try await self.audit.append(
                AuditEntry(tenantId: AuditLog.platformTenant, actorId: id, action: "auth.user.registered", target: id,
                           clientAddress: scope?.clientAddress), on: db, kind: self.database.kind)
            guard let user = try await self.store.user(id: id, on: db) else { preconditionFailure("user just inserted") }
            return user
        }
    }

    func link(_ path: String, _ token: String) -> String {
        guard let base = self.settings.publicBaseURL else { return "" }
        return "\(base)/\(path)?token=\(token)"
    }

    /// Confirms an email with a verification token (single use, expiring).
    func verifyEmail(token: String) async throws {
        let now = self.clock.nowMillis()
        let userId = try await self.database.transaction { db in
            guard let spent = try await self.store.spendToken(
                hash: Digest.sha256Hex(token), purpose: "verify-email", now: now, on: db)
            else { throw AppError(.rejected, code: "invalid-token", "the verification token is invalid, used or expired") }
            try await db.raw("""
                UPDATE users SET email_verified_at_ms = \(bind: now) WHERE id = \(bind: spent.user_id) AND email_verified_at_ms IS NULL
                """).run()
            try await self.audit.append(
                AuditEntry(tenantId: AuditLog.platformTenant, actorId: spent.user_id, action: "auth.email.verified",
                           target: spent.user_id), on: db, kind: self.database.kind)
            return spent.user_id
        }
        self.profiles.forget(userId)
    }

    // MARK: Sign-in

    /// Signs in with email and password, enforcing the per-address limit and the account lockout.
    func signIn(email rawEmail: String, password: String, tenantId: String?) async throws -> SignInResult {
        let scope = RequestScope.current
        let address = scope?.clientAddress ?? "unknown"
        if let retryAfter = await self.limiter.register(key: address, now: self.clock.now()) {
            throw AppError(.tooManyRequests, code: "too-many-attempts",
                           "too many sign-in attempts from this address", retryAfterSeconds: retryAfter)
        }
        let invalid = AppError.unauthenticated(code: "invalid-credentials", "the email or password is wrong")
        guard let email = EmailAddress.normalized(rawEmail), !password.isEmpty, password.count <= 1024 else {
            _ = await Self.verifyPassword(password, hash: self.decoyHash)
            throw invalid
        }
        let found = try await self.database.read { db in try await self.store.user(email: email, on: db) }
        guard let user = found else {
            _ = await Self.verifyPassword(password, hash: self.decoyHash)
            try await self.recordAudit(tenantId: AuditLog.platformTenant, actor: nil, action: "auth.sign-in",
                                       target: nil, outcome: "failure", details: ["reason": "unknown-email"])
            throw invalid
        }
        let now = self.clock.nowMillis()
        if let lockedUntil = user.locked_until_ms, lockedUntil > now {
            try await self.recordAudit(tenantId: AuditLog.platformTenant, actor: user.id, action: "auth.sign-in",
                                       target: user.id, outcome: "failure", details: ["reason": "locked"])
            throw AppError(.locked, code: "account-locked", "the account is locked after repeated failed sign-ins",
                           retryAfterSeconds: Int((lockedUntil - now + 999) / 1000))
        }
        guard await Self.verifyPassword(password, hash: user.password_hash) else {
            try await self.registerFailure(user: user)
            throw invalid
        }
        guard user.email_verified_at_ms != nil else {
            throw AppError.forbidden(code: "email-not-verified", "confirm the email address before signing in")
        }
        // Most sign-ins follow no failure: only write when there is something to clear.
        if user.failed_sign_ins > 0 || user.locked_until_ms != nil || user.lockouts > 0 {
            try await self.database.transaction { db in
                try await self.store.clearFailures(userId: user.id, on: db)
            }
        }
        return try await self.finishSignIn(user: user, tenantId: tenantId, method: "password")
    }

    /// After the first factor: the tenant to enter, then a second-factor challenge or a session.
    func finishSignIn(user: UserRecord, tenantId: String?, method: String) async throws -> SignInResult {
        let now = self.clock.nowMillis()
        let membership = try await self.membership(userId: user.id, tenantId: tenantId)
        if user.mfaEnabled {
            let challenge = Digest.randomToken()
            try await self.database.transaction { db in
                try await self.store.insertToken(
                    hash: Digest.sha256Hex(challenge), userId: user.id, purpose: "mfa-challenge",
                    context: membership.tenant_id, now: now, expiresAt: now + Self.mfaChallengeTTLMillis, on: db)
            }
            return .mfaRequired(challenge: challenge)
        }
        return .authenticated(try await self.startSession(user: user, membership: membership, method: method))
    }

    /// Counts a failed password; locks the account at the threshold, for a period that doubles with each lockout.
    func registerFailure(user: UserRecord) async throws {
        let now = self.clock.nowMillis()
        let windowMillis = Int64(self.settings.lockoutWindowSeconds) * 1000
        let windowOpen = user.failure_window_started_at_ms.map { now - $0 < windowMillis } ?? false
        var failures = windowOpen ? user.failed_sign_ins + 1 : 1
        var windowStart = windowOpen ? user.failure_window_started_at_ms : now
        var lockedUntil: Int64?
        var lockouts = user.lockouts
        if failures >= self.settings.lockoutThreshold {
            let factor = Int64(1) << Int64(min(lockouts, 20))
            let seconds = min(Int64(self.settings.lockoutBaseSeconds) * factor, Int64(self.settings.lockoutMaxSeconds))
            lockedUntil = now + seconds * 1000
            lockouts += 1
            failures = 0
            windowStart = nil
        }
        let (failureCount, windowStarted, lockedUntilMs, lockoutCount) = (failures, windowStart, lockedUntil, lockouts)
        try await self.database.transaction { db in
            try await self.store.recordFailure(
                userId: user.id, failures: failureCount, windowStart: windowStarted, lockedUntil: lockedUntilMs,
                lockouts: lockoutCount, on: db)
            try await self.audit.append(
                AuditEntry(tenantId: AuditLog.platformTenant, actorId: user.id, action: "auth.sign-in", target: user.id,
                           outcome: "failure",
                           details: ["reason": "wrong-password"]), on: db, kind: self.database.kind)
            if let lockedUntil = lockedUntilMs {
                try await self.audit.append(
                    AuditEntry(tenantId: AuditLog.platformTenant, actorId: user.id, action: "auth.lockout",
                               target: user.id,
                               details: ["lockedUntilMs": String(lockedUntil), "lockouts": String(lockoutCount)]),
                    on: db, kind: self.database.kind)
            }
        }
    }

    /// The active membership to sign in to: the one asked for, or the oldest.
    func membership(userId: String, tenantId: String?) async throws -> MembershipRecord {
        let memberships = try await self.database.read { db in try await self.store.memberships(userId: userId, on: db) }
        let chosen = tenantId.map { id in memberships.first { $0.tenant_id == id.lowercased() } } ?? memberships.first
        guard let membership = chosen else {
            if tenantId != nil { throw AppError.forbidden(code: "not-a-member", "the user is not a member of that tenant") }
            throw AppError(.unavailable, code: "no-tenant",
                           "the account has no tenant yet; its organisation is being set up, retry in a moment",
                           retryAfterSeconds: 1)
        }
        let suspended = try await self.database.read { db in
            try await self.store.isTenantSuspended(membership.tenant_id, on: db)
        }
        guard !suspended else { throw AppError.forbidden(code: "tenant-suspended", "the tenant is suspended") }
        return membership
    }

    /// Completes a sign-in with a TOTP code or a recovery code.
    func completeMfa(challenge: String, code: String) async throws -> IssuedTokens {
        let now = self.clock.nowMillis()
        let spent = try await self.database.transaction { db in
            try await self.store.spendToken(hash: Digest.sha256Hex(challenge), purpose: "mfa-challenge", now: now, on: db)
        }
        guard let spent, let tenantId = spent.context,
            let user = try await self.database.read({ db in try await self.store.user(id: spent.user_id, on: db) })
        else { throw AppError.unauthenticated(code: "invalid-mfa-challenge", "the sign-in challenge is invalid or expired") }
        guard try await self.checkSecondFactor(user: user, code: code) else {
            try await self.registerFailure(user: user)
            throw AppError.unauthenticated(code: "invalid-mfa-code", "the code is wrong; sign in again")
        }
        let membership = try await self.membership(userId: user.id, tenantId: tenantId)
        return try await self.startSession(user: user, membership: membership, method: "password+totp")
    }

    func recordAudit(
        tenantId: String, actor: String?, action: String, target: String?, outcome: String = "success",
        details: [String: String] = [:]
    ) async throws {
        try await self.database.transaction { db in
            try await self.audit.append(
                AuditEntry(tenantId: tenantId, actorId: actor, action: action, target: target, outcome: outcome, details: details),
                on: db, kind: self.database.kind)
        }
    }
}
