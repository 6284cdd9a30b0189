import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization
// SQLiteNIO's own build of SQLite (a module of that package, not one of its products): the writer must use the same
// copy of the library as the reader connections, or SQLite's POSIX locks on the file would not see each other.
import VaporCSQLite

/// A SQLite connection driven through SQLite's C API on the thread that calls it, keeping its prepared statements.
/// SQLiteNIO runs each statement on a thread pool and returns through an event loop: a transaction of ten
/// statements then costs thirty thread hand-offs and ten compilations of its SQL, which was most of the work of a
/// single posting. The writer of a `SQLiteDatabase` is one of these, used by one transaction at a time on a thread of
/// its own (`DedicatedThread`), so a transaction's statements run back to back and only its commit waits for the disk.
///
/// Not thread-safe: the caller serialises every use (the database's write lock).
final class SQLiteWriter: @unchecked Sendable {
    private var handle: OpaquePointer?
    private var statements: [String: CachedStatement] = [:]
    private var uses: UInt64 = 0
    /// Frames in the write-ahead log after the last commit (`observeLog`).
    private(set) var logFrames = 0
    /// How often SQLite had to compile a kept statement again before running it (a plan that depended on a bound
    /// value, or a schema change): each time costs as much as preparing it anew.
    private(set) var recompilations = 0

    /// Prepared statements kept, least recently used evicted first; SQL longer than `cachedSQLMax` (bulk inserts,
    /// whose text changes with their row count) is compiled for each use.
    static let cachedStatementsMax = 64
    static let cachedSQLMax = 4_096

    private final class CachedStatement {
        let handle: OpaquePointer
        let columns: SQLiteWriterColumns
        var lastUse: UInt64 = 0

        init(handle: OpaquePointer, columns: SQLiteWriterColumns) {
            self.handle = handle
            self.columns = columns
        }
    }

    /// Opens (creating) the file at `path`, or a private in-memory database when `path` is nil.
    init(path: String?) throws {
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let status = sqlite_nio_sqlite3_open_v2(path ?? ":memory:", &handle, flags, nil)
        guard status == SQLITE_OK, let handle else {
            let message = handle.flatMap { sqlite_nio_sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "cannot open"
            sqlite_nio_sqlite3_close(handle)
            throw SQLiteWriterError(code: status, message: message, sql: nil)
        }
        sqlite_nio_sqlite3_extended_result_codes(handle, 1)
        self.handle = handle
    }

    deinit { self.close() }

    /// Counts the write-ahead log's frames after each commit in `logFrames`, and so (as SQLite allows one such
    /// callback) turns off its automatic checkpoint: the owner checkpoints instead.
    func observeLog() {
        sqlite_nio_sqlite3_wal_hook(self.handle, { context, _, _, frames in
            Unmanaged<SQLiteWriter>.fromOpaque(context!).takeUnretainedValue().logFrames = Int(frames)
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Finalizes every statement and closes the connection; later calls fail.
    func close() {
        for statement in self.statements.values { sqlite_nio_sqlite3_finalize(statement.handle) }
        self.statements = [:]
        if let handle = self.handle { sqlite_nio_sqlite3_close_v2(handle) }
        self.handle = nil
    }

    /// Runs `sql` with `binds` (in order, for `?` and `?NNN` alike) and hands each result row to `onRow`.
    func execute(_ sql: String, _ binds: [SQLiteData], onRow: ((SQLiteWriterRow) throws -> Void)? = nil) throws {
        guard let connection = self.handle else { throw SQLiteWriterError(code: SQLITE_MISUSE, message: "the connection is closed", sql: sql) }
        let cached = sql.utf8.count <= Self.cachedSQLMax
        let statement: OpaquePointer
        let columns: SQLiteWriterColumns
        if cached, let known = self.statements[sql] {
            statement = known.handle
            columns = known.columns
            self.uses += 1
            known.lastUse = self.uses
        } else {
            var prepared: OpaquePointer?
            let status = sqlite_nio_sqlite3_prepare_v3(
                connection, sql, -1, cached ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0, &prepared, nil)
            guard status == SQLITE_OK, let prepared else { throw self.error(status, sql: sql) }
            statement = prepared
            columns = SQLiteWriterColumns(statement: prepared)
            if cached { self.keep(prepared, columns: columns, sql: sql) }
        }
        // A kept statement is only reset: every execution binds every parameter anew (checked below). Clearing the
        // bindings would expire any statement whose plan looked at a bound value, and every step would then
        // compile the statement again.
        defer {
            if cached { sqlite_nio_sqlite3_reset(statement) } else { sqlite_nio_sqlite3_finalize(statement) }
        }
        let parameters = Int(sqlite_nio_sqlite3_bind_parameter_count(statement))
        guard binds.count == parameters else {
            throw SQLiteWriterError(code: SQLITE_RANGE, message: "\(binds.count) values for \(parameters) parameters", sql: sql)
        }
        for (index, bind) in binds.enumerated() {
            let position = Int32(index + 1)
            let status: Int32
            switch bind {
            case .integer(let value): status = sqlite_nio_sqlite3_bind_int64(statement, position, Int64(value))
            case .float(let value): status = sqlite_nio_sqlite3_bind_double(statement, position, value)
            case .null: status = sqlite_nio_sqlite3_bind_null(statement, position)
            case .text(let value):
                var value = value
                status = value.withUTF8 { bytes in
                    // An empty string has no buffer; a null pointer would bind NULL.
                    guard let base = bytes.baseAddress else {
                        return sqlite_nio_sqlite3_bind_text64(statement, position, "", 0, Self.transient, UInt8(SQLITE_UTF8))
                    }
                    return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                        sqlite_nio_sqlite3_bind_text64(statement, position, $0, UInt64(bytes.count), Self.transient, UInt8(SQLITE_UTF8))
                    }
                }
            case .blob(let value):
                status = value.withUnsafeReadableBytes { bytes in
                    guard let base = bytes.baseAddress else { return sqlite_nio_sqlite3_bind_zeroblob(statement, position, 0) }
                    return sqlite_nio_sqlite3_bind_blob64(statement, position, base, UInt64(bytes.count), Self.transient)
                }
            }
            guard status == SQLITE_OK else { throw self.error(status, sql: sql) }
        }
        while true {
            let status = sqlite_nio_sqlite3_step(statement)
            if status == SQLITE_DONE {
                if cached { self.recompilations += Int(sqlite_nio_sqlite3_stmt_status(statement, SQLITE_STMTSTATUS_REPREPARE, 1)) }
                return
            }
            guard status == SQLITE_ROW else { throw self.error(status, sql: sql) }
            guard let onRow else { continue }
            var values: [SQLiteData] = []
            values.reserveCapacity(columns.names.count)
            for column in 0..<Int32(columns.names.count) { values.append(Self.value(statement, column)) }
            try onRow(SQLiteWriterRow(columns: columns, values: values))
        }
    }

    private func keep(_ statement: OpaquePointer, columns: SQLiteWriterColumns, sql: String) {
        if self.statements.count >= Self.cachedStatementsMax,
            let oldest = self.statements.min(by: { $0.value.lastUse < $1.value.lastUse })
        {
            sqlite_nio_sqlite3_finalize(oldest.value.handle)
            self.statements[oldest.key] = nil
        }
        let entry = CachedStatement(handle: statement, columns: columns)
        self.uses += 1
        entry.lastUse = self.uses
        self.statements[sql] = entry
    }

    private static func value(_ statement: OpaquePointer, _ column: Int32) -> SQLiteData {
        switch sqlite_nio_sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER: return .integer(SQLiteInt64(sqlite_nio_sqlite3_column_int64(statement, column)))
        case SQLITE_FLOAT: return .float(sqlite_nio_sqlite3_column_double(statement, column))
        case SQLITE_TEXT:
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            guard let text = sqlite_nio_sqlite3_column_text(statement, column) else { return .text("") }
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            if let bytes = sqlite_nio_sqlite3_column_blob(statement, column) {
                buffer.writeBytes(UnsafeRawBufferPointer(start: bytes, count: count))
            }
            return .blob(buffer)
        default: return .null
        }
    }

    private func error(_ status: Int32, sql: String) -> SQLiteWriterError {
        let message = self.handle.flatMap { sqlite_nio_sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "error \(status)"
        return SQLiteWriterError(code: status, message: message, sql: sql)
    }

    /// SQLite copies a bound value before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}

/// A statement's result column names, found once per prepared statement.
final class SQLiteWriterColumns: Sendable {
    let names: [String]
    let index: [String: Int]

    init(statement: OpaquePointer) {
        let names = (0..<sqlite_nio_sqlite3_column_count(statement)).map { column in
            sqlite_nio_sqlite3_column_name(statement, column).map { String(cString: $0) } ?? ""
        }
        self.names = names
        var index: [String: Int] = [:]
        for (position, name) in names.enumerated() where index[name] == nil { index[name] = position }
        self.index = index
    }
}

/// One result row of a `SQLiteWriter` statement, decoded as SQLiteKit decodes SQLiteNIO's.
struct SQLiteWriterRow: SQLRow {
    let columns: SQLiteWriterColumns
    let values: [SQLiteData]
    private static let decoder = SQLiteDataDecoder()

    var allColumns: [String] { self.columns.names }
    func contains(column: String) -> Bool { self.columns.index[column] != nil }

    func decodeNil(column: String) throws -> Bool {
        guard let position = self.columns.index[column] else { return true }
        return self.values[position] == .null
    }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let position = self.columns.index[column] else {
            throw DecodingError.keyNotFound(
                SQLiteWriterColumnKey(stringValue: column), .init(codingPath: [], debugDescription: "no column \(column) in the result"))
        }
        return try Self.decoder.decode(D.self, from: self.values[position])
    }
}

private struct SQLiteWriterColumnKey: CodingKey {
    let stringValue: String
    init(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

/// A failure SQLite reported, with its (extended) result code and the statement.
public struct SQLiteWriterError: Error, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public let sql: String?

    public var description: String { "SQLite error \(self.code): \(self.message)" }
}

/// `SQLDatabase` over a `SQLiteWriter`: SQLKit's queries serialised with SQLite's dialect, run at once on the calling
/// thread (its async `execute` never suspends).
struct SQLiteWriterDatabase: SQLDatabase {
    let writer: SQLiteWriter
    let logger: Logger
    let eventLoop: any EventLoop
    var dialect: any SQLDialect { SQLiteDialect() }
    private static let encoder = SQLiteDataEncoder()

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        do {
            try self.run(query, onRow)
            return self.eventLoop.makeSucceededVoidFuture()
        } catch {
            return self.eventLoop.makeFailedFuture(error)
        }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        try self.run(query, onRow)
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }

    private func run(_ query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) throws {
        let (sql, binds) = self.serialize(query)
        if let level = self.queryLogLevel, self.logger.logLevel <= level {
            self.logger.log(level: level, "Executing query", metadata: ["sql": .string(sql)])
        }
        try self.writer.execute(sql, try binds.map { try Self.encoder.encode($0) }) { onRow($0) }
    }
}
