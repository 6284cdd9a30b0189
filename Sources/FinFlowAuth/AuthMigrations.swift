import FinFlowCore

/// The auth service's schema, forward-only.
enum AuthMigrations {
    static let all: [Migration] = [
        Migration(1, "create users, tokens, sessions", [
            """
            CREATE TABLE users (
                id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL, password_hash TEXT NOT NULL,
                email_verified_at_ms BIGINT, created_at_ms BIGINT NOT NULL, password_changed_at_ms BIGINT NOT NULL,
                failed_sign_ins INTEGER NOT NULL DEFAULT 0, failure_window_started_at_ms BIGINT,
                locked_until_ms BIGINT, lockouts INTEGER NOT NULL DEFAULT 0,
                totp_secret TEXT, totp_enabled_at_ms BIGINT)
            """,
            """
            CREATE TABLE one_time_tokens (
                token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), purpose TEXT NOT NULL,
                context TEXT, created_at_ms BIGINT NOT NULL, expires_at_ms BIGINT NOT NULL, used_at_ms BIGINT)
            """,
            "CREATE INDEX one_time_tokens_user ON one_time_tokens (user_id, purpose)",
            """
            CREATE TABLE sessions (
                id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), tenant_id TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL, last_used_at_ms BIGINT NOT NULL, expires_at_ms BIGINT NOT NULL,
                revoked_at_ms BIGINT, revoke_reason TEXT, user_agent TEXT, client_address TEXT)
            """,
            "CREATE INDEX sessions_user ON sessions (user_id, created_at_ms)",
            """
            CREATE TABLE refresh_tokens (
                token_hash TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions(id),
                issued_at_ms BIGINT NOT NULL, spent_at_ms BIGINT)
            """,
            """
            CREATE TABLE recovery_codes (
                user_id TEXT NOT NULL REFERENCES users(id), code_hash TEXT NOT NULL, used_at_ms BIGINT,
                PRIMARY KEY (user_id, code_hash))
            """,
            """
            CREATE TABLE signing_keys (
                kid TEXT PRIMARY KEY, algorithm TEXT NOT NULL, private_key TEXT NOT NULL, created_at_ms BIGINT NOT NULL,
                retired_at_ms BIGINT)
            """,
        ]),
        Migration(2, "create membership and tenant read models", [
            """
            CREATE TABLE memberships (
                tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, roles TEXT NOT NULL, status TEXT NOT NULL,
                changed_at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, user_id))
            """,
            "CREATE INDEX memberships_user ON memberships (user_id, changed_at_ms)",
            "CREATE TABLE tenant_status (tenant_id TEXT PRIMARY KEY, status TEXT NOT NULL)",
        ]),
        Migration(3, "create API clients", [
            """
            CREATE TABLE api_clients (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL, secret_hash TEXT NOT NULL,
                scopes TEXT NOT NULL, created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL, revoked_at_ms BIGINT)
            """,
            "CREATE INDEX api_clients_tenant ON api_clients (tenant_id, created_at_ms)",
        ]),
        Migration(4, "create OpenID Connect requests and identities", [
            """
            CREATE TABLE oidc_requests (
                state_hash TEXT PRIMARY KEY, code_verifier TEXT NOT NULL, nonce TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL, expires_at_ms BIGINT NOT NULL, used_at_ms BIGINT)
            """,
            """
            CREATE TABLE external_identities (
                issuer TEXT NOT NULL, subject TEXT NOT NULL, user_id TEXT NOT NULL REFERENCES users(id), email TEXT NOT NULL,
                linked_at_ms BIGINT NOT NULL, PRIMARY KEY (issuer, subject))
            """,
        ]),
        Migration(5, "add tenants' MFA policy to the read model", [
            "ALTER TABLE tenant_status ADD COLUMN mfa_required_roles TEXT NOT NULL DEFAULT ''",
        ]),
        Migration(6, "remember the last TOTP step used", [
            "ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0",
        ]),
        Migration(7, "keep the permissions a membership grants", [
            "ALTER TABLE memberships ADD COLUMN permissions TEXT",
        ]),
        // The key that seals the signing keys when FINFLOW_AUTH_KEY_ENCRYPTION_KEY is not set. The keys themselves are
        // sealed the first time a process loads them (a plain PEM left by an older version is sealed then).
        Migration(8, "create the sealing key table", [
            "CREATE TABLE sealing_keys (name TEXT PRIMARY KEY, secret TEXT NOT NULL, created_at_ms BIGINT NOT NULL)",
        ]),
    ]
}
