import Foundation
import Logging
import Metrics
import PostgresKit
import PostgresNIO
import SQLKit
import Synchronization

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
    public let statementBook: StatementBook?
    private let waits: RuntimeMetrics.DatabaseWaits

    /// Connects to `url` (`postgres://user:password@host:port/database`) with tables in `schema`.
    /// The pool runs in a task of its own until `shutdown`. Every statement is recorded in `statementBook`, if given.
    public init(url: String, schema: String, poolSizeMax: Int, logger: Logger, statementBook: StatementBook? = nil) throws {
        guard schema.allSatisfy({ $0.isLetter || $0 == "_" }) else {
            throw AppError.invalid(code: "invalid-schema", "schema name '\(schema)' must be letters and underscores")
        }
        var configuration = try PostgresDatabase.configuration(url: url)
        configuration.options.minimumConnections = 0
        // No keep-alive queries: PostgresNIO 1.33's pool can miss the end of a keep-alive that overlaps its shutdown
        // and then never finishes `run()`, so the process would hang on stop. Idle connections close after the
        // idle timeout instead, and a connection the server dropped fails its next statement with a clear error.
        configuration.options.keepAliveBehavior = nil
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
        self.statementBook = statementBook
        self.waits = RuntimeMetrics.DatabaseWaits(service: statementBook?.service ?? schema)
        // Started at once, so both pools run before the first statement asks them for a connection (a lease before
        // `run()` works, but the driver warns of it at every start).
        self.runTask = Task.immediate {
            await withDiscardingTaskGroup { group in
                group.addImmediateTask { await client.run() }
                group.addImmediateTask { await writeClient.run() }
            }
        }
    }

    /// Opens one connection to `url` and closes it, so that a setting the server refuses (the role, the password, the
    /// database) is reported at once in the server's own words; the pools would retry for about a minute and then
    /// report only that their circuit breaker tripped. Anything else (a server not answering yet, starting up, out of
    /// connection slots for now) is left to the pools, which wait for it as before.
    public static func probe(url: String, logger: Logger) async throws {
        let address = try Self.address(url: url)
        var configuration = PostgresConnection.Configuration(
            host: address.host, port: address.port, username: address.user, password: address.password, database: address.database,
            tls: address.requireTLS ? .require(try NIOSSLContext(configuration: .makeClientConfiguration())) : .disable)
        configuration.options.connectTimeout = .seconds(10)
        do {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
            try await connection.close()
        } catch let error as PSQLError {
            guard let message = error.serverInfo?[.message], let state = error.serverInfo?[.sqlState], Self.refusals.contains(state) else { return }
            throw AppError(
                .unavailable, code: "database-refused",
                "PostgreSQL at \(address.host):\(address.port) as role \"\(address.user)\" refused the connection: \(message)")
        }
    }

    /// The SQLSTATEs of a connection the server will refuse however often it is asked.
    static let refusals: Set<String> = ["28000", "28P01", "3D000"]

    /// What a `postgres://` URL names; TLS is required when `sslmode=require`.
    struct Address {
        let host: String
        let port: Int
        let user: String
        let password: String?
        let database: String?
        let requireTLS: Bool
    }

    static func address(url: String) throws -> Address {
        guard let components = URLComponents(string: url), let scheme = components.scheme,
            ["postgres", "postgresql"].contains(scheme), let host = components.host, !host.isEmpty,
            let user = components.user
        else {
            throw AppError.invalid(code: "invalid-database-url", "expected postgres://user:password@host:port/database")
        }
        let database = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        return Address(
            host: host, port: components.port ?? 5432, user: user, password: components.password, database: database.isEmpty ? nil : database,
            requireTLS: components.queryItems?.first { $0.name == "sslmode" }?.value == "require")
    }

    /// Parses a `postgres://` URL into a client configuration.
    static func configuration(url: String) throws -> PostgresClient.Configuration {
        let address = try Self.address(url: url)
        return PostgresClient.Configuration(
            host: address.host, port: address.port, username: address.user, password: address.password, database: address.database,
            tls: address.requireTLS ? .require(.makeClientConfiguration()) : .disable)
    }

    public func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let asked = DispatchTime.now().uptimeNanoseconds
        return try await self.client.withConnection { connection in
            self.waits.connection.recordNanoseconds(RuntimeMetrics.since(asked))
            return try await body(ConnectionDatabase(base: connection.sql(), driver: .postgres(connection), book: self.statementBook))
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
        let asked = DispatchTime.now().uptimeNanoseconds
        return try await client.withConnection { connection in
            self.waits.connection.recordNanoseconds(RuntimeMetrics.since(asked))
            let sql = ConnectionDatabase(base: connection.sql(), driver: .postgres(connection), book: self.statementBook)
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

    /// How long `shutdown` waits for the pools to close their connections before it goes on without them.
    static let poolStopSeconds = 10

    /// Closes both pools and stops the write thread. Bounded: a stop that could hang on the driver would keep the
    /// process from exiting, so after `poolStopSeconds` the pools are left behind (their connections are closed by
    /// then) and the rest of the shutdown goes on.
    public func shutdown() async throws {
        self.runTask.cancel()
        let stopped = await Self.finishes(self.runTask, within: .seconds(Self.poolStopSeconds))
        if !stopped {
            self.logger.warning(
                "the connection pools did not stop in time; going on without them",
                metadata: ["schema": "\(self.schema)", "seconds": "\(Self.poolStopSeconds)"])
        }
        try await self.writeThread.shutdown()
    }

    /// Whether `task` ends within `limit`. Waiting on a task's value cannot be cancelled, so the wait and the timer
    /// run unstructured and the first to end answers.
    private static func finishes(_ task: Task<Void, Never>, within limit: Duration) async -> Bool {
        final class Answered: Sendable { let done = Mutex(false) }
        let answered = Answered()
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let answer: @Sendable (Bool) -> Void = { value in
                let first = answered.done.withLock { done in
                    defer { done = true }
                    return !done
                }
                if first { continuation.resume(returning: value) }
            }
            let timer = Task {
                try? await Task.sleep(for: limit)
                answer(false)
            }
            Task {
                await task.value
                timer.cancel()
                answer(true)
            }
        }
    }
}
