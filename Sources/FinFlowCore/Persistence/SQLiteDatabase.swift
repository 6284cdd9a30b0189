import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO

/// A service database in one SQLite file (WAL mode). SQLite admits one writer at a time, so every use of the
/// connection is serialised; transactions start with `BEGIN IMMEDIATE` so they never fail half way for a lock.
public final class SQLiteDatabase: Database {
    public let kind = DatabaseKind.sqlite
    private let connection: SQLiteConnection
    private let lock = AsyncLock()
    private let logger: Logger

    private init(connection: SQLiteConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    /// Opens (creating if needed) the database file at `path`, or an in-memory database when `path` is nil.
    public static func open(path: String?, logger: Logger) async throws -> SQLiteDatabase {
        if let path {
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
        }
        let storage: SQLiteConnection.Storage = path.map { .file(path: $0) } ?? .memory
        let connection = try await SQLiteConnection.open(storage: storage, logger: logger)
        let database = SQLiteDatabase(connection: connection, logger: logger)
        let sql = connection.sql()
        if path != nil { try await sql.raw("PRAGMA journal_mode = WAL").run() }
        try await sql.raw("PRAGMA synchronous = FULL").run()
        try await sql.raw("PRAGMA foreign_keys = ON").run()
        try await sql.raw("PRAGMA busy_timeout = 5000").run()
        return database
    }

    public func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await self.lock.withLock { try await body(self.connection.sql()) }
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await self.lock.withLock {
            let sql = self.connection.sql()
            try await sql.raw("BEGIN IMMEDIATE").run()
            do {
                let result = try await body(sql)
                try await sql.raw("COMMIT").run()
                return result
            } catch {
                do { try await sql.raw("ROLLBACK").run() } catch {
                    self.logger.error("rollback failed", metadata: ["error": "\(error)"])
                }
                throw error
            }
        }
    }

    public func shutdown() async throws {
        try await self.connection.close()
    }
}
