import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization

/// A service database in one SQLite file (WAL mode). SQLite admits one writer at a time: transactions run on the
/// writer connection, one at a time, and start with `BEGIN IMMEDIATE` so they never fail half way for a lock.
/// Reads run on a small pool of reader connections, which WAL lets proceed beside the writer.
public final class SQLiteDatabase: Database {
    public let kind = DatabaseKind.sqlite
    private let connection: SQLiteConnection
    private let lock = AsyncLock()
    private let readers: [(connection: SQLiteConnection, lock: AsyncLock)]
    private let nextReader = Mutex(0)
    private let logger: Logger
    /// Reader connections of a file database (an in-memory one has only its writer).
    public static let readerCount = 4
    /// The writer connection's page cache.
    static let writerCacheKiB = 65_536

    private init(connection: SQLiteConnection, readers: [SQLiteConnection], logger: Logger) {
        self.connection = connection
        self.readers = readers.map { ($0, AsyncLock()) }
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
        let connection = try await Self.connect(storage: storage, logger: logger)
        if path != nil { try await connection.sql().raw("PRAGMA journal_mode = WAL").run() }
        // The writer keeps up to 64 MiB of pages (SQLite's default is 2 MiB): a large batch then updates its indexes
        // in memory instead of spilling and re-reading pages before the commit. Memory is taken only as pages are used.
        try await connection.sql().raw("PRAGMA cache_size = -\(unsafeRaw: String(Self.writerCacheKiB))").run()
        var readers: [SQLiteConnection] = []
        if path != nil {
            for _ in 0..<Self.readerCount { readers.append(try await Self.connect(storage: storage, logger: logger)) }
        }
        return SQLiteDatabase(connection: connection, readers: readers, logger: logger)
    }

    private static func connect(storage: SQLiteConnection.Storage, logger: Logger) async throws -> SQLiteConnection {
        let connection = try await SQLiteConnection.open(storage: storage, logger: logger)
        let sql = connection.sql()
        try await sql.raw("PRAGMA synchronous = FULL").run()
        try await sql.raw("PRAGMA foreign_keys = ON").run()
        try await sql.raw("PRAGMA busy_timeout = 5000").run()
        return connection
    }

    public func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        guard !self.readers.isEmpty else {
            return try await self.lock.withLock { try await body(Self.sql(self.connection)) }
        }
        let index = self.nextReader.withLock { next in
            defer { next = (next + 1) % self.readers.count }
            return next
        }
        let reader = self.readers[index]
        return try await reader.lock.withLock { try await body(Self.sql(reader.connection)) }
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await self.lock.withLock {
            let sql = Self.sql(self.connection)
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

    private static func sql(_ connection: SQLiteConnection) -> any SQLDatabase {
        ConnectionDatabase(base: connection.sql(), driver: .sqlite(connection))
    }

    public func shutdown() async throws {
        for reader in self.readers { try await reader.connection.close() }
        try await self.connection.close()
    }
}
