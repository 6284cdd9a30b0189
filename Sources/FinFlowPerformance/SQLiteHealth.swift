import FinFlowCore
import Foundation
import SQLKit

/// The health of one service's SQLite file: its pages, the free ones, its write-ahead log, and what to do about them.
enum SQLiteHealth {
    struct Figures: Sendable {
        let pageSize: Int
        let pages: Int64
        let freePages: Int64
        let logBytes: Int64
        let tables: Int
        var sizeBytes: Int64 { Int64(self.pageSize) * self.pages }
    }

    /// Free pages worth a `VACUUM`: this many, and this share of the file.
    static let freePagesMin: Int64 = 1_024
    static let freeShareMin = 0.2
    /// A log this large means checkpoints are held back or halted: the background checkpoint keeps it near 16 MiB.
    static let logBytesMax: Int64 = 64 << 20

    static func figures(_ database: SQLiteDatabase) async throws -> Figures {
        let (pageSize, pages, free, tables) = try await database.read { db in
            let pageSize = try await db.raw("SELECT page_size FROM pragma_page_size()").first()?.decode(column: "page_size", as: Int.self) ?? 0
            let pages = try await db.raw("SELECT page_count FROM pragma_page_count()").first()?.decode(column: "page_count", as: Int64.self) ?? 0
            let free = try await db.raw("SELECT freelist_count FROM pragma_freelist_count()").first()?.decode(column: "freelist_count", as: Int64.self) ?? 0
            let tables = try await db.raw("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").first()?.decode(column: "n", as: Int.self) ?? 0
            return (pageSize, pages, free, tables)
        }
        var logBytes: Int64 = 0
        if let path = database.path, let size = try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? NSNumber {
            logBytes = size.int64Value
        }
        return Figures(pageSize: pageSize, pages: pages, freePages: free, logBytes: logBytes, tables: tables)
    }

    /// Advice on the file: free pages to give back, a log grown past its usual size, statistics not refreshed.
    static func advice(service: String, database: SQLiteDatabase, lastOptimizedMillis: Int64?, nowMillis: Int64) async throws -> [Advice] {
        let figures = try await Self.figures(database)
        var items: [Advice] = []
        if figures.freePages >= Self.freePagesMin, Double(figures.freePages) >= Self.freeShareMin * Double(max(1, figures.pages)) {
            items.append(Advice(
                kind: .freePages, service: service, table: nil, severity: .info,
                title: "\(figures.freePages) of \(figures.pages) pages of \(service)'s file are free",
                statement: "VACUUM",
                evidence: [
                    "free pages: \(figures.freePages) of \(figures.pages) (\(figures.pageSize)-byte pages)",
                    "VACUUM rewrites the file without them; it holds the write lock while it runs, so run it when the service is quiet",
                ]))
        }
        if figures.logBytes >= Self.logBytesMax {
            items.append(Advice(
                kind: .largeLog, service: service, table: nil, severity: .warning,
                title: "\(service)'s write-ahead log has grown to \(figures.logBytes >> 20) MiB",
                statement: "PRAGMA wal_checkpoint(TRUNCATE)",
                evidence: [
                    "log: \(figures.logBytes) bytes; the background checkpoint keeps it near 16 MiB",
                    "a long-running read holds checkpoints back, or a failed checkpoint stopped them (the log says which)",
                ]))
        }
        if lastOptimizedMillis.map({ nowMillis - $0 >= PerformanceDesk.optimizeIntervalSeconds * 1_000 }) ?? true {
            items.append(Advice(
                kind: .optimizeDue, service: service, table: nil, severity: .info,
                title: "\(service)'s planner statistics were not refreshed in the last day",
                statement: "PRAGMA optimize",
                evidence: [
                    lastOptimizedMillis.map { "last optimised at \(Date(timeIntervalSince1970: Double($0) / 1000))" } ?? "never optimised by this service",
                    "the performance service runs it once a day; POST /v1/performance/databases/\(service)/optimize runs it now",
                ]))
        }
        return items
    }

    /// Refreshes the planner's statistics where they are stale (`PRAGMA optimize`, on the writer).
    static func optimize(_ database: SQLiteDatabase) async throws {
        try await database.write { db in try await db.raw("PRAGMA optimize").run() }
    }
}
