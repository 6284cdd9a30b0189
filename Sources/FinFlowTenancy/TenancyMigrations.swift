import FinFlowCore

/// The tenancy service's schema, forward-only.
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
        ], postgres: [
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
            // Second line of defence: when a connection names its tenant (app.tenant_id), it sees only that
            // tenant's memberships. Connections that name none (the service's own consumers) are not limited.
            "ALTER TABLE memberships ENABLE ROW LEVEL SECURITY",
            "ALTER TABLE memberships FORCE ROW LEVEL SECURITY",
            """
            CREATE POLICY memberships_tenant ON memberships USING (
                coalesce(current_setting('app.tenant_id', true), '') = '' OR tenant_id = current_setting('app.tenant_id', true))
            """,
        ]),
        Migration(2, "create invitations", [
            """
            CREATE TABLE invitations (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), email TEXT NOT NULL, roles TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE, invited_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL,
                expires_at_ms BIGINT NOT NULL, accepted_at_ms BIGINT, accepted_by TEXT, revoked_at_ms BIGINT)
            """,
            "CREATE INDEX invitations_tenant ON invitations (tenant_id, created_at_ms)",
        ], postgres: [
            """
            CREATE TABLE invitations (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), email TEXT NOT NULL, roles TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE, invited_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL,
                expires_at_ms BIGINT NOT NULL, accepted_at_ms BIGINT, accepted_by TEXT, revoked_at_ms BIGINT)
            """,
            "CREATE INDEX invitations_tenant ON invitations (tenant_id, created_at_ms)",
            "ALTER TABLE invitations ENABLE ROW LEVEL SECURITY",
            "ALTER TABLE invitations FORCE ROW LEVEL SECURITY",
            """
            CREATE POLICY invitations_tenant ON invitations USING (
                coalesce(current_setting('app.tenant_id', true), '') = '' OR tenant_id = current_setting('app.tenant_id', true))
            """,
        ]),
        Migration(3, "add the MFA policy", [
            "ALTER TABLE tenants ADD COLUMN mfa_required_roles TEXT NOT NULL DEFAULT ''",
        ]),
        Migration(4, "create custom roles", [
            """
            CREATE TABLE custom_roles (
                tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL, description TEXT NOT NULL,
                permissions TEXT NOT NULL, created_at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, name))
            """,
        ], postgres: [
            """
            CREATE TABLE custom_roles (
                tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL, description TEXT NOT NULL,
                permissions TEXT NOT NULL, created_at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, name))
            """,
            "ALTER TABLE custom_roles ENABLE ROW LEVEL SECURITY",
            "ALTER TABLE custom_roles FORCE ROW LEVEL SECURITY",
            """
            CREATE POLICY custom_roles_tenant ON custom_roles USING (
                coalesce(current_setting('app.tenant_id', true), '') = '' OR tenant_id = current_setting('app.tenant_id', true))
            """,
        ]),
    ]
}
