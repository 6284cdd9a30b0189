import Logging
import NIOCore
import PostgresNIO
import SQLKit
import SQLiteNIO

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

/// The `SQLDatabase` a `Database` hands to its reads and transactions: SQLKit's for the connection, plus the
/// driver's connection, which `insertRows` binds many rows through directly.
struct ConnectionDatabase: SQLDatabase {
    enum Driver: Sendable {
        case sqlite(SQLiteConnection)
        case postgres(PostgresConnection)
    }

    let base: any SQLDatabase
    let driver: Driver

    var logger: Logger { self.base.logger }
    var eventLoop: any EventLoop { self.base.eventLoop }
    var version: (any SQLDatabaseReportedVersion)? { self.base.version }
    var dialect: any SQLDialect { self.base.dialect }
    var queryLogLevel: Logger.Level? { self.base.queryLogLevel }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        self.base.execute(sql: query, onRow)
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        try await self.base.execute(sql: query, onRow)
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }
}

extension SQLDatabase {
    /// Inserts `rows` (a value per column each) into `table`, in multi-row statements as large as the engine's
    /// parameter limit allows; `suffix` follows each statement's values (`ON CONFLICT …`). Table and column names
    /// are the caller's constants, never input.
    public func insertRows(into table: String, columns: [String], rows: [[SQLCell]], suffix: String = "") async throws {
        guard !rows.isEmpty else { return }
        precondition(!columns.isEmpty && rows.allSatisfy { $0.count == columns.count }, "every row needs a value per column")
        let driver = (self as? ConnectionDatabase)?.driver
        // SQLite allows 32,766 parameters a statement, PostgreSQL 65,535.
        let parameterMax = if case .postgres = driver { 60_000 } else { 30_000 }
        let rowsPerStatement = max(1, min(2_000, parameterMax / columns.count))
        let head = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES "
        for chunk in rows.chunked(rowsPerStatement) {
            var sql = head
            sql.reserveCapacity(head.utf8.count + chunk.count * columns.count * 7 + suffix.utf8.count)
            var parameter = 0
            for (index, _) in chunk.enumerated() {
                sql += index == 0 ? "(" : ", ("
                for column in 0..<columns.count {
                    parameter += 1
                    if column > 0 { sql += ", " }
                    if case .postgres = driver { sql += "$\(parameter)" } else { sql += "?" }
                }
                sql += ")"
            }
            sql += suffix
            switch driver {
            case .sqlite(let connection):
                var binds: [SQLiteData] = []
                binds.reserveCapacity(parameter)
                for row in chunk {
                    for cell in row {
                        switch cell {
                        case .text(let text): binds.append(.text(text))
                        case .integer(let value): binds.append(.integer(Int(value)))
                        case .null: binds.append(.null)
                        }
                    }
                }
                try await connection.query(sql, binds) { _ in }
            case .postgres(let connection):
                var binds = PostgresBindings(capacity: parameter)
                for row in chunk {
                    for cell in row {
                        switch cell {
                        case .text(let text): binds.append(text)
                        case .integer(let value): binds.append(value)
                        case .null: binds.appendNull()
                        }
                    }
                }
                let sequence = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: self.logger)
                for try await _ in sequence {}
            case nil:
                // Another SQLDatabase (a test double, a session): the same statement through SQLKit.
                var query = SQLQueryString(head)
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
}

extension Array {
    /// The array cut into runs of at most `size` elements.
    public func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: self.count, by: size).map { self[$0..<Swift.min($0 + size, self.count)] }
    }
}
