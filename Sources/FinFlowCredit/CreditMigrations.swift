import FinFlowCore

/// The credit engine's schema, forward-only. On PostgreSQL the tenant-owned tables also get row-level security
/// behind the repository's tenant filters.
enum CreditMigrations {
    static let all: [Migration] = [
        Migration(1, "create the model registry, decisions, lending policy, loan offers and behaviour aggregates", [
            """
            CREATE TABLE credit_models (
                tenant_id TEXT NOT NULL, version TEXT NOT NULL, model_json TEXT NOT NULL, features_json TEXT NOT NULL,
                metadata_json TEXT NOT NULL, created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, version))
            """,
            """
            CREATE TABLE credit_assignments (
                tenant_id TEXT PRIMARY KEY, active_version TEXT NOT NULL, shadow_version TEXT,
                updated_by TEXT NOT NULL, updated_at_ms BIGINT NOT NULL)
            """,
            """
            CREATE TABLE credit_decisions (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, customer_id TEXT, model_version TEXT NOT NULL,
                inputs TEXT NOT NULL, probability DOUBLE PRECISION NOT NULL, margin DOUBLE PRECISION NOT NULL,
                score INTEGER NOT NULL, grade TEXT NOT NULL, score_bin INTEGER NOT NULL, factors TEXT NOT NULL,
                shadow_version TEXT, shadow_probability DOUBLE PRECISION, shadow_score INTEGER, shadow_grade TEXT,
                shadow_bin INTEGER, behaviour TEXT, request_hash TEXT NOT NULL, created_by TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX credit_decisions_tenant ON credit_decisions (tenant_id, id)",
            "CREATE INDEX credit_decisions_model ON credit_decisions (tenant_id, model_version, id)",
            "CREATE INDEX credit_decisions_shadow ON credit_decisions (tenant_id, shadow_version, id)",
            """
            CREATE TABLE credit_policies (
                tenant_id TEXT PRIMARY KEY, policy TEXT NOT NULL, updated_by TEXT NOT NULL, updated_at_ms BIGINT NOT NULL)
            """,
            """
            CREATE TABLE loan_offers (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, decision_id TEXT NOT NULL REFERENCES credit_decisions(id),
                customer_id TEXT, currency TEXT NOT NULL, grade TEXT NOT NULL, status TEXT NOT NULL,
                requested_minor BIGINT NOT NULL CHECK (requested_minor > 0), rate_bps INTEGER NOT NULL,
                fee_bps INTEGER NOT NULL, options TEXT NOT NULL, request_hash TEXT NOT NULL, expires_at_ms BIGINT NOT NULL,
                accepted_term_months INTEGER, accepted_minor BIGINT, accepted_by TEXT, accepted_at_ms BIGINT,
                created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX loan_offers_tenant ON loan_offers (tenant_id, id)",
            """
            CREATE TABLE credit_behaviour (
                tenant_id TEXT NOT NULL, customer_id TEXT NOT NULL, currency TEXT NOT NULL, month TEXT NOT NULL,
                payments_succeeded INTEGER NOT NULL, payments_failed INTEGER NOT NULL, payments_refunded INTEGER NOT NULL,
                paid_minor BIGINT NOT NULL, refunded_minor BIGINT NOT NULL, inflow_minor BIGINT NOT NULL,
                outflow_minor BIGINT NOT NULL, transactions INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, customer_id, currency, month))
            """,
        ], postgresAfter: ["credit_models", "credit_assignments", "credit_decisions", "credit_policies", "loan_offers", "credit_behaviour"]
            .flatMap { Migration.rowLevelSecurity(table: $0) }),
        Migration(2, "record whether the ledger booked an accepted loan", [
            "ALTER TABLE loan_offers ADD COLUMN booking_status TEXT",
            "ALTER TABLE loan_offers ADD COLUMN booking_entry_id TEXT",
            "ALTER TABLE loan_offers ADD COLUMN booking_detail TEXT",
        ]),
        Migration(3, "count invoices settled and those paid by their due date", [
            "ALTER TABLE credit_behaviour ADD COLUMN invoices_settled INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE credit_behaviour ADD COLUMN invoices_on_time INTEGER NOT NULL DEFAULT 0",
        ]),
        // What each transaction added to its customer's month, so that a rejection or reversal takes it back out; a
        // row marked withdrawn before its transaction arrived keeps that transaction from being counted.
        Migration(4, "remember each transaction counted, to withdraw it when it is rejected or reversed", [
            """
            CREATE TABLE credit_transactions_counted (
                tenant_id TEXT NOT NULL, transaction_id TEXT NOT NULL, customer_id TEXT NOT NULL, currency TEXT NOT NULL, month TEXT NOT NULL,
                inflow_minor BIGINT NOT NULL, outflow_minor BIGINT NOT NULL, counted INTEGER NOT NULL, withdrawn INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, transaction_id))
            """,
        ], postgresAfter: Migration.rowLevelSecurity(table: "credit_transactions_counted")),
    ]
}
