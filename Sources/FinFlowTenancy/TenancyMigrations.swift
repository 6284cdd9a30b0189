import FinFlowCore

/// The tenancy service's schema, forward-only. On PostgreSQL, tenant-owned tables also get row-level security as
/// a second line of defence behind the repositories' tenant filters; connections that name no tenant (the
/// service's own event consumers) are not limited by it.
enum TenancyMigrations {
    static let all: [Migration] = [
        Migration(1, "create tenants, memberships, users", [
            """
            CREATE TABLE tenants (
                id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, base_currency TEXT NOT NULL,
                fiscal_year_start_month INTEGER NOT NULL, time_zone TEXT NOT NULL, locale TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL)
            """,
            """
            CREATE TABLE memberships (
                tenant_id TEXT NOT NULL REFERENCES tenants(id), user_id TEXT NOT NULL, roles TEXT NOT NULL,
                joined_at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, user_id))
            """,
            "CREATE INDEX memberships_user ON memberships (user_id)",
            """
            CREATE TABLE users (
                id TEXT PRIMARY KEY, email TEXT NOT NULL, display_name TEXT NOT NULL, registered_at_ms BIGINT NOT NULL)
            """,
        ], postgresAfter: Migration.rowLevelSecurity(table: "memberships")),
        Migration(2, "create invitations", [
            """
            CREATE TABLE invitations (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), email TEXT NOT NULL, roles TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE, invited_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL,
                expires_at_ms BIGINT NOT NULL, accepted_at_ms BIGINT, accepted_by TEXT, revoked_at_ms BIGINT)
            """,
            "CREATE INDEX invitations_tenant ON invitations (tenant_id, created_at_ms)",
        ], postgresAfter: Migration.rowLevelSecurity(table: "invitations")),
        Migration(3, "add the MFA policy", [
            "ALTER TABLE tenants ADD COLUMN mfa_required_roles TEXT NOT NULL DEFAULT ''",
        ]),
        Migration(4, "create custom roles", [
            """
            CREATE TABLE custom_roles (
                tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL, description TEXT NOT NULL,
                permissions TEXT NOT NULL, created_at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, name))
            """,
        ], postgresAfter: Migration.rowLevelSecurity(table: "custom_roles")),
    ]
}
