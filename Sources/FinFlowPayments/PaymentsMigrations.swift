import FinFlowCore

/// The payment service's schema, forward-only. On PostgreSQL the tenant-owned tables also get row-level security
/// behind the repository's tenant filters.
enum PaymentsMigrations {
    static let all: [Migration] = [
        Migration(1, "create gateways, payments, their timeline, refunds, received webhooks and the credential key", [
            """
            CREATE TABLE payment_gateways (
                tenant_id TEXT NOT NULL, provider TEXT NOT NULL, priority INTEGER NOT NULL, base_url TEXT NOT NULL,
                credentials_sealed TEXT NOT NULL, webhook_secret_sealed TEXT, webhook_url TEXT, enabled INTEGER NOT NULL,
                updated_by TEXT NOT NULL, updated_at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, provider))
            """,
            """
            CREATE TABLE payments (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, status TEXT NOT NULL,
                amount_minor BIGINT NOT NULL CHECK (amount_minor > 0), currency TEXT NOT NULL, capture_method TEXT NOT NULL,
                amount_capturable BIGINT NOT NULL, amount_received BIGINT NOT NULL, amount_refunded BIGINT NOT NULL,
                customer_id TEXT, invoice_id TEXT, payment_method_token TEXT, fallback_tokens TEXT, card_brand TEXT, card_last4 TEXT,
                card_exp_month INTEGER, card_exp_year INTEGER, description TEXT, metadata TEXT NOT NULL, return_url TEXT,
                gateway TEXT NOT NULL, gateway_reference TEXT, next_action_url TEXT, last_error TEXT, fee_minor BIGINT,
                request_hash TEXT NOT NULL, operations INTEGER NOT NULL, pending_operation TEXT, pending_key TEXT,
                pending_amount_minor BIGINT, pending_active INTEGER NOT NULL, pending_since_ms BIGINT,
                version BIGINT NOT NULL, created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL,
                CHECK (amount_received >= 0 AND amount_refunded >= 0 AND amount_refunded <= amount_received),
                CHECK (amount_capturable >= 0 AND amount_capturable <= amount_minor AND amount_received <= amount_minor))
            """,
            "CREATE INDEX payments_tenant ON payments (tenant_id, id)",
            "CREATE INDEX payments_reference ON payments (gateway, gateway_reference)",
            """
            CREATE TABLE payment_events (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, payment_id TEXT NOT NULL REFERENCES payments(id),
                action TEXT NOT NULL, from_status TEXT, to_status TEXT NOT NULL, amount_minor BIGINT, gateway TEXT NOT NULL,
                gateway_reference TEXT, idempotency_key TEXT, detail TEXT, actor TEXT NOT NULL, at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX payment_events_payment ON payment_events (payment_id, id)",
            """
            CREATE TABLE payment_refunds (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, payment_id TEXT NOT NULL REFERENCES payments(id),
                amount_minor BIGINT NOT NULL CHECK (amount_minor > 0), status TEXT NOT NULL, reason TEXT,
                gateway_reference TEXT, created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX payment_refunds_payment ON payment_refunds (payment_id, id)",
            """
            CREATE TABLE payment_webhooks (
                tenant_id TEXT NOT NULL, provider TEXT NOT NULL, event_id TEXT NOT NULL, event_type TEXT NOT NULL,
                payment_id TEXT, outcome TEXT NOT NULL, received_at_ms BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, provider, event_id))
            """,
            "CREATE TABLE payment_keys (name TEXT PRIMARY KEY, secret TEXT NOT NULL, created_at_ms BIGINT NOT NULL)",
        ], postgresAfter: ["payment_gateways", "payments", "payment_events", "payment_refunds", "payment_webhooks"]
            .flatMap { Migration.rowLevelSecurity(table: $0) }),
        Migration(2, "strong customer authentication: the tenant's policy, each payer's count since the last authentication, decisions, trusted beneficiaries and recurring series", [
            "ALTER TABLE payments ADD COLUMN payee TEXT",
            "ALTER TABLE payments ADD COLUMN payer_id TEXT",
            """
            CREATE TABLE sca_policies (
                tenant_id TEXT PRIMARY KEY, enabled INTEGER NOT NULL, low_value INTEGER NOT NULL, trusted_beneficiaries INTEGER NOT NULL,
                recurring INTEGER NOT NULL, updated_by TEXT NOT NULL, updated_at_ms BIGINT NOT NULL)
            """,
            """
            CREATE TABLE sca_payers (
                tenant_id TEXT NOT NULL, payer_id TEXT NOT NULL, payments_since INTEGER NOT NULL, eur_minor_since BIGINT NOT NULL,
                last_authenticated_at_ms BIGINT, updated_at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, payer_id),
                CHECK (payments_since >= 0 AND eur_minor_since >= 0))
            """,
            """
            CREATE TABLE sca_decisions (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, payer_id TEXT NOT NULL, subject TEXT NOT NULL, payment_id TEXT,
                amount_minor BIGINT, currency TEXT, payee TEXT NOT NULL, outcome TEXT NOT NULL, exemption TEXT, reason TEXT NOT NULL,
                code_id TEXT, payments_since INTEGER NOT NULL, eur_minor_since BIGINT NOT NULL, at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX sca_decisions_tenant ON sca_decisions (tenant_id, id)",
            "CREATE INDEX sca_decisions_payment ON sca_decisions (tenant_id, payment_id)",
            "CREATE UNIQUE INDEX sca_decisions_code ON sca_decisions (code_id)",
            """
            CREATE TABLE sca_trusted_beneficiaries (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, payer_id TEXT NOT NULL, payee TEXT NOT NULL, name TEXT,
                code_id TEXT NOT NULL UNIQUE, added_at_ms BIGINT NOT NULL)
            """,
            "CREATE UNIQUE INDEX sca_trusted_payee ON sca_trusted_beneficiaries (tenant_id, payer_id, payee)",
            """
            CREATE TABLE sca_recurring_series (
                tenant_id TEXT NOT NULL, payer_id TEXT NOT NULL, payee TEXT NOT NULL, amount_minor BIGINT NOT NULL, currency TEXT NOT NULL,
                first_payment_id TEXT NOT NULL, established_at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, payer_id, payee, amount_minor, currency))
            """,
        ], postgresAfter: ["sca_policies", "sca_payers", "sca_decisions", "sca_trusted_beneficiaries", "sca_recurring_series"]
            .flatMap { Migration.rowLevelSecurity(table: $0) }),
    ]
}
