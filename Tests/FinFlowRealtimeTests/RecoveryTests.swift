import FinFlowCore
import Foundation
import Logging
import SQLKit
import Testing

@testable import FinFlowRealtime

/// The realtime service's state across restarts and between two processes: a detector rebuilt from its snapshot and
/// the observations since scores exactly as one that never stopped, and a process holding an outdated detector is
/// refused by the database and catches up, instead of writing over the other's work.
@Suite("realtime recovery: snapshots, replay of the observations since, two processes on one tenant")
struct RecoveryTests {
    /// A realtime database of its own, and the service's consumer of transactions on it.
    struct Process {
        let database: SQLiteDatabase
        let desk: RealtimeDesk
        let consumer: EventConsumer

        static func open(_ directory: URL) async throws -> Process {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let settings = try Settings.load(flags: ["dataDirectory": directory.path, "logLevel": "error"], environment: [:])
            let database = try await SQLiteDatabase.open(path: settings.sqlitePath(service: "realtime"), logger: Logger(label: "test"))
            for (track, migrations) in [("platform", PlatformMigrations.all), ("realtime", RealtimeMigrations.all)] {
                _ = try await Migrator(database: database, track: track, migrations: migrations, clock: SystemClock()).migrate()
            }
            let env = ServiceEnvironment.forOperator(settings: settings, database: database, clock: SystemClock(), logger: Logger(label: "test"))
            let desk = RealtimeDesk(env: env)
            let consumer = try #require(RealtimeService.Running(desk: desk).consumers.first { $0.topic == TransactionCreated.topic })
            return Process(database: database, desk: desk, consumer: consumer)
        }

        /// Delivers `events` in batches of 250, as the bus does.
        func deliver(_ events: ArraySlice<PublishedEvent>) async throws {
            var start = events.startIndex
            while start < events.endIndex {
                let end = min(start + 250, events.endIndex)
                try await self.consumer.deliver(Array(events[start..<end]), clock: SystemClock())
                start = end
            }
        }

        /// Every anomaly stored, as (sequence, subject, score, first reason).
        func anomalies() async throws -> [String] {
            try await self.database.read { db in
                try await db.raw("SELECT * FROM realtime_anomalies ORDER BY seq").all(decoding: AnomalyRow.self)
            }.map { "\($0.seq) \($0.subject_id) \($0.score_bp) \($0.reasons)" }
        }
    }

    /// The synthetic stream as the transaction service's events.
    static func events(_ stream: SyntheticStream, tenantId: String = "t1") throws -> [PublishedEvent] {
        try stream.events.enumerated().map { index, event in
            let o = event.observation
            let payload = TransactionCreated(
                transactionId: o.subjectId, tenantId: tenantId, kind: "expense", amountMinor: o.amountMinor, currency: o.currency,
                valueDate: "2026-01-01", sourceAccountId: String(o.accountKey), destinationAccountId: "expenses", counterparty: o.counterparty)
            let id = String(format: "event-%08d", index)
            let envelope = CloudEvent(
                id: id, source: "urn:finflow:service:transactions", type: TransactionCreated.eventType,
                time: Date(timeIntervalSince1970: Double(o.atMillis) / 1000), subject: o.subjectId, tenantid: tenantId,
                dataschema: "urn:finflow:schema:\(TransactionCreated.eventType):1", data: payload)
            return PublishedEvent(
                id: id, topic: TransactionCreated.topic, type: TransactionCreated.eventType, tenantId: tenantId,
                json: try CloudEvent<TransactionCreated>.encoder.encode(envelope))
        }
    }

    static func directory() -> URL { FileManager.default.temporaryDirectory.appendingPathComponent("finflow-realtime-\(UUID().uuidString)") }

    @Test("stopped after a snapshot and more, a process rebuilds the detector exactly and finds what one that never stopped finds")
    func restartLosesNothing() async throws {
        let stream = SyntheticStream(normal: 6_500, perKind: 4, seed: 3)
        let events = try Self.events(stream)
        #expect(events.count > Int(RealtimeDesk.snapshotEvery) + 500, "the stream crosses a snapshot")
        let reference = try await Process.open(Self.directory())
        try await reference.deliver(events[...])

        let directory = Self.directory()
        let first = try await Process.open(directory)
        let cut = events.count - 700
        try await first.deliver(events[..<cut])
        try await first.database.shutdown()
        let restarted = try await Process.open(directory)
        // A redelivery of what the first process already applied changes nothing (its inbox), then the rest.
        try await restarted.deliver(events[(cut - 300)...])

        let saved = try await restarted.database.read { db in
            try await db.raw("SELECT seq FROM realtime_state WHERE tenant_id = 't1'").first()?.decode(column: "seq", as: Int64.self)
        }
        #expect(saved == RealtimeDesk.snapshotEvery, "a snapshot was taken at the 5,000th observation")
        let rebuilt = try await restarted.desk.detector(tenantId: "t1")
        let whole = try await reference.desk.detector(tenantId: "t1")
        #expect(rebuilt.seq == Int64(events.count) && rebuilt.detector == whole.detector)
        let found = try await restarted.anomalies()
        let expected = try await reference.anomalies()
        #expect(found == expected && found.count >= 8, "\(found.count) anomalies: \(Set(found).symmetricDifference(expected).sorted())")
        try await reference.database.shutdown()
        try await restarted.database.shutdown()
    }

    @Test("a process holding an outdated detector is refused by the database, drops it, and catches up")
    func twoProcessesNeverOverwrite() async throws {
        let stream = SyntheticStream(normal: 1_500, perKind: 1, seed: 4)
        let events = try Self.events(stream)
        let reference = try await Process.open(Self.directory())
        try await reference.deliver(events[...])

        let directory = Self.directory()
        let one = try await Process.open(directory)
        try await one.deliver(events[..<1_000])
        // A second process on the same database (after a rebalance) takes the next 300; the first still holds its detector.
        let settings = try Settings.load(flags: ["dataDirectory": directory.path, "logLevel": "error"], environment: [:])
        let other = RealtimeDesk(env: ServiceEnvironment.forOperator(
            settings: settings, database: one.database, clock: SystemClock(), logger: Logger(label: "test")))
        let otherConsumer = try #require(RealtimeService.Running(desk: other).consumers.first { $0.topic == TransactionCreated.topic })
        try await otherConsumer.deliver(Array(events[1_000..<1_300]), clock: SystemClock())
        // The first process's next delivery collides with the second's observations and is rolled back ...
        await #expect(throws: (any Error).self) { try await one.consumer.deliver(Array(events[1_300..<1_400]), clock: SystemClock()) }
        // ... and its retry, from the database's state, goes through.
        try await one.deliver(events[1_300...])
        let caughtUp = try await one.desk.detector(tenantId: "t1")
        let whole = try await reference.desk.detector(tenantId: "t1")
        #expect(caughtUp.seq == Int64(events.count) && caughtUp.detector == whole.detector)
        let found = try await one.anomalies()
        let expected = try await reference.anomalies()
        #expect(found == expected)
        try await reference.database.shutdown()
        try await one.database.shutdown()
    }
}
