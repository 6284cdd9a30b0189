import FinFlowCore

/// The analytics service's schema, forward-only: the journal of the events it read, the daily facts and account
/// movements worked out from them, the descriptions figures are read with, and the version each tenant's cached
/// answers carry. On PostgreSQL every table also gets row-level security behind the store's tenant filters.
enum AnalyticsMigrations {
    static let tables = [
        "analytics_journal", "analytics_facts", "analytics_account_days", "analytics_accounts", "analytics_tenants", "analytics_members",
        "analytics_versions",
    ]
    static let reportTables = ["analytics_reports", "analytics_report_recipients"]

    static let all: [Migration] = [
        Migration(1, "create the event journal, the daily facts and account movements, and what they are read with", [
            // Every event the service read, as it arrived: what a replay rebuilds the figures from.
            """
            CREATE TABLE analytics_journal (
                event_id TEXT PRIMARY KEY, topic TEXT NOT NULL, tenant_id TEXT NOT NULL, first_day TEXT, last_day TEXT, payload TEXT NOT NULL,
                received_at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX analytics_journal_reach ON analytics_journal (tenant_id, last_day)",
            // Counts and sums per tenant, measure, dimension value, currency and day.
            """
            CREATE TABLE analytics_facts (
                tenant_id TEXT NOT NULL, measure TEXT NOT NULL, dimension TEXT NOT NULL, dim_key TEXT NOT NULL, currency TEXT NOT NULL,
                day TEXT NOT NULL, count BIGINT NOT NULL, amount_minor BIGINT NOT NULL, fee_minor BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, measure, dimension, dim_key, currency, day))
            """,
            // Each ledger account's trading debits and credits per accounting date (year-end closing left out).
            """
            CREATE TABLE analytics_account_days (
                tenant_id TEXT NOT NULL, account_id TEXT NOT NULL, day TEXT NOT NULL, debit_minor BIGINT NOT NULL, credit_minor BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, account_id, day))
            """,
            """
            CREATE TABLE analytics_accounts (
                tenant_id TEXT NOT NULL, account_id TEXT NOT NULL, code TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
                cash_flow_tag TEXT, role TEXT, currency TEXT NOT NULL, seen_at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, account_id))
            """,
            """
            CREATE TABLE analytics_tenants (
                tenant_id TEXT PRIMARY KEY, name TEXT NOT NULL, base_currency TEXT NOT NULL, created_day TEXT NOT NULL, seen_at_ms BIGINT NOT NULL)
            """,
            """
            CREATE TABLE analytics_members (
                tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, changed_at_ms BIGINT NOT NULL, status TEXT NOT NULL,
                PRIMARY KEY (tenant_id, user_id, changed_at_ms))
            """,
            "CREATE TABLE analytics_versions (tenant_id TEXT PRIMARY KEY, version BIGINT NOT NULL)",
        ], postgresAfter: tables.flatMap { Migration.rowLevelSecurity(table: $0) }),
        Migration(2, "create the scheduled reports and their recipients", [
            // A report mailed each day, week or month, about the period just ended; `next_run_at_ms` is claimed with the
            // send, so one replica sends each period once.
            """
            CREATE TABLE analytics_reports (
                tenant_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, cadence TEXT NOT NULL, currency TEXT,
                created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL, next_run_at_ms BIGINT NOT NULL, last_period_from TEXT,
                last_period_to TEXT, last_sent_at_ms BIGINT, sent_count BIGINT NOT NULL, PRIMARY KEY (tenant_id, id))
            """,
            "CREATE INDEX analytics_reports_due ON analytics_reports (next_run_at_ms)",
            """
            CREATE TABLE analytics_report_recipients (
                tenant_id TEXT NOT NULL, report_id TEXT NOT NULL, email TEXT NOT NULL, PRIMARY KEY (tenant_id, report_id, email))
            """,
        ], postgresAfter: reportTables.flatMap { Migration.rowLevelSecurity(table: $0) }),
    ]
}
