import FinFlowCore
import Foundation
import SQLKit

/// Advice from PostgreSQL's own statistics over every FinFlow schema of the database: statements that cost the most
/// (`pg_stat_statements`), tables read by sequential scans, unused and duplicate indexes, tables overdue for vacuum or
/// analyze, and dead rows. Reads the catalogue only.
struct PostgresCatalogAdvisor: Sendable {
    let database: any Database

    /// Below these, a table is too small to matter.
    static let scannedRowsMin = 10_000
    static let deadRowsMin = 1_000
    static let unusedIndexBytesMin = 1 << 20
    /// How many of the costliest statements are reported.
    static let costlyStatementsMax = 10
    /// A statement is costly from this much time in all.
    static let costlyMillisMin = 1_000.0
    /// Vacuum and analyze are overdue once the table changed this much since (autovacuum's defaults) and a day passed.
    static let overdueMillis: Int64 = 86_400_000

    /// Schemas that are not a service's.
    static let systemSchemas = "('pg_catalog', 'information_schema', 'pg_toast', 'public')"

    func advice(service: String?) async throws -> [Advice] {
        var items: [Advice] = []
        items += try await self.statementAdvice()
        items += try await self.tableAdvice(service: service)
        items += try await self.indexAdvice(service: service)
        return items
    }

    /// The costliest statements of this database, or the advice to turn their statistics on.
    func statementAdvice() async throws -> [Advice] {
        let installed = try await self.database.read { db in
            try await db.raw("SELECT 1 AS one FROM pg_extension WHERE extname = 'pg_stat_statements'").first() != nil
        }
        let enable = Advice(
            kind: .enableStatementStatistics, service: "database", table: nil, severity: .info,
            title: "PostgreSQL keeps no statistics of its statements",
            statement: "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
            evidence: ["the extension needs shared_preload_libraries = 'pg_stat_statements' in postgresql.conf (deploy/postgres-init.sql and the compose file set it)"])
        guard installed else { return [enable] }
        let rows: [any SQLRow]
        do {
            rows = try await self.database.read { db in
                try await db.raw("""
                    SELECT queryid::text AS id, query, calls, total_exec_time AS total, mean_exec_time AS mean, rows,
                        shared_blks_hit AS hit, shared_blks_read AS read
                    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                        AND total_exec_time >= \(bind: Self.costlyMillisMin)
                    ORDER BY total_exec_time DESC LIMIT \(bind: Self.costlyStatementsMax)
                    """).all()
            }
        } catch {
            // Installed but not loaded at the server's start.
            return [enable]
        }
        return try rows.map { row in
            let query = try row.decode(column: "query", as: String.self)
            let total = try row.decode(column: "total", as: Double.self), mean = try row.decode(column: "mean", as: Double.self)
            let hit = try row.decode(column: "hit", as: Int64.self), read = try row.decode(column: "read", as: Int64.self)
            return Advice(
                kind: .costlyStatement, service: "database", table: nil, severity: total >= 60_000 ? .warning : .info,
                title: String(format: "a statement took %.0f ms in all over %d calls", total, try row.decode(column: "calls", as: Int64.self)),
                statement: "EXPLAIN (ANALYZE, BUFFERS) " + query,
                evidence: [
                    String(query.prefix(500)),
                    String(format: "mean %.2f ms; %d rows; %d pages from the cache, %d read", mean, try row.decode(column: "rows", as: Int64.self), hit, read),
                    "pg_stat_statements query id \(try row.decode(column: "id", as: String.self))",
                ])
        }
    }

    /// Tables read by sequential scans, overdue for vacuum or analyze, or heavy with dead rows.
    func tableAdvice(service: String?) async throws -> [Advice] {
        let rows = try await self.database.read { db in
            try await db.raw("""
                SELECT schemaname AS schema, relname AS name, seq_scan, seq_tup_read, COALESCE(idx_scan, 0) AS idx_scan, n_live_tup,
                    n_dead_tup, n_mod_since_analyze,
                    COALESCE((EXTRACT(EPOCH FROM GREATEST(last_vacuum, last_autovacuum)) * 1000)::bigint, 0) AS vacuumed_ms,
                    COALESCE((EXTRACT(EPOCH FROM GREATEST(last_analyze, last_autoanalyze)) * 1000)::bigint, 0) AS analyzed_ms,
                    pg_table_size(relid) AS bytes, (EXTRACT(EPOCH FROM now()) * 1000)::bigint AS now_ms
                FROM pg_stat_user_tables WHERE schemaname NOT IN \(unsafeRaw: Self.systemSchemas)
                ORDER BY schemaname, relname
                """).all()
        }
        var items: [Advice] = []
        for row in rows {
            let schema = try row.decode(column: "schema", as: String.self), name = try row.decode(column: "name", as: String.self)
            guard service == nil || schema == service else { continue }
            let table = "\(schema).\(name)"
            let seqScans = try row.decode(column: "seq_scan", as: Int64.self), seqRead = try row.decode(column: "seq_tup_read", as: Int64.self)
            let indexScans = try row.decode(column: "idx_scan", as: Int64.self), live = try row.decode(column: "n_live_tup", as: Int64.self)
            let dead = try row.decode(column: "n_dead_tup", as: Int64.self), modified = try row.decode(column: "n_mod_since_analyze", as: Int64.self)
            let vacuumed = try row.decode(column: "vacuumed_ms", as: Int64.self), analyzed = try row.decode(column: "analyzed_ms", as: Int64.self)
            let bytes = try row.decode(column: "bytes", as: Int64.self), now = try row.decode(column: "now_ms", as: Int64.self)
            if live >= Self.scannedRowsMin, seqScans > indexScans, seqScans > 0, seqRead / seqScans >= Int64(Self.scannedRowsMin) {
                items.append(Advice(
                    kind: .missingIndex, service: schema, table: name, severity: .warning,
                    title: "\(table) is mostly read by sequential scans",
                    statement: "SELECT query, calls, mean_exec_time FROM pg_stat_statements WHERE query ILIKE '%\(name)%' ORDER BY total_exec_time DESC LIMIT 20",
                    evidence: [
                        "\(seqScans) sequential scans read \(seqRead) rows; \(indexScans) index scans; about \(live) live rows",
                        "the statement lists the queries that touch the table; the plan of each (GET …/statements/{service}/{id}/plan) names the columns to index",
                    ]))
            }
            if dead >= Int64(Self.deadRowsMin), Double(dead) > 50 + 0.2 * Double(live), now - vacuumed >= Self.overdueMillis {
                items.append(Advice(
                    kind: .vacuumOverdue, service: schema, table: name, severity: .warning,
                    title: "\(table) has \(dead) dead rows and was not vacuumed in the last day",
                    statement: "VACUUM (ANALYZE) \(table)",
                    evidence: ["\(dead) dead and \(live) live rows", vacuumed == 0 ? "never vacuumed" : "last vacuumed \(Self.age(now - vacuumed)) ago"]))
            }
            if modified >= Int64(Self.deadRowsMin), Double(modified) > 50 + 0.1 * Double(live), now - analyzed >= Self.overdueMillis {
                items.append(Advice(
                    kind: .analyzeOverdue, service: schema, table: name, severity: .info,
                    title: "\(table) changed \(modified) rows since its statistics were last gathered",
                    statement: "ANALYZE \(table)",
                    evidence: ["\(modified) rows changed since; \(live) live rows", analyzed == 0 ? "never analysed" : "last analysed \(Self.age(now - analyzed)) ago"]))
            }
            let deadShare = Double(dead) / Double(max(1, dead + live))
            if dead >= Int64(Self.deadRowsMin), deadShare >= 0.3, bytes >= 8 << 20 {
                items.append(Advice(
                    kind: .bloat, service: schema, table: name, severity: deadShare >= 0.6 ? .warning : .info,
                    title: String(format: "about %.0f%% of %@ is dead rows (about %d MiB)", deadShare * 100, table, Int64(Double(bytes) * deadShare) >> 20),
                    statement: "VACUUM (ANALYZE) \(table)",
                    evidence: ["\(dead) dead and \(live) live rows in \(bytes >> 20) MiB", "VACUUM makes the space reusable; only VACUUM FULL (which locks the table) gives it back to the disk"]))
            }
        }
        return items
    }

    /// Indexes never used since the statistics were reset, and indexes another one makes redundant.
    func indexAdvice(service: String?) async throws -> [Advice] {
        let rows = try await self.database.read { db in
            try await db.raw("""
                SELECT s.schemaname AS schema, s.relname AS table_name, s.indexrelname AS name, s.idx_scan, i.indisunique AS is_unique,
                    i.indisprimary AS is_primary, i.indkey::text AS keys, i.indrelid::bigint AS table_id,
                    (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL) AS partial_or_expression,
                    pg_relation_size(s.indexrelid) AS bytes, pg_get_indexdef(s.indexrelid) AS definition
                FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
                WHERE s.schemaname NOT IN \(unsafeRaw: Self.systemSchemas)
                ORDER BY s.schemaname, s.relname, s.indexrelname
                """).all()
        }
        struct Index {
            let schema: String, table: String, name: String, scans: Int64, unique: Bool, primary: Bool, keys: [String], tableId: Int64
            let special: Bool, bytes: Int64, definition: String
        }
        let indexes = try rows.map { row in
            Index(
                schema: try row.decode(column: "schema", as: String.self), table: try row.decode(column: "table_name", as: String.self),
                name: try row.decode(column: "name", as: String.self), scans: try row.decode(column: "idx_scan", as: Int64.self),
                unique: try row.decode(column: "is_unique", as: Bool.self), primary: try row.decode(column: "is_primary", as: Bool.self),
                keys: try row.decode(column: "keys", as: String.self).split(separator: " ").map(String.init),
                tableId: try row.decode(column: "table_id", as: Int64.self),
                special: try row.decode(column: "partial_or_expression", as: Bool.self), bytes: try row.decode(column: "bytes", as: Int64.self),
                definition: try row.decode(column: "definition", as: String.self))
        }.filter { service == nil || $0.schema == service }
        var items: [Advice] = []
        for index in indexes where !index.unique && !index.primary && index.scans == 0 && index.bytes >= Int64(Self.unusedIndexBytesMin) {
            items.append(Advice(
                kind: .unusedIndex, service: index.schema, table: index.table, severity: .info,
                title: "\(index.schema).\(index.name) was never used since the statistics were reset",
                statement: "DROP INDEX CONCURRENTLY \(index.schema).\(index.name)",
                evidence: [index.definition, "0 scans; \(index.bytes >> 10) KiB kept up to date on every write",
                           "statistics are per server: check the replicas too before dropping it"]))
        }
        // An index whose columns lead another's is redundant (unless it is unique, partial or on expressions).
        for index in indexes where !index.unique && !index.primary && !index.special {
            guard let wider = indexes.first(where: { other in
                other.tableId == index.tableId && other.name != index.name && !other.special
                    && other.keys.count >= index.keys.count && Array(other.keys.prefix(index.keys.count)) == index.keys
                    && (other.keys.count > index.keys.count || other.name < index.name || other.unique)
            }) else { continue }
            items.append(Advice(
                kind: .duplicateIndex, service: index.schema, table: index.table, severity: .info,
                title: "\(index.schema).\(index.name) repeats the leading columns of \(wider.name)",
                statement: "DROP INDEX CONCURRENTLY \(index.schema).\(index.name)",
                evidence: [index.definition, wider.definition, "\(index.bytes >> 10) KiB written on every change for nothing \(wider.name) does not do"]))
        }
        return items
    }

    static func age(_ millis: Int64) -> String {
        let hours = millis / 3_600_000
        return hours >= 48 ? "\(hours / 24) days" : "\(hours) hours"
    }
}
