import FinFlowCore
import Foundation
import SQLKit
import Synchronization

extension ComplianceDesk {
    static let scenarioNameLengthMax = 200
    static let scenarioDescriptionLengthMax = 2000
    /// The most stored events one backtest reads (its range and the windows' warm-up together).
    static let backtestEventsMax = 500_000
    /// The changed decisions a backtest lists.
    static let backtestChangesMax = 100

    // MARK: Evaluating events

    /// Stores `events` and evaluates each, in order, against its tenant's live scenarios, in the delivery's transaction:
    /// decisions of review or worse open alerts and announce them. A tenant's figures are read once for all its events
    /// (or kept in memory from its last delivery) and written back once. Returns each event's decisions as stored.
    @discardableResult
    func monitor(_ events: [MonitoredEvent], db: any SQLDatabase) async throws -> [[RecordedDecision]] {
        guard !events.isEmpty else { return [] }
        try await db.insertRows(
            into: "monitored_events", columns: ["id", "tenant_id", "type", "subject_id", "at_ms", "data"],
            rows: events.map { event in
                [SQLCell(event.id), SQLCell(event.tenantId), SQLCell(event.type.rawValue), SQLCell(event.subjectId), SQLCell(event.atMillis),
                 SQLCell(event.json)]
            },
            suffix: " ON CONFLICT (id) DO NOTHING")
        var byTenant: [String: [Int]] = [:]
        for (index, event) in events.enumerated() { byTenant[event.tenantId, default: []].append(index) }
        let tenants = Array(byTenant.keys)
        var recorded = [[RecordedDecision]](repeating: [], count: events.count)
        var writes = DecisionWrites()
        // Tenants are locked in one order in every process, so two deliveries sharing tenants never wait on each other.
        for tenantId in tenants.sorted() {
            let indexes = byTenant[tenantId] ?? []
            let state = try await Self.lockFigures(tenantId: tenantId, db: db)
            let live = try await self.liveScenarios(tenantId: tenantId, generation: state.generation, db: db)
            guard !live.versions.isEmpty else { continue }
            let window = self.figureCache.take(tenantId, generation: state.generation, stamp: state.figures_stamp)
                ?? FigureWindow(tenantId: tenantId, generation: state.generation)
            var requests: [FigureRequest] = []
            for index in indexes {
                for aggregate in live.maintained {
                    if let request = MonitoringEngine.request(aggregate, event: events[index]) { requests.append(request) }
                }
            }
            let shared = self.sharedFigures(tenantId: tenantId, state: state)
            let fromTables = try await window.load(requests, db: db, shared: shared)
            self.figureCache.counts.tables.add(fromTables, ordering: .relaxed)
            for index in indexes {
                let event = events[index]
                for decision in try await MonitoringEngine.run(event, versions: live.versions, maintained: live.maintained, store: window) {
                    let version = live.versions.first { $0.versionId == decision.versionId }
                    let id = self.record(decision, event: event, version: version, into: &writes)
                    recorded[index].append(RecordedDecision(id: id, scenarioName: version?.scenarioName ?? decision.scenarioId, decision: decision))
                }
            }
            if try await window.flush(db: db) {
                let stamp = self.env.ids.nextString()
                try await db.raw("UPDATE monitoring_state SET figures_stamp = \(bind: stamp) WHERE tenant_id = \(bind: tenantId)").run()
                window.stamp = stamp
            } else {
                window.stamp = state.figures_stamp
            }
            // Written while the tenant is still locked: a copy whose delivery rolls back carries a stamp never committed.
            if let shared, let stamp = window.stamp { await shared.write(from: window, stamp: stamp) }
            self.figureCache.keep(window)
        }
        try await self.write(writes, db: db)
        return recorded
    }

    /// Evaluates transactions' status changes with the amounts and accounts of the transactions monitoring saw (read in
    /// one statement).
    func monitor(_ events: [CloudEvent<TransactionStatusChanged>], db: any SQLDatabase) async throws {
        guard !events.isEmpty else { return }
        let tenants = Array(Set(events.map(\.data.tenantId))).sorted()
        let subjects = Array(Set(events.map(\.data.transactionId))).sorted()
        let rows = try await db.raw("""
            SELECT * FROM monitored_events WHERE tenant_id IN (\(binds: tenants)) AND subject_id IN (\(binds: subjects))
              AND type = 'transaction' ORDER BY at_ms, id
            """).all(decoding: MonitoredEventRow.self)
        var transactions: [String: MonitoredEvent] = [:]
        for row in rows {
            let key = row.tenant_id + "\u{1F}" + row.subject_id
            if transactions[key] == nil { transactions[key] = try row.event() }
        }
        try await self.monitor(
            events.map { MonitoredEvent($0, transaction: transactions[$0.data.tenantId + "\u{1F}" + $0.data.transactionId]) }, db: db)
    }

    /// The tenant's figures as the processes share them, when the deployment shares them (Redis and the setting).
    func sharedFigures(tenantId: String, state: FiguresState) -> SharedFigures? {
        guard self.env.settings.complianceSharedFigures, let store = self.env.shared else { return nil }
        return SharedFigures(
            store: store, tenantId: tenantId, generation: state.generation, stamp: state.figures_stamp, counts: self.figureCache.counts,
            logger: self.env.logger)
    }

    struct FiguresState: Decodable {
        let generation: Int64
        let figures_stamp: String?
    }

    /// Locks the tenant's monitoring state until the delivery commits (a publication, or another process evaluating the
    /// tenant's events, waits) and answers its generation of live versions and the stamp of its figures' last change.
    static func lockFigures(tenantId: String, db: any SQLDatabase) async throws -> FiguresState {
        guard let state = try await db.raw("""
            INSERT INTO monitoring_state (tenant_id, generation) VALUES (\(bind: tenantId), 0)
            ON CONFLICT (tenant_id) DO UPDATE SET generation = monitoring_state.generation RETURNING generation, figures_stamp
            """).first(decoding: FiguresState.self)
        else { throw InvariantViolation("the monitoring state upsert returned no row") }
        return state
    }

    /// The tenant's live versions at `generation`, read again only when a publication changed them.
    func liveScenarios(tenantId: String, generation: Int64, db: any SQLDatabase) async throws -> LiveScenarios {
        if let cached = await self.scenarioCache.get(tenantId, generation: generation) { return cached }
        let rows = try await db.raw("""
            SELECT * FROM scenario_versions WHERE tenant_id = \(bind: tenantId) AND status = 'live' ORDER BY scenario_id
            """).all(decoding: ScenarioVersionRow.self)
        let names = Dictionary(
            try await db.raw("SELECT * FROM monitoring_scenarios WHERE tenant_id = \(bind: tenantId)").all(decoding: ScenarioRow.self)
                .map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        let versions = try rows.map { row in
            EvaluatedVersion(
                scenarioId: row.scenario_id, scenarioName: names[row.scenario_id] ?? row.scenario_id, versionId: row.id, version: row.version,
                definition: try VersionDefinition.stored(row.definition, what: "scenario version \(row.id)"))
        }
        let live = LiveScenarios(generation: generation, versions: versions)
        await self.scenarioCache.put(tenantId, live)
        return live
    }

    /// The rows a delivery's decisions write, together at its end.
    struct DecisionWrites {
        var decisions: [[SQLCell]] = []
        var alerts: [AlertRow] = []
        var announcements: [ComplianceAlert] = []
    }

    static let decisionColumns = [
        "id", "tenant_id", "scenario_id", "version_id", "event_id", "event_type", "subject_type", "subject_id", "score", "outcome", "rules",
        "alert_id", "event_at_ms", "created_at_ms",
    ]

    /// Adds a decision's rows to `writes` and returns its id; review or worse opens an alert and announces it.
    func record(_ decision: Decision, event: MonitoredEvent, version: EvaluatedVersion?, into writes: inout DecisionWrites) -> String {
        let now = self.now
        let id = self.env.ids.nextString()
        var alertId: String?
        if decision.outcome != "approve" {
            let hits = decision.rules.filter { $0.result == "hit" }.map(\.rule)
            let severity = switch decision.outcome {
            case "decline": "critical"
            case "block_and_review": "high"
            default: "medium"
            }
            let alert = AlertRow(
                id: self.env.ids.nextString(), tenant_id: event.tenantId, kind: "aml", severity: severity, status: "open",
                subject_type: event.subjectType, subject_ref: event.subjectId, source_type: "decision", source_id: id,
                reason: "\(version?.scenarioName ?? decision.scenarioId) v\(version?.version ?? 0) decided \(decision.outcome) at score \(decision.score)"
                    + (hits.isEmpty ? "" : " (\(hits.joined(separator: ", ")))"),
                outcome: nil, note: nil, closed_by: nil, closed_at_ms: nil, created_at_ms: now)
            alertId = alert.id
            writes.alerts.append(alert)
            writes.announcements.append(
                ComplianceAlert(
                    alertId: alert.id, tenantId: event.tenantId, kind: "aml", severity: severity, subjectType: event.subjectType,
                    subjectId: event.subjectId, userId: nil, action: "review", reason: alert.reason, raisedAtMillis: now))
        }
        writes.decisions.append([
            SQLCell(id), SQLCell(event.tenantId), SQLCell(decision.scenarioId), SQLCell(decision.versionId), SQLCell(event.id),
            SQLCell(event.type.rawValue), SQLCell(event.subjectType), SQLCell(event.subjectId), SQLCell(Int64(decision.score)),
            SQLCell(decision.outcome), SQLCell(RuleResult.json(decision.rules)), SQLCell(alertId), SQLCell(event.atMillis), SQLCell(now),
        ])
        return id
    }

    /// Writes a delivery's decisions, alerts and their announcements.
    func write(_ writes: DecisionWrites, db: any SQLDatabase) async throws {
        if !writes.alerts.isEmpty { try await db.insert(into: "compliance_alerts").models(writes.alerts).run() }
        try await self.outbox.enqueue(writes.announcements.map { ($0, $0.alertId, $0.tenantId) }, on: db)
        try await db.insertRows(into: "monitoring_decisions", columns: Self.decisionColumns, rows: writes.decisions)
    }

    // MARK: Scenarios

    /// Creates a scenario without versions, audited.
    func createScenario(name: String, description: String?, principal: Principal) async throws -> ScenarioRow {
        let tenantId = principal.tenantId
        let row = ScenarioRow(
            id: self.env.ids.nextString(), tenant_id: tenantId, name: name, description: description, live_version: nil,
            created_by: principal.subject, created_at_ms: self.now)
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            guard try await db.raw("""
                INSERT INTO monitoring_scenarios (id, tenant_id, name, description, live_version, created_by, created_at_ms)
                VALUES (\(bind: row.id), \(bind: tenantId), \(bind: name), \(bind: description), NULL, \(bind: row.created_by), \(bind: row.created_at_ms))
                ON CONFLICT DO NOTHING RETURNING id
                """).first() != nil
            else { throw AppError.conflict(code: "scenario-exists", "the tenant has a scenario named \(name) already") }
            try await self.env.audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "compliance.scenario.created", target: row.id, details: ["name": name]),
                on: db, kind: self.database.kind)
        }
        return row
    }

    /// The tenant's scenarios with their versions, oldest first.
    func scenarios(tenantId: String) async throws -> [(ScenarioRow, [ScenarioVersionRow])] {
        try await self.database.tenantRead(tenantId: tenantId) { db in
            let scenarios = try await db.raw("SELECT * FROM monitoring_scenarios WHERE tenant_id = \(bind: tenantId) ORDER BY id")
                .all(decoding: ScenarioRow.self)
            let versions = try await db.raw("SELECT * FROM scenario_versions WHERE tenant_id = \(bind: tenantId) ORDER BY scenario_id, version")
                .all(decoding: ScenarioVersionRow.self)
            let byScenario = Dictionary(grouping: versions, by: \.scenario_id)
            return scenarios.map { ($0, byScenario[$0.id] ?? []) }
        }
    }

    /// One scenario with its versions.
    func scenario(tenantId: String, id: String) async throws -> (ScenarioRow, [ScenarioVersionRow]) {
        guard let found = try await self.database.tenantRead(tenantId: tenantId, { db in
            try await Self.scenario(tenantId: tenantId, id: id, db: db)
        }) else { throw AppError.notFound("scenario") }
        return found
    }

    static func scenario(tenantId: String, id: String, db: any SQLDatabase) async throws -> (ScenarioRow, [ScenarioVersionRow])? {
        guard let scenario = try await db.raw("SELECT * FROM monitoring_scenarios WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id)")
            .first(decoding: ScenarioRow.self)
        else { return nil }
        let versions = try await db.raw("""
            SELECT * FROM scenario_versions WHERE tenant_id = \(bind: tenantId) AND scenario_id = \(bind: id) ORDER BY version
            """).all(decoding: ScenarioVersionRow.self)
        return (scenario, versions)
    }

    /// Adds a draft version to a scenario, audited.
    func addVersion(scenarioId: String, definition: VersionDefinition, principal: Principal) async throws -> ScenarioVersionRow {
        let tenantId = principal.tenantId
        let now = self.now
        return try await self.database.tenantTransaction(tenantId: tenantId) { db in
            guard let (_, versions) = try await Self.scenario(tenantId: tenantId, id: scenarioId, db: db) else { throw AppError.notFound("scenario") }
            let row = ScenarioVersionRow(
                id: self.env.ids.nextString(), tenant_id: tenantId, scenario_id: scenarioId, version: (versions.last?.version ?? 0) + 1,
                status: "draft", definition: definition.json.text, created_by: principal.subject, created_at_ms: now, published_by: nil,
                published_at_ms: nil)
            try await db.insert(into: "scenario_versions").model(row).run()
            try await self.env.audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "compliance.scenario.version-added", target: row.id,
                           details: ["scenario": scenarioId, "version": String(row.version)]),
                on: db, kind: self.database.kind)
            return row
        }
    }

    /// Makes a version (a draft, or a retired one to roll back) the scenario's live version, audited. Figures no other
    /// live version kept are rebuilt from the stored events within their windows.
    func publish(scenarioId: String, version: Int, principal: Principal) async throws -> ScenarioVersionRow {
        let tenantId = principal.tenantId
        let now = self.now
        return try await self.database.tenantTransaction(tenantId: tenantId) { db in
            // Raising the generation first takes the lock every event's evaluation shares.
            try await db.raw("""
                INSERT INTO monitoring_state (tenant_id, generation) VALUES (\(bind: tenantId), 1)
                ON CONFLICT (tenant_id) DO UPDATE SET generation = monitoring_state.generation + 1
                """).run()
            guard let (_, versions) = try await Self.scenario(tenantId: tenantId, id: scenarioId, db: db) else { throw AppError.notFound("scenario") }
            guard var row = versions.first(where: { $0.version == version }) else { throw AppError.notFound("scenario version") }
            if row.status == "live" { return row }
            let definition = try VersionDefinition.stored(row.definition, what: "scenario version \(row.id)")
            let others = try await db.raw("""
                SELECT * FROM scenario_versions WHERE tenant_id = \(bind: tenantId) AND status = 'live' AND scenario_id <> \(bind: scenarioId)
                """).all(decoding: ScenarioVersionRow.self)
            let kept = Set(try others.flatMap { try VersionDefinition.stored($0.definition, what: "scenario version \($0.id)").aggregates }.map(\.storageKey))
            try await db.raw("UPDATE scenario_versions SET status = 'retired' WHERE scenario_id = \(bind: scenarioId) AND status = 'live'").run()
            try await db.raw("""
                UPDATE scenario_versions SET status = 'live', published_by = \(bind: principal.subject), published_at_ms = \(bind: now)
                WHERE id = \(bind: row.id)
                """).run()
            try await db.raw("UPDATE monitoring_scenarios SET live_version = \(bind: version) WHERE id = \(bind: scenarioId)").run()
            let rebuilt = try await self.rebuild(definition.aggregates.filter { !kept.contains($0.storageKey) }, tenantId: tenantId, now: now, db: db)
            try await self.env.audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "compliance.scenario.published", target: row.id,
                           details: ["scenario": scenarioId, "version": String(version), "eventsReplayed": String(rebuilt)]),
                on: db, kind: self.database.kind)
            row.status = "live"
            row.published_by = principal.subject
            row.published_at_ms = now
            return row
        }
    }

    /// Rebuilds the stored figures of `aggregates` from the stored events within their windows; answers how many events
    /// were replayed.
    func rebuild(_ aggregates: [Aggregate], tenantId: String, now: Int64, db: any SQLDatabase) async throws -> Int {
        guard !aggregates.isEmpty else { return 0 }
        let keys = Array(Set(aggregates.map(\.storageKey))).sorted()
        for table in ["monitoring_buckets", "monitoring_values", "monitoring_last"] {
            try await db.raw("DELETE FROM \(unsafeRaw: table) WHERE tenant_id = \(bind: tenantId) AND aggregate_key IN (\(binds: keys))").run()
        }
        let since = aggregates.map { MonitoringEngine.floor(now - $0.windowSeconds * 1_000, $0.granuleSeconds * 1_000) }.min() ?? now
        let memory = MemoryAggregateStore()
        let replayed = try await Self.storedEvents(tenantId: tenantId, fromMillis: since, throughMillis: .max, limit: nil, db: db) { event in
            try await memory.apply(MonitoringEngine.updates(event, maintained: aggregates))
        }
        try await FigureWindow.add(memory.contents, tenantId: tenantId, db: db)
        return replayed
    }

    /// Calls `body` with the tenant's stored events from `fromMillis` through `throughMillis` in time order, a page at a
    /// time; answers how many there were. Throws `backtest-too-large` past `limit`.
    static func storedEvents(
        tenantId: String, fromMillis: Int64, throughMillis: Int64, limit: Int?, db: any SQLDatabase,
        _ body: (MonitoredEvent) async throws -> Void
    ) async throws -> Int {
        var after: (Int64, String)?
        var count = 0
        while true {
            let afterClause: SQLQueryString = after.map { "AND (at_ms > \(bind: $0.0) OR (at_ms = \(bind: $0.0) AND id > \(bind: $0.1)))" } ?? ""
            let rows = try await db.raw("""
                SELECT * FROM monitored_events WHERE tenant_id = \(bind: tenantId) AND at_ms >= \(bind: fromMillis) AND at_ms <= \(bind: throughMillis)
                \(afterClause) ORDER BY at_ms, id LIMIT 2000
                """).all(decoding: MonitoredEventRow.self)
            for row in rows {
                count += 1
                if let limit, count > limit {
                    throw AppError.invalid(code: "backtest-too-large", "the range holds more than \(limit) events with its warm-up; backtest a shorter range")
                }
                try await body(try row.event())
            }
            guard let last = rows.last, rows.count == 2000 else { return count }
            after = (last.at_ms, last.id)
        }
    }

    // MARK: Backtests

    /// What one version decided over a backtest's range.
    struct BacktestTally: Sendable {
        let versionId: String
        let version: Int
        var triggered = 0
        var outcomes: [String: Int] = [:]
        var ruleHits: [String: Int] = [:]
    }

    struct BacktestChange: Sendable {
        let eventId: String
        let subjectId: String
        let live: Decision?
        let candidate: Decision?
    }

    struct BacktestReport: Sendable {
        let fromMillis: Int64
        let toMillis: Int64
        var events = 0
        var warmUpEvents = 0
        var candidate: BacktestTally
        var live: BacktestTally?
        var changed = 0
        var changes: [BacktestChange] = []
    }

    /// Runs version `version` of a scenario, and its live version if another, over the stored events from `fromMillis`
    /// through `toMillis`, as the live service would have decided them.
    func backtest(scenarioId: String, version: Int, fromMillis: Int64, toMillis: Int64, tenantId: String) async throws -> BacktestReport {
        try await self.database.tenantRead(tenantId: tenantId) { db in
            guard let (scenario, versions) = try await Self.scenario(tenantId: tenantId, id: scenarioId, db: db) else { throw AppError.notFound("scenario") }
            guard let candidateRow = versions.first(where: { $0.version == version }) else { throw AppError.notFound("scenario version") }
            func evaluated(_ row: ScenarioVersionRow) throws -> EvaluatedVersion {
                EvaluatedVersion(
                    scenarioId: scenario.id, scenarioName: scenario.name, versionId: row.id, version: row.version,
                    definition: try VersionDefinition.stored(row.definition, what: "scenario version \(row.id)"))
            }
            let candidate = try evaluated(candidateRow)
            let live = try versions.first { $0.status == "live" && $0.id != candidateRow.id }.map(evaluated)
            let aggregates = candidate.definition.aggregates + (live?.definition.aggregates ?? [])
            let warmUp = aggregates.map { $0.windowSeconds * 1_000 + $0.granuleSeconds * 1_000 }.max() ?? 0
            var events: [MonitoredEvent] = []
            _ = try await Self.storedEvents(
                tenantId: tenantId, fromMillis: fromMillis - warmUp, throughMillis: toMillis, limit: Self.backtestEventsMax, db: db
            ) { events.append($0) }
            let candidateDecisions = try await MonitoringEngine.replay(events, evaluateFromMillis: fromMillis, version: candidate)
            var liveDecisions: [String: Decision]?
            if let live { liveDecisions = try await MonitoringEngine.replay(events, evaluateFromMillis: fromMillis, version: live) }
            var report = BacktestReport(
                fromMillis: fromMillis, toMillis: toMillis, candidate: BacktestTally(versionId: candidate.versionId, version: candidate.version),
                live: live.map { BacktestTally(versionId: $0.versionId, version: $0.version) })
            for event in events {
                guard event.atMillis >= fromMillis else {
                    report.warmUpEvents += 1
                    continue
                }
                report.events += 1
                let drafted = candidateDecisions[event.id]
                Self.tally(drafted, into: &report.candidate)
                guard live != nil else { continue }
                let decided = liveDecisions?[event.id]
                if report.live != nil { Self.tally(decided, into: &report.live!) }
                if (drafted?.outcome ?? "approve") != (decided?.outcome ?? "approve") {
                    report.changed += 1
                    if report.changes.count < Self.backtestChangesMax {
                        report.changes.append(BacktestChange(eventId: event.id, subjectId: event.subjectId, live: decided, candidate: drafted))
                    }
                }
            }
            return report
        }
    }

    static func tally(_ decision: Decision?, into tally: inout BacktestTally) {
        guard let decision else { return }
        tally.triggered += 1
        tally.outcomes[decision.outcome, default: 0] += 1
        for result in decision.rules where result.result == "hit" { tally.ruleHits[result.rule, default: 0] += 1 }
    }

    // MARK: Decisions

    /// A page of the tenant's decisions, newest first.
    func decisions(tenantId: String, subjectId: String?, outcome: String?, page: PageRequest) async throws -> (items: [DecisionRow], nextCursor: String?) {
        let rows = try await self.database.tenantRead(tenantId: tenantId) { db in
            var query = db.select().column("*").from("monitoring_decisions").where("tenant_id", .equal, tenantId)
            if let subjectId { query = query.where("subject_id", .equal, subjectId) }
            if let outcome { query = query.where("outcome", .equal, outcome) }
            if let after = page.after { query = query.where("id", .lessThan, after) }
            return try await query.orderBy("id", .descending).limit(page.limit + 1).all(decoding: DecisionRow.self)
        }
        return page.page(rows, key: \.id)
    }

    /// One decision of the tenant.
    func decision(tenantId: String, id: String) async throws -> DecisionRow {
        guard let row = try await self.database.tenantRead(tenantId: tenantId, { db in
            try await db.select().column("*").from("monitoring_decisions").where("tenant_id", .equal, tenantId).where("id", .equal, id)
                .first(decoding: DecisionRow.self)
        }) else { throw AppError.notFound("decision") }
        return row
    }
}
