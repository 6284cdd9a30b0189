import FinFlowCore

/// The insights service's schema, forward-only: its read model of the ledger and of open documents, and the stored
/// forecasts. On PostgreSQL every table also gets row-level security behind the store's tenant filters.
enum InsightsMigrations {
    static let tables = ["insights_accounts", "insights_movements", "insights_documents", "insights_forecasts"]
    static let adviceTables = ["insights_advice"]
    static let entryTables = ["insights_movement_entries"]

    static let all: [Migration] = [
        Migration(1, "create the read model of accounts, daily movements and open documents, and the stored forecasts", [
            // The ledger's accounts as the movements describe them.
            """
            CREATE TABLE insights_accounts (
                tenant_id TEXT NOT NULL, account_id TEXT NOT NULL, code TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
                cash_flow_tag TEXT, currency TEXT NOT NULL, PRIMARY KEY (tenant_id, account_id))
            """,
            // Each account's trading debits and credits per accounting date (year-end closing left out).
            """
            CREATE TABLE insights_movements (
                tenant_id TEXT NOT NULL, account_id TEXT NOT NULL, accounting_date TEXT NOT NULL, debit_minor BIGINT NOT NULL,
                credit_minor BIGINT NOT NULL, PRIMARY KEY (tenant_id, account_id, accounting_date))
            """,
            // Receivable invoices and payable bills: what is owed, by when, and when it was settled.
            """
            CREATE TABLE insights_documents (
                tenant_id TEXT NOT NULL, id TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('invoice', 'bill')), party_id TEXT NOT NULL,
                currency TEXT NOT NULL, total_minor BIGINT NOT NULL, applied_minor BIGINT NOT NULL, issue_date TEXT NOT NULL,
                due_date TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('open', 'settled', 'void')), settled_date TEXT,
                PRIMARY KEY (tenant_id, id))
            """,
            "CREATE INDEX insights_documents_open ON insights_documents (tenant_id, status, currency)",
            "CREATE INDEX insights_documents_party ON insights_documents (tenant_id, party_id)",
            """
            CREATE TABLE insights_forecasts (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, metric TEXT NOT NULL, interval TEXT NOT NULL, currency TEXT NOT NULL,
                account_id TEXT, horizon INTEGER NOT NULL, method TEXT NOT NULL, request_hash TEXT NOT NULL, result TEXT NOT NULL,
                created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX insights_forecasts_tenant ON insights_forecasts (tenant_id, id)",
        ], postgresAfter: tables.flatMap { Migration.rowLevelSecurity(table: $0) }),
        Migration(2, "create the advisory insights: one per tenant, kind, subject and currency, open, dismissed or resolved", [
            """
            CREATE TABLE insights_advice (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL, currency TEXT NOT NULL,
                amount_minor BIGINT NOT NULL, sentence TEXT NOT NULL, evidence TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('open', 'dismissed', 'resolved')), raised_at_ms BIGINT NOT NULL,
                updated_at_ms BIGINT NOT NULL, dismissed_at_ms BIGINT, dismissed_by TEXT, dismiss_reason TEXT,
                UNIQUE (tenant_id, kind, subject, currency))
            """,
            "CREATE INDEX insights_advice_tenant ON insights_advice (tenant_id, status, amount_minor)",
        ], postgresAfter: adviceTables.flatMap { Migration.rowLevelSecurity(table: $0) }),
        Migration(3, "keep the first entries behind each account's day, the evidence advice names", [
            """
            CREATE TABLE insights_movement_entries (
                tenant_id TEXT NOT NULL, account_id TEXT NOT NULL, accounting_date TEXT NOT NULL, entry_id TEXT NOT NULL,
                PRIMARY KEY (tenant_id, account_id, accounting_date, entry_id))
            """,
        ], postgresAfter: entryTables.flatMap { Migration.rowLevelSecurity(table: $0) }),
    ]
}
