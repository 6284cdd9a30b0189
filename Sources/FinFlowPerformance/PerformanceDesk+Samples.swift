import FinFlowCore
import Foundation
import Logging
import SQLKit
import Synchronization
import ServiceLifecycle

extension PerformanceDesk {
    /// Keeps what each service's statements did since the last sample as time series, prunes old samples, and optimises
    /// each SQLite database once a day (incidents expire through the platform's retention sweep, as declared personal
    /// data). Answers how many samples it wrote.
    func sample() async throws -> Int {
        let now = self.env.clock.nowMillis()
        var current: [String: ServiceTotals] = [:]
        for book in self.process.statements.all {
            var totals = ServiceTotals()
            for summary in book.snapshot() {
                totals.calls += summary.figures.calls
                totals.errors += summary.figures.errors
                totals.rows += summary.figures.rows
                totals.nanoseconds &+= summary.figures.totalNanoseconds
            }
            current[book.service] = totals
        }
        let previous = self.lastSampled.withLock { last in
            defer { last = current }
            return last
        }
        var rows: [(service: String, metric: SeriesMetric, value: Double)] = []
        for (service, totals) in current.sorted(by: { $0.key < $1.key }) {
            // A reset (or the first sample) starts from zero.
            let before = previous[service].flatMap { $0.calls <= totals.calls ? $0 : nil } ?? ServiceTotals()
            let figures: [(SeriesMetric, Double)] = [
                (.statementCalls, Double(totals.calls - before.calls)), (.statementErrors, Double(totals.errors - before.errors)),
                (.statementRows, Double(totals.rows - before.rows)), (.statementMillis, Double(totals.nanoseconds &- before.nanoseconds) / 1e6),
            ]
            for (metric, value) in figures { rows.append((service, metric, value)) }
        }
        let samples = rows
        let keepSamples = now - Int64(Self.sampleRetentionDays) * 86_400_000
        try await self.database.transaction { db in
            for row in samples {
                try await db.raw("""
                    INSERT INTO performance_samples (service, metric, taken_at_ms, value) VALUES
                    (\(bind: row.service), \(bind: row.metric.rawValue), \(bind: now), \(bind: row.value)) ON CONFLICT DO NOTHING
                    """).run()
            }
            try await db.raw("DELETE FROM performance_samples WHERE taken_at_ms < \(bind: keepSamples)").run()
        }
        try await self.optimizeDue(nowMillis: now)
        return rows.count
    }

    /// `PRAGMA optimize` on each SQLite database of the process not optimised in the last day.
    func optimizeDue(nowMillis: Int64) async throws {
        for (service, database) in self.process.all {
            guard let sqlite = database as? SQLiteDatabase else { continue }
            if let last = try await self.state("optimized:\(service)")?.atMillis, nowMillis - last < Self.optimizeIntervalSeconds * 1_000 { continue }
            try await SQLiteHealth.optimize(sqlite)
            try await self.setState("optimized:\(service)", "PRAGMA optimize")
        }
    }

    /// The samples of `metric` for `service` between two instants (Unix milliseconds), oldest first.
    func series(service: String, metric: SeriesMetric, fromMillis: Int64, toMillis: Int64) async throws -> [(atMillis: Int64, value: Double)] {
        try await self.database.read { db in
            try await db.raw("""
                SELECT taken_at_ms, value FROM performance_samples
                WHERE service = \(bind: service) AND metric = \(bind: metric.rawValue) AND taken_at_ms >= \(bind: fromMillis) AND taken_at_ms <= \(bind: toMillis)
                ORDER BY taken_at_ms LIMIT \(bind: Self.seriesSamplesMax)
                """).all().map { (try $0.decode(column: "taken_at_ms", as: Int64.self), try $0.decode(column: "value", as: Double.self)) }
        }
    }

    /// Most samples one answer carries (two weeks of one a minute).
    static let seriesSamplesMax = 20_160
}

/// The figures kept as time series, each the amount over the interval that ended at the sample.
enum SeriesMetric: String, Sendable, CaseIterable {
    case statementCalls = "statement-calls", statementErrors = "statement-errors", statementMillis = "statement-millis"
    case statementRows = "statement-rows"
}

/// Samples the process's figures every `FINFLOW_PERFORMANCE_SAMPLE_SECONDS`.
struct PerformanceSampler: ScheduledWork {
    let desk: PerformanceDesk
    let logger: Logger

    /// Samples now. Counts as no work done: samples are the service's own bookkeeping, not something done for anyone,
    /// and `runScheduledWork` reports what was.
    func runDue() async throws -> Int {
        _ = try await self.desk.sample()
        return 0
    }

    func run() async throws {
        while await Periodic.wait(.seconds(self.desk.env.settings.performanceSampleSeconds)) {
            do { _ = try await self.runDue() } catch {
                self.logger.warning("performance samples could not be kept", metadata: ["error": "\(error)"])
            }
        }
    }
}
