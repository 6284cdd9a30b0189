import Foundation
import Logging
import PostgresKit
import PostgresNIO
import SQLKit

/// A service database in its own PostgreSQL schema, over pooled `PostgresClient`s whose connections have the
/// schema as their search path, so the same unqualified SQL serves SQLite and PostgreSQL.
///
/// Transactions have a pool of their own whose connections live on a dedicated thread, which the transactions
/// prefer: a posting's dozen statements then each resume where their reply arrives, instead of crossing from the
/// connection's event loop to Swift's cooperative pool and back every time. Reads use the other pool, on the shared
/// event loops. `poolSizeMax` is shared between the two.
public final class PostgresDatabase: Database {
    public let kind = DatabaseKind.postgres
    /// The schema this service's tables live in.
    public let schema: String
    private let client: PostgresClient
    private let writeClient: PostgresClient
    private let writeThread: DedicatedThread
    private let runTask: Task<Void, Never>
    private let logger: Logger

    /// Connects to `url` (`postgres://user:password@host:port/database`) with tables in `schema`.
    /// The pool runs in a task of its own until `shutdown`.
    public init(url: String, schema: String, poolSizeMax: Int, logger: Logger) throws {
        guard schema.allSatisfy({ $0.isLetter || $0 == "_" }) else {
            throw AppError.invalid(code: "invalid-schema", "schema name '\(schema)' must be letters and underscores")
        }
        var configuration = try PostgresDatabase.configuration(url: url)
        configuration.options.minimumConnections = 0
        configuration.options.additionalStartupParameters = [("search_path", schema)]
        let writeThread = DedicatedThread()
        self.writeThread = writeThread
        let writeConnections = max(1, poolSizeMax / 2)
        configuration.options.maximumConnections = writeConnections
        let writeClient = PostgresClient(configuration: configuration, eventLoopGroup: writeThread.group, backgroundLogger: logger)
        configuration.options.maximumConnections = max(1, poolSizeMax - writeConnections)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.writeClient = writeClient
        self.schema = schema
        self.logger = logger
        self.runTask = Task {
            await withDiscardingTaskGroup { group in
                group.addTask { await client.run() }
                group.addTask { await writeClient.run() }
            }
        }
    }

    /// Parses a `postgres://` URL into a client configuration; TLS is used when `sslmode=require`.
    static func configuration(url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), let scheme = components.scheme,
            ["postgres", "postgresql"].contains(scheme), let host = components.host, !host.isEmpty,
            let user = components.user
        else {
            throw AppError.invalid(code: "invalid-database-url", "expected postgres://user:password@host:port/database")
        }
        let database = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value
        let tls: PostgresClient.Configuration.TLS =
            sslMode == "require" ? .require(.makeClientConfiguration()) : .disable
        return PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user, password: components.password,
            database: database.isEmpty ? nil : database, tls: tls)
    }

    public func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await self.client.withConnection { connection in
            try await body(ConnectionDatabase(base: connection.sql(), driver: .postgres(connection)))
        }
    }

    public var preferredExecutor: (any TaskExecutor)? { self.writeThread }

    public func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withTaskExecutorPreference(self.writeThread) { try await self.inTransaction(on: self.writeClient, body) }
    }

    public func readTransaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await self.inTransaction(on: self.client, body)
    }

    private func inTransaction<T: Sendable>(
        on client: PostgresClient, _ body: @Sendable (any SQLDatabase) async throws -> T
    ) async throws -> T {
        try await client.withConnection { connection in
            let sql = ConnectionDatabase(base: connection.sql(), driver: .postgres(connection))
            try await sql.raw("BEGIN").run()
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
        self.runTask.cancel()
        await self.runTask.value
        try await self.writeThread.shutdown()
    }
}
