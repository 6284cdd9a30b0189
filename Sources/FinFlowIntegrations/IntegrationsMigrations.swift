import FinFlowCore

/// The integration service's schema, forward-only. On PostgreSQL every tenant-owned table also gets row-level security
/// behind the store's tenant filters.
enum IntegrationsMigrations {
    static let webhookTables = ["webhook_endpoints", "webhook_subscriptions", "webhook_deliveries", "webhook_attempts"]
    static let connectionTables = ["integration_authorisations", "integration_connections"]
    static let syncTables = ["integration_records", "integration_sync_cursors", "integration_sync_runs", "integration_sync_errors"]
    static let pushTables = ["integration_pushes"]
    static let pushRefTables = ["integration_push_refs"]

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
        Migration(2, "create the connections to QuickBooks Online and Xero and the authorisations that make them", [
            // An authorisation started and not yet finished: its single-use state, the PKCE verifier (sealed), for ten minutes.
            """
            CREATE TABLE integration_authorisations (
                state TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, provider TEXT NOT NULL, redirect_uri TEXT NOT NULL, verifier_sealed TEXT,
                created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL, expires_at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX integration_authorisations_tenant ON integration_authorisations (tenant_id, expires_at_ms)",
            // A tenant's connection to one company (realmId) or organisation (Xero tenant id); tokens sealed, null once
            // the grant is refused or disconnected; the organisations a Xero grant reaches while one is to be chosen.
            """
            CREATE TABLE integration_connections (
                tenant_id TEXT NOT NULL, id TEXT NOT NULL, provider TEXT NOT NULL, status TEXT NOT NULL, external_id TEXT, external_name TEXT,
                organisations TEXT, access_sealed TEXT, access_expires_at_ms BIGINT, refresh_sealed TEXT, refresh_expires_at_ms BIGINT,
                refreshed_at_ms BIGINT, last_error TEXT, created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, id))
            """,
            "CREATE UNIQUE INDEX integration_connections_external ON integration_connections (tenant_id, provider, external_id)",
        ], postgresAfter: connectionTables.flatMap { Migration.rowLevelSecurity(table: $0) }),
        Migration(3, "create the sync runs, their cursors and problems, the mapping of provider documents to FinFlow ids, and the providers' change notifications", [
            // A provider document as last read: its id there and version (SyncToken, UpdatedDateUTC), its FinFlow id (fixed
            // for good), the provider's JSON of it, and the last run that saw it in a full listing (for finding deletions).
            """
            CREATE TABLE integration_records (
                tenant_id TEXT NOT NULL, connection_id TEXT NOT NULL, entity TEXT NOT NULL, external_id TEXT NOT NULL, finflow_id TEXT NOT NULL,
                version TEXT NOT NULL, status TEXT NOT NULL, label TEXT, document TEXT NOT NULL, provider_updated_at_ms BIGINT,
                seen_run_id TEXT, synced_at_ms BIGINT NOT NULL, created_at_ms BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, connection_id, entity, external_id))
            """,
            "CREATE UNIQUE INDEX integration_records_finflow ON integration_records (tenant_id, connection_id, entity, finflow_id)",
            // Where the next incremental run of a connection reads from: QuickBooks' one change cursor, each Xero collection's.
            """
            CREATE TABLE integration_sync_cursors (
                tenant_id TEXT NOT NULL, connection_id TEXT NOT NULL, name TEXT NOT NULL, since_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, connection_id, name))
            """,
            // A run: its plan and the step it is at (so it resumes), what it did per kind of document, its claim by one process.
            """
            CREATE TABLE integration_sync_runs (
                tenant_id TEXT NOT NULL, id TEXT NOT NULL, connection_id TEXT NOT NULL, mode TEXT NOT NULL, status TEXT NOT NULL,
                plan TEXT NOT NULL, step INTEGER NOT NULL, counts TEXT NOT NULL, error_count INTEGER NOT NULL, attempts INTEGER NOT NULL,
                error TEXT, claim TEXT, lease_until_ms BIGINT, requested_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL, started_at_ms BIGINT,
                finished_at_ms BIGINT, updated_at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, id))
            """,
            // One unfinished run per connection, by constraint.
            """
            CREATE UNIQUE INDEX integration_sync_runs_active ON integration_sync_runs (tenant_id, connection_id)
            WHERE status IN ('queued', 'running')
            """,
            "CREATE INDEX integration_sync_runs_due ON integration_sync_runs (status, lease_until_ms)",
            "CREATE INDEX integration_sync_runs_connection ON integration_sync_runs (tenant_id, connection_id, id)",
            // The documents a run could not take (the first thousand), with the reason.
            """
            CREATE TABLE integration_sync_errors (
                tenant_id TEXT NOT NULL, run_id TEXT NOT NULL, seq INTEGER NOT NULL, entity TEXT NOT NULL, external_id TEXT, message TEXT NOT NULL,
                at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, run_id, seq))
            """,
            // A provider's webhook delivery, verified and kept until applied: each asks for a sync of the connections to the
            // company or organisation it names. A redelivery (same body) is the same row.
            """
            CREATE TABLE integration_notifications (
                id TEXT PRIMARY KEY, provider TEXT NOT NULL, dedupe_key TEXT NOT NULL, external_ids TEXT NOT NULL, payload TEXT NOT NULL,
                received_at_ms BIGINT NOT NULL, applied_at_ms BIGINT, UNIQUE (provider, dedupe_key))
            """,
            "CREATE INDEX integration_notifications_unapplied ON integration_notifications (applied_at_ms, received_at_ms)",
            // When the provider last said the connection's books changed and no run has read them since.
            "ALTER TABLE integration_connections ADD COLUMN sync_wanted_at_ms BIGINT",
        ], postgresAfter: syncTables.flatMap { Migration.rowLevelSecurity(table: $0) }),
        Migration(4, "keep each synced document's way into the books: sent to the ledger, unreadable, or refused there, and why", [
            "ALTER TABLE integration_records ADD COLUMN books_status TEXT",
            "ALTER TABLE integration_records ADD COLUMN books_problem TEXT",
            // The ledger answers by FinFlow id.
            "CREATE INDEX integration_records_books ON integration_records (tenant_id, finflow_id)",
        ]),
        Migration(5, "push FinFlow's entries to the providers' books: which connections push, each entry's push, and the records of pushed documents", [
            // Whether the connection pushes the tenant's ledger, and from which accounting date its first push caught up.
            "ALTER TABLE integration_connections ADD COLUMN push_enabled INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE integration_connections ADD COLUMN push_since TEXT",
            // One ledger entry for one connection: the shared entry as received, queued until pushed or refused (with
            // the provider's words); `next_attempt_at_ms` is null once it is done, and `key` the idempotency key the
            // provider is sent (a redelivered event queues nothing twice: the key is the entry and connection).
            """
            CREATE TABLE integration_pushes (
                tenant_id TEXT NOT NULL, connection_id TEXT NOT NULL, entry_id TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL,
                attempts INTEGER NOT NULL, next_attempt_at_ms BIGINT, idempotency_key TEXT NOT NULL, external_id TEXT, error TEXT,
                created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL, pushed_at_ms BIGINT,
                PRIMARY KEY (tenant_id, connection_id, entry_id))
            """,
            "CREATE INDEX integration_pushes_due ON integration_pushes (next_attempt_at_ms)",
            "CREATE INDEX integration_pushes_status ON integration_pushes (tenant_id, connection_id, status, entry_id)",
            // A record FinFlow pushed (origin `finflow`) and the content it pushed, so a change made at the provider is
            // told from one that changes nothing in the books.
            "ALTER TABLE integration_records ADD COLUMN origin TEXT",
            "ALTER TABLE integration_records ADD COLUMN pushed_content TEXT",
        ], postgresAfter: pushTables.flatMap { Migration.rowLevelSecurity(table: $0) }),
        Migration(6, "push invoices, bills and their payments as the providers' own documents, with the contacts and items they name", [
            // What a push made at the provider: a journal, or an invoice, bill or payment (the kind of its record).
            "ALTER TABLE integration_pushes ADD COLUMN entity TEXT",
            // FinFlow's customer, vendor or revenue account and the provider's contact or item that stands for it, found
            // by name or made once (under an idempotency key of the connection and FinFlow's id).
            """
            CREATE TABLE integration_push_refs (
                tenant_id TEXT NOT NULL, connection_id TEXT NOT NULL, kind TEXT NOT NULL, finflow_id TEXT NOT NULL, external_id TEXT NOT NULL,
                name TEXT NOT NULL, created_at_ms BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, connection_id, kind, finflow_id))
            """,
        ], postgresAfter: pushRefTables.flatMap { Migration.rowLevelSecurity(table: $0) }),
    ]
}
