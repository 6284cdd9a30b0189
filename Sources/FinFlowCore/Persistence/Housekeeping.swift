import Logging
import SQLKit
import ServiceLifecycle

/// Keeps the platform tables of a service database bounded: published outbox events, inbox records and
/// idempotency keys are deleted once they can no longer matter.
public struct Housekeeping: Service {
    let database: any Database
    let clock: any FinFlowClock
    let logger: Logger
    /// Published events are kept this long for inspection, in milliseconds (7 days).
    public static let publishedRetentionMillis: Int64 = 7 * 86_400_000
    /// Inbox records are kept this long, in milliseconds (30 days): far beyond any redelivery.
    public static let inboxRetentionMillis: Int64 = 30 * 86_400_000
    /// How often the sweep runs, in seconds.
    public static let intervalSeconds = 600

    /// Housekeeping of `database`.
    public init(database: any Database, clock: any FinFlowClock, logger: Logger) {
        self.database = database
        self.clock = clock
        self.logger = logger
    }

    /// Deletes what has expired; returns the number of rows removed.
    @discardableResult
    public func sweep() async throws -> Int {
        let now = self.clock.nowMillis()
        let publishedBefore = now - Self.publishedRetentionMillis
        let inboxBefore = now - Self.inboxRetentionMillis
        let keysBefore = now - IdempotencyMiddleware.retentionMillis
        return try await self.database.transaction { db in
            struct Count: Decodable { let n: Int }
            var removed = 0
            for (table, condition) in [
                ("outbox", SQLQueryString("published_at_ms IS NOT NULL AND published_at_ms < \(bind: publishedBefore)")),
                ("inbox", SQLQueryString("processed_at_ms < \(bind: inboxBefore)")),
                ("idempotency_keys", SQLQueryString("created_at_ms < \(bind: keysBefore)")),
                ("mail_outbox", SQLQueryString("coalesce(sent_at_ms, failed_at_ms) < \(bind: publishedBefore)")),
            ] {
                let rows = try await db.raw("DELETE FROM \(ident: table) WHERE \(condition) RETURNING 1 AS n").all()
                removed += rows.count
            }
            return removed
        }
    }

    public func run() async throws {
        while await Periodic.wait(.seconds(Self.intervalSeconds)) {
            do {
                let removed = try await self.sweep()
                if removed > 0 { self.logger.info("housekeeping removed expired rows", metadata: ["rows": "\(removed)"]) }
            } catch {
                self.logger.warning("housekeeping failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
