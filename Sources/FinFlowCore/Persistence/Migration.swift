import Crypto
import Foundation
import SQLKit

/// One numbered, forward-only schema change of a service. Its checksum is recorded when applied, and editing an
/// applied migration stops the start.
public struct Migration: Sendable {
    /// Position in the service's sequence, starting at 1, without gaps.
    public let version: Int
    /// A short description (`create users`).
    public let name: String
    /// Statements run on SQLite, and on PostgreSQL unless `postgresStatements` is given.
    public let statements: [String]
    /// PostgreSQL-only statements, where the dialects differ (row-level security, types).
    public let postgresStatements: [String]?

    /// A migration; statements run in order in one transaction.
    public init(_ version: Int, _ name: String, _ statements: [String], postgres: [String]? = nil) {
        self.version = version
        self.name = name
        self.statements = statements
        self.postgresStatements = postgres
    }

    /// A migration whose PostgreSQL form is the common statements followed by `postgresAfter`.
    public init(_ version: Int, _ name: String, _ statements: [String], postgresAfter: [String]) {
        self.init(version, name, statements, postgres: statements + postgresAfter)
    }

    /// SQLite statements that copy each table into a new one of the same columns kept WITHOUT ROWID (one B-tree in
    /// the key's order instead of a rowid table beside the key's index) and put it in the old one's place. For tables
    /// of small rows written by key; PostgreSQL has no such distinction.
    public static func withoutRowid(_ tables: [(name: String, columns: String, names: String)]) -> [String] {
        tables.flatMap { table in
            [
                "CREATE TABLE \(table.name)_keyed (\(table.columns)) WITHOUT ROWID",
                "INSERT INTO \(table.name)_keyed (\(table.names)) SELECT \(table.names) FROM \(table.name)",
                "DROP TABLE \(table.name)",
                "ALTER TABLE \(table.name)_keyed RENAME TO \(table.name)",
            ]
        }
    }

    /// Row-level security on a tenant-owned table: when a connection names its tenant (`app.tenant_id`, set by
    /// `Database.tenantTransaction`), it sees only that tenant's rows, even as the table's owner.
    public static func rowLevelSecurity(table: String) -> [String] {
        [
            "ALTER TABLE \(table) ENABLE ROW LEVEL SECURITY",
            "ALTER TABLE \(table) FORCE ROW LEVEL SECURITY",
            """
            CREATE POLICY \(table)_tenant ON \(table) USING (
                coalesce(current_setting('app.tenant_id', true), '') = '' OR tenant_id = current_setting('app.tenant_id', true))
            """,
        ]
    }

    /// The statements for `kind`.
    public func statements(for kind: DatabaseKind) -> [String] {
        kind == .postgres ? (self.postgresStatements ?? self.statements) : self.statements
    }

    /// SHA-256 over the name and every statement of both dialects.
    public var checksum: String {
        var hasher = SHA256()
        hasher.update(data: Data(self.name.utf8))
        for statement in self.statements + (self.postgresStatements ?? []) {
            hasher.update(data: Data([0]))
            hasher.update(data: Data(statement.utf8))
        }
        return Digest.hex(hasher.finalize())
    }
}

/// Applies a service's migrations and reports which are pending.
public struct Migrator: Sendable {
    private struct AppliedRow: Decodable {
        let version: Int
        let checksum: String
    }

    let database: any Database
    /// The sequence these migrations belong to (`platform`, or the service name).
    let track: String
    let migrations: [Migration]
    let clock: any FinFlowClock

    /// A migrator of the `track` sequence `migrations` (validated: numbered 1…n in order).
    public init(database: any Database, track: String, migrations: [Migration], clock: any FinFlowClock) {
        for (index, migration) in migrations.enumerated() {
            precondition(migration.version == index + 1, "migrations must be numbered 1…n without gaps")
        }
        self.database = database
        self.track = track
        self.migrations = migrations
        self.clock = clock
    }

    /// The migrations not yet applied; throws when an applied one was edited or is unknown to this build.
    public func pending() async throws -> [Migration] {
        try await self.ensureTable()
        let applied = try await self.database.read { db in
            try await db.raw("SELECT version, checksum FROM schema_migrations WHERE track = \(bind: self.track) ORDER BY version")
                .all(decoding: AppliedRow.self)
        }
        for row in applied {
            guard let known = self.migrations.first(where: { $0.version == row.version }) else {
                throw AppError(
                    .conflict, code: "unknown-migration",
                    "the database has \(self.track) migration \(row.version), which this build does not know: it is newer than the code")
            }
            guard known.checksum == row.checksum else {
                throw AppError(
                    .conflict, code: "migration-edited",
                    "\(self.track) migration \(row.version) '\(known.name)' was changed after it was applied; add a new migration instead")
            }
        }
        let appliedVersions = Set(applied.map(\.version))
        return self.migrations.filter { !appliedVersions.contains($0.version) }
    }

    /// Applies every pending migration, each in its own transaction; returns how many ran.
    @discardableResult
    public func migrate() async throws -> Int {
        let pending = try await self.pending()
        let kind = self.database.kind
        for migration in pending {
            let appliedAt = self.clock.nowMillis()
            try await self.database.transaction { db in
                for statement in migration.statements(for: kind) {
                    try await db.raw("\(unsafeRaw: statement)").run()
                }
                try await db.raw("""
                    INSERT INTO schema_migrations (track, version, name, checksum, applied_at_ms)
                    VALUES (\(bind: self.track), \(bind: migration.version), \(bind: migration.name), \(bind: migration.checksum), \(bind: appliedAt))
                    """).run()
            }
        }
        return pending.count
    }

    private func ensureTable() async throws {
        let schema = (self.database as? PostgresDatabase)?.schema
        try await self.database.read { db in
            if let schema {
                try await db.raw("CREATE SCHEMA IF NOT EXISTS \(ident: schema)").run()
            }
            try await db.raw("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    track TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, checksum TEXT NOT NULL,
                    applied_at_ms BIGINT NOT NULL, PRIMARY KEY (track, version))
                """).run()
        }
    }
}
