import FinFlowCore
import Foundation
import SQLKit

/// A user row.
struct UserRecord: Decodable, Sendable {
    let id: String
    let email: String
    let display_name: String
    let password_hash: String
    let email_verified_at_ms: Int64?
    let created_at_ms: Int64
    let failed_sign_ins: Int
    let failure_window_started_at_ms: Int64?
    let locked_until_ms: Int64?
    let lockouts: Int
    let totp_secret: String?
    let totp_enabled_at_ms: Int64?

    var mfaEnabled: Bool { self.totp_enabled_at_ms != nil }
}

/// A session row.
struct SessionRecord: Decodable, Sendable {
    let id: String
    let user_id: String
    let tenant_id: String
    let created_at_ms: Int64
    let last_used_at_ms: Int64
    let expires_at_ms: Int64
    let revoked_at_ms: Int64?
    let user_agent: String?
    let client_address: String?
}

/// A membership from the tenancy service's events.
struct MembershipRecord: Decodable, Sendable {
    let tenant_id: String
    let user_id: String
    let roles: String
    let status: String
    let permissions: String?

    var roleList: [String] { self.roles.split(separator: ",").map(String.init) }

    /// What the roles grant in this tenant, as the tenancy service resolved them (custom roles included).
    var permissionList: [String] {
        self.permissions.map { $0.split(separator: " ").map(String.init) } ?? Roles.permissions(of: self.roleList)
    }
}

/// The auth service's SQL, one implementation for SQLite and PostgreSQL.
struct AuthStore: Sendable {
    static let userColumns = """
        id, email, display_name, password_hash, email_verified_at_ms, created_at_ms, failed_sign_ins,
        failure_window_started_at_ms, locked_until_ms, lockouts, totp_secret, totp_enabled_at_ms
        """

    func user(email: String, on db: any SQLDatabase) async throws -> UserRecord? {
        try await db.raw("SELECT \(unsafeRaw: Self.userColumns) FROM users WHERE email = \(bind: email)")
            .first(decoding: UserRecord.self)
    }

    func user(id: String, on db: any SQLDatabase) async throws -> UserRecord? {
        try await db.raw("SELECT \(unsafeRaw: Self.userColumns) FROM users WHERE id = \(bind: id)")
            .first(decoding: UserRecord.self)
    }

    /// Inserts a user; false when the email is taken.
    func insertUser(
        id: String, email: String, displayName: String, passwordHash: String, now: Int64, on db: any SQLDatabase
    ) async throws -> Bool {
        try await db.raw("""
            INSERT INTO users (id, email, display_name, password_hash, created_at_ms, password_changed_at_ms)
            VALUES (\(bind: id), \(bind: email), \(bind: displayName), \(bind: passwordHash), \(bind: now), \(bind: now))
            ON CONFLICT DO NOTHING RETURNING id
            """).first() != nil
    }

    func recordFailure(
        userId: String, failures: Int, windowStart: Int64?, lockedUntil: Int64?, lockouts: Int, on db: any SQLDatabase
    ) async throws {
        try await db.raw("""
            UPDATE users SET failed_sign_ins = \(bind: failures), failure_window_started_at_ms = \(bind: windowStart),
                locked_until_ms = \(bind: lockedUntil), lockouts = \(bind: lockouts)
            WHERE id = \(bind: userId)
            """).run()
    }

    func clearFailures(userId: String, on db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE users SET failed_sign_ins = 0, failure_window_started_at_ms = NULL, locked_until_ms = NULL, lockouts = 0
            WHERE id = \(bind: userId)
            """).run()
    }

    func setPassword(userId: String, hash: String, now: Int64, on db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE users SET password_hash = \(bind: hash), password_changed_at_ms = \(bind: now), failed_sign_ins = 0,
                locked_until_ms = NULL WHERE id = \(bind: userId)
            """).run()
    }

    // MARK: One-time tokens

    func insertToken(
        hash: String, userId: String, purpose: String, context: String?, now: Int64, expiresAt: Int64,
        on db: any SQLDatabase
    ) async throws {
        try await db.raw("""
            INSERT INTO one_time_tokens (token_hash, user_id, purpose, context, created_at_ms, expires_at_ms)
            VALUES (\(bind: hash), \(bind: userId), \(bind: purpose), \(bind: context), \(bind: now), \(bind: expiresAt))
            """).run()
    }

    struct SpentToken: Decodable {
        let user_id: String
        let context: String?
    }

    /// Marks a live token of `purpose` used and returns its user; nil when unknown, used, or expired.
    func spendToken(hash: String, purpose: String, now: Int64, on db: any SQLDatabase) async throws -> SpentToken? {
        try await db.raw("""
            UPDATE one_time_tokens SET used_at_ms = \(bind: now)
            WHERE token_hash = \(bind: hash) AND purpose = \(bind: purpose) AND used_at_ms IS NULL
              AND expires_at_ms > \(bind: now)
            RETURNING user_id, context
            """).first(decoding: SpentToken.self)
    }

    // MARK: Sessions and refresh tokens

    func insertSession(
        id: String, userId: String, tenantId: String, now: Int64, expiresAt: Int64, userAgent: String?,
        clientAddress: String?, on db: any SQLDatabase
    ) async throws {
        try await db.raw("""
            INSERT INTO sessions (id, user_id, tenant_id, created_at_ms, last_used_at_ms, expires_at_ms, user_agent, client_address)
            VALUES (\(bind: id), \(bind: userId), \(bind: tenantId), \(bind: now), \(bind: now), \(bind: expiresAt),
                    \(bind: userAgent.map { String($0.prefix(256)) }), \(bind: clientAddress))
            """).run()
    }

    func session(id: String, on db: any SQLDatabase) async throws -> SessionRecord? {
        try await db.raw("""
            SELECT id, user_id, tenant_id, created_at_ms, last_used_at_ms, expires_at_ms, revoked_at_ms, user_agent,
                client_address FROM sessions WHERE id = \(bind: id)
            """).first(decoding: SessionRecord.self)
    }

    func activeSessions(userId: String, now: Int64, on db: any SQLDatabase) async throws -> [SessionRecord] {
        try await db.raw("""
            SELECT id, user_id, tenant_id, created_at_ms, last_used_at_ms, expires_at_ms, revoked_at_ms, user_agent,
                client_address FROM sessions
            WHERE user_id = \(bind: userId) AND revoked_at_ms IS NULL AND expires_at_ms > \(bind: now)
            ORDER BY created_at_ms DESC LIMIT \(bind: PageRequest.pageSizeMax)
            """).all(decoding: SessionRecord.self)
    }

    /// Revokes a live session; false when it was already ended.
    func revokeSession(id: String, reason: String, now: Int64, on db: any SQLDatabase) async throws -> Bool {
        try await db.raw("""
            UPDATE sessions SET revoked_at_ms = \(bind: now), revoke_reason = \(bind: reason)
            WHERE id = \(bind: id) AND revoked_at_ms IS NULL RETURNING id
            """).first() != nil
    }

    func touchSession(id: String, now: Int64, on db: any SQLDatabase) async throws {
        try await db.raw("UPDATE sessions SET last_used_at_ms = \(bind: now) WHERE id = \(bind: id)").run()
    }

    func insertRefreshToken(hash: String, sessionId: String, now: Int64, on db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO refresh_tokens (token_hash, session_id, issued_at_ms) VALUES (\(bind: hash), \(bind: sessionId), \(bind: now))
            """).run()
    }

    struct RefreshRecord: Decodable {
        let session_id: String
        let spent_at_ms: Int64?
    }

    func refreshToken(hash: String, on db: any SQLDatabase) async throws -> RefreshRecord? {
        try await db.raw("SELECT session_id, spent_at_ms FROM refresh_tokens WHERE token_hash = \(bind: hash)")
            .first(decoding: RefreshRecord.self)
    }

    /// Spends a refresh token; false when it had been spent already (a concurrent or replayed use).
    func spendRefreshToken(hash: String, now: Int64, on db: any SQLDatabase) async throws -> Bool {
        try await db.raw("""
            UPDATE refresh_tokens SET spent_at_ms = \(bind: now) WHERE token_hash = \(bind: hash) AND spent_at_ms IS NULL
            RETURNING session_id
            """).first() != nil
    }

    // MARK: Memberships (read model)

    func memberships(userId: String, on db: any SQLDatabase) async throws -> [MembershipRecord] {
        try await db.raw("""
            SELECT tenant_id, user_id, roles, status, permissions FROM memberships
            WHERE user_id = \(bind: userId) AND status = 'active' ORDER BY changed_at_ms, tenant_id
            """).all(decoding: MembershipRecord.self)
    }

    func isTenantSuspended(_ tenantId: String, on db: any SQLDatabase) async throws -> Bool {
        struct Row: Decodable { let status: String }
        return try await db.raw("SELECT status FROM tenant_status WHERE tenant_id = \(bind: tenantId)")
            .first(decoding: Row.self)?.status == "suspended"
    }

    /// The roles the tenant's policy makes sign in with a second factor.
    func mfaRequiredRoles(tenantId: String, on db: any SQLDatabase) async throws -> Set<String> {
        struct Row: Decodable { let mfa_required_roles: String }
        let row = try await db.raw("SELECT mfa_required_roles FROM tenant_status WHERE tenant_id = \(bind: tenantId)")
            .first(decoding: Row.self)
        return Set((row?.mfa_required_roles ?? "").split(separator: ",").map(String.init))
    }

    // MARK: Recovery codes

    func replaceRecoveryCodes(userId: String, hashes: [String], on db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM recovery_codes WHERE user_id = \(bind: userId)").run()
        for hash in hashes {
            try await db.raw("INSERT INTO recovery_codes (user_id, code_hash) VALUES (\(bind: userId), \(bind: hash))").run()
        }
    }

    func spendRecoveryCode(userId: String, hash: String, now: Int64, on db: any SQLDatabase) async throws -> Bool {
        try await db.raw("""
            UPDATE recovery_codes SET used_at_ms = \(bind: now)
            WHERE user_id = \(bind: userId) AND code_hash = \(bind: hash) AND used_at_ms IS NULL RETURNING code_hash
            """).first() != nil
    }
}
