import FinFlowCore

/// The transaction service's schema, forward-only. On PostgreSQL the tenant-owned tables also get row-level security
/// behind the repository's tenant filters.
enum TransactionsMigrations {
    static let all: [Migration] = [
        Migration(1, "create transactions, their history, the account read model, limits and velocity buckets", [
            """
            CREATE TABLE transactions (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
                amount_minor BIGINT NOT NULL CHECK (amount_minor > 0), currency TEXT NOT NULL, value_date TEXT NOT NULL,
                source_account_id TEXT NOT NULL, destination_account_id TEXT NOT NULL CHECK (destination_account_id <> source_account_id),
                counterparty TEXT, counterparty_country TEXT, counterparty_account TEXT, counterparty_key TEXT NOT NULL,
                category TEXT, description TEXT, external_reference TEXT, reference_key TEXT NOT NULL, metadata TEXT NOT NULL,
                request_hash TEXT NOT NULL, import_id TEXT, import_fingerprint TEXT, entry_id TEXT, reversal_entry_id TEXT,
                status_code TEXT, status_reason TEXT, created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL,
                updated_at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX transactions_tenant ON transactions (tenant_id, id)",
            "CREATE INDEX transactions_lookalikes ON transactions (tenant_id, amount_minor, counterparty_key, value_date)",
            "CREATE UNIQUE INDEX transactions_import_fingerprint ON transactions (tenant_id, import_fingerprint)",
            """
            CREATE TABLE transaction_history (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, transaction_id TEXT NOT NULL REFERENCES transactions(id),
                status TEXT NOT NULL, code TEXT, reason TEXT, entry_id TEXT, at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX transaction_history_transaction ON transaction_history (transaction_id, at_ms)",
            """
            CREATE TABLE ledger_accounts (
                tenant_id TEXT NOT NULL, id TEXT NOT NULL, code TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
                currency TEXT NOT NULL, status TEXT NOT NULL, changed_at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, id))
            """,
            """
            CREATE TABLE transaction_limits (
                tenant_id TEXT PRIMARY KEY, limits TEXT NOT NULL, updated_by TEXT NOT NULL, updated_at_ms BIGINT NOT NULL)
            """,
            """
            CREATE TABLE transaction_velocity (
                tenant_id TEXT NOT NULL, scope TEXT NOT NULL, currency TEXT NOT NULL, minute BIGINT NOT NULL,
                transactions BIGINT NOT NULL, amount_minor BIGINT NOT NULL, PRIMARY KEY (tenant_id, scope, currency, minute))
            """,
        ], postgresAfter: ["transactions", "transaction_history", "ledger_accounts", "transaction_limits", "transaction_velocity"]
            .flatMap { Migration.rowLevelSecurity(table: $0) }),
    ]
}
