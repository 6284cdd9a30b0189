import FinFlowCore
import Foundation

/// One thing to change in a database, stated as the statement an operator would run and the evidence for it. FinFlow
/// runs none of these by itself.
struct Advice: Sendable, Equatable {
    enum Kind: String, Sendable {
        case missingIndex = "missing-index", unusedIndex = "unused-index", duplicateIndex = "duplicate-index"
        case vacuumOverdue = "vacuum-overdue", analyzeOverdue = "analyze-overdue", bloat, costlyStatement = "costly-statement"
        case enableStatementStatistics = "enable-statement-statistics", freePages = "free-pages", largeLog = "large-log"
        case optimizeDue = "optimize-due"
    }

    enum Severity: String, Sendable, Comparable {
        case info, warning, critical

        private var rank: Int {
            switch self {
            case .info: 0
            case .warning: 1
            case .critical: 2
            }
        }

        static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
    }

    let kind: Kind
    let service: String
    let table: String?
    let severity: Severity
    let title: String
    let statement: String
    let evidence: [String]
}

/// The index a scan asks for: the columns its condition compares, those compared for equality first.
enum IndexSuggestion {
    /// Tables with fewer rows than this are read whole happily: an index would not pay.
    static let scannedRowsMin = 1_000

    /// The columns of `table` (of `columns`) that `condition` compares with a value: equalities, then ranges.
    static func columns(in condition: String, of columns: Set<String>) -> [String] {
        var equal: [String] = []
        var range: [String] = []
        for match in condition.matches(of: /(?:[A-Za-z_][A-Za-z0-9_]*\.)?"?([A-Za-z_][A-Za-z0-9_]*)"?\)?\s*(=|<>|!=|<=|>=|<|>|~~|\bIN\b|\bLIKE\b|\bBETWEEN\b)/.ignoresCase()) {
            let column = String(match.1).lowercased()
            guard columns.contains(column), !equal.contains(column), !range.contains(column) else { continue }
            let op = String(match.2).uppercased()
            if op == "=" || op == "IN" { equal.append(column) } else if op != "<>" && op != "!=" { range.append(column) }
        }
        return equal + range.prefix(1)
    }

    /// The columns of `columns` that `condition` compares for equality, in order.
    static func equalityColumns(in condition: String, of columns: Set<String>) -> [String] {
        var equal: [String] = []
        for match in condition.matches(of: /(?:[A-Za-z_][A-Za-z0-9_]*\.)?"?([A-Za-z_][A-Za-z0-9_]*)"?\)?\s*(=|\bIN\b)\s*[^=]/.ignoresCase()) {
            let column = String(match.1).lowercased()
            if columns.contains(column), !equal.contains(column) { equal.append(column) }
        }
        return equal
    }

    /// `CREATE INDEX …` for `columns` of `table`; on PostgreSQL built without blocking writes.
    static func statement(table: String, schema: String?, columns: [String], kind: DatabaseKind) -> String {
        let name = String((([table] + columns).joined(separator: "_") + "_idx").prefix(63))
        switch kind {
        case .postgres:
            let qualified = schema.map { "\($0).\(table)" } ?? table
            return "CREATE INDEX CONCURRENTLY \(name) ON \(qualified) (\(columns.joined(separator: ", ")))"
        case .sqlite:
            return "CREATE INDEX \(name) ON \(table) (\(columns.joined(separator: ", ")))"
        }
    }

    /// The condition of a recorded statement that concerns `table`, as far as its text shows: its `WHERE` clauses.
    static func condition(of sql: String) -> String {
        guard let range = sql.range(of: " WHERE ", options: .caseInsensitive) else { return "" }
        return String(sql[range.upperBound...])
    }
}
