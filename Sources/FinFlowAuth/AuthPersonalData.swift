import FinFlowCore

extension AuthService {
    /// Where auth keeps personal data (never the password hash, TOTP secret or token hashes: they are not the subject's
    /// to read and would open the account).
    static let personalData: [PersonalDataSource] = [
        PersonalDataSource(
            category: "account", purpose: "identify the user and let them sign in (contract)",
            retention: "while the account exists", table: "users",
            columns: ["id", "email", "display_name", "email_verified_at_ms:int", "created_at_ms:int", "password_changed_at_ms:int", "totp_enabled_at_ms:int"],
            matches: [.userId: "id", .email: "email"], erasure: .keep(rule: "the account is the platform's, not the tenant's: the user closes it with the platform", years: nil, dateColumn: nil), tenantScoped: false),
        PersonalDataSource(
            category: "sign-in-sessions", purpose: "keep the user signed in and let them end sessions (contract, security)",
            retention: "90 days after the session expires (30 days after its last refresh by default)", table: "sessions",
            columns: ["id", "tenant_id", "created_at_ms:int", "last_used_at_ms:int", "expires_at_ms:int", "revoked_at_ms:int", "revoke_reason", "user_agent", "client_address"],
            matches: [.userId: "user_id"],
            erasure: .keep(rule: "security record: a session is kept 90 days after it expires, then deleted", years: nil, dateColumn: nil),
            expiry: .init(dateColumn: "expires_at_ms", days: 90, dependents: [(table: "refresh_tokens", column: "session_id")])),
        PersonalDataSource(
            category: "linked-identities", purpose: "sign in with an external identity provider (contract)",
            retention: "while the account exists", table: "external_identities",
            columns: ["issuer", "subject", "email", "linked_at_ms:int"], matches: [.userId: "user_id"], erasure: .keep(rule: "the account is the platform's, not the tenant's: the user closes it with the platform", years: nil, dateColumn: nil),
            tenantScoped: false, orderBy: "subject"),
    ]
}
