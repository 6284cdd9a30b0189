import FinFlowCore

/// The performance service's schema, forward-only: the samples of the process's figures it keeps as time series, the
/// incidents it records from compliance alerts and anomalies, and its own small state (when each database was last
/// optimised). Nothing here is a tenant's business data: the tables are the platform's.
enum PerformanceMigrations {
    static let all: [Migration] = [
        Migration(1, "create the samples, the incidents and the service's state", [
            // One figure of one service at one instant (the figure over the interval that ended then).
            """
            CREATE TABLE performance_samples (
                service TEXT NOT NULL, metric TEXT NOT NULL, taken_at_ms BIGINT NOT NULL, value DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (service, metric, taken_at_ms))
            """,
            // Pruning goes by age across every series.
            "CREATE INDEX performance_samples_taken ON performance_samples (taken_at_ms)",
            """
            CREATE TABLE performance_incidents (
                id TEXT PRIMARY KEY, seq BIGINT NOT NULL UNIQUE, source TEXT NOT NULL, tenant_id TEXT NOT NULL, kind TEXT NOT NULL,
                severity TEXT NOT NULL, subject_type TEXT NOT NULL, subject_id TEXT NOT NULL, user_id TEXT, reason TEXT NOT NULL,
                occurred_at_ms BIGINT NOT NULL, recorded_at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX performance_incidents_recorded ON performance_incidents (recorded_at_ms)",
            "CREATE TABLE performance_state (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at_ms BIGINT NOT NULL)",
        ]),
    ]
}
