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
        // The fleet's other processes, each read once a sample; a service this process runs itself is counted here only.
        var remote: Set<String> = []
        for (service, totals) in await self.fleetTotals() where current[service] == nil {
            current[service] = totals
            remote.insert(service)
        }
        let read = current
        let previous = self.lastSampled.withLock { last in
            let before = last
            // A service not read this time (its process did not answer) keeps its last totals, so the next sample
            // counts only what it did since.
            last = read.merging(before) { now, _ in now }
            return before
        }
        var rows: [(service: String, metric: SeriesMetric, value: Double)] = []
        for (service, totals) in current.sorted(by: { $0.key < $1.key }) {
            let before: ServiceTotals
            if let earlier = previous[service] {
                // A counter that went down is a reset (or a restarted process): count from zero.
                before = earlier.calls <= totals.calls ? earlier : ServiceTotals()
            } else if remote.contains(service) {
                // Another process read for the first time: its totals since it started are the baseline, not a sample.
                continue
            } else {
                before = ServiceTotals()
            }
            // Each figure on its own: replicas of one service add up, and one restarting lowers some sums, not all.
            func since<T: BinaryInteger>(_ now: T, _ then: T) -> Double { Double(now >= then ? now - then : now) }
            let figures: [(SeriesMetric, Double)] = [
                (.statementCalls, since(totals.calls, before.calls)), (.statementErrors, since(totals.errors, before.errors)),
                (.statementRows, since(totals.rows, before.rows)), (.statementMillis, since(totals.nanoseconds, before.nanoseconds) / 1e6),
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
        await self.logSlowPlans()
        return rows.count
    }

    /// Logs the plan of each statement that ran slow since the last sample (once a statement, in this process), beside
    /// the slow-statement line its run already wrote: the operator reading the log sees how the database ran it.
    func logSlowPlans() async {
        for book in self.process.statements.all {
            let slow = book.takeSlowUnexplained()
            guard !slow.isEmpty, let database = try? self.database(of: book.service) else { continue }
            for summary in slow {
                var metadata: Logger.Metadata = [
                    "service": "\(summary.service)", "statement": "\(summary.id)",
                    "max_millis": "\(summary.figures.maxNanoseconds / 1_000_000)", "fingerprint": "\(summary.fingerprint.prefix(2_000))",
                ]
                do {
                    let plan = try await StatementPlan.explain(summary.example, in: database)
                    metadata["plan"] = .array(plan.lines.prefix(50).map { .string($0) })
                    metadata["scans"] = .array(plan.scans.map { .string($0.table) })
                } catch {
                    metadata["plan_error"] = "\(error)"
                }
                self.env.logger.warning("slow statement plan", metadata: metadata)
            }
        }
    }

    /// The statement totals of every service in the processes of `FINFLOW_PERFORMANCE_TARGETS`. A process that does not
    /// answer is logged and left out of this sample (its next sample counts what it did meanwhile).
    func fleetTotals() async -> [String: ServiceTotals] {
        var totals: [String: ServiceTotals] = [:]
        for target in self.env.settings.performanceTargets {
            do {
                for (service, figures) in FleetMetrics.statementTotals(try await FleetMetrics.read(target)) {
                    var sum = totals[service, default: ServiceTotals()]
                    sum.calls.saturatingAdd(figures.calls)
                    sum.errors.saturatingAdd(figures.errors)
                    sum.rows.saturatingAdd(figures.rows)
                    sum.nanoseconds &+= figures.nanoseconds
                    totals[service] = sum
                }
            } catch {
                self.env.logger.warning("a process's figures could not be read", metadata: ["target": "\(target)", "error": "\(error)"])
            }
        }
        return totals
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
