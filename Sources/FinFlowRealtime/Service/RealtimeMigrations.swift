import FinFlowCore

/// The realtime service's schema, forward-only: each tenant's detector snapshot and the observations since it (from
/// which a restarted or rebalanced process rebuilds the exact state), the anomalies found, and the tenants' thresholds.
/// On PostgreSQL every table also gets row-level security behind the store's tenant filters.
enum RealtimeMigrations {
    static let tables = ["realtime_state", "realtime_recent", "realtime_anomalies", "realtime_settings"]

    static let all: [Migration] = [
        Migration(1, "create the detector snapshots, the observations since, the anomalies and the thresholds", [
            // The detector of a tenant as it stood after observation `seq`.
            "CREATE TABLE realtime_state (tenant_id TEXT PRIMARY KEY, seq BIGINT NOT NULL, state TEXT NOT NULL, saved_at_ms BIGINT NOT NULL)",
            // Every observation after the snapshot, numbered per tenant: the key refuses a number twice, so two processes
            // that both think they hold a tenant cannot both write.
            """
            CREATE TABLE realtime_recent (
                tenant_id TEXT NOT NULL, seq BIGINT NOT NULL, observation TEXT NOT NULL, PRIMARY KEY (tenant_id, seq))
            """,
            """
            CREATE TABLE realtime_anomalies (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, seq BIGINT NOT NULL, subject_type TEXT NOT NULL, subject_id TEXT NOT NULL,
                score_bp INTEGER NOT NULL, threshold_bp INTEGER NOT NULL, amount_minor BIGINT NOT NULL, currency TEXT NOT NULL,
                account_key TEXT NOT NULL, counterparty TEXT, reasons TEXT NOT NULL, occurred_at_ms BIGINT NOT NULL,
                detected_at_ms BIGINT NOT NULL, UNIQUE (tenant_id, seq))
            """,
            """
            CREATE TABLE realtime_settings (
                tenant_id TEXT PRIMARY KEY, anomaly_threshold_bp INTEGER NOT NULL, compliance_threshold_bp INTEGER NOT NULL,
                updated_by TEXT NOT NULL, updated_at_ms BIGINT NOT NULL)
            """,
        ], postgresAfter: tables.flatMap { Migration.rowLevelSecurity(table: $0) }),
    ]
}
