import FinFlowCore

/// The integration service's schema, forward-only. On PostgreSQL every tenant-owned table also gets row-level security
/// behind the store's tenant filters.
enum IntegrationsMigrations {
    static let webhookTables = ["webhook_endpoints", "webhook_subscriptions", "webhook_deliveries", "webhook_attempts"]

    static let all: [Migration] = [
        Migration(1, "create the webhook endpoints, their subscriptions, deliveries and attempts, and the sealing key", [
            // A tenant's HTTPS endpoint; its signing secret sealed, and the one it replaced while the rotation window lasts.
            """
            CREATE TABLE webhook_endpoints (
                tenant_id TEXT NOT NULL, id TEXT NOT NULL, url TEXT NOT NULL, description TEXT, notify_email TEXT,
                secret_sealed TEXT NOT NULL, previous_secret_sealed TEXT, previous_secret_until_ms BIGINT,
                status TEXT NOT NULL, disabled_reason TEXT, disabled_at_ms BIGINT, created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, id))
            """,
            // The event types each endpoint takes, keyed the way an arriving event looks them up.
            """
            CREATE TABLE webhook_subscriptions (
                tenant_id TEXT NOT NULL, event_type TEXT NOT NULL, endpoint_id TEXT NOT NULL, PRIMARY KEY (tenant_id, event_type, endpoint_id))
            """,
            // One event for one endpoint (or a replay of it); `dedupe_key` is the event id for the first delivery, so a
            // redelivered event queues nothing twice. `next_attempt_at_ms` is null once it is delivered or given up.
            """
            CREATE TABLE webhook_deliveries (
                tenant_id TEXT NOT NULL, id TEXT NOT NULL, endpoint_id TEXT NOT NULL, event_id TEXT NOT NULL, event_type TEXT NOT NULL,
                payload TEXT NOT NULL, dedupe_key TEXT NOT NULL, replay_of TEXT, status TEXT NOT NULL, attempts INTEGER NOT NULL,
                created_at_ms BIGINT NOT NULL, next_attempt_at_ms BIGINT, give_up_at_ms BIGINT NOT NULL, last_attempt_at_ms BIGINT,
                last_status_code INTEGER, last_error TEXT, delivered_at_ms BIGINT,
                PRIMARY KEY (tenant_id, id), UNIQUE (tenant_id, endpoint_id, dedupe_key))
            """,
            "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at_ms)",
            "CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (tenant_id, endpoint_id, id)",
            // Every attempt: when, how long, what came back.
            """
            CREATE TABLE webhook_attempts (
                tenant_id TEXT NOT NULL, delivery_id TEXT NOT NULL, attempt INTEGER NOT NULL, at_ms BIGINT NOT NULL, duration_ms BIGINT NOT NULL,
                status_code INTEGER, error TEXT, response_excerpt TEXT, PRIMARY KEY (tenant_id, delivery_id, attempt))
            """,
            // The key that seals secrets when none is configured.
            "CREATE TABLE integration_keys (name TEXT PRIMARY KEY, secret TEXT NOT NULL, created_at_ms BIGINT NOT NULL)",
        ], postgresAfter: webhookTables.flatMap { Migration.rowLevelSecurity(table: $0) }),
    ]
}
