import SQLKit

/// Which SQL engine a database runs on; the one place dialect differences are decided.
public enum DatabaseKind: String, Sendable {
    case sqlite, postgres
}

/// A service's database: SQLite when embedded, PostgreSQL (one schema per service) when distributed.
/// Repositories write their SQL once against SQLKit and run it through these two calls.
public protocol Database: Sendable {
    /// The engine behind this database.
    var kind: DatabaseKind { get }

    /// Runs `body` with a connection for reads and single-statement writes.
    func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T

    /// Runs `body`, whose statements write, each committed on its own: on SQLite on the writer connection, so a write
    /// never waits beside the writer in SQLite's busy timeout; elsewhere as `read`.
    func write<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    /// On SQLite the transaction takes the write lock at its start (`BEGIN IMMEDIATE`).
    func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T

    /// Runs `body`, which only reads, in one transaction on a connection for reads where the database keeps such
    /// connections apart (PostgreSQL); elsewhere it is `transaction`.
    func readTransaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T

    /// Closes every connection.
    func shutdown() async throws

    /// Where writes run best, if anywhere: SQLite's writer thread. Work that does little but write (a group commit)
    /// runs there from the start instead of handing over to it.
    var preferredExecutor: (any TaskExecutor)? { get }

    /// Where every statement's time, rows and failure are recorded, if anywhere.
    var statementBook: StatementBook? { get }
}

extension Database {
    public var preferredExecutor: (any TaskExecutor)? { nil }

    public var statementBook: StatementBook? { nil }

    public func write<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await self.read(body)
    }

    public func readTransaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await self.transaction(body)
    }
}

extension Database {
    /// Checks that the database answers a query; used by `/health/ready`.
    public func ping() async throws {
        try await self.read { db in try await db.raw("SELECT 1 AS one").run() }
    }
}

extension Database {
    /// A transaction limited to one tenant: on PostgreSQL the connection names the tenant (`app.tenant_id`), so
    /// row-level security policies hide every other tenant's rows as a second line of defence.
    public func tenantTransaction<T: Sendable>(
        tenantId: String, _ body: @Sendable @escaping (any SQLDatabase) async throws -> T
    ) async throws -> T {
        try await self.transaction(Self.naming(tenantId: tenantId, kind: self.kind, body))
    }

    /// `body` preceded, on PostgreSQL, by naming the tenant for the rest of the transaction.
    private static func naming<T: Sendable>(
        tenantId: String, kind: DatabaseKind, _ body: @Sendable @escaping (any SQLDatabase) async throws -> T
    ) -> @Sendable (any SQLDatabase) async throws -> T {
        { db in
            if kind == .postgres { try await db.nameTenant(tenantId) }
            return try await body(db)
        }
    }
}

extension Database {
    /// A read limited to one tenant: on PostgreSQL a short transaction naming the tenant on a reading connection, so
    /// row-level security applies; on SQLite a plain read beside the writer.
    public func tenantRead<T: Sendable>(
        tenantId: String, _ body: @Sendable @escaping (any SQLDatabase) async throws -> T
    ) async throws -> T {
        switch self.kind {
        case .sqlite: return try await self.read(body)
        case .postgres: return try await self.readTransaction(Self.naming(tenantId: tenantId, kind: self.kind, body))
        }
    }
}
