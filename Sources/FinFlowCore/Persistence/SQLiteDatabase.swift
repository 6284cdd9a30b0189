import CFinFlowSystem
import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization

/// A service database in one SQLite file (WAL mode). SQLite admits one writer at a time: transactions run on the
/// writer connection, one at a time, on a thread of its own, and start with `BEGIN IMMEDIATE` so they never fail half
/// way for a lock. Reads run on a small pool of reader connections, which WAL lets proceed beside the writer.
///
/// Checkpoints (copying the log back into the database file) are taken off the commit path. SQLite's own runs inside
/// the commit that crosses 1,000 log pages and syncs the database file there: every few dozen commits one of them,
/// and every request queued behind it, waited 10 ms or more. Here a connection of its own copies the log in the
/// background each `checkpointFrames` pages (`PASSIVE`: beside the writer, never blocking it), and the writer then
/// copies the few pages committed meanwhile after its next commit, so the log starts again from its beginning.
///
/// The background copy does not sync the database file in one go either: megabytes of scattered pages flushed at once
/// queue every commit's sync of the log behind them (commits stalled 15–30 ms each time). The copy is written back a
/// megabyte of the file at a time, then synced. Until that sync, a read transaction held on one more connection keeps
/// SQLite from starting the log again, so a page is never only in a log about to be overwritten and in an unsynced file.
public final class SQLiteDatabase: Database {
    public let kind = DatabaseKind.sqlite
    private let writer: SQLiteWriter
    private let writerThread: DedicatedThread
    private let lock = AsyncLock()
    private let readers: [(connection: SQLiteConnection, lock: AsyncLock)]
    private let nextReader = Mutex(0)
    private let logger: Logger
    public let statementBook: StatementBook?
    /// The database file; nil for an in-memory database.
    public let path: String?
    private let waits: RuntimeMetrics.DatabaseWaits
    private let checkpointer: Checkpointer?
    private let checkpoint = Mutex(CheckpointState())
    private let shutDown = Mutex(false)
    /// Log pages committed between background checkpoints (of 4 KiB: a 16 MiB log).
    public static let checkpointFramesDefault = 4_096
    private let checkpointFrames: Int
    /// Reader connections of a file database by default (an in-memory one has only its writer).
    public static let readerCount = 4
    /// The writer connection's page cache.
    static let writerCacheKiB = 65_536

    private struct CheckpointState {
        /// The log's length when the last background checkpoint started.
        var startFrames = 0
        var copying: Task<Void, Never>?
        /// A background checkpoint finished: the writer copies what was committed meanwhile.
        var catchUp = false
        /// A background checkpoint failed to write or sync the database file: the log is kept whole (it still holds
        /// every commit) and no further checkpoint is tried until the process restarts.
        var halted = false
    }

    /// What copies the log in the background: its connection (which does not sync: `pin` guards instead), the
    /// connection whose read transaction keeps the log from starting again meanwhile, the database file, to write
    /// the copy back piecewise and sync it, and a thread of its own for that: waiting for the disk on the blocking
    /// pool that SQLiteNIO's connections share would hold up every read meanwhile.
    private struct Checkpointer {
        let connection: SQLiteConnection
        let pin: SQLiteConnection
        let file: Int32
        let thread: DedicatedThread
    }

    /// How much of the database file is written back at a time after a background copy.
    static let writeBackChunk: Int64 = 1 << 20

    private init(
        writer: SQLiteWriter, writerThread: DedicatedThread, readers: [SQLiteConnection], checkpointer: Checkpointer?,
        checkpointFrames: Int, logger: Logger, statementBook: StatementBook?, path: String?
    ) {
        self.statementBook = statementBook
        self.path = path
        self.waits = RuntimeMetrics.DatabaseWaits(
            service: statementBook?.service ?? path.map { (($0 as NSString).lastPathComponent as NSString).deletingPathExtension } ?? "memory")
        self.checkpointFrames = checkpointFrames
        self.writer = writer
        self.writerThread = writerThread
        self.readers = readers.map { ($0, AsyncLock()) }
        self.checkpointer = checkpointer
        self.logger = logger
    }

    /// Opens (creating if needed) the database file at `path`, or an in-memory database when `path` is nil. Every
    /// statement is recorded in `statementBook`, if given.
    public static func open(
        path: String?, logger: Logger, checkpointFrames: Int = checkpointFramesDefault, statementBook: StatementBook? = nil,
        readerConnections: Int = readerCount
    ) async throws -> SQLiteDatabase {
        precondition(readerConnections > 0, "a file database needs a reader connection")
        precondition(checkpointFrames > 0, "a checkpoint needs a positive number of log pages")
        if let path {
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
        }
        let writer = try SQLiteWriter(path: path)
        if path != nil { try writer.execute("PRAGMA journal_mode = WAL", []) }
        // The writer keeps up to 64 MiB of pages (SQLite's default is 2 MiB): a large batch then updates its indexes
        // in memory instead of spilling and re-reading pages before the commit. Memory is taken only as pages are used.
        try writer.execute("PRAGMA cache_size = -\(Self.writerCacheKiB)", [])
        for pragma in Self.connectionPragmas { try writer.execute(pragma, []) }
        // A savepoint's undo pages (each group commit keeps one per tenant) stay in memory instead of a temporary file.
        try writer.execute("PRAGMA temp_store = MEMORY", [])
        var readers: [SQLiteConnection] = []
        var checkpointer: Checkpointer?
        if let path {
            // A start that fails part way closes what it opened, so the failure is the error it throws and not a
            // connection dropped open (which SQLiteNIO traps on in a debug build).
            var opened: [SQLiteConnection] = []
            func connect() async throws -> SQLiteConnection {
                let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
                opened.append(connection)
                for pragma in Self.connectionPragmas { try await connection.sql().raw("\(unsafeRaw: pragma)").run() }
                return connection
            }
            do {
                writer.observeLog()
                for _ in 0..<readerConnections { readers.append(try await connect()) }
                let copier = try await connect()
                // Its copies are synced by `copyLog`, a piece at a time, while `pin` holds the log.
                try await copier.sql().raw("PRAGMA synchronous = OFF").run()
                let pin = try await connect()
                let file = Foundation.open(path, O_RDONLY | O_CLOEXEC)
                guard file >= 0 else { throw IOError(errnoCode: errno, reason: "open \(path)") }
                checkpointer = Checkpointer(connection: copier, pin: pin, file: file, thread: DedicatedThread())
            } catch {
                for connection in opened { try? await connection.close() }
                writer.close()
                throw error
            }
        }
        return SQLiteDatabase(
            writer: writer, writerThread: DedicatedThread(), readers: readers, checkpointer: checkpointer,
            checkpointFrames: checkpointFrames, logger: logger, statementBook: statementBook, path: path)
    }

    /// Every connection's settings: a commit is on disk when it returns, foreign keys hold, and a connection waits up
    /// to 5 s for another's lock.
    private static let connectionPragmas = ["PRAGMA synchronous = FULL", "PRAGMA foreign_keys = ON", "PRAGMA busy_timeout = 5000"]

    public func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        guard !self.readers.isEmpty else {
            return try await self.onWriter(body)
        }
        let index = self.nextReader.withLock { next in
            defer { next = (next + 1) % self.readers.count }
            return next
        }
        let reader = self.readers[index]
        return try await reader.lock.withLock {
            try await body(ConnectionDatabase(base: reader.connection.sql(), driver: .sqliteReader, book: self.statementBook))
        }
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await self.onWriter { sql in
            try await sql.raw("BEGIN IMMEDIATE").run()
            do {
                let result = try await body(sql)
                try await sql.raw("COMMIT").run()
                self.checkpointIfDue()
                return result
            } catch {
                do { try await sql.raw("ROLLBACK").run() } catch {
                    self.logger.error("rollback failed", metadata: ["error": "\(error)"])
                }
                throw error
            }
        }
    }

    public func write<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await self.onWriter { sql in
            let result = try await body(sql)
            self.checkpointIfDue()
            return result
        }
    }

    public var preferredExecutor: (any TaskExecutor)? { self.writerThread }

    /// How often the writer has had to compile one of its kept statements again (see `SQLiteWriter.recompilations`).
    public func statementRecompilations() async throws -> Int {
        try await self.onWriter { _ in self.writer.recompilations }
    }

    /// Runs `body` with the writer, alone, on the writer's thread.
    private func onWriter<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        let asked = DispatchTime.now().uptimeNanoseconds
        return try await withTaskExecutorPreference(self.writerThread) {
            try await self.lock.withLock {
                self.waits.writer.recordNanoseconds(RuntimeMetrics.since(asked))
                let base = SQLiteWriterDatabase(writer: self.writer, logger: self.logger, eventLoop: self.writerThread.eventLoop)
                return try await body(ConnectionDatabase(base: base, driver: .sqliteWriter(self.writer), book: self.statementBook))
            }
        }
    }

    /// After a commit, on the writer: starts a background checkpoint each `checkpointFrames` log pages, and once one
    /// has finished, copies the pages committed meanwhile (a few, so its sync of the database file is short), after
    /// which the next transaction starts the log again from its beginning.
    private func checkpointIfDue() {
        guard let checkpointer = self.checkpointer else { return }
        let frames = self.writer.logFrames
        enum Step { case none, start, catchUp }
        let step = self.checkpoint.withLock { state -> Step in
            if state.halted { return .none }
            if frames < state.startFrames { state.startFrames = 0 }  // the log started again
            if state.catchUp {
                state.catchUp = false
                return .catchUp
            }
            guard state.copying == nil, frames - state.startFrames >= self.checkpointFrames else { return .none }
            state.startFrames = frames
            return .start
        }
        switch step {
        case .none: return
        case .catchUp:
            do { try self.writer.execute("PRAGMA wal_checkpoint(PASSIVE)", []) } catch {
                self.logger.warning("checkpoint failed", metadata: ["error": "\(error)"])
            }
        case .start:
            let logger = self.logger
            let checkpointTimer = self.waits.checkpoint
            // Detached: not on the writer's thread, which the transaction preferred.
            let copying = Task.detached {
                do {
                    let started = DispatchTime.now().uptimeNanoseconds
                    // Twice: the second pass copies what was committed during the first, so the writer's share is small.
                    for _ in 0..<2 { try await Self.copyLog(checkpointer) }
                    checkpointTimer.recordNanoseconds(RuntimeMetrics.since(started))
                } catch {
                    logger.critical(
                        "checkpoint failed: the log keeps every commit, no further checkpoint until restart",
                        metadata: ["error": "\(error)"])
                    self.checkpoint.withLock { state in
                        state.copying = nil
                        state.halted = true
                    }
                    return
                }
                self.checkpoint.withLock { state in
                    state.copying = nil
                    state.catchUp = true
                }
            }
            self.checkpoint.withLock { state in
                if !state.catchUp { state.copying = copying }
            }
        }
    }

    /// One background pass: copies the log up to the snapshot `pin` holds, writes the copy back a chunk of the file
    /// at a time (so a commit's sync of the log never waits behind more than a chunk), syncs the file, and only then
    /// lets go of the log. On an error `pin` keeps holding it: the log, synced at every commit, stays the record.
    private static func copyLog(_ checkpointer: Checkpointer) async throws {
        let pin = checkpointer.pin.sql()
        try await pin.raw("BEGIN").run()
        try await pin.raw("SELECT 1 FROM sqlite_schema LIMIT 1").run()  // the read transaction starts here
        try await checkpointer.connection.sql().raw("PRAGMA wal_checkpoint(PASSIVE)").run()
        let file = checkpointer.file
        try await withTaskExecutorPreference(checkpointer.thread) {
            let size = Int64(lseek(file, 0, SEEK_END))
            guard size >= 0 else { throw IOError(errnoCode: errno, reason: "lseek") }
            var offset: Int64 = 0
            while offset < size {
                guard finflow_write_back_range(file, offset, Self.writeBackChunk) == 0 else {
                    throw IOError(errnoCode: errno, reason: "sync_file_range")
                }
                offset += Self.writeBackChunk
            }
            #if canImport(Glibc)
            guard fdatasync(file) == 0 else { throw IOError(errnoCode: errno, reason: "fdatasync") }
            #else
            guard fsync(file) == 0 else { throw IOError(errnoCode: errno, reason: "fsync") }
            #endif
        }
        try await pin.raw("COMMIT").run()
    }

    public func shutdown() async throws {
        // Once only: a second call would close the database file's descriptor again, and by then that number may
        // belong to another connection or an event loop of this process.
        guard self.shutDown.withLock({ done in defer { done = true }; return !done }) else { return }
        if let copying = self.checkpoint.withLock({ $0.copying }) { await copying.value }
        if let checkpointer = self.checkpointer {
            try await checkpointer.connection.close()
            try await checkpointer.pin.close()
            close(checkpointer.file)
            try await checkpointer.thread.shutdown()
        }
        for reader in self.readers { try await reader.connection.close() }
        try await self.lock.withLock { self.writer.close() }
        try await self.writerThread.shutdown()
    }
}
