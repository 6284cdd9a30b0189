@testable import FinFlowCompliance
import FinFlowCore
#if Redis
import FinFlowRedis
#endif
import Foundation
import Logging
import SQLKit
import Testing

/// The live store keeps a tenant's figures in memory between deliveries only while nothing else changed the tables,
/// and with Redis shares them between processes under the same rule.
@Suite("compliance: monitoring figures kept in memory between deliveries, and shared through Redis")
struct FigureWindowTests {
    struct Stored: Decodable {
        let event_id: String
        let score: Int
    }

    /// A compliance database with one live scenario counting an account's events in a day, and the events of one
    /// account a minute apart.
    struct Fixture {
        let directory: URL
        let database: SQLiteDatabase
        let env: ServiceEnvironment
        let definition: VersionDefinition
        let scenario: ScenarioRow
        let start: Int64
        static let tenantId = "figures"

        init(shared: (any SharedStore)?) async throws {
            self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("finflow-figures-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
            var settings = try Settings.load(flags: ["dataDirectory": self.directory.path, "logLevel": "error"], environment: [:])
            settings.complianceSharedFigures = shared != nil
            self.database = try await SQLiteDatabase.open(path: settings.sqlitePath(service: "compliance"), logger: Logger(label: "test"))
            for migrator in [
                Migrator(database: self.database, track: "platform", migrations: PlatformMigrations.all, clock: SystemClock()),
                Migrator(database: self.database, track: "compliance", migrations: ComplianceMigrations.all, clock: SystemClock()),
            ] {
                _ = try await migrator.migrate()
            }
            self.env = ServiceEnvironment.forOperator(
                settings: settings, database: self.database, clock: SystemClock(), logger: Logger(label: "test"), shared: shared)
            let desk = ComplianceDesk(env: self.env)
            let principal = Principal(subject: "officer", tenantId: Self.tenantId, roles: ["owner"], permissions: ["compliance:manage"], sessionId: nil)
            self.scenario = try await desk.createScenario(name: "Velocity", description: nil, principal: principal)
            var parser = RuleParser()
            func count(atLeast least: Int, score: Int) -> JSONValue {
                .object([
                    "name": .string("\(least) in a day"), "score": .number(Decimal(score)),
                    "condition": .object([
                        "left": .object(["aggregate": .object(["function": .string("count"), "groupBy": .array([.string("sourceAccount")]), "window": .string("24h")])]),
                        "op": .string(">="), "right": .object(["value": .number(Decimal(least))]),
                    ]),
                ])
            }
            let rules: JSONValue = .array([count(atLeast: 4, score: 50), count(atLeast: 6, score: 30), count(atLeast: 10, score: 7)])
            let parsed = parser.definition(trigger: nil, rules: rules, thresholds: Thresholds(review: 10, blockAndReview: 60, decline: 90))
            self.definition = try #require(parsed, "\(parser.validator.errors)")
            _ = try await desk.addVersion(scenarioId: self.scenario.id, definition: self.definition, principal: principal)
            _ = try await desk.publish(scenarioId: self.scenario.id, version: 1, principal: principal)
            self.start = self.env.clock.nowMillis() - 3_600_000
        }

        func event(_ index: Int) -> MonitoredEvent {
            MonitoredEvent(
                id: "e\(index)", type: .transaction, tenantId: Self.tenantId, subjectId: "tx-\(index)", atMillis: self.start + Int64(index) * 60_000,
                amountMinor: 1_000, currency: "USD", kind: "payment", status: "pending", sourceAccount: "acc-1", destinationAccount: "acc-2")
        }

        /// A process of the service: a desk with its own caches on the shared database (and shared store).
        func process() -> ComplianceDesk { ComplianceDesk(env: self.env) }

        func monitor(_ desk: ComplianceDesk, _ indexes: Range<Int>) async throws {
            try await self.database.transaction { db in _ = try await desk.monitor(indexes.map(self.event), db: db) }
        }

        func scores() async throws -> [String: Int] {
            let stored = try await self.database.read { db in
                try await db.raw("SELECT event_id, score FROM monitoring_decisions WHERE tenant_id = 'figures'").all(decoding: Stored.self)
            }
            return Dictionary(uniqueKeysWithValues: stored.map { ($0.event_id, $0.score) })
        }

        /// Two processes take turns: the first twice in a row (its figures kept), then the second, then the first again
        /// with figures the second changed, and so on. Each event counts every one before it, whichever process saw
        /// them: a process that kept (or read from the shared copy) figures since changed would count too few.
        func takeTurns(_ first: ComplianceDesk, _ second: ComplianceDesk) async throws {
            let turns: [(ComplianceDesk, Range<Int>)] = [(first, 0..<2), (first, 2..<3), (second, 3..<4), (first, 4..<5), (second, 5..<6), (second, 6..<8)]
            for (desk, range) in turns { try await self.monitor(desk, range) }
            let scores = try await self.scores()
            #expect((0..<8).map { scores["e\($0)"] } == [0, 0, 0, 50, 50, 80, 80, 80])
            let version = EvaluatedVersion(scenarioId: self.scenario.id, scenarioName: self.scenario.name, versionId: "replay", version: 1, definition: self.definition)
            let events = (0..<8).map(self.event)
            let replayed = try await MonitoringEngine.replay(events, evaluateFromMillis: self.start, version: version)
            #expect(events.map { replayed[$0.id]?.score } == events.map { scores[$0.id] })
        }

        func close() async throws {
            try await self.database.shutdown()
            try? FileManager.default.removeItem(at: self.directory)
        }
    }

    @Test("a process whose figures another process changed reads them again; decisions equal one process taking every event in turn")
    func twoProcesses() async throws {
        let fixture = try await Fixture(shared: nil)
        let first = fixture.process()
        let second = fixture.process()
        try await fixture.takeTurns(first, second)
        // Each process read the account's count from the tables on its first delivery and whenever the other had
        // changed it since (turns 1, 3, 4 and 5), never when its own figures were current.
        #expect(first.figureCache.counts.tables.load(ordering: .relaxed) == 2)
        #expect(second.figureCache.counts.tables.load(ordering: .relaxed) == 2)
        try await fixture.close()
    }

    struct FigureRow: Decodable, Equatable {
        let group_value: String
        let count: Int64
        let sum_minor: Int64
    }

    @Test("SQLite's figure tables move to WITHOUT ROWID with every row kept")
    func figureTablesKeyed() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("finflow-figures-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try await SQLiteDatabase.open(path: directory.appendingPathComponent("c.sqlite").path, logger: Logger(label: "test"))
        _ = try await Migrator(database: database, track: "platform", migrations: PlatformMigrations.all, clock: SystemClock()).migrate()
        let before = ComplianceMigrations.all.filter { $0.version < 6 }
        _ = try await Migrator(database: database, track: "compliance", migrations: before, clock: SystemClock()).migrate()
        var contents = MemoryAggregateStore.Contents()
        contents.buckets = (0..<300).map { ("k", "acc-\($0)", 60_000, "USD", BucketFigures(count: Int64($0), sumMinor: Int64($0) * 100, maxMinor: 5)) }
        contents.values = [("v", "acc-1", "counterparty", 7)]
        contents.last = [("l", "acc-1", 9)]
        let figures = contents
        try await database.transaction { db in try await FigureWindow.add(figures, tenantId: "t", db: db) }
        func rows() async throws -> [FigureRow] {
            try await database.read { db in
                try await db.raw("SELECT group_value, count, sum_minor FROM monitoring_buckets ORDER BY group_value").all(decoding: FigureRow.self)
            }
        }
        let stored = try await rows()
        #expect(stored.count == 300)
        #expect(try await Migrator(database: database, track: "compliance", migrations: ComplianceMigrations.all, clock: SystemClock()).migrate() >= 1)
        #expect(try await rows() == stored)
        for table in ["monitoring_buckets", "monitoring_values", "monitoring_last"] {
            await #expect(throws: (any Error).self) { try await database.read { db in try await db.raw("SELECT rowid FROM \(unsafeRaw: table)").run() } }
            let count = try await database.read { db in try await db.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first(decoding: Count.self) }
            #expect((count?.n ?? 0) >= 1)
        }
        // The upserts still meet their rows: adding the same figures again doubles the counts.
        try await database.transaction { db in try await FigureWindow.add(figures, tenantId: "t", db: db) }
        #expect(try await rows().map(\.count) == stored.map { $0.count * 2 })
        try await database.shutdown()
    }

    struct Count: Decodable {
        let n: Int
    }

    #if Redis
    @Test("""
        with Redis, a process reads the figures another wrote from the shared copy, not the tables; a copy whose delivery \
        rolled back is never read; with Redis gone, the tables serve
        """)
    func sharedThroughRedis() async throws {
        try await SharedStateTests.withRedis { redis in
            let fixture = try await Fixture(shared: redis.store())
            let first = fixture.process()
            let second = fixture.process()
            try await fixture.takeTurns(first, second)
            // Only the first delivery read the account's count from the tables; every later turn that found its own
            // figures stale read the other process's from Redis.
            #expect(first.figureCache.counts.tables.load(ordering: .relaxed) == 1)
            #expect(first.figureCache.counts.shared.load(ordering: .relaxed) == 1)
            #expect(second.figureCache.counts.tables.load(ordering: .relaxed) == 0)
            #expect(second.figureCache.counts.shared.load(ordering: .relaxed) == 2)

            // A delivery that wrote the shared copy and then rolled back: the copy carries a stamp never committed.
            struct RolledBack: Error {}
            await #expect(throws: RolledBack.self) {
                try await fixture.database.transaction { db in
                    _ = try await first.monitor([fixture.event(8)], db: db)
                    throw RolledBack()
                }
            }
            // A new process counts event 9 after the eight committed ones (80); counting the rolled-back one too would
            // make ten (87).
            let third = fixture.process()
            try await fixture.monitor(third, 9..<10)
            #expect(try await fixture.scores()["e9"] == 80)
            #expect(third.figureCache.counts.tables.load(ordering: .relaxed) == 1)
            #expect(third.figureCache.counts.shared.load(ordering: .relaxed) == 0)

            // With Redis gone, a process reads the tables and decides as before.
            await redis.stop()
            let fourth = ComplianceDesk(
                env: ServiceEnvironment.forOperator(
                    settings: fixture.env.settings, database: fixture.database, clock: fixture.env.clock, logger: fixture.env.logger,
                    shared: redis.store(pauseMillis: 0)))
            try await fixture.monitor(fourth, 10..<11)
            #expect(try await fixture.scores()["e10"] == 87)
            #expect(fourth.figureCache.counts.tables.load(ordering: .relaxed) == 1)
            try await fixture.close()
        }
    }
    #endif
}
