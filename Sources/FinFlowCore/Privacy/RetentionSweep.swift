import Foundation
import Logging
import SQLKit
import ServiceLifecycle

/// Deletes a service's personal data once its retention period has passed, as the service's `PersonalDataSource`s
/// declare it, and records what it deleted in each tenant's audit chain (`privacy.retention.deleted`, with the table,
/// the rows and the cut-off), so the compliance service's audit trail shows every sweep.
public struct RetentionSweep: Service {
    /// How often the sweep runs, in seconds.
    public static let intervalSeconds = 3_600

    let serviceName: String
    let sources: [PersonalDataSource]
    let database: any Database
    let clock: any FinFlowClock
    let audit: AuditLog
    let logger: Logger

    /// A sweep of `serviceName`'s sources on `database`.
    public init(serviceName: String, sources: [PersonalDataSource], database: any Database, clock: any FinFlowClock, ids: IdentifierGenerator, logger: Logger) {
        self.serviceName = serviceName
        self.sources = sources.filter { $0.expiry != nil }
        self.database = database
        self.clock = clock
        self.audit = AuditLog(ids: ids, clock: clock)
        self.logger = logger
    }

    /// Whether the service has anything to sweep.
    public var isNeeded: Bool { !self.sources.isEmpty }

    private struct Deleted: Decodable { let tenant_id: String }

    /// Deletes what is due in every source, a transaction per source; returns the rows deleted by table.
    @discardableResult
    public func sweep() async throws -> [String: Int] {
        var deleted: [String: Int] = [:]
        let now = self.clock.nowMillis()
        for source in self.sources {
            guard let retention = source.expiry else { continue }
            let cutoffMillis = now - Int64(retention.days) * 86_400_000
            let cutoff: SQLQueryString = retention.dateColumn.hasSuffix("_ms")
                ? "\(unsafeRaw: retention.dateColumn) < \(bind: cutoffMillis)"
                : "\(unsafeRaw: retention.dateColumn) < \(bind: String(ISO8601DateFormatter().string(from: Date(unixMillis: cutoffMillis)).prefix(10)))"
            let cutoffText = ISO8601DateFormatter().string(from: Date(unixMillis: cutoffMillis))
            let kind = self.database.kind
            let rows = try await self.database.transaction { db in
                for dependent in retention.dependents {
                    try await db.raw("""
                        DELETE FROM \(unsafeRaw: dependent.table) WHERE \(unsafeRaw: dependent.column) IN
                        (SELECT \(unsafeRaw: retention.idColumn) FROM \(unsafeRaw: source.table) WHERE \(cutoff))
                        """).run()
                }
                let tenantColumn = source.tenantScoped ? "tenant_id" : "'\(AuditLog.platformTenant)' AS tenant_id"
                let gone = try await db.raw("DELETE FROM \(unsafeRaw: source.table) WHERE \(cutoff) RETURNING \(unsafeRaw: tenantColumn)")
                    .all(decoding: Deleted.self)
                var byTenant: [String: Int] = [:]
                for row in gone { byTenant[row.tenant_id, default: 0] += 1 }
                for (tenant, count) in byTenant.sorted(by: { $0.key < $1.key }) {
                    try await self.audit.append(
                        AuditEntry(
                            tenantId: tenant, actorId: "system:retention", action: "privacy.retention.deleted", target: source.table,
                            clientAddress: nil,
                            details: ["category": source.category, "rows": String(count), "olderThan": cutoffText, "service": self.serviceName]),
                        on: db, kind: kind)
                }
                return gone.count
            }
            if rows > 0 { deleted[source.table] = rows }
        }
        return deleted
    }

    public func run() async throws {
        while await Periodic.wait(.seconds(Self.intervalSeconds)) {
            do {
                let deleted = try await self.sweep()
                if !deleted.isEmpty { self.logger.info("retention sweep deleted personal data past its period", metadata: ["rows": "\(deleted)"]) }
            } catch {
                self.logger.warning("retention sweep failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
