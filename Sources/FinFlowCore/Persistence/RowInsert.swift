import Dispatch
import Logging
import NIOCore
import PostgresNIO
import SQLKit
import SQLiteNIO
import Tracing

/// One value of a row written by `insertRows`: typed up front, so thousands of rows bind without Codable's
/// per-value encoding and dynamic casts.
public enum SQLCell: Sendable, Equatable {
    case text(String)
    case integer(Int64)
    case null

    public init(_ text: String?) { self = text.map { .text($0) } ?? .null }
    public init(_ value: Int64?) { self = value.map { .integer($0) } ?? .null }
    public init(_ value: Int) { self = .integer(Int64(value)) }
}

/// The bounds of one `insertRows` statement.
enum BulkInsertLimits {
    /// Rows per PostgreSQL statement: arrays have no parameter limit, this bounds one message's size.
    static let postgresRowsMax = 10_000
    /// Rows and bound parameters per SQLite statement, under its limit of 32,766 parameters.
    static let sqliteRowsMax = 2_000
    static let sqliteParametersMax = 30_000
}

/// The `SQLDatabase` a `Database` hands to its reads and transactions: SQLKit's for the connection, plus the
/// driver's connection, which `insertRows` binds many rows through directly, and the book every statement's time,
/// rows and failure are recorded in.
struct ConnectionDatabase: SQLDatabase {
    enum Driver: Sendable {
        /// SQLite's writer.
        case sqliteWriter(SQLiteWriter)
        case postgres(PostgresConnection)
        /// A SQLite reader connection, which writes nothing in bulk.
        case sqliteReader
    }

    let base: any SQLDatabase
    let driver: Driver
    let book: StatementBook?

    var logger: Logger { self.base.logger }
    var eventLoop: any EventLoop { self.base.eventLoop }
    var version: (any SQLDatabaseReportedVersion)? { self.base.version }
    var dialect: any SQLDialect { self.base.dialect }
    var queryLogLevel: Logger.Level? { self.base.queryLogLevel }

    /// The book to record in, unless the task runs unrecorded work.
    private var recording: StatementBook? { StatementBook.unrecorded ? nil : self.book }

    /// The span a statement run now is a child of: the task's, when tracing is on.
    private var traceParent: ServiceContext? { FinFlowTracing.isEnabled && FinFlowTracing.sampled ? ServiceContext.current : nil }

    /// The database system, as traces name it.
    private var system: String {
        if case .postgres = self.driver { "postgresql" } else { "sqlite" }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        guard let book = self.recording else { return self.base.execute(sql: query, onRow) }
        let (statement, rows) = self.serialize(query)
        let (trace, system) = (self.traceParent, self.system)
        let started = DispatchTime.now().uptimeNanoseconds
        return self.base.execute(sql: statement) { row in
            rows.count += 1
            onRow(row)
        }.always { result in
            let failed = if case .failure = result { true } else { false }
            book.record(
                sql: statement.sql, nanoseconds: DispatchTime.now().uptimeNanoseconds &- started, rows: rows.count, failed: failed,
                system: system, trace: trace)
        }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        guard let book = self.recording else { return try await self.base.execute(sql: query, onRow) }
        let (statement, rows) = self.serialize(query)
        let started = DispatchTime.now().uptimeNanoseconds
        do {
            try await self.base.execute(sql: statement) { row in
                rows.count += 1
                onRow(row)
            }
        } catch {
            book.record(
                sql: statement.sql, nanoseconds: DispatchTime.now().uptimeNanoseconds &- started, rows: rows.count, failed: true,
                system: self.system, trace: self.traceParent)
            throw error
        }
        book.record(
            sql: statement.sql, nanoseconds: DispatchTime.now().uptimeNanoseconds &- started, rows: rows.count, failed: false,
            system: self.system, trace: self.traceParent)
    }

    /// The query serialised once, for the book and the driver alike, and a counter of its rows.
    private func serialize(_ query: any SQLExpression) -> (SerializedStatement, RowCount) {
        var serializer = SQLSerializer(database: self.base)
        query.serialize(to: &serializer)
        return (SerializedStatement(sql: serializer.sql, binds: serializer.binds), RowCount())
    }

    /// Runs `body`, a statement of text `sql` sent through the driver directly, and records it; `rows` counts the rows
    /// of its answer.
    func measured<T>(_ sql: String, rows: (T) -> Int = { _ in 0 }, _ body: () async throws -> T) async throws -> T {
        guard let book = self.recording else { return try await body() }
        let started = DispatchTime.now().uptimeNanoseconds
        do {
            let result = try await body()
            book.record(
                sql: sql, nanoseconds: DispatchTime.now().uptimeNanoseconds &- started, rows: rows(result), failed: false, system: self.system,
                trace: self.traceParent)
            return result
        } catch {
            book.record(
                sql: sql, nanoseconds: DispatchTime.now().uptimeNanoseconds &- started, rows: 0, failed: true, system: self.system,
                trace: self.traceParent)
            throw error
        }
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }
}

/// A statement already serialised, handed on as it is.
struct SerializedStatement: SQLExpression {
    let sql: String
    let binds: [any Encodable & Sendable]

    func serialize(to serializer: inout SQLSerializer) {
        serializer.sql += self.sql
        serializer.binds += self.binds
    }
}

/// The rows of one statement's answer, counted as they arrive. The driver hands rows over one at a time and the count
/// is read after the statement finished, so no two threads touch it at once.
final class RowCount: @unchecked Sendable {
    var count = 0
}

extension SQLDatabase {
    /// Inserts `rows` (a value per column each) into `table`: on SQLite in multi-row statements as large as its
    /// parameter limit allows, on PostgreSQL as one array per column (`INSERT … SELECT FROM unnest(…)`), which
    /// the server plans once whatever the row count. `suffix` follows each statement (`ON CONFLICT …`). Table and
    /// column names are the caller's constants, never input.
    public func insertRows(into table: String, columns: [String], rows: [[SQLCell]], suffix: String = "") async throws {
        guard !rows.isEmpty else { return }
        precondition(!columns.isEmpty && rows.allSatisfy { $0.count == columns.count }, "every row needs a value per column")
        // SQLite allows 32,766 parameters a statement; PostgreSQL's arrays have no such bound.
        let sqliteRows = max(1, min(BulkInsertLimits.sqliteRowsMax, BulkInsertLimits.sqliteParametersMax / columns.count))
        let connection = self as? ConnectionDatabase
        switch connection?.driver {
        case .postgres(let driver):
            for chunk in rows.chunked(BulkInsertLimits.postgresRowsMax) {
                let (sql, binds) = Self.unnestInsert(into: table, columns: columns, rows: chunk, suffix: suffix)
                try await connection?.measured(sql) {
                    let sequence = try await driver.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: self.logger)
                    for try await _ in sequence {}
                }
            }
        case .sqliteWriter(let writer):
            for chunk in rows.chunked(sqliteRows) {
                let (sql, binds) = Self.valuesInsert(into: table, columns: columns, rows: chunk, suffix: suffix)
                try await connection?.measured(sql) { try writer.execute(sql, binds) }
            }
        case nil, .sqliteReader:
            // Another SQLDatabase (a test double, a session): the same statement through SQLKit.
            for chunk in rows.chunked(sqliteRows) {
                var query = SQLQueryString("INSERT INTO " + table + " (" + columns.joined(separator: ", ") + ") VALUES ")
                for (index, row) in chunk.enumerated() {
                    query.appendInterpolation(unsafeRaw: index == 0 ? "(" : ", (")
                    for (column, cell) in row.enumerated() {
                        if column > 0 { query.appendInterpolation(unsafeRaw: ", ") }
                        switch cell {
                        case .text(let text): query.appendInterpolation(bind: text)
                        case .integer(let value): query.appendInterpolation(bind: value)
                        case .null: query.appendInterpolation(unsafeRaw: "NULL")
                        }
                    }
                    query.appendInterpolation(unsafeRaw: ")")
                }
                query.appendInterpolation(unsafeRaw: suffix)
                try await self.raw(query).run()
            }
        }
    }

    /// `INSERT … VALUES (?1, ?2, ?3, NULL), (?, ?2, ?, NULL), …` with SQLite's numbered parameters: a column holding
    /// one value in every row binds it once and names it in each row (most of a ledger row is the same across a
    /// batch), a column NULL in every row is written NULL; the rest bind a value each.
    static func valuesInsert(into table: String, columns: [String], rows: ArraySlice<[SQLCell]>, suffix: String)
        -> (String, [SQLiteData])
    {
        func data(_ cell: SQLCell) -> SQLiteData {
            switch cell {
            case .text(let text): .text(text)
            case .integer(let value): .integer(Int(value))
            case .null: .null
            }
        }
        var binds: [SQLiteData] = []
        // The first row numbers its parameters; a bare `?` then takes the next number, so every later row is the same
        // text, made once.
        var first = "("
        var later = ", ("
        var varying: [Int] = []
        for column in columns.indices {
            if column > 0 {
                first += ", "
                later += ", "
            }
            let value = rows[rows.startIndex][column]
            if !rows.allSatisfy({ $0[column] == value }) {
                varying.append(column)
                binds.append(data(value))
                first += "?\(binds.count)"
                later += "?"
            } else if value == .null {
                first += "NULL"
                later += "NULL"
            } else {
                binds.append(data(value))
                first += "?\(binds.count)"
                later += "?\(binds.count)"
            }
        }
        first += ")"
        later += ")"
        var sql = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES " + first
        sql.reserveCapacity(sql.utf8.count + (rows.count - 1) * later.utf8.count + suffix.utf8.count)
        for row in rows.dropFirst() {
            for column in varying { binds.append(data(row[column])) }
            sql += later
        }
        return (sql + suffix, binds)
    }

    /// `INSERT … SELECT … FROM unnest($1::text[], $2::int8[], …)`: one array parameter per column, typed by its
    /// cells; a column with no value in any row is a plain NULL.
    static func unnestInsert(into table: String, columns: [String], rows: ArraySlice<[SQLCell]>, suffix: String)
        -> (String, PostgresBindings)
    {
        var binds = PostgresBindings(capacity: columns.count)
        let (selected, source) = Self.unnestSource(columns: columns, rows: rows, binds: &binds)
        return (RowWrite.insertStatement(into: table, columns: columns, selected: selected, source: source) + suffix, binds)
    }

    /// `unnest($n::text[], $m::int8[], …) AS u(c0, c1, …)` over `rows`, its arrays appended to `binds`, and what to
    /// select for each column: `u.cN`, or NULL for a column with no value in any row.
    static func unnestSource(columns: [String], rows: ArraySlice<[SQLCell]>, binds: inout PostgresBindings)
        -> (selected: [String], source: String)
    {
        var arrays: [String] = []
        var selected: [String] = []
        for column in columns.indices {
            var values: [SQLCell] = []
            values.reserveCapacity(rows.count)
            var isInteger: Bool?
            for row in rows {
                let cell = row[column]
                switch cell {
                case .text: precondition(isInteger != true, "a column holds one type"); isInteger = false
                case .integer: precondition(isInteger != false, "a column holds one type"); isInteger = true
                case .null: break
                }
                values.append(cell)
            }
            guard let isInteger else {
                selected.append("NULL")
                continue
            }
            binds.append(PostgresColumnArray(cells: values, isInteger: isInteger))
            arrays.append("$\(binds.count)::\(isInteger ? "int8" : "text")[]")
            selected.append("u.c\(column)")
        }
        let names = columns.indices.filter { selected[$0] != "NULL" }.map { "c\($0)" }.joined(separator: ", ")
        let source = arrays.isEmpty ? "generate_series(1, \(rows.count)) AS u" : "unnest(\(arrays.joined(separator: ", "))) AS u(\(names))"
        return (selected, source)
    }

    /// Whether `writeTogether` can send writes as one statement: on a PostgreSQL connection.
    public var writesTogether: Bool {
        if case .postgres = (self as? ConnectionDatabase)?.driver { true } else { false }
    }

    /// Sends `parts` to PostgreSQL as one statement, each a data-modifying `WITH` query, so they cost one round
    /// trip instead of one each; returns how many rows each part wrote (a part with no rows is left out and wrote
    /// none). The parts see the same snapshot: none may read what another writes. More rows than one statement
    /// carries are sent part by part, in chunks. Only where `writesTogether`.
    public func writeTogether(_ parts: [RowWrite]) async throws -> [Int] {
        guard let measured = self as? ConnectionDatabase, case .postgres(let connection) = measured.driver else {
            preconditionFailure("writeTogether needs a PostgreSQL connection")
        }
        guard parts.reduce(0, { $0 + $1.rows.count }) <= BulkInsertLimits.postgresRowsMax else {
            var written: [Int] = []
            for part in parts {
                var count = 0
                for chunk in part.rows.chunked(BulkInsertLimits.postgresRowsMax) {
                    count += try await self.writeTogether([RowWrite(columns: part.columns, rows: Array(chunk), statement: part.statement)])[0]
                }
                written.append(count)
            }
            return written
        }
        var binds = PostgresBindings()
        var queries: [String] = []
        var counts: [String] = []
        for (index, part) in parts.enumerated() {
            guard !part.rows.isEmpty else {
                counts.append("0")
                continue
            }
            let (selected, source) = Self.unnestSource(columns: part.columns, rows: part.rows[...], binds: &binds)
            queries.append("w\(index) AS (\(part.statement(selected, source)) RETURNING 1)")
            counts.append("(SELECT count(*) FROM w\(index))")
        }
        guard !queries.isEmpty else { return parts.map { _ in 0 } }
        let sql = "WITH " + queries.joined(separator: ", ") + " SELECT " + counts.joined(separator: ", ")
        return try await measured.measured(sql) {
            var written: [Int] = []
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: self.logger) {
                for cell in row { written.append(Int(try cell.decode(Int64.self))) }
            }
            return written
        }
    }
}

/// The constraint a PostgreSQL error says a statement broke, if it names one; for SQLite, which names no constraint, the
/// columns of the unique key or primary key a row collided on (`table.column, …`). Callers that catch a race on a key
/// thus see it on both databases.
public func violatedConstraint(_ error: any Error) -> String? {
    if let error = error as? SQLiteWriterError {
        // SQLITE_CONSTRAINT_PRIMARYKEY and SQLITE_CONSTRAINT_UNIQUE (extended codes are on); other constraints are not
        // a collision.
        guard error.code == 1555 || error.code == 2067 else { return nil }
        let prefix = "UNIQUE constraint failed: "
        return error.message.hasPrefix(prefix) ? String(error.message.dropFirst(prefix.count)) : error.message
    }
    return (error as? PSQLError)?.serverInfo?[.constraintName]
}

/// One write of `writeTogether`: a statement over rows that PostgreSQL reads from arrays, one per column.
public struct RowWrite: Sendable {
    let columns: [String]
    let rows: [[SQLCell]]
    /// The statement, given what to select for each column (`u.cN`, or NULL when no row has a value) and the rows'
    /// source (`unnest(…) AS u(…)`) to name in its FROM clause.
    let statement: @Sendable (_ selected: [String], _ source: String) -> String

    /// A statement reading `rows` from the source it is given; `columns` are for the caller's own reference (the
    /// source names column N `u.cN`). Table and column names are the caller's constants, never input.
    public init(columns: [String], rows: [[SQLCell]], statement: @escaping @Sendable (_ selected: [String], _ source: String) -> String) {
        precondition(!columns.isEmpty && rows.allSatisfy { $0.count == columns.count }, "every row needs a value per column")
        self.columns = columns
        self.rows = rows
        self.statement = statement
    }

    /// `INSERT INTO table (columns) SELECT … FROM u`, then `suffix` (`ON CONFLICT …`).
    public static func insert(into table: String, columns: [String], rows: [[SQLCell]], suffix: String = "") -> RowWrite {
        RowWrite(columns: columns, rows: rows) { selected, source in
            Self.insertStatement(into: table, columns: columns, selected: selected, source: source) + suffix
        }
    }

    static func insertStatement(into table: String, columns: [String], selected: [String], source: String) -> String {
        "INSERT INTO \(table) (\(columns.joined(separator: ", "))) SELECT \(selected.joined(separator: ", ")) FROM \(source)"
    }
}

/// A column of `insertRows` as one PostgreSQL array parameter (`text[]` or `int8[]`) in binary form, NULL elements
/// included (the driver's own arrays have none).
struct PostgresColumnArray: PostgresDynamicTypeEncodable, Sendable {
    let cells: [SQLCell]
    let isInteger: Bool
    var psqlType: PostgresDataType { self.isInteger ? .int8Array : .textArray }
    var psqlFormat: PostgresFormat { .binary }

    /// PostgreSQL's binary array: dimensions, null flag, element type, length and lower bound, then each element
    /// as its length (-1 for NULL) and bytes.
    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(Int32(1))
        buffer.writeInteger(Int32(self.cells.contains(.null) ? 1 : 0))
        buffer.writeInteger((self.isInteger ? PostgresDataType.int8 : .text).rawValue)
        buffer.writeInteger(Int32(self.cells.count))
        buffer.writeInteger(Int32(1))
        for cell in self.cells {
            switch cell {
            case .null: buffer.writeInteger(Int32(-1))
            case .integer(let value):
                buffer.writeInteger(Int32(8))
                buffer.writeInteger(value)
            case .text(let text):
                buffer.writeInteger(Int32(text.utf8.count))
                buffer.writeString(text)
            }
        }
    }
}

extension Array {
    /// The array cut into runs of at most `size` elements.
    public func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: self.count, by: size).map { self[$0..<Swift.min($0 + size, self.count)] }
    }
}
