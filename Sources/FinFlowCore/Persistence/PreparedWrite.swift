import Logging
import PostgresKit
import PostgresNIO
import SQLKit
import Synchronization

/// A `writeTogether` whose statement has one fixed text, prepared once per PostgreSQL connection, so a write that
/// runs hundreds of times a second is parsed and planned once instead of every time (for a posting's five parts the
/// parsing and planning cost as much as the writing). Every part and every column is always sent: a part without rows
/// sends empty arrays, a column without values an array of NULLs, typed as the shape declares.
public protocol PreparedWriteShape: Sendable {
    /// The statement's name on the connection; unique among shapes.
    static var name: String { get }
    /// The parts, in order; each part's columns with their types.
    static var parts: [PreparedWritePart] { get }
}

/// One part of a `PreparedWriteShape`: a data-modifying statement over rows that PostgreSQL reads from arrays.
public struct PreparedWritePart: Sendable {
    public let columns: [String]
    /// Whether each column is `int8` (else `text`).
    public let integer: [Bool]
    /// The statement, given what to select for each column (`u.cN`) and the rows' source (`unnest(…) AS u(…)`).
    public let statement: @Sendable (_ selected: [String], _ source: String) -> String

    public init(columns: [(String, integer: Bool)], statement: @escaping @Sendable (_ selected: [String], _ source: String) -> String) {
        self.columns = columns.map(\.0)
        self.integer = columns.map(\.integer)
        self.statement = statement
    }

    /// `INSERT INTO table (columns) SELECT … FROM u`, then `suffix` (`ON CONFLICT …`).
    public static func insert(into table: String, columns: [(String, integer: Bool)], suffix: String = "") -> PreparedWritePart {
        let names = columns.map(\.0)
        return PreparedWritePart(columns: columns) { selected, source in
            RowWrite.insertStatement(into: table, columns: names, selected: selected, source: source) + suffix
        }
    }
}

extension SQLDatabase {
    /// Writes `rows` (one list of rows per part of `Shape`, each row a value per column) with `Shape`'s prepared
    /// statement; returns how many rows each part wrote. On PostgreSQL only (`writesTogether`), within the row bound of
    /// one statement (more rows go through `writeTogether`).
    public func writePrepared<Shape: PreparedWriteShape>(_ shape: Shape.Type, rows: [[[SQLCell]]]) async throws -> [Int] {
        guard let measured = self as? ConnectionDatabase, case .postgres(let connection) = measured.driver else {
            preconditionFailure("writePrepared needs a PostgreSQL connection")
        }
        let parts = Shape.parts
        precondition(rows.count == parts.count, "rows for every part")
        var bindings = PostgresBindings(capacity: parts.reduce(0) { $0 + $1.columns.count })
        for (part, partRows) in zip(parts, rows) {
            for column in part.columns.indices {
                bindings.append(PostgresColumnArray(cells: partRows.map { $0[column] }, isInteger: part.integer[column]))
            }
        }
        let statement = PreparedWriteStatement<Shape>(bindings: bindings)
        return try await measured.measured(PreparedWriteStatement<Shape>.sql) {
            var written: [Int] = []
            for try await row in try await connection.execute(statement, logger: self.logger) { written = row }
            return written
        }
    }

    /// Whether `rows` fit one prepared write.
    public func fitsPreparedWrite(_ rows: [[[SQLCell]]]) -> Bool {
        rows.reduce(0) { $0 + $1.count } <= BulkInsertLimits.postgresRowsMax
    }
}

/// The driver's prepared statement for a shape: its text made once per shape.
struct PreparedWriteStatement<Shape: PreparedWriteShape>: PostgresPreparedStatement {
    typealias Row = [Int]
    let bindings: PostgresBindings

    static var name: String { "finflow_" + Shape.name }
    static var sql: String { PreparedWriteTexts.text(of: Shape.self) }

    func makeBindings() throws -> PostgresBindings { self.bindings }

    func decodeRow(_ row: PostgresRow) throws -> [Int] {
        try row.map { Int(try $0.decode(Int64.self)) }
    }
}

/// The statement text of each shape, built on first use.
enum PreparedWriteTexts {
    private static let texts = Mutex<[String: String]>([:])

    static func text<Shape: PreparedWriteShape>(of shape: Shape.Type) -> String {
        if let text = Self.texts.withLock({ $0[Shape.name] }) { return text }
        var queries: [String] = []
        var counts: [String] = []
        var parameter = 0
        for (index, part) in Shape.parts.enumerated() {
            var arrays: [String] = []
            for integer in part.integer {
                parameter += 1
                arrays.append("$\(parameter)::\(integer ? "int8" : "text")[]")
            }
            let names = part.columns.indices.map { "c\($0)" }
            let source = "unnest(\(arrays.joined(separator: ", "))) AS u(\(names.joined(separator: ", ")))"
            queries.append("w\(index) AS (\(part.statement(names.map { "u.\($0)" }, source)) RETURNING 1)")
            counts.append("(SELECT count(*) FROM w\(index))")
        }
        let text = "WITH " + queries.joined(separator: ", ") + " SELECT " + counts.joined(separator: ", ")
        Self.texts.withLock { $0[Shape.name] = text }
        return text
    }
}

/// A query of one fixed text that runs often enough on PostgreSQL to be worth preparing once per connection instead of
/// being parsed and planned on every run. Lists are bound as arrays (`= ANY($n)`), so the text never depends on them.
public protocol PreparedQueryShape: Sendable {
    /// The statement's name on the connection; unique among shapes.
    static var name: String { get }
    static var sql: String { get }
}

/// A value bound to a prepared query.
public enum PreparedBind: Sendable {
    case text(String)
    /// A `text[]`.
    case texts([String])
}

extension SQLDatabase {
    /// Runs `Shape`'s prepared statement with `binds`; its rows, for SQLKit's decoding. On PostgreSQL only.
    public func queryPrepared<Shape: PreparedQueryShape>(_ shape: Shape.Type, binds: [PreparedBind]) async throws -> [any SQLRow] {
        guard let measured = self as? ConnectionDatabase, case .postgres(let connection) = measured.driver else {
            preconditionFailure("queryPrepared needs a PostgreSQL connection")
        }
        var bindings = PostgresBindings(capacity: binds.count)
        for bind in binds {
            switch bind {
            case .text(let text): bindings.append(text)
            case .texts(let texts): bindings.append(PostgresColumnArray(cells: texts.map { .text($0) }, isInteger: false))
            }
        }
        return try await measured.measured(Shape.sql, rows: { $0.count }) {
            var rows: [any SQLRow] = []
            for try await row in try await connection.execute(PreparedQueryStatement<Shape>(bindings: bindings), logger: self.logger) {
                rows.append(row.sql())
            }
            return rows
        }
    }

    /// Names the tenant for the rest of the transaction, on PostgreSQL: row-level security then hides every other
    /// tenant's rows. Prepared on the driver's connections, since every tenant transaction starts with it.
    public func nameTenant(_ tenantId: String) async throws {
        guard self.writesTogether else {
            return try await self.raw("SELECT set_config('app.tenant_id', \(bind: tenantId), true)").run()
        }
        _ = try await self.queryPrepared(NameTenant.self, binds: [.text(tenantId)])
    }
}

/// `nameTenant`'s statement.
enum NameTenant: PreparedQueryShape {
    static let name = "name_tenant"
    static let sql = "SELECT set_config('app.tenant_id', $1, true)"
}

/// Names the tenant ($1) and takes an advisory lock ($2, hashed) shared, in one statement.
enum NameTenantLocking: PreparedQueryShape {
    static let name = "name_tenant_locking"
    static let sql = "SELECT set_config('app.tenant_id', $1, true), pg_advisory_xact_lock_shared(hashtext($2))"
}

/// The driver's prepared statement for a query shape.
struct PreparedQueryStatement<Shape: PreparedQueryShape>: PostgresPreparedStatement {
    typealias Row = PostgresRow
    let bindings: PostgresBindings

    static var name: String { "finflow_" + Shape.name }
    static var sql: String { Shape.sql }

    func makeBindings() throws -> PostgresBindings { self.bindings }
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}
