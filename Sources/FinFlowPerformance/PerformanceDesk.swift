import FinFlowCore
import Foundation
import Logging
import SQLKit
import Synchronization

/// The performance service's use cases: the statements of this process's services and their plans, the advice on
/// their databases, the incidents and the samples kept as time series. Reports on the process it runs in (every
/// service when embedded); on PostgreSQL its advice covers every service's schema of the database.
final class PerformanceDesk: Sendable {
    let env: ServiceEnvironment
    var database: any Database { self.env.database }
    var process: ProcessDatabases { self.env.process }
    /// The figures of each book when the sampler last looked, to sample what happened in between.
    let lastSampled = Mutex<[String: ServiceTotals]>([:])

    /// Most statements listed at once.
    static let statementsPageMax = 500
    /// Most incidents listed at once.
    static let incidentsPageMax = 200
    /// How long samples and incidents are kept.
    static let sampleRetentionDays = 14
    static let incidentRetentionDays = 90
    /// A SQLite database is optimised (`PRAGMA optimize`) once this long after the last time.
    static let optimizeIntervalSeconds: Int64 = 86_400
    /// How far either side of an incident its signals are read.
    static let signalWindowMillis: Int64 = 5 * 60_000

    init(env: ServiceEnvironment) {
        self.env = env
    }

    /// The principal of a request, if it is an operator's holding `permission`: a member of the operator tenant.
    @discardableResult
    func requireOperator(_ permission: String) throws -> Principal {
        let principal = try RequestScope.require(permission)
        guard let operatorTenant = self.env.settings.operatorTenant else {
            throw AppError.forbidden(
                code: "operator-tenant-unset",
                "the performance service answers the platform's operators only, and no operator tenant is set (FINFLOW_OPERATOR_TENANT)")
        }
        guard principal.tenantId == operatorTenant else {
            throw AppError.forbidden(code: "operators-only", "the performance service answers members of the operator tenant only")
        }
        return principal
    }

    /// The statements of `service` (every service when nil), ordered by `order`, at most `limit`.
    func statements(service: String?, order: StatementOrder, limit: Int) throws -> [StatementSummary] {
        if let service { _ = try self.database(of: service) }
        let books = self.process.statements.all.filter { service == nil || $0.service == service }
        let all = books.flatMap { $0.snapshot() }.filter { $0.figures.calls > 0 }
        return Array(all.sorted { order.key($0) > order.key($1) }.prefix(limit))
    }

    /// Starts every statement's figures from zero, audited.
    func resetStatements(principal: Principal) async throws {
        for book in self.process.statements.all { book.reset() }
        self.lastSampled.withLock { $0 = [:] }
        try await self.audit(principal, action: "performance.statements.reset", target: nil)
    }

    /// One recorded statement, by service and id.
    func statement(service: String, id: String) throws -> (StatementSummary, any Database) {
        let database = try self.database(of: service)
        guard let summary = self.process.statements.book(service).snapshot().first(where: { $0.id == id }),
            summary.fingerprint != StatementBook.otherFingerprint
        else { throw AppError.notFound("statement \(id) of \(service)") }
        return (summary, database)
    }

    /// Records an operator's action in this service's audit log.
    func audit(_ principal: Principal, action: String, target: String?, details: [String: String] = [:]) async throws {
        let audit = self.env.audit
        let kind = self.database.kind
        try await self.database.transaction { db in
            try await audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: action, target: target, details: details),
                on: db, kind: kind)
        }
    }

    /// When `name` of the service's state was last set, and its value.
    func state(_ name: String) async throws -> (value: String, atMillis: Int64)? {
        try await self.database.read { db in
            try await db.raw("SELECT value, updated_at_ms FROM performance_state WHERE name = \(bind: name)").first()
                .map { (try $0.decode(column: "value", as: String.self), try $0.decode(column: "updated_at_ms", as: Int64.self)) }
        }
    }

    func setState(_ name: String, _ value: String) async throws {
        let now = self.env.clock.nowMillis()
        try await self.database.write { db in
            try await db.raw("""
                INSERT INTO performance_state (name, value, updated_at_ms) VALUES (\(bind: name), \(bind: value), \(bind: now))
                ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at_ms = excluded.updated_at_ms
                """).run()
        }
    }
}

/// How statements are ordered, costliest first.
enum StatementOrder: String, Sendable {
    case total, mean, p99, max, calls, errors, rows

    func key(_ summary: StatementSummary) -> Double {
        let figures = summary.figures
        switch self {
        case .total: return Double(figures.totalNanoseconds)
        case .mean: return figures.calls == 0 ? 0 : Double(figures.totalNanoseconds) / Double(figures.calls)
        case .p99: return figures.percentileNanoseconds(0.99) ?? 0
        case .max: return Double(figures.maxNanoseconds)
        case .calls: return Double(figures.calls)
        case .errors: return Double(figures.errors)
        case .rows: return Double(figures.rows)
        }
    }
}

/// A service's statement totals at one moment.
struct ServiceTotals: Sendable, Equatable {
    var calls = 0
    var errors = 0
    var rows = 0
    var nanoseconds: UInt64 = 0
}

/// One service database's size and, on SQLite, its pages and log.
struct DatabaseHealth: Sendable {
    let kind: DatabaseKind
    let sizeBytes: Int64
    let tables: Int
    let sqlite: SQLiteHealth.Figures?
    let lastOptimizedMillis: Int64?
}

extension PerformanceDesk {
    /// The database of `service` in this process.
    func database(of service: String) throws -> any Database {
        guard let database = self.process.all.first(where: { $0.service == service })?.database else {
            throw AppError.notFound("service '\(service)' in this process")
        }
        return database
    }

    /// The health of the database of `service`.
    func health(service: String) async throws -> DatabaseHealth {
        let database = try self.database(of: service)
        let optimized = try await self.state("optimized:\(service)")?.atMillis
        if let sqlite = database as? SQLiteDatabase {
            let figures = try await SQLiteHealth.figures(sqlite)
            return DatabaseHealth(kind: .sqlite, sizeBytes: figures.sizeBytes, tables: figures.tables, sqlite: figures, lastOptimizedMillis: optimized)
        }
        let (size, tables) = try await database.read { db in
            let row = try await db.raw("""
                SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint AS bytes, COUNT(*) FILTER (WHERE c.relkind = 'r') AS tables
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')
                """).first()
            return (try row?.decode(column: "bytes", as: Int64.self) ?? 0, Int(try row?.decode(column: "tables", as: Int64.self) ?? 0))
        }
        return DatabaseHealth(kind: .postgres, sizeBytes: size, tables: tables, sqlite: nil, lastOptimizedMillis: optimized)
    }

    /// Refreshes the planner's statistics of `service`'s database now, audited: SQLite `PRAGMA optimize`, PostgreSQL
    /// `ANALYZE` of each table of the service's schema.
    func optimize(service: String, principal: Principal) async throws {
        let database = try self.database(of: service)
        if let sqlite = database as? SQLiteDatabase {
            try await SQLiteHealth.optimize(sqlite)
        } else {
            try await database.read { db in try await db.raw("ANALYZE").run() }
        }
        try await self.setState("optimized:\(service)", database.kind == .sqlite ? "PRAGMA optimize" : "ANALYZE")
        try await self.audit(principal, action: "performance.database.optimized", target: "service:\(service)")
    }
}
