@testable import FinFlowCompliance
import FinFlowCore
import Foundation
import Logging
import SQLKit
import Testing

/// The live store keeps a tenant's figures in memory between deliveries only while nothing else changed the tables.
@Suite("compliance: monitoring figures kept in memory between deliveries")
struct FigureWindowTests {
    struct Stored: Decodable {
        let event_id: String
        let score: Int
    }

    /// Two processes (two desks, each with its own cache) on one database, taking turns on the events of one account.
    @Test("a process whose figures another process changed reads them again; decisions equal one process taking every event in turn")
    func twoProcesses() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("finflow-figures-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let settings = try Settings.load(flags: ["dataDirectory": directory.path, "logLevel": "error"], environment: [:])
        let database = try await SQLiteDatabase.open(path: settings.sqlitePath(service: "compliance"), logger: Logger(label: "test"))
        for migrator in [
            Migrator(database: database, track: "platform", migrations: PlatformMigrations.all, clock: SystemClock()),
            Migrator(database: database, track: "compliance", migrations: ComplianceMigrations.all, clock: SystemClock()),
        ] {
            _ = try await migrator.migrate()
        }
        let env = ServiceEnvironment.forOperator(settings: settings, database: database, clock: SystemClock(), logger: Logger(label: "test"))
        let first = ComplianceDesk(env: env)
        let second = ComplianceDesk(env: env)
        let tenantId = "figures"
        let principal = Principal(subject: "officer", tenantId: tenantId, roles: ["owner"], permissions: ["compliance:manage"], sessionId: nil)
        let scenario = try await first.createScenario(name: "Velocity", description: nil, principal: principal)
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
        let rules: JSONValue = .array([count(atLeast: 4, score: 50), count(atLeast: 6, score: 30)])
        let parsed = parser.definition(trigger: nil, rules: rules, thresholds: Thresholds(review: 10, blockAndReview: 60, decline: 90))
        let definition = try #require(parsed, "\(parser.validator.errors)")
        _ = try await first.addVersion(scenarioId: scenario.id, definition: definition, principal: principal)
        _ = try await first.publish(scenarioId: scenario.id, version: 1, principal: principal)

        let start = env.clock.nowMillis() - 3_600_000
        let events = (0..<8).map { index in
            MonitoredEvent(
                id: "e\(index)", type: .transaction, tenantId: tenantId, subjectId: "tx-\(index)", atMillis: start + Int64(index) * 60_000,
                amountMinor: 1_000, currency: "USD", kind: "payment", status: "pending", sourceAccount: "acc-1", destinationAccount: "acc-2")
        }
        // Turns: the first process twice in a row (its figures kept), then the second, then the first again with figures
        // the second changed, and so on.
        let turns: [(ComplianceDesk, Range<Int>)] = [(first, 0..<2), (first, 2..<3), (second, 3..<4), (first, 4..<5), (second, 5..<6), (second, 6..<8)]
        for (desk, range) in turns {
            try await database.transaction { db in _ = try await desk.monitor(Array(events[range]), db: db) }
        }
        let stored = try await database.read { db in
            try await db.raw("SELECT event_id, score FROM monitoring_decisions WHERE tenant_id = 'figures'").all(decoding: Stored.self)
        }
        let scores = Dictionary(uniqueKeysWithValues: stored.map { ($0.event_id, $0.score) })
        // Each event counts every one before it, whichever process saw them: a process that kept figures another had
        // since changed would count too few.
        #expect(events.map { scores[$0.id] } == [0, 0, 0, 50, 50, 80, 80, 80])
        let version = EvaluatedVersion(scenarioId: scenario.id, scenarioName: scenario.name, versionId: "replay", version: 1, definition: definition)
        let replayed = try await MonitoringEngine.replay(events, evaluateFromMillis: start, version: version)
        #expect(events.map { replayed[$0.id]?.score } == events.map { scores[$0.id] })
        try await database.shutdown()
    }
}
