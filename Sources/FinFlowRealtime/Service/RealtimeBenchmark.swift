import FinFlowCore
import Foundation
import Logging
import SQLKit

/// The realtime service's speed on this machine: the detector alone, and the whole consumer (scoring, numbered
/// observations, snapshots, anomalies and their events) on a SQLite database, fed batches as the bus delivers them.
public enum RealtimeBenchmark {
    public struct Report: Sendable {
        public let events: Int
        public let detectorPerSecond: Double
        public let consumerPerSecond: Double
        public let anomalies: Int
        /// What the detector alone flagged, by the first reason.
        public let flaggedBy: [String: Int]
    }

    /// `count` seeded transactions of `tenants` tenants (fifty accounts and five hundred counterparties each, a
    /// movement a second per tenant), as the transaction service's events.
    static func events(count: Int, tenants: Int, seed: UInt64) throws -> [PublishedEvent] {
        var random = SeededRandom(seed: seed)
        func uniform() -> Double { Double(random.next() >> 11) / 9_007_199_254_740_992 }
        let start: Int64 = 1_767_225_600_000
        return try (0..<count).map { index in
            let tenant = "bench-\(index % tenants)"
            let account = Int(random.next() % 50)
            let logAmount = 3.0 + Double(account % 7) * 0.3 + 0.15 * (uniform() + uniform() + uniform() - 1.5)
            let payload = TransactionCreated(
                transactionId: "tx-\(index)", tenantId: tenant, kind: "expense", amountMinor: Int64(pow(10, logAmount)), currency: "EUR",
                valueDate: "2026-01-01", sourceAccountId: "acct-\(account)", destinationAccountId: "expenses",
                counterparty: "party-\(random.next() % 500)")
            return try PublishedEvent(
                payload, id: String(format: "bench-%09d", index), service: "transactions",
                time: Date(timeIntervalSince1970: Double(start + Int64(index / tenants) * 1_000) / 1000), subject: payload.transactionId,
                tenantId: tenant)
        }
    }

    /// Runs both measures on `count` events in `directory` (a new SQLite database there), in batches of `batch`.
    public static func run(count: Int, tenants: Int, batch: Int, directory: String) async throws -> Report {
        let events = try Self.events(count: count, tenants: tenants, seed: 7)
        let observations = events.compactMap(Observations.transaction)
        var detectors: [String: TenantDetector] = [:]
        var reasons: [String: Int] = [:]
        let clock = ContinuousClock()
        let detectorTime = clock.measure {
            for (_, observation, tenant) in observations {
                let assessment = detectors[tenant, default: TenantDetector()].observe(observation, threshold: 0.9)
                if assessment.score >= 0.9 { reasons[assessment.reasons.first?.feature ?? "none", default: 0] += 1 }
            }
        }

        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let settings = try Settings.load(flags: ["dataDirectory": directory, "logLevel": "error"], environment: [:])
        let database = try await SQLiteDatabase.open(path: settings.sqlitePath(service: "realtime"), logger: Logger(label: "bench"))
        for (track, migrations) in [("platform", PlatformMigrations.all), ("realtime", RealtimeMigrations.all)] {
            _ = try await Migrator(database: database, track: track, migrations: migrations, clock: SystemClock()).migrate()
        }
        let desk = RealtimeDesk(env: ServiceEnvironment.forOperator(settings: settings, database: database, clock: SystemClock(), logger: Logger(label: "bench")))
        guard let consumer = RealtimeService.Running(desk: desk).consumers.first(where: { $0.topic == TransactionCreated.topic }) else {
            throw InvariantViolation("the realtime service has no consumer of transactions")
        }
        let consumerTime = try await clock.measure {
            var start = 0
            while start < events.count {
                let end = min(start + batch, events.count)
                try await consumer.deliver(Array(events[start..<end]), clock: SystemClock())
                start = end
            }
        }
        struct Count: Decodable { let n: Int }
        let anomalies = try await database.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM realtime_anomalies").first(decoding: Count.self)?.n ?? 0
        }
        try await database.shutdown()
        return Report(
            events: count, detectorPerSecond: Double(count) / detectorTime.inSeconds, consumerPerSecond: Double(count) / consumerTime.inSeconds,
            anomalies: anomalies, flaggedBy: reasons)
    }
}
