import FinFlowCore
import Foundation
import SQLKit

/// The compliance service's use cases: the only API its HTTP handlers, event consumers and commands call.
struct ComplianceDesk: Sendable {
    let env: ServiceEnvironment
    let outbox: Outbox
    let indexes: ListIndexes
    let scenarioCache: LiveScenarioCache
    /// Each tenant's monitoring figures as this process last wrote them.
    let figureCache: FigureCache
    var database: any Database { self.env.database }
    var now: Int64 { self.env.clock.nowMillis() }

    /// The most matches a screening keeps, best first.
    static let matchesMax = 20
    /// The names (primary and aliases) one screening may ask about, and the longest.
    static let queryNamesMax = 20
    /// The lowest threshold a tenant or a request may set: below it nearly every name matches something.
    static let thresholdMin = 0.5
    static let subjectRefLengthMax = 200

    init(
        env: ServiceEnvironment, indexes: ListIndexes = ListIndexes(), scenarioCache: LiveScenarioCache = LiveScenarioCache(),
        figureCache: FigureCache = FigureCache()
    ) {
        self.env = env
        self.outbox = env.outbox(serviceName: "compliance")
        self.indexes = indexes
        self.scenarioCache = scenarioCache
        self.figureCache = figureCache
    }

    /// What a screening asks: who, how closely, and whether to keep screening them as lists change.
    struct ScreeningRequest: Sendable, Encodable {
        var id: String?
        /// customer, counterparty, user or person (nobody the tenant keeps).
        var subjectType: String
        var subjectRef: String?
        /// individual or entity: entries of the other kind are left out.
        var kind: String?
        var names: [String]
        var birthDate: String?
        var country: String?
        var gender: String?
        var threshold: Double?
        var monitor: Bool

        var subject: ScreeningSubject {
            ScreeningSubject(names: self.names, birthDate: self.birthDate, country: self.country, gender: self.gender)
        }

        /// The request's content as a hash: a client id reused with other content is refused.
        var hash: String {
            var content = self
            content.id = nil
            return Digest.sha256Hex(ComplianceDesk.json(content))
        }
    }

    /// A screening with its matches.
    struct ScreeningRecord: Sendable {
        let row: ScreeningRow
        let matches: [MatchRow]
    }

    /// Screens `request` against the tenant's active lists and stores the screening; a hit opens an alert and
    /// announces it. A client id already used for the same request answers the stored screening (`created` false)
    /// without screening again.
    func screen(_ request: ScreeningRequest, principal: Principal, origin: String = "request") async throws -> (ScreeningRecord, created: Bool) {
        let tenantId = principal.tenantId
        if let stored = try await self.stored(request, tenantId: tenantId) { return (stored, false) }
        let outcome = try await self.evaluate(request, tenantId: tenantId)
        do {
            let created = try await self.database.tenantTransaction(tenantId: tenantId) { db in
                try await self.record(request, outcome: outcome, tenantId: tenantId, actor: principal.subject, origin: origin, db: db)
            }
            return (created, true)
        } catch where violatedConstraint(error) != nil {
            // A concurrent request with the same id stored it first.
            guard let stored = try await self.stored(request, tenantId: tenantId) else { throw error }
            return (stored, false)
        }
    }

    /// The screening a client id names, when the same request stored it; another request's under that id is `id-reused`.
    private func stored(_ request: ScreeningRequest, tenantId: String) async throws -> ScreeningRecord? {
        guard let id = request.id, let (row, matches) = try await self.database.tenantRead(tenantId: tenantId, { db in
            try await ComplianceStore.screening(tenantId: tenantId, id: id, db: db)
        }) else { return nil }
        guard row.request_hash == request.hash else { throw AppError.idReused("screening") }
        return ScreeningRecord(row: row, matches: matches)
    }

    /// What screening `request` found: the lists screened, the tenant's threshold (or the request's) and the hits.
    struct Outcome: Sendable {
        let lists: [ListRow]
        let threshold: Double
        let hits: [(ListRow, ScreeningIndex.Hit)]
    }

    /// Screens `request` against the active lists of `tenantId` (the platform's and the tenant's own) at the request's
    /// threshold or the tenant's. Inside a transaction (`db`, an event's), the lists and settings are read in it.
    func evaluate(_ request: ScreeningRequest, tenantId: String, db: (any SQLDatabase)? = nil) async throws -> Outcome {
        try await self.ensureBundledList(on: db)
        let read: @Sendable (any SQLDatabase) async throws -> ([ListRow], SettingsRow?) = { db in
            (try await ComplianceStore.activeLists(tenantId: tenantId, db: db), try await ComplianceStore.settings(tenantId: tenantId, db: db))
        }
        let (lists, settings) = if let db { try await read(db) } else { try await self.database.tenantRead(tenantId: tenantId, read) }
        return try await self.evaluate(request, lists: lists, threshold: request.threshold ?? settings?.screening_threshold ?? NameMatcher.defaultThreshold)
    }

    /// Screens `request` against `lists` at `threshold`.
    func evaluate(_ request: ScreeningRequest, lists: [ListRow], threshold: Double) async throws -> Outcome {
        var hits: [(ListRow, ScreeningIndex.Hit)] = []
        for list in lists {
            let index = try await self.index(of: list)
            for hit in index.search(request.subject, threshold: threshold, limit: Self.matchesMax, kind: request.kind) {
                hits.append((list, hit))
            }
        }
        hits.sort { ($0.1.match.score, $1.1.entry.id) > ($1.1.match.score, $0.1.entry.id) }
        return Outcome(lists: lists, threshold: threshold, hits: Array(hits.prefix(Self.matchesMax)))
    }

    /// The screening index of a list version, built from its stored entries on first use.
    func index(of list: ListRow) async throws -> ScreeningIndex {
        let database = self.database
        return try await self.indexes.index(listId: list.id) {
            try await database.read { db in try await ComplianceStore.entries(listId: list.id, db: db) }.map(Self.entry)
        }
    }

    /// Stores a screening and its matches in `db`; a hit opens an alert and announces it, and a subject the tenant
    /// keeps is monitored from now on.
    func record(
        _ request: ScreeningRequest, outcome: Outcome, tenantId: String, actor: String, origin: String, db: any SQLDatabase
    ) async throws -> ScreeningRecord {
        let id = request.id ?? self.env.ids.nextString()
        let now = self.now
        var row = ScreeningRow(
            id: id, tenant_id: tenantId, subject_type: request.subjectType, subject_ref: request.subjectRef, kind: request.kind,
            names: Self.json(request.names), birth_date: request.birthDate, country: request.country, gender: request.gender,
            threshold: outcome.threshold,
            lists: Self.json(outcome.lists.map { ScreenedList(id: $0.id, name: $0.name, version: $0.version) }),
            status: outcome.hits.isEmpty ? "clear" : "hit", top_score: outcome.hits.first?.1.match.score, match_count: outcome.hits.count,
            origin: origin, alert_id: nil, request_hash: request.hash, created_by: actor, created_at_ms: now)
        let matches = outcome.hits.enumerated().map { position, found in
            MatchRow(
                screening_id: id, position: position, tenant_id: tenantId, list_id: found.0.id, entry_id: found.1.entry.id,
                score: found.1.match.score, explanation: Self.json(Self.explanation(found.1, list: found.0)))
        }
        if let top = outcome.hits.first {
            let alert = AlertRow(
                id: self.env.ids.nextString(), tenant_id: tenantId, kind: "sanctions", severity: top.1.match.score >= 0.9 ? "high" : "medium",
                status: "open", subject_type: request.subjectType, subject_ref: request.subjectRef, source_type: "screening", source_id: id,
                reason: "\(request.names.first ?? "the subject") resembles \(top.1.entry.subject.names.first ?? top.1.entry.reference) (\(top.0.name) \(top.1.entry.reference)) at \(String(format: "%.2f", top.1.match.score))",
                outcome: nil, note: nil, closed_by: nil, closed_at_ms: nil, created_at_ms: now)
            row.alert_id = alert.id
            try await db.insert(into: "compliance_alerts").model(alert).run()
            try await self.outbox.enqueue(
                ComplianceAlert(
                    alertId: alert.id, tenantId: tenantId, kind: alert.kind, severity: alert.severity, subjectType: alert.subject_type,
                    subjectId: alert.subject_ref ?? id, userId: request.subjectType == "user" ? request.subjectRef : nil, action: "review",
                    reason: alert.reason, raisedAtMillis: now),
                subject: alert.id, tenantId: tenantId, on: db)
        }
        try await db.insert(into: "screenings").model(row).run()
        if !matches.isEmpty { try await db.insert(into: "screening_matches").models(matches, with: Self.rowEncoder).run() }
        if request.monitor, let ref = request.subjectRef {
            try await ComplianceStore.monitor(
                MonitoredRow(
                    tenant_id: tenantId, subject_type: request.subjectType, subject_ref: ref, kind: request.kind, names: Self.json(request.names),
                    birth_date: request.birthDate, country: request.country, gender: request.gender, last_screening_id: id, updated_at_ms: now),
                kind: self.database.kind, db: db)
        }
        return ScreeningRecord(row: row, matches: matches)
    }

    /// One screening of the tenant.
    func screening(tenantId: String, id: String) async throws -> ScreeningRecord {
        guard let (row, matches) = try await self.database.tenantRead(tenantId: tenantId, { db in
            try await ComplianceStore.screening(tenantId: tenantId, id: id, db: db)
        }) else { throw AppError.notFound("screening") }
        return ScreeningRecord(row: row, matches: matches)
    }

    /// A page of the tenant's screenings, newest first.
    func screenings(tenantId: String, filter: ComplianceStore.ScreeningFilter, page: PageRequest) async throws
        -> (items: [ScreeningRow], nextCursor: String?)
    {
        let rows = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await ComplianceStore.screenings(tenantId: tenantId, filter: filter, page: page, db: db)
        }
        return page.page(rows, key: \.id)
    }

    static func explanation(_ hit: ScreeningIndex.Hit, list: ListRow) -> MatchExplanation {
        MatchExplanation(
            listName: list.name, listVersion: list.version, reference: hit.entry.reference, kind: hit.entry.kind, program: hit.entry.regime,
            entryNames: hit.entry.subject.names, birthDate: hit.entry.subject.birthDate, country: hit.entry.subject.country,
            queryName: hit.match.queryName, matchedName: hit.match.candidateName, nameScore: hit.match.nameScore,
            pairs: hit.match.pairs.map { .init(query: $0.query, candidate: $0.candidate, similarity: $0.similarity, measure: $0.measure) },
            unmatchedQuery: hit.match.unmatchedQuery, unmatchedCandidate: hit.match.unmatchedCandidate, qualifiers: hit.match.qualifiers)
    }

    /// A stored entry as screening compares it.
    static func entry(_ row: EntryRow) throws -> ListEntry {
        guard let names = try? JSONDecoder().decode([String].self, from: Data(row.names.utf8)) else {
            throw InvariantViolation("list entry \(row.list_id)/\(row.entry_id) has unreadable names")
        }
        return ListEntry(
            id: row.entry_id, reference: row.reference, kind: row.kind,
            subject: ScreeningSubject(names: names, birthDate: row.birth_date, country: row.country, gender: row.gender),
            regime: row.program, listedOn: row.listed_on)
    }

    /// Encodes rows with every column, nil ones as NULL, so rows of one insert share their columns.
    static let rowEncoder = SQLQueryEncoder(nilEncodingStrategy: .asNil)

    /// `value` as JSON text with sorted keys (stored columns and request hashes).
    static func json(_ value: some Encodable) -> String {
        SortedJSON.text(value)
    }
}
