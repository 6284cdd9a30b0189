import FinFlowCore
import Foundation
import SQLKit

extension PerformanceDesk {
    /// Statements a service records explained for advice, costliest first: beyond these the rest cost little.
    static let explainedStatementsMax = 200

    /// Every advice on the databases of `service` (every service of this process when nil; on PostgreSQL, every
    /// service's schema the catalogue shows), most severe first.
    func advice(service: String?) async throws -> [Advice] {
        let databases = self.process.all.filter { service == nil || $0.service == service }
        if let service, databases.isEmpty, self.database.kind == .sqlite {
            throw AppError.notFound("service '\(service)' in this process")
        }
        var items: [Advice] = []
        for (name, database) in databases {
            items += try await self.scanAdvice(service: name, database: database)
            if let sqlite = database as? SQLiteDatabase {
                let optimized = try await self.state("optimized:\(name)")?.atMillis
                items += try await SQLiteHealth.advice(service: name, database: sqlite, lastOptimizedMillis: optimized, nowMillis: self.env.clock.nowMillis())
            }
        }
        if self.database.kind == .postgres {
            items += try await PostgresCatalogAdvisor(database: self.database).advice(service: service)
        }
        var seen = Set<String>()
        let unique = items.filter { seen.insert("\($0.kind.rawValue)|\($0.service)|\($0.statement)").inserted }
        return unique.sorted { ($0.severity, $1.service, $1.title) > ($1.severity, $0.service, $0.title) }
    }

    /// A missing index for each table that a recorded statement of `service` reads whole although it holds enough rows
    /// for an index to pay, naming the columns the statements compare; the evidence is each statement and its figures.
    func scanAdvice(service: String, database: any Database) async throws -> [Advice] {
        let statements = self.process.statements.book(service).snapshot()
            .filter { $0.figures.calls > 0 && $0.fingerprint != StatementBook.otherFingerprint && StatementPlan.isExplainable($0.example) }
            .sorted { $0.figures.totalNanoseconds > $1.figures.totalNanoseconds }
            .prefix(Self.explainedStatementsMax)
        var found: [String: (table: String, columns: [String], schema: String?, rows: Int, evidence: [String], nanoseconds: UInt64)] = [:]
        var facts: [String: TableFacts] = [:]
        for summary in statements {
            // A statement the database cannot plan without its values (or one whose table is gone) has no advice.
            guard let plan = try? await StatementPlan.explain(summary.example, in: database) else { continue }
            for scan in plan.scans + plan.partialScans where scan.table.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                if facts[scan.table] == nil { facts[scan.table] = try await TableFacts.read(scan.table, in: database) }
                guard let table = facts[scan.table], table.rows >= IndexSuggestion.scannedRowsMin else { continue }
                let condition = scan.filter ?? IndexSuggestion.condition(of: summary.fingerprint)
                var columns = IndexSuggestion.columns(in: condition, of: table.columns)
                if scan.served.isEmpty {
                    // An index that leads with the column exists: the planner chose to read the table whole anyway (a
                    // small table, or a condition it cannot use the index for), and another index would not change that.
                    guard let first = columns.first, !table.indexedLeadingColumns.contains(first) else { continue }
                } else {
                    // Read through an index by only some of the compared columns: advice only when a column compared for
                    // equality is left to filter row by row, and then an index of the served columns followed by it.
                    let equal = IndexSuggestion.equalityColumns(in: condition, of: table.columns)
                    let unserved = equal.filter { !scan.served.contains($0) }
                    guard !unserved.isEmpty else { continue }
                    columns = scan.served + unserved
                }
                let key = "\(scan.table)|\(columns.joined(separator: ","))"
                let figures = summary.figures
                let how = scan.served.isEmpty ? "read \(scan.table) whole" : "read \(scan.table) by \(scan.served.joined(separator: ", ")) only"
                let line = "\(figures.calls) calls, \(Self.millis(figures.totalNanoseconds)) ms in all, \(how) "
                    + "(about \(table.rows) rows): \(summary.fingerprint.prefix(300)) [statement \(summary.id)]"
                var entry = found[key] ?? (scan.table, columns, table.schema, table.rows, [], 0)
                entry.evidence.append(line)
                entry.nanoseconds += figures.totalNanoseconds
                found[key] = entry
            }
        }
        return found.values.sorted { $0.nanoseconds > $1.nanoseconds }.map { entry in
            Advice(
                kind: .missingIndex, service: service, table: entry.table,
                severity: entry.nanoseconds >= 10_000_000_000 ? .critical : .warning,
                title: "no index serves \(entry.table)'s rows by \(entry.columns.joined(separator: ", "))",
                statement: IndexSuggestion.statement(table: entry.table, schema: entry.schema, columns: entry.columns, kind: database.kind),
                evidence: entry.evidence)
        }
    }

    static func millis(_ nanoseconds: UInt64) -> String {
        String(format: "%.1f", Double(nanoseconds) / 1_000_000)
    }
}

/// What the advisor needs to know of a table: its schema (PostgreSQL), about how many rows it holds, its columns.
struct TableFacts: Sendable {
    let schema: String?
    let rows: Int
    let columns: Set<String>
    /// The first column of each index of the table.
    let indexedLeadingColumns: Set<String>

    /// Counted up to this many rows on SQLite, which keeps no estimate unless analysed.
    static let countedRowsMax = 100_000

    static func read(_ table: String, in database: any Database) async throws -> TableFacts {
        try await StatementBook.$unrecorded.withValue(true) { try await Self.reading(table, in: database) }
    }

    private static func reading(_ table: String, in database: any Database) async throws -> TableFacts {
        switch database.kind {
        case .sqlite:
            return try await database.read { db in
                let rows = try await db.raw("SELECT count(*) AS n FROM (SELECT 1 FROM \(ident: table) LIMIT \(unsafeRaw: String(Self.countedRowsMax)))")
                    .first()?.decode(column: "n", as: Int.self) ?? 0
                let columns = try await db.raw("SELECT name FROM pragma_table_info(\(bind: table))").all()
                    .map { try $0.decode(column: "name", as: String.self).lowercased() }
                let leading = try await db.raw("""
                    SELECT ii.name AS name FROM pragma_index_list(\(bind: table)) AS l JOIN pragma_index_info(l.name) AS ii WHERE ii.seqno = 0
                    """).all().compactMap { try $0.decode(column: "name", as: String?.self)?.lowercased() }
                return TableFacts(schema: nil, rows: rows, columns: Set(columns), indexedLeadingColumns: Set(leading))
            }
        case .postgres:
            return try await database.read { db in
                let row = try await db.raw("""
                    SELECT current_schema() AS schema,
                        GREATEST(COALESCE(c.reltuples, 0), COALESCE(s.n_live_tup, 0))::bigint AS n
                    FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
                    LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
                    WHERE c.relname = \(bind: table) AND ns.nspname = current_schema()
                    """).first()
                let columns = try await db.raw("""
                    SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = \(bind: table)
                    """).all().map { try $0.decode(column: "column_name", as: String.self).lowercased() }
                let leading = try await db.raw("""
                    SELECT a.attname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
                    JOIN pg_namespace ns ON ns.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
                    WHERE c.relname = \(bind: table) AND ns.nspname = current_schema()
                    """).all().map { try $0.decode(column: "name", as: String.self).lowercased() }
                return TableFacts(
                    schema: try row?.decode(column: "schema", as: String.self), rows: Int(try row?.decode(column: "n", as: Int64.self) ?? 0),
                    columns: Set(columns), indexedLeadingColumns: Set(leading))
            }
        }
    }
}
