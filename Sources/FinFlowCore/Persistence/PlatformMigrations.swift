/// The tables every service database carries for the platform: outbox, inbox, idempotency keys and audit log.
/// They are their own migration track (`platform`), applied before the service's own.
public enum PlatformMigrations {
    /// The platform track.
    public static let all: [Migration] = [
        Migration(1, "create outbox and inbox", [
            """
            CREATE TABLE outbox (
                id TEXT PRIMARY KEY, topic TEXT NOT NULL, tenant_id TEXT, payload TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL, published_at_ms BIGINT, attempts INTEGER NOT NULL DEFAULT 0,
                last_error TEXT, dead_lettered_at_ms BIGINT, lease_until_ms BIGINT)
            """,
            "CREATE INDEX outbox_pending ON outbox (created_at_ms, id) WHERE published_at_ms IS NULL",
            """
            CREATE TABLE inbox (
                consumer TEXT NOT NULL, event_id TEXT NOT NULL, processed_at_ms BIGINT NOT NULL,
                PRIMARY KEY (consumer, event_id))
            """,
        ]),
        Migration(2, "create idempotency keys", [
            """
            CREATE TABLE idempotency_keys (
                scope TEXT NOT NULL, idempotency_key TEXT NOT NULL, request_hash TEXT NOT NULL,
                state TEXT NOT NULL, status_code INTEGER, content_type TEXT, response_body TEXT,
                created_at_ms BIGINT NOT NULL, PRIMARY KEY (scope, idempotency_key))
            """
        ]),
        Migration(3, "create audit log", [
            """
            CREATE TABLE audit_log (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, seq BIGINT NOT NULL, occurred_at_ms BIGINT NOT NULL,
                actor_id TEXT, action TEXT NOT NULL, target TEXT, outcome TEXT NOT NULL, client_address TEXT,
                details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, UNIQUE (tenant_id, seq))
            """,
            """
            CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
            """,
            """
            CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
            """,
        ], postgres: [
            """
            CREATE TABLE audit_log (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, seq BIGINT NOT NULL, occurred_at_ms BIGINT NOT NULL,
                actor_id TEXT, action TEXT NOT NULL, target TEXT, outcome TEXT NOT NULL, client_address TEXT,
                details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, UNIQUE (tenant_id, seq))
            """,
            """
            CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$
            """,
            """
            CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
            """,
        ]),
        // The time of a key's first claim, kept when a retry takes over a run a crash abandoned: the ids that run
        // derives from the key stay the same, so the retry finds what the first run committed.
        Migration(4, "idempotency keys remember their first claim", [
            "ALTER TABLE idempotency_keys ADD COLUMN effect_at_ms BIGINT"
        ]),
        // Mail a service sends itself (MailOutbox): written with the change that causes it, sent by its MailRelay.
        Migration(5, "create the mail outbox", [
            """
            CREATE TABLE mail_outbox (
                id TEXT PRIMARY KEY, to_address TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL, purpose TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at_ms BIGINT NOT NULL,
                lease_until_ms BIGINT, sent_at_ms BIGINT, failed_at_ms BIGINT, last_error TEXT)
            """,
            "CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at_ms) WHERE sent_at_ms IS NULL AND failed_at_ms IS NULL",
        ]),
        // Each chain's head, kept with the record that moves it, so the shipper and the checkpointer find the chains
        // that moved without scanning the log; the signed checkpoints of those heads; the keys that signed them.
        Migration(6, "keep audit chain heads, signed checkpoints and their keys", [
            """
            CREATE TABLE audit_heads (
                tenant_id TEXT PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL, shipped_seq BIGINT NOT NULL DEFAULT 0,
                checkpointed_seq BIGINT NOT NULL DEFAULT 0, checkpointed_at_ms BIGINT NOT NULL DEFAULT 0)
            """,
            """
            INSERT INTO audit_heads (tenant_id, seq, hash)
            SELECT a.tenant_id, a.seq, a.hash FROM audit_log a
            WHERE a.seq = (SELECT MAX(b.seq) FROM audit_log b WHERE b.tenant_id = a.tenant_id)
            """,
            """
            CREATE TABLE audit_checkpoints (
                tenant_id TEXT NOT NULL, seq BIGINT NOT NULL, hash TEXT NOT NULL, signed_at_ms BIGINT NOT NULL, key_id TEXT NOT NULL,
                signature TEXT NOT NULL, PRIMARY KEY (tenant_id, seq))
            """,
            """
            CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
            BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END
            """,
            """
            CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
            BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END
            """,
            """
            CREATE TABLE audit_signing_keys (
                key_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, private_key TEXT, created_at_ms BIGINT NOT NULL)
            """,
        ], postgres: [
            """
            CREATE TABLE audit_heads (
                tenant_id TEXT PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL, shipped_seq BIGINT NOT NULL DEFAULT 0,
                checkpointed_seq BIGINT NOT NULL DEFAULT 0, checkpointed_at_ms BIGINT NOT NULL DEFAULT 0)
            """,
            """
            INSERT INTO audit_heads (tenant_id, seq, hash)
            SELECT a.tenant_id, a.seq, a.hash FROM audit_log a
            WHERE a.seq = (SELECT MAX(b.seq) FROM audit_log b WHERE b.tenant_id = a.tenant_id)
            """,
            """
            CREATE TABLE audit_checkpoints (
                tenant_id TEXT NOT NULL, seq BIGINT NOT NULL, hash TEXT NOT NULL, signed_at_ms BIGINT NOT NULL, key_id TEXT NOT NULL,
                signature TEXT NOT NULL, PRIMARY KEY (tenant_id, seq))
            """,
            """
            CREATE TRIGGER audit_checkpoints_no_change BEFORE UPDATE OR DELETE ON audit_checkpoints
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
            """,
            """
            CREATE TABLE audit_signing_keys (
                key_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, private_key TEXT, created_at_ms BIGINT NOT NULL)
            """,
        ]),
    ]
}
