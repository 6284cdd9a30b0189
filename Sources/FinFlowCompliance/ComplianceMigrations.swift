import FinFlowCore

/// The compliance service's schema, forward-only. Tenant-owned tables get row-level security on PostgreSQL; the
/// lists and their entries are readable by every tenant when they belong to the platform (`tenant_id` empty).
enum ComplianceMigrations {
    static let all: [Migration] = [
        Migration(1, "create sanctions lists and their entries, screenings and their matches, monitored subjects, alerts and settings", [
            """
            CREATE TABLE screening_lists (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL, source TEXT NOT NULL,
                format TEXT NOT NULL, sha256 TEXT NOT NULL, entry_count INTEGER NOT NULL, status TEXT NOT NULL,
                created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL, UNIQUE (tenant_id, name, version))
            """,
            """
            CREATE TABLE list_entries (
                list_id TEXT NOT NULL REFERENCES screening_lists(id), entry_id TEXT NOT NULL, tenant_id TEXT NOT NULL,
                reference TEXT NOT NULL, kind TEXT NOT NULL, names TEXT NOT NULL, birth_date TEXT, country TEXT, gender TEXT,
                program TEXT NOT NULL, listed_on TEXT, PRIMARY KEY (list_id, entry_id))
            """,
            """
            CREATE TABLE screenings (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, subject_type TEXT NOT NULL, subject_ref TEXT, kind TEXT,
                names TEXT NOT NULL, birth_date TEXT, country TEXT, gender TEXT, threshold DOUBLE PRECISION NOT NULL,
                lists TEXT NOT NULL, status TEXT NOT NULL, top_score DOUBLE PRECISION, match_count INTEGER NOT NULL,
                origin TEXT NOT NULL, alert_id TEXT, request_hash TEXT NOT NULL, created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX screenings_tenant ON screenings (tenant_id, id)",
            "CREATE INDEX screenings_subject ON screenings (tenant_id, subject_type, subject_ref, id)",
            """
            CREATE TABLE screening_matches (
                screening_id TEXT NOT NULL REFERENCES screenings(id), position INTEGER NOT NULL, tenant_id TEXT NOT NULL,
                list_id TEXT NOT NULL, entry_id TEXT NOT NULL, score DOUBLE PRECISION NOT NULL, explanation TEXT NOT NULL,
                PRIMARY KEY (screening_id, position))
            """,
            """
            CREATE TABLE monitored_subjects (
                tenant_id TEXT NOT NULL, subject_type TEXT NOT NULL, subject_ref TEXT NOT NULL, kind TEXT, names TEXT NOT NULL,
                birth_date TEXT, country TEXT, gender TEXT, last_screening_id TEXT NOT NULL, updated_at_ms BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, subject_type, subject_ref))
            """,
            """
            CREATE TABLE compliance_alerts (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL, status TEXT NOT NULL,
                subject_type TEXT NOT NULL, subject_ref TEXT, source_type TEXT NOT NULL, source_id TEXT NOT NULL,
                reason TEXT NOT NULL, outcome TEXT, note TEXT, closed_by TEXT, closed_at_ms BIGINT, created_at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX compliance_alerts_tenant ON compliance_alerts (tenant_id, status, id)",
            """
            CREATE TABLE compliance_settings (
                tenant_id TEXT PRIMARY KEY, screening_threshold DOUBLE PRECISION NOT NULL, updated_by TEXT NOT NULL,
                updated_at_ms BIGINT NOT NULL)
            """,
        ], postgresAfter: ["screenings", "screening_matches", "monitored_subjects", "compliance_alerts", "compliance_settings"]
            .flatMap { Migration.rowLevelSecurity(table: $0) }
            + ["screening_lists", "list_entries"].flatMap { Self.sharedRowLevelSecurity(table: $0) }),
        Migration(2, "create monitoring scenarios, their versions, the stored events, windowed figures and decisions", [
            """
            CREATE TABLE monitoring_scenarios (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT, live_version INTEGER,
                created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL, UNIQUE (tenant_id, name))
            """,
            """
            CREATE TABLE scenario_versions (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, scenario_id TEXT NOT NULL REFERENCES monitoring_scenarios(id),
                version INTEGER NOT NULL, status TEXT NOT NULL, definition TEXT NOT NULL, created_by TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL, published_by TEXT, published_at_ms BIGINT, UNIQUE (scenario_id, version))
            """,
            "CREATE INDEX scenario_versions_live ON scenario_versions (tenant_id, status)",
            "CREATE TABLE monitoring_state (tenant_id TEXT PRIMARY KEY, generation BIGINT NOT NULL)",
            """
            CREATE TABLE monitored_events (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, type TEXT NOT NULL, subject_id TEXT NOT NULL, at_ms BIGINT NOT NULL,
                data TEXT NOT NULL)
            """,
            "CREATE INDEX monitored_events_time ON monitored_events (tenant_id, at_ms, id)",
            "CREATE INDEX monitored_events_subject ON monitored_events (tenant_id, subject_id)",
            """
            CREATE TABLE monitoring_buckets (
                tenant_id TEXT NOT NULL, aggregate_key TEXT NOT NULL, group_value TEXT NOT NULL, bucket_start_ms BIGINT NOT NULL,
                currency TEXT NOT NULL, count BIGINT NOT NULL, sum_minor BIGINT NOT NULL, max_minor BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, aggregate_key, group_value, bucket_start_ms, currency))
            """,
            """
            CREATE TABLE monitoring_values (
                tenant_id TEXT NOT NULL, aggregate_key TEXT NOT NULL, group_value TEXT NOT NULL, value TEXT NOT NULL,
                last_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, aggregate_key, group_value, value))
            """,
            """
            CREATE TABLE monitoring_last (
                tenant_id TEXT NOT NULL, aggregate_key TEXT NOT NULL, group_value TEXT NOT NULL, last_ms BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, aggregate_key, group_value))
            """,
            """
            CREATE TABLE monitoring_decisions (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, scenario_id TEXT NOT NULL, version_id TEXT NOT NULL,
                event_id TEXT NOT NULL, event_type TEXT NOT NULL, subject_type TEXT NOT NULL, subject_id TEXT NOT NULL,
                score INTEGER NOT NULL, outcome TEXT NOT NULL, rules TEXT NOT NULL, alert_id TEXT, event_at_ms BIGINT NOT NULL,
                created_at_ms BIGINT NOT NULL, UNIQUE (version_id, event_id))
            """,
            "CREATE INDEX monitoring_decisions_tenant ON monitoring_decisions (tenant_id, id)",
            "CREATE INDEX monitoring_decisions_subject ON monitoring_decisions (tenant_id, subject_id, id)",
        ], postgresAfter: [
            "monitoring_scenarios", "scenario_versions", "monitoring_state", "monitored_events", "monitoring_buckets", "monitoring_values",
            "monitoring_last", "monitoring_decisions",
        ].flatMap { Migration.rowLevelSecurity(table: $0) }),
        Migration(3, "create cases, the alerts they group and their timelines", [
            """
            CREATE TABLE compliance_cases (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, title TEXT NOT NULL, status TEXT NOT NULL, assignee TEXT, due_date TEXT,
                outcome TEXT, created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL, closed_by TEXT,
                closed_at_ms BIGINT)
            """,
            "CREATE INDEX compliance_cases_tenant ON compliance_cases (tenant_id, status, id)",
            """
            CREATE TABLE case_alerts (
                tenant_id TEXT NOT NULL, alert_id TEXT NOT NULL, case_id TEXT NOT NULL REFERENCES compliance_cases(id),
                added_by TEXT NOT NULL, added_at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, alert_id))
            """,
            "CREATE INDEX case_alerts_case ON case_alerts (case_id)",
            """
            CREATE TABLE case_events (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, case_id TEXT NOT NULL REFERENCES compliance_cases(id), kind TEXT NOT NULL,
                actor TEXT NOT NULL, text TEXT, reference TEXT, sha256 TEXT, created_at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX case_events_case ON case_events (case_id, id)",
        ], postgresAfter: ["compliance_cases", "case_alerts", "case_events"].flatMap { Migration.rowLevelSecurity(table: $0) }),
        Migration(4, "create the transactions tenants hold until compliance decides", [
            """
            CREATE TABLE transaction_holds (
                tenant_id TEXT NOT NULL, transaction_id TEXT NOT NULL, status TEXT NOT NULL, outcome TEXT NOT NULL, score BIGINT,
                decision_ids TEXT NOT NULL, decided_by TEXT, reason TEXT, created_at_ms BIGINT NOT NULL, decided_at_ms BIGINT,
                PRIMARY KEY (tenant_id, transaction_id))
            """,
            "CREATE INDEX transaction_holds_status ON transaction_holds (tenant_id, status, transaction_id)",
        ], postgresAfter: Migration.rowLevelSecurity(table: "transaction_holds")),
        Migration(5, "stamp a tenant's stored figures at every change, so a process can keep them in memory while the stamp is its own", [
            "ALTER TABLE monitoring_state ADD COLUMN figures_stamp TEXT",
        ]),
        // PostgreSQL's tables are already one B-tree per index; SQLite keeps a rowid table beside the key's index, so
        // each figure upserted wrote two trees.
        Migration(6, "keep the figure tables in their key's order on SQLite (WITHOUT ROWID), one B-tree each", Migration.withoutRowid([
            ("monitoring_buckets", """
                tenant_id TEXT NOT NULL, aggregate_key TEXT NOT NULL, group_value TEXT NOT NULL, bucket_start_ms BIGINT NOT NULL,
                currency TEXT NOT NULL, count BIGINT NOT NULL, sum_minor BIGINT NOT NULL, max_minor BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, aggregate_key, group_value, bucket_start_ms, currency)
                """, "tenant_id, aggregate_key, group_value, bucket_start_ms, currency, count, sum_minor, max_minor"),
            ("monitoring_values", """
                tenant_id TEXT NOT NULL, aggregate_key TEXT NOT NULL, group_value TEXT NOT NULL, value TEXT NOT NULL,
                last_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, aggregate_key, group_value, value)
                """, "tenant_id, aggregate_key, group_value, value, last_ms"),
            ("monitoring_last", """
                tenant_id TEXT NOT NULL, aggregate_key TEXT NOT NULL, group_value TEXT NOT NULL, last_ms BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, aggregate_key, group_value)
                """, "tenant_id, aggregate_key, group_value, last_ms"),
        ]), postgres: []),
        // Every service's audit records and signed checkpoints, as their `AuditRecorded`/`AuditCheckpointed` events carry
        // them, for one query over the whole trail; append-only like the chains they copy.
        Migration(7, "keep every service's audit records and checkpoints for the cross-service audit trail", [
            """
            CREATE TABLE audit_trail (
                tenant_id TEXT NOT NULL, service TEXT NOT NULL, seq BIGINT NOT NULL, record_id TEXT NOT NULL, occurred_at_ms BIGINT NOT NULL,
                actor_id TEXT, action TEXT NOT NULL, target TEXT, outcome TEXT NOT NULL, client_address TEXT, details TEXT NOT NULL,
                prev_hash TEXT NOT NULL, hash TEXT NOT NULL, received_at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, service, seq))
            """,
            "CREATE INDEX audit_trail_time ON audit_trail (tenant_id, occurred_at_ms, record_id)",
            "CREATE INDEX audit_trail_actor ON audit_trail (tenant_id, actor_id, occurred_at_ms, record_id)",
            "CREATE INDEX audit_trail_action ON audit_trail (tenant_id, action, occurred_at_ms, record_id)",
            "CREATE INDEX audit_trail_target ON audit_trail (tenant_id, target, occurred_at_ms, record_id)",
            """
            CREATE TABLE audit_trail_checkpoints (
                tenant_id TEXT NOT NULL, service TEXT NOT NULL, seq BIGINT NOT NULL, hash TEXT NOT NULL, signed_at_ms BIGINT NOT NULL,
                key_id TEXT NOT NULL, public_key TEXT NOT NULL, signature TEXT NOT NULL, received_at_ms BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, service, seq))
            """,
            "CREATE TRIGGER audit_trail_no_update BEFORE UPDATE ON audit_trail BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
            "CREATE TRIGGER audit_trail_no_delete BEFORE DELETE ON audit_trail BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
            """
            CREATE TRIGGER audit_trail_checkpoints_no_update BEFORE UPDATE ON audit_trail_checkpoints
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END
            """,
            """
            CREATE TRIGGER audit_trail_checkpoints_no_delete BEFORE DELETE ON audit_trail_checkpoints
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END
            """,
        ], postgres: [
            """
            CREATE TABLE audit_trail (
                tenant_id TEXT NOT NULL, service TEXT NOT NULL, seq BIGINT NOT NULL, record_id TEXT NOT NULL, occurred_at_ms BIGINT NOT NULL,
                actor_id TEXT, action TEXT NOT NULL, target TEXT, outcome TEXT NOT NULL, client_address TEXT, details TEXT NOT NULL,
                prev_hash TEXT NOT NULL, hash TEXT NOT NULL, received_at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, service, seq))
            """,
            "CREATE INDEX audit_trail_time ON audit_trail (tenant_id, occurred_at_ms, record_id)",
            "CREATE INDEX audit_trail_actor ON audit_trail (tenant_id, actor_id, occurred_at_ms, record_id)",
            "CREATE INDEX audit_trail_action ON audit_trail (tenant_id, action, occurred_at_ms, record_id)",
            "CREATE INDEX audit_trail_target ON audit_trail (tenant_id, target, occurred_at_ms, record_id)",
            """
            CREATE TABLE audit_trail_checkpoints (
                tenant_id TEXT NOT NULL, service TEXT NOT NULL, seq BIGINT NOT NULL, hash TEXT NOT NULL, signed_at_ms BIGINT NOT NULL,
                key_id TEXT NOT NULL, public_key TEXT NOT NULL, signature TEXT NOT NULL, received_at_ms BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, service, seq))
            """,
            "CREATE TRIGGER audit_trail_no_change BEFORE UPDATE OR DELETE ON audit_trail FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
            """
            CREATE TRIGGER audit_trail_checkpoints_no_change BEFORE UPDATE OR DELETE ON audit_trail_checkpoints
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
            """,
        ] + ["audit_trail", "audit_trail_checkpoints"].flatMap { Migration.rowLevelSecurity(table: $0) }),
        // Data subject requests: each service's part arrives in pieces (`DataSubjectRequestAnswered`) and is kept until
        // the archive is downloaded or expires.
        Migration(8, "create data subject requests and the parts the services answer with", [
            """
            CREATE TABLE dsr_requests (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL, subject TEXT NOT NULL,
                expected_services TEXT NOT NULL, request_hash TEXT NOT NULL, opened_by TEXT NOT NULL, opened_at_ms BIGINT NOT NULL,
                due_at_ms BIGINT NOT NULL, ready_at_ms BIGINT, expires_at_ms BIGINT, downloaded_at_ms BIGINT, downloaded_by TEXT)
            """,
            "CREATE INDEX dsr_requests_tenant ON dsr_requests (tenant_id, opened_at_ms, id)",
            """
            CREATE TABLE dsr_parts (
                tenant_id TEXT NOT NULL, request_id TEXT NOT NULL, service TEXT NOT NULL, outcome TEXT NOT NULL, records BIGINT NOT NULL,
                chunk_count INTEGER NOT NULL, chunks_received INTEGER NOT NULL, part_sha256 TEXT NOT NULL, bytes BIGINT NOT NULL,
                verified INTEGER NOT NULL, answered_at_ms BIGINT NOT NULL, completed_at_ms BIGINT, PRIMARY KEY (request_id, service))
            """,
            """
            CREATE TABLE dsr_chunks (
                tenant_id TEXT NOT NULL, request_id TEXT NOT NULL, service TEXT NOT NULL, chunk_index INTEGER NOT NULL, content TEXT NOT NULL,
                PRIMARY KEY (request_id, service, chunk_index))
            """,
        ], postgresAfter: ["dsr_requests", "dsr_parts", "dsr_chunks"].flatMap { Migration.rowLevelSecurity(table: $0) }),
        Migration(9, "create consents and the tenant's records of processing", [
            """
            CREATE TABLE consents (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, subject_ref TEXT NOT NULL, purpose TEXT NOT NULL, status TEXT NOT NULL,
                text_version TEXT NOT NULL, method TEXT NOT NULL, evidence TEXT, given_at_ms BIGINT NOT NULL, withdrawn_at_ms BIGINT,
                withdrawal_method TEXT, superseded_by TEXT, request_hash TEXT NOT NULL, recorded_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX consents_subject ON consents (tenant_id, subject_ref, purpose, given_at_ms)",
            "CREATE INDEX consents_recorded ON consents (tenant_id, created_at_ms, id)",
            "CREATE UNIQUE INDEX consents_one_given ON consents (tenant_id, subject_ref, purpose) WHERE status = 'given'",
            """
            CREATE TABLE processing_activities (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL, purpose TEXT NOT NULL, lawful_basis TEXT NOT NULL,
                data_categories TEXT NOT NULL, subject_categories TEXT NOT NULL, recipients TEXT NOT NULL, retention TEXT NOT NULL,
                created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL, updated_by TEXT NOT NULL, updated_at_ms BIGINT NOT NULL,
                UNIQUE (tenant_id, name))
            """,
        ], postgresAfter: ["consents", "processing_activities"].flatMap { Migration.rowLevelSecurity(table: $0) }),
        // PSD2 consents third-party providers ask for (Berlin Group NextGenPSD2 shape), and their daily use.
        Migration(10, "create PSD2 consents and their use per day", [
            """
            CREATE TABLE psd2_consents (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, tpp_id TEXT NOT NULL, psu_id TEXT, access TEXT NOT NULL,
                recurring INTEGER NOT NULL, valid_until TEXT NOT NULL, frequency_per_day INTEGER NOT NULL, combined_service INTEGER NOT NULL,
                status TEXT NOT NULL, status_reason TEXT, request_hash TEXT NOT NULL, created_at_ms BIGINT NOT NULL,
                status_changed_at_ms BIGINT NOT NULL, last_action_date TEXT NOT NULL)
            """,
            "CREATE INDEX psd2_consents_tpp ON psd2_consents (tenant_id, tpp_id, created_at_ms)",
            "CREATE INDEX psd2_consents_psu ON psd2_consents (tenant_id, psu_id, created_at_ms)",
            """
            CREATE TABLE psd2_consent_use (
                tenant_id TEXT NOT NULL, consent_id TEXT NOT NULL, day TEXT NOT NULL, accesses INTEGER NOT NULL,
                PRIMARY KEY (consent_id, day))
            """,
        ], postgresAfter: ["psd2_consents", "psd2_consent_use"].flatMap { Migration.rowLevelSecurity(table: $0) }),
        // PSD2 payment initiations a provider asks for (one-off or periodic) and the user's strongly authenticated answer.
        Migration(11, "create PSD2 payment initiations", [
            """
            CREATE TABLE psd2_payments (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, tpp_id TEXT NOT NULL, psu_id TEXT, service TEXT NOT NULL, product TEXT NOT NULL,
                amount_minor BIGINT NOT NULL CHECK (amount_minor > 0), currency TEXT NOT NULL, debtor_iban TEXT NOT NULL,
                creditor_iban TEXT NOT NULL, creditor_name TEXT NOT NULL, remittance TEXT, start_date TEXT, end_date TEXT, frequency TEXT,
                day_of_execution INTEGER, status TEXT NOT NULL, status_reason TEXT, code_id TEXT UNIQUE, request_hash TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL, status_changed_at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX psd2_payments_tpp ON psd2_payments (tenant_id, tpp_id, created_at_ms)",
        ], postgresAfter: Migration.rowLevelSecurity(table: "psd2_payments")),
        // An archive not downloaded within its 7 days is deleted by the retention sweep, which needs the date on its pieces.
        Migration(12, "date the pieces of data subject request archives for the retention sweep", [
            "ALTER TABLE dsr_chunks ADD COLUMN expires_at_ms BIGINT",
            "UPDATE dsr_chunks SET expires_at_ms = (SELECT r.expires_at_ms FROM dsr_requests r WHERE r.id = dsr_chunks.request_id)",
            "CREATE INDEX dsr_chunks_expiry ON dsr_chunks (expires_at_ms)",
        ]),
    ]

    /// Row-level security for a table whose rows belong to a tenant or, with an empty `tenant_id`, to every tenant.
    static func sharedRowLevelSecurity(table: String) -> [String] {
        [
            "ALTER TABLE \(table) ENABLE ROW LEVEL SECURITY",
            "ALTER TABLE \(table) FORCE ROW LEVEL SECURITY",
            """
            CREATE POLICY \(table)_tenant ON \(table) USING (
                coalesce(current_setting('app.tenant_id', true), '') = '' OR tenant_id = '' OR tenant_id = current_setting('app.tenant_id', true))
                WITH CHECK (coalesce(current_setting('app.tenant_id', true), '') = '' OR tenant_id = current_setting('app.tenant_id', true))
            """,
        ]
    }
}
