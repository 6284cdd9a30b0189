import FinFlowCore
import Foundation
import Logging
import SQLKit
import Synchronization

/// Measures transaction monitoring in process on the service's own tables: a scenario with ten live rules (the eight
/// templates and two more aggregates), fed synthetic transactions the way the event consumer applies them. The
/// baseline evaluates the same rules by scanning every earlier event instead of reading time buckets.
extension ComplianceService {
    public static func monitoringBenchmark(
        database: any Database, settings: Settings, events count: Int, batch: Int, rate: Int, seconds: Int, baselineEvents: Int,
        shared: (any SharedStore)? = nil, turnEvents: Int = 0, emit: @Sendable (String) -> Void
    ) async throws {
        let env = ServiceEnvironment.forOperator(settings: settings, database: database, clock: SystemClock(), logger: Logger(label: "finflow.bench"))
        let desk = ComplianceDesk(env: env)
        let (tenantId, scenario, definition) = try await Self.benchmarkTenant(desk)
        emit("scenario: \(definition.rules.count) live rules reading \(definition.aggregates.count) aggregates (\(Set(definition.aggregates.map(\.storageKey)).count) stored figures)")

        var random = SeededRandom(seed: 11)
        let start = env.clock.nowMillis() - 30 * 86_400_000
        let traffic = try (0..<(count + rate * seconds)).map { index in
            try Self.published(Self.syntheticTransaction(index, tenantId: tenantId, atMillis: start + Int64(index) * 1_000, random: &random))
        }
        guard let consumer = Running(desk: desk).consumers.first(where: { $0.name == "compliance.monitoring.transaction-created" }) else {
            throw InvariantViolation("the monitoring consumer is missing")
        }
        let clock = ContinuousClock()

        // Throughput: batches of `batch` events a transaction, as the consumer applies what it has received.
        var applied = 0
        let began = clock.now
        for chunk in Array(traffic.prefix(count)).chunked(batch) {
            applied += try await consumer.deliver(Array(chunk), clock: env.clock)
        }
        let elapsed = (clock.now - began).inSeconds
        emit(String(format: "throughput: %d events in %.2f s = %.0f events/s (batches of %d through the consumer: inbox, event stored, evaluated, figures and decision written)",
                     applied, elapsed, Double(applied) / elapsed, batch))
        let outcomes = try await database.read { db in
            try await db.raw("SELECT outcome, COUNT(*) AS n FROM monitoring_decisions WHERE tenant_id = \(bind: tenantId) GROUP BY outcome ORDER BY outcome")
                .all(decoding: OutcomeCount.self)
        }
        emit("decisions: " + outcomes.map { "\($0.outcome) \($0.n)" }.joined(separator: ", ") + " (review or worse opens an alert)")

        // Latency at a steady offered rate: events arrive every 1/rate s; whatever has arrived is applied in one
        // transaction; an event's latency runs from its arrival to the commit of its decision.
        let offered = Array(traffic.dropFirst(count).prefix(rate * seconds))
        var latencies: [Double] = []
        latencies.reserveCapacity(offered.count)
        let interval = Duration.seconds(1) / rate
        let origin = clock.now
        var next = 0
        while next < offered.count {
            let now = clock.now
            let arrived = min(offered.count, Int((now - origin) / interval) + 1)
            if arrived <= next {
                try await Task.sleep(until: origin + interval * next, clock: clock)
                continue
            }
            try await consumer.deliver(Array(offered[next..<arrived]), clock: env.clock)
            let done = clock.now
            for index in next..<arrived { latencies.append((done - (origin + interval * index)).inSeconds * 1_000) }
            next = arrived
        }
        latencies.sort()
        emit(String(format: "latency at %d events/s offered for %d s: p50 %.2f ms, p99 %.2f ms, max %.2f ms (arrival to committed decision)",
                     rate, seconds, latencies[latencies.count / 2], latencies[min(latencies.count - 1, latencies.count * 99 / 100)], latencies.last ?? 0))

        // Baseline: the same rules, each aggregate computed by scanning the events before it (in memory, no database).
        let baseline = ScanAggregateStore(aggregates: definition.aggregates)
        let version = EvaluatedVersion(scenarioId: scenario.id, scenarioName: scenario.name, versionId: "baseline", version: 1, definition: definition)
        var baselineRandom = SeededRandom(seed: 11)
        let baselineTraffic = (0..<baselineEvents).map { index in
            Self.syntheticTransaction(index, tenantId: tenantId, atMillis: start + Int64(index) * 1_000, random: &baselineRandom)
        }
        let baselineStart = clock.now
        for event in baselineTraffic {
            _ = try await MonitoringEngine.run(event, versions: [version], maintained: definition.aggregates, store: baseline)
            baseline.record(event)
        }
        let baselineElapsed = (clock.now - baselineStart).inSeconds
        emit(String(format: "baseline (every aggregate a scan of the earlier events, in memory): %d events in %.2f s = %.0f events/s, slowing as history grows",
                     baselineEvents, baselineElapsed, Double(baselineEvents) / baselineElapsed))

        // Two processes taking a tenant's deliveries in turn: each delivery's figures read again, from the tables, then
        // (with a shared store) from the copy the other process wrote.
        guard turnEvents > 0 else { return }
        let stores: [(String, (any SharedStore)?)] = [("the tables", nil)] + (shared.map { [("Redis", $0)] } ?? [])
        for (label, store) in stores {
            let run = try await Self.benchmarkTurns(database: database, settings: settings, shared: store, events: turnEvents, batch: batch)
            emit(String(format: "two processes taking turns, figures read again from %@: %d events at %.0f events/s (%d groups from Redis, %d from the tables)",
                         label, turnEvents, run.perSecond, run.fromShared, run.fromTables))
        }
    }

    /// A new tenant with the ten rules live.
    static func benchmarkTenant(_ desk: ComplianceDesk) async throws -> (tenantId: String, scenario: ScenarioRow, definition: VersionDefinition) {
        let tenantId = "bench-\(UUID().uuidString.prefix(8))"
        let principal = Principal(subject: "bench", tenantId: tenantId, roles: ["owner"], permissions: ["compliance:manage"], sessionId: nil)
        let scenario = try await desk.createScenario(name: "Ten rules", description: nil, principal: principal)
        var parser = RuleParser()
        guard let definition = parser.definition(trigger: nil, rules: .array(Self.benchmarkRules), thresholds: Thresholds(review: 40, blockAndReview: 80, decline: 120)) else {
            throw InvariantViolation("the benchmark's rules do not read: \(parser.validator.errors)")
        }
        _ = try await desk.addVersion(scenarioId: scenario.id, definition: definition, principal: principal)
        _ = try await desk.publish(scenarioId: scenario.id, version: 1, principal: principal)
        return (tenantId, scenario, definition)
    }

    /// Two processes (two desks, each with its own figure cache) take a tenant's deliveries in turn, so each finds its
    /// figures changed by the other and reads them again: from the tables, or from the copy `shared` holds. Answers
    /// events per second and where the groups came from.
    static func benchmarkTurns(
        database: any Database, settings: Settings, shared: (any SharedStore)?, events count: Int, batch: Int
    ) async throws -> (perSecond: Double, fromShared: Int, fromTables: Int) {
        var settings = settings
        settings.complianceSharedFigures = shared != nil
        let env = ServiceEnvironment.forOperator(
            settings: settings, database: database, clock: SystemClock(), logger: Logger(label: "finflow.bench"), shared: shared)
        let desks = [ComplianceDesk(env: env), ComplianceDesk(env: env)]
        let (tenantId, _, _) = try await Self.benchmarkTenant(desks[0])
        var random = SeededRandom(seed: 12)
        let start = env.clock.nowMillis() - 30 * 86_400_000
        let traffic = try (0..<count).map { index in
            try Self.published(Self.syntheticTransaction(index, tenantId: tenantId, atMillis: start + Int64(index) * 1_000, random: &random))
        }
        let consumers = try desks.map { desk in
            guard let consumer = Running(desk: desk).consumers.first(where: { $0.name == "compliance.monitoring.transaction-created" }) else {
                throw InvariantViolation("the monitoring consumer is missing")
            }
            return consumer
        }
        let clock = ContinuousClock()
        let began = clock.now
        var applied = 0
        for (turn, chunk) in traffic.chunked(batch).enumerated() {
            applied += try await consumers[turn % 2].deliver(Array(chunk), clock: env.clock)
        }
        let elapsed = (clock.now - began).inSeconds
        let counts = desks.map(\.figureCache.counts)
        return (
            Double(applied) / elapsed, counts.reduce(0) { $0 + $1.shared.load(ordering: .relaxed) },
            counts.reduce(0) { $0 + $1.tables.load(ordering: .relaxed) }
        )
    }

    struct OutcomeCount: Decodable {
        let outcome: String
        let n: Int
    }


    /// The eight templates with their defaults and two more: distinct counterparties of an account in a day, and an
    /// account's outgoing total over a week.
    static var benchmarkRules: [JSONValue] {
        var rules: [JSONValue] = RuleTemplates.all.map { .object(["template": .string($0.id)]) }
        rules.append(.object([
            "name": .string("many counterparties"), "score": .number(30),
            "condition": .object([
                "left": .object(["aggregate": .object([
                    "function": .string("distinctCount"), "field": .string("counterparty"), "groupBy": .array([.string("sourceAccount")]),
                    "window": .string("24h"),
                ])]),
                "op": .string(">="), "right": .object(["value": .number(15)]),
            ]),
        ]))
        rules.append(.object([
            "name": .string("weekly outflow"), "score": .number(20),
            "condition": .object([
                "left": .object(["aggregate": .object([
                    "function": .string("sum"), "groupBy": .array([.string("sourceAccount")]), "window": .string("7d"),
                ])]),
                "op": .string(">="), "right": .object(["value": .number(50_000)]),
            ]),
        ]))
        return rules
    }

    /// `event` as the bus carries it: a `TransactionCreated` in its CloudEvents envelope.
    static func published(_ event: MonitoredEvent) throws -> PublishedEvent {
        let data = TransactionCreated(
            transactionId: event.subjectId, tenantId: event.tenantId, kind: event.kind ?? "payment", amountMinor: event.amountMinor ?? 0,
            currency: event.currency ?? "USD", valueDate: "2026-01-01", sourceAccountId: event.sourceAccount ?? "", destinationAccountId: event.destinationAccount ?? "",
            counterparty: event.counterparty, counterpartyCountry: event.counterpartyCountry)
        let envelope = CloudEvent(
            id: event.id, source: "urn:finflow:service:transactions", type: TransactionCreated.eventType, time: Date(unixMillis: event.atMillis),
            subject: event.subjectId, tenantid: event.tenantId, dataschema: "urn:finflow:schema:\(TransactionCreated.eventType):1", data: data)
        return PublishedEvent(
            id: event.id, topic: TransactionCreated.topic, type: TransactionCreated.eventType, tenantId: event.tenantId,
            json: try CloudEvent<TransactionCreated>.encoder.encode(envelope))
    }

    /// The accounts of the synthetic traffic: at one event a second, each makes about 17 transactions a day.
    static let syntheticAccounts = 5_000

    /// A plausible transaction: 5,000 accounts paying 2,000 counterparties, mostly small amounts, a few near 10,000,
    /// one in a hundred to a high-risk country.
    static func syntheticTransaction(_ index: Int, tenantId: String, atMillis: Int64, random: inout SeededRandom) -> MonitoredEvent {
        let roll = Int.random(in: 0..<100, using: &random)
        let amount: Int64 = switch roll {
        case 0..<3: Int64.random(in: 900_000..<1_000_000, using: &random)
        case 3..<5: Int64.random(in: 1...30, using: &random) * 100_000
        default: Int64.random(in: 500..<200_000, using: &random)
        }
        return MonitoredEvent(
            id: "\(tenantId)-\(index)", type: .transaction, tenantId: tenantId, subjectId: "tx-\(index)", atMillis: atMillis, amountMinor: amount,
            currency: "USD", kind: "payment", status: "pending", sourceAccount: "acc-\(Int.random(in: 0..<Self.syntheticAccounts, using: &random))",
            destinationAccount: "acc-\(Int.random(in: 0..<Self.syntheticAccounts, using: &random))",
            counterparty: "counterparty \(Int.random(in: 0..<2_000, using: &random))",
            counterpartyCountry: roll == 99 ? "IR" : ["DE", "FR", "US", "GB", "NL"][Int.random(in: 0..<5, using: &random)])
    }
}

/// The naive way, for comparison: every aggregate answered by scanning all earlier events.
final class ScanAggregateStore: AggregateStore {
    private let byKey: [String: Aggregate]
    private var history: [MonitoredEvent] = []

    init(aggregates: [Aggregate]) {
        self.byKey = Dictionary(aggregates.map { ($0.storageKey, $0) }, uniquingKeysWith: { first, _ in first })
    }

    func record(_ event: MonitoredEvent) {
        self.history.append(event)
    }

    private func members(_ key: String, group: String) -> [MonitoredEvent] {
        guard let aggregate = self.byKey[key] else { return [] }
        return self.history.filter { event in
            event.type == aggregate.event && event.group(aggregate.groupBy) == group
                && (aggregate.filter.map { (try? MonitoringEngine.truth($0, event: event, readings: [:])) == true } ?? true)
        }
    }

    func buckets(key: String, group: String, fromMillis: Int64, throughMillis: Int64) async throws -> [String: BucketFigures] {
        guard let aggregate = self.byKey[key] else { return [:] }
        let granule = aggregate.granuleSeconds * 1_000
        var result: [String: BucketFigures] = [:]
        for event in self.members(key, group: group) {
            let start = MonitoringEngine.floor(event.atMillis, granule)
            guard start >= fromMillis, start <= throughMillis else { continue }
            let amount = event.amountMinor ?? 0
            result[event.currency ?? ""] = MemoryAggregateStore.merge(result[event.currency ?? ""], BucketFigures(count: 1, sumMinor: amount, maxMinor: amount))
        }
        return result
    }

    func distinct(key: String, group: String, sinceMillis: Int64, value: String?) async throws -> (count: Int, contains: Bool) {
        guard let field = self.byKey[key]?.field else { return (0, false) }
        var values = Set<String>()
        for event in self.members(key, group: group) where event.atMillis >= sinceMillis {
            if case .text(let text)? = event.value(field) { values.insert(text) }
        }
        return (values.count, value.map(values.contains) ?? false)
    }

    func last(key: String, group: String) async throws -> Int64? {
        self.members(key, group: group).map(\.atMillis).max()
    }

    func apply(_ updates: [AggregateUpdate]) async throws {}
}
