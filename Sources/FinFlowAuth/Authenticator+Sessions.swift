import FinFlowCore
import Foundation
import HummingbirdOTP
import SQLKit
import Synchronization

extension Authenticator {
    /// Opens a session and issues its first token pair.
    func startSession(user: UserRecord, membership: MembershipRecord, method: String) async throws -> IssuedTokens {
        let now = self.clock.nowMillis()
        let sessionId = self.env.ids.nextString()
        let refresh = Digest.randomToken()
        let scope = RequestScope.current
        try await self.database.transaction { db in
            try await self.store.insertSession(
                id: sessionId, userId: user.id, tenantId: membership.tenant_id, now: now,
                expiresAt: now + Int64(self.settings.refreshTokenTTLSeconds) * 1000, userAgent: scope?.userAgent,
                clientAddress: scope?.clientAddress, on: db)
            try await self.store.insertRefreshToken(hash: Digest.sha256Hex(refresh), sessionId: sessionId, now: now, on: db)
            try await self.audit.append(
                AuditEntry(tenantId: membership.tenant_id, actorId: user.id, action: "auth.sign-in", target: sessionId,
                           clientAddress: scope?.clientAddress, details: ["method": method]),
                on: db, kind: self.database.kind)
        }
        return try await self.tokens(userId: user.id, membership: membership, sessionId: sessionId, refresh: refresh)
    }

    func tokens(userId: String, membership: MembershipRecord, sessionId: String, refresh: String) async throws
        -> IssuedTokens
    {
        let now = self.clock.now()
        var roles = membership.roleList
        let (mfaRoles, user) = try await self.database.read { db in
            (try await self.store.mfaRequiredRoles(tenantId: membership.tenant_id, on: db), try await self.store.user(id: userId, on: db))
        }
        // The tenant's policy: until the user enrols a second factor, the token carries no role.
        let restricted = !(user?.mfaEnabled ?? false) && !mfaRoles.isDisjoint(with: roles)
        if restricted { roles = [] }
        let claims = AccessClaims(
            issuer: self.settings.tokenIssuer, audience: self.settings.tokenAudience, subject: userId,
            expiresAt: now.addingTimeInterval(TimeInterval(self.settings.accessTokenTTLSeconds)), issuedAt: now,
            tokenId: self.env.ids.nextString(), tenantId: membership.tenant_id, roles: roles,
            permissions: restricted ? [] : membership.permissionList, sessionId: sessionId)
        return IssuedTokens(
            accessToken: try await self.keys.sign(claims), refreshToken: refresh,
            expiresInSeconds: self.settings.accessTokenTTLSeconds, tenantId: membership.tenant_id, sessionId: sessionId,
            mfaEnrollmentRequired: restricted)
    }

    /// Rotates a refresh token. A token already spent means it was stolen or replayed: its whole session ends.
    func refresh(token: String) async throws -> IssuedTokens {
        let now = self.clock.nowMillis()
        let hash = Digest.sha256Hex(token)
        let invalid = AppError.unauthenticated(code: "invalid-refresh-token", "the refresh token is invalid or expired")
        enum Outcome: Sendable { case rotated(SessionRecord, String), reused(SessionRecord), invalid }
        let next = Digest.randomToken()
        let outcome: Outcome = try await self.database.transaction { db in
            guard let record = try await self.store.refreshToken(hash: hash, on: db),
                let session = try await self.store.session(id: record.session_id, on: db),
                session.revoked_at_ms == nil, session.expires_at_ms > now
            else { return .invalid }
            guard try await self.store.spendRefreshToken(hash: hash, now: now, on: db) else {
                try await self.endSession(session, reason: "refresh-token-reuse", now: now, on: db)
                return .reused(session)
            }
            try await self.store.insertRefreshToken(hash: Digest.sha256Hex(next), sessionId: session.id, now: now, on: db)
            try await self.store.touchSession(id: session.id, now: now, on: db)
            return .rotated(session, session.user_id)
        }
        switch outcome {
        case .invalid:
            throw invalid
        case .reused(let session):
            self.env.revocations.revokeSession(session.id, at: self.clock.now())
            throw AppError.unauthenticated(
                code: "refresh-token-reused", "this refresh token was already used; the session has been ended")
        case .rotated(let session, let userId):
            let membership: MembershipRecord
            do {
                membership = try await self.membership(userId: userId, tenantId: session.tenant_id)
            } catch {
                try await self.revoke(sessionId: session.id, userId: userId, reason: "membership-ended")
                throw invalid
            }
            return try await self.tokens(userId: userId, membership: membership, sessionId: session.id, refresh: next)
        }
    }

    /// Ends a session in the open transaction `db`: audited, and announced so every process drops its tokens.
    func endSession(_ session: SessionRecord, reason: String, now: Int64, on db: any SQLDatabase) async throws {
        guard try await self.store.revokeSession(id: session.id, reason: reason, now: now, on: db) else { return }
        try await self.outbox.enqueue(
            SessionRevoked(sessionId: session.id, userId: session.user_id, reason: reason), subject: session.id,
            tenantId: session.tenant_id, on: db)
        try await self.audit.append(
            AuditEntry(tenantId: session.tenant_id, actorId: RequestScope.current?.principal?.subject ?? session.user_id,
                       action: "auth.session.revoked", target: session.id, details: ["reason": reason]),
            on: db, kind: self.database.kind)
    }

    /// Ends one session of `userId`; a session of someone else is "not found".
    func revoke(sessionId: String, userId: String, reason: String) async throws {
        let now = self.clock.nowMillis()
        try await self.database.transaction { db in
            guard let session = try await self.store.session(id: sessionId.lowercased(), on: db),
                session.user_id == userId
            else { throw AppError.notFound("session") }
            try await self.endSession(session, reason: reason, now: now, on: db)
        }
        self.env.revocations.revokeSession(sessionId.lowercased(), at: self.clock.now())
    }

    /// Ends every session of `userId` except `keep`; returns how many ended.
    func revokeAll(userId: String, except keep: String?, reason: String) async throws -> Int {
        let now = self.clock.nowMillis()
        let ended = try await self.database.transaction { db in
            let sessions = try await self.store.activeSessions(userId: userId, now: now, on: db).filter { $0.id != keep }
            for session in sessions { try await self.endSession(session, reason: reason, now: now, on: db) }
            return sessions.map(\.id)
        }
        for id in ended { self.env.revocations.revokeSession(id, at: self.clock.now()) }
        return ended.count
    }

    /// Ends every live session of `userId` in `tenantId`, inside the caller's transaction.
    func endSessions(userId: String, tenantId: String, reason: String, on db: any SQLDatabase) async throws {
        let now = self.clock.nowMillis()
        let sessions = try await self.store.activeSessions(userId: userId, now: now, on: db).filter { $0.tenant_id == tenantId }
        for session in sessions {
            try await self.endSession(session, reason: reason, now: now, on: db)
            self.env.revocations.revokeSession(session.id, at: self.clock.now())
        }
    }

    func sessions(userId: String) async throws -> [SessionRecord] {
        let now = self.clock.nowMillis()
        return try await self.database.read { db in try await self.store.activeSessions(userId: userId, now: now, on: db) }
    }

    /// Tokens for another tenant of the signed-in user, in a new session.
    func switchTenant(principal: Principal, tenantId: String) async throws -> IssuedTokens {
        guard let user = try await self.database.read({ db in try await self.store.user(id: principal.subject, on: db) })
        else { throw AppError.unauthenticated() }
        let membership = try await self.membership(userId: user.id, tenantId: tenantId)
        return try await self.startSession(user: user, membership: membership, method: "tenant-switch")
    }

    // MARK: Passwords

    /// Changes the password (the current one is required) and ends every other session.
    func changePassword(principal: Principal, current: String, new: String) async throws {
        guard let user = try await self.database.read({ db in try await self.store.user(id: principal.subject, on: db) })
        else { throw AppError.unauthenticated() }
        guard await Self.verifyPassword(current, hash: user.password_hash) else {
            throw AppError.invalid(code: "wrong-password", "the current password is wrong",
                                   fields: [.init(field: "currentPassword", message: "is wrong")])
        }
        let problems = self.policy.problems(password: new, email: user.email, field: "newPassword")
        guard problems.isEmpty else { throw AppError.validation(problems) }
        let hash = await self.hash(new)
        let now = self.clock.nowMillis()
        try await self.database.transaction { db in
            try await self.store.setPassword(userId: user.id, hash: hash, now: now, on: db)
            try await self.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: user.id, action: "auth.password.changed",
                           target: user.id),
                on: db, kind: self.database.kind)
        }
        _ = try await self.revokeAll(userId: user.id, except: principal.sessionId, reason: "password-changed")
    }

    /// Mails a reset token when the email is known; answers the same either way.
    func forgotPassword(email rawEmail: String) async throws {
        guard let email = EmailAddress.normalized(rawEmail) else {
            throw AppError.validation([.init(field: "email", message: "is not a valid email address")])
        }
        let token = Digest.randomToken()
        let now = self.clock.nowMillis()
        try await self.database.transaction { db in
            guard let user = try await self.store.user(email: email, on: db) else { return }
            try await self.store.insertToken(
                hash: Digest.sha256Hex(token), userId: user.id, purpose: "reset-password", context: nil, now: now,
                expiresAt: now + Self.resetTTLMillis, on: db)
            try await self.env.mail.enqueue(
                to: email, subject: "Reset your FinFlow password",
                body: "Reset your password within an hour with this token: \(token)\n\(self.link("reset-password", token))",
                purpose: "reset-password", on: db)
        }
    }

    /// Sets a new password with a reset token, lifts a lockout and ends every session.
    func resetPassword(token: String, new: String) async throws {
        let now = self.clock.nowMillis()
        let pending = try await self.database.read { db -> UserRecord? in
            struct Row: Decodable { let user_id: String }
            guard let row = try await db.raw("""
                SELECT user_id FROM one_time_tokens WHERE token_hash = \(bind: Digest.sha256Hex(token))
                AND purpose = 'reset-password' AND used_at_ms IS NULL AND expires_at_ms > \(bind: now)
                """).first(decoding: Row.self) else { return nil }
            return try await self.store.user(id: row.user_id, on: db)
        }
        guard let user = pending else {
            throw AppError(.rejected, code: "invalid-token", "the reset token is invalid, used or expired")
        }
        let problems = self.policy.problems(password: new, email: user.email, field: "newPassword")
        guard problems.isEmpty else { throw AppError.validation(problems) }
        let hash = await self.hash(new)
        try await self.database.transaction { db in
            guard try await self.store.spendToken(hash: Digest.sha256Hex(token), purpose: "reset-password", now: now, on: db) != nil
            else { throw AppError(.rejected, code: "invalid-token", "the reset token is invalid, used or expired") }
            try await self.store.setPassword(userId: user.id, hash: hash, now: now, on: db)
            try await self.store.clearFailures(userId: user.id, on: db)
            try await self.audit.append(
                AuditEntry(tenantId: AuditLog.platformTenant, actorId: user.id, action: "auth.password.reset",
                           target: user.id),
                on: db, kind: self.database.kind)
        }
        _ = try await self.revokeAll(userId: user.id, except: nil, reason: "password-reset")
    }

    // MARK: TOTP

    static let totpIssuer = "FinFlow"
    static let recoveryCodeCount = 10

    /// Starts TOTP enrolment with a fresh secret (not active until confirmed).
    func enrollTotp(principal: Principal) async throws -> (secret: String, uri: String) {
        guard let user = try await self.database.read({ db in try await self.store.user(id: principal.subject, on: db) })
        else { throw AppError.unauthenticated() }
        guard !user.mfaEnabled else { throw AppError.conflict(code: "mfa-already-enabled", "TOTP is already enabled") }
        let secret = Digest.randomToken(byteCount: 20)
        try await self.database.write { db in
            try await db.raw("UPDATE users SET totp_secret = \(bind: secret) WHERE id = \(bind: user.id)").run()
        }
        let uri = TOTP(secret: secret).createAuthenticatorURL(label: user.email, issuer: Self.totpIssuer)
        let base32 = URLComponents(string: uri)?.queryItems?.first { $0.name == "secret" }?.value ?? ""
        return (base32, uri)
    }

    /// The 30-second step whose TOTP code `code` is, among the current, previous and next (RFC 6238 §5.2 drift).
    func totpStep(secret: String, code: String) -> Int64? {
        guard code.count == 6, code.allSatisfy(\.isNumber), let value = Int(code) else { return nil }
        let now = self.clock.now()
        for offset in [-30.0, 0, 30] where TOTP(secret: secret).compute(date: now.addingTimeInterval(offset)) == value {
            return Int64((now.timeIntervalSince1970 + offset) / 30)
        }
        return nil
    }

    func totpMatches(secret: String, code: String) -> Bool {
        self.totpStep(secret: secret, code: code) != nil
    }

    /// Turns TOTP on after checking a code; returns ten single-use recovery codes (stored hashed).
    func confirmTotp(principal: Principal, code: String) async throws -> [String] {
        guard let user = try await self.database.read({ db in try await self.store.user(id: principal.subject, on: db) })
        else { throw AppError.unauthenticated() }
        guard !user.mfaEnabled else { throw AppError.conflict(code: "mfa-already-enabled", "TOTP is already enabled") }
        guard let secret = user.totp_secret else {
            throw AppError.conflict(code: "mfa-not-enrolled", "start enrolment first")
        }
        guard self.totpMatches(secret: secret, code: code) else {
            throw AppError.invalid(code: "invalid-mfa-code", "the code is wrong", fields: [.init(field: "code", message: "is wrong")])
        }
        let codes = (0..<Self.recoveryCodeCount).map { _ in Self.recoveryCode() }
        let now = self.clock.nowMillis()
        try await self.database.transaction { db in
            try await db.raw("UPDATE users SET totp_enabled_at_ms = \(bind: now) WHERE id = \(bind: user.id)").run()
            try await self.store.replaceRecoveryCodes(userId: user.id, hashes: codes.map(Digest.sha256Hex), on: db)
            try await self.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: user.id, action: "auth.mfa.enabled", target: user.id), on: db, kind: self.database.kind)
        }
        self.profiles.forget(user.id)
        return codes
    }

    /// Turns TOTP off; needs the password and a current code (re-authentication).
    func disableTotp(principal: Principal, password: String, code: String) async throws {
        guard let user = try await self.database.read({ db in try await self.store.user(id: principal.subject, on: db) })
        else { throw AppError.unauthenticated() }
        guard user.mfaEnabled else { throw AppError.conflict(code: "mfa-not-enabled", "TOTP is not enabled") }
        guard await Self.verifyPassword(password, hash: user.password_hash),
            try await self.checkSecondFactor(user: user, code: code)
        else { throw AppError.invalid(code: "reauthentication-failed", "the password or code is wrong") }
        try await self.database.transaction { db in
            try await db.raw("UPDATE users SET totp_secret = NULL, totp_enabled_at_ms = NULL WHERE id = \(bind: user.id)").run()
            try await self.store.replaceRecoveryCodes(userId: user.id, hashes: [], on: db)
            try await self.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: user.id, action: "auth.mfa.disabled", target: user.id), on: db, kind: self.database.kind)
        }
        self.profiles.forget(user.id)
    }

    /// A TOTP code, or a recovery code (spent on use).
    func checkSecondFactor(user: UserRecord, code: String) async throws -> Bool {
        if let secret = user.totp_secret, let step = self.totpStep(secret: secret, code: code) {
            // A code is accepted once (RFC 6238 §5.2): its step must be newer than the last one used.
            return try await self.database.transaction { db in
                try await db.raw("""
                    UPDATE users SET totp_last_step = \(bind: step) WHERE id = \(bind: user.id) AND totp_last_step < \(bind: step)
                    RETURNING id
                    """).first() != nil
            }
        }
        let normalized = code.uppercased().filter { $0.isLetter || $0.isNumber }
        guard normalized.count == 10 else { return false }
        let now = self.clock.nowMillis()
        return try await self.database.transaction { db in
            try await self.store.spendRecoveryCode(userId: user.id, hash: Digest.sha256Hex(normalized), now: now, on: db)
        }
    }

    /// A recovery code: ten characters from an alphabet without look-alikes, shown as `XXXXX-XXXXX`.
    static func recoveryCode() -> String {
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        let characters = (0..<10).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }
        return String(characters)
    }
}

/// A bounded, short-lived memory of user profiles for `GET /v1/auth/me`. Changes made in this process forget
/// the entry at once; changes made by another replica show within `ttlSeconds`.
final class ProfileCache: Sendable {
    private let entries = Mutex<[String: (user: UserRecord, until: Date)]>([:])
    static let ttlSeconds: TimeInterval = 5
    static let entriesMax = 10_000

    func get(_ userId: String, now: Date) -> UserRecord? {
        self.entries.withLock { entries in
            guard let entry = entries[userId], entry.until > now else { return nil }
            return entry.user
        }
    }

    func put(_ user: UserRecord, now: Date) {
        self.entries.withLock { entries in
            if entries.count >= Self.entriesMax { entries.removeAll(keepingCapacity: true) }
            entries[user.id] = (user, now.addingTimeInterval(Self.ttlSeconds))
        }
    }

    func forget(_ userId: String) {
        _ = self.entries.withLock { $0.removeValue(forKey: userId) }
    }
}

extension Authenticator {
    /// The caller's profile, from the short-lived cache or the database.
    func profile(userId: String) async throws -> UserRecord? {
        let now = self.clock.now()
        if let cached = self.profiles.get(userId, now: now) { return cached }
        guard let user = try await self.database.read({ db in try await self.store.user(id: userId, on: db) }) else {
            return nil
        }
        self.profiles.put(user, now: now)
        return user
    }
}
