import FinFlowCore
import Foundation
import SQLKit

/// How a database runs one recorded statement, worked out without running it: SQLite's `EXPLAIN QUERY PLAN`, or
/// PostgreSQL's generic plan (`EXPLAIN` of the statement prepared under `plan_cache_mode = force_generic_plan`, the plan
/// for any value of its parameters).
struct StatementPlan: Sendable {
    /// The plan as the database words it, a step a line.
    let lines: [String]
    /// Tables read whole, without an index, each with the condition it was read for (PostgreSQL's filter; SQLite
    /// names none).
    let scans: [Scan]
    /// Whether any step reads through an index.
    let usesIndex: Bool

    struct Scan: Sendable, Equatable {
        let table: String
        let filter: String?
        /// The columns an index serves when the table is read through one by only some of the columns its condition
        /// compares (`SEARCH t USING INDEX i (tenant_id=?)` for `tenant_id = ? AND account_id = ?`); empty for a read
        /// of the whole table.
        var served: [String] = []
    }

    /// Index reads that serve only part of a statement's condition, reported beside the whole-table reads.
    let partialScans: [Scan]

    /// Whether a statement of this text can be explained: a query or a change, not a transaction's bracket, a setting
    /// or a schema change.
    static func isExplainable(_ sql: String) -> Bool {
        let head = sql.drop { $0.isWhitespace || $0 == "(" }.prefix(7).uppercased()
        return ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH"].contains { head.hasPrefix($0) }
    }

    /// The plan of `sql` (as recorded, its parameters unbound) in `database`.
    static func explain(_ sql: String, in database: any Database) async throws -> StatementPlan {
        guard Self.isExplainable(sql) else {
            throw AppError(.rejected, code: "not-explainable", "only queries and changes have a plan; this statement is neither")
        }
        return try await StatementBook.$unrecorded.withValue(true) {
            switch database.kind {
            case .sqlite: return try await Self.explainSQLite(sql, in: database)
            case .postgres: return try await Self.explainPostgres(sql, in: database)
            }
        }
    }

    private static func explainSQLite(_ sql: String, in database: any Database) async throws -> StatementPlan {
        let (tables, details) = try await database.read { db in
            // First a read on the same connection: `EXPLAIN` runs nothing, so it would plan against the schema the
            // connection last loaded and miss an index made since; a read checks the schema's version and reloads it.
            let tables = Set(try await db.raw("SELECT name FROM sqlite_schema WHERE type = 'table'").all()
                .map { try $0.decode(column: "name", as: String.self) })
            let details = try await db.raw("EXPLAIN QUERY PLAN \(unsafeRaw: sql)").all().map { try $0.decode(column: "detail", as: String.self) }
            return (tables, details)
        }
        var scans: [Scan] = []
        var partial: [Scan] = []
        // SQLite names a table read under an alias by the alias (`SCAN l` for `FROM journal_lines l`).
        let aliases = Self.sqliteAliases(in: sql, tables: tables)
        for detail in details {
            let words = detail.split(separator: " ").map(String.init)
            guard words.count >= 2, let table = tables.contains(words[1]) ? words[1] : aliases[words[1]] else { continue }
            // `SCAN t` reads t whole; `SCAN t USING INDEX i` and `SEARCH t USING …` do not.
            if words[0] == "SCAN", !detail.contains(" USING ") {
                scans.append(Scan(table: table, filter: nil))
            } else if words[0] == "SEARCH", let match = detail.firstMatch(of: /USING (?:COVERING )?INDEX \S+ \(([^)]*)\)$/) {
                let served = match.1.split(separator: " AND ").compactMap { $0.firstMatch(of: /^([A-Za-z_][A-Za-z0-9_]*)/).map { String($0.1).lowercased() } }
                partial.append(Scan(table: table, filter: nil, served: served))
            }
        }
        return StatementPlan(lines: details, scans: scans, usesIndex: details.contains { $0.contains(" INDEX ") }, partialScans: partial)
    }

    /// The tables of `tables` that `sql` reads under an alias (`FROM journal_lines l`, `JOIN accounts AS a`), by alias.
    static func sqliteAliases(in sql: String, tables: Set<String>) -> [String: String] {
        let keywords: Set<String> = [
            "WHERE", "JOIN", "ON", "USING", "LEFT", "RIGHT", "FULL", "INNER", "OUTER", "CROSS", "NATURAL", "GROUP", "ORDER",
            "LIMIT", "UNION", "EXCEPT", "INTERSECT", "HAVING", "WINDOW", "SET", "VALUES", "RETURNING", "INDEXED", "NOT",
        ]
        var aliases: [String: String] = [:]
        for match in sql.matches(of: /\b(?:FROM|JOIN)\s+"?([A-Za-z_][A-Za-z0-9_]*)"?\s+(?:AS\s+)?"?([A-Za-z_][A-Za-z0-9_]*)"?/.ignoresCase()) {
            let (table, alias) = (String(match.1), String(match.2))
            guard tables.contains(table), !tables.contains(alias), !keywords.contains(alias.uppercased()) else { continue }
            aliases[alias] = table
        }
        return aliases
    }

    private static func explainPostgres(_ sql: String, in database: any Database) async throws -> StatementPlan {
        let parameters = Self.postgresParameterCount(sql)
        let name = "finflow_explain_\(UInt32.random(in: 0...UInt32.max))"
        let arguments = parameters == 0 ? "" : "(" + Array(repeating: "NULL", count: parameters).joined(separator: ", ") + ")"
        let json: String = try await database.read { db in
            // Outside a transaction, so a statement that fails leaves nothing to roll back; the setting and the prepared
            // statement are undone on this pooled connection whatever happens.
            try await db.raw("PREPARE \(unsafeRaw: name) AS \(unsafeRaw: sql)").run()
            do {
                try await db.raw("SET plan_cache_mode = force_generic_plan").run()
                let row = try await db.raw("EXPLAIN (FORMAT JSON) EXECUTE \(unsafeRaw: name)\(unsafeRaw: arguments)").first()
                try await db.raw("RESET plan_cache_mode").run()
                try await db.raw("DEALLOCATE \(unsafeRaw: name)").run()
                return try row?.decode(column: "QUERY PLAN", as: String.self) ?? "[]"
            } catch {
                try? await db.raw("RESET plan_cache_mode").run()
                try? await db.raw("DEALLOCATE \(unsafeRaw: name)").run()
                throw error
            }
        }
        guard let document = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]],
            let root = document.first?["Plan"] as? [String: Any]
        else { throw InvariantViolation("PostgreSQL's plan is not the JSON EXPLAIN documents") }
        var lines: [String] = []
        var scans: [Scan] = []
        var partial: [Scan] = []
        var usesIndex = false
        func walk(_ node: [String: Any], depth: Int) {
            let type = node["Node Type"] as? String ?? "?"
            let relation = node["Relation Name"] as? String
            let index = node["Index Name"] as? String
            var line = String(repeating: "  ", count: depth) + type
            if let relation { line += " on \(relation)" }
            if let index { line += " using \(index)"; usesIndex = true }
            if let cost = node["Total Cost"] as? Double, let rows = node["Plan Rows"] as? Double {
                line += String(format: "  (cost=%.2f rows=%.0f)", cost, rows)
            }
            lines.append(line)
            for key in ["Index Cond", "Recheck Cond", "Filter", "Join Filter", "Hash Cond"] {
                if let condition = node[key] as? String { lines.append(String(repeating: "  ", count: depth + 1) + "\(key): \(condition)") }
            }
            if type == "Seq Scan", let relation { scans.append(Scan(table: relation, filter: node["Filter"] as? String)) }
            if type.hasPrefix("Index") || type.hasPrefix("Bitmap Heap"), let relation, let filter = node["Filter"] as? String {
                let served = ((node["Index Cond"] ?? node["Recheck Cond"]) as? String).map { condition in
                    condition.matches(of: /\(?([A-Za-z_][A-Za-z0-9_]*) (?:=|<|>|<=|>=)/).map { String($0.1).lowercased() }
                } ?? []
                partial.append(Scan(table: relation, filter: filter, served: served))
            }
            for child in (node["Plans"] as? [[String: Any]]) ?? [] { walk(child, depth: depth + 1) }
        }
        walk(root, depth: 0)
        return StatementPlan(lines: lines, scans: scans, usesIndex: usesIndex, partialScans: partial)
    }

    /// The highest `$n` in `sql`: how many parameters its prepared form takes.
    static func postgresParameterCount(_ sql: String) -> Int {
        sql.matches(of: /\$([0-9]{1,5})/).compactMap { Int($0.1) }.max() ?? 0
    }
}
