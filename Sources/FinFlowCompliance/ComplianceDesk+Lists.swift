import FinFlowCore
import Foundation
import SQLKit

extension ComplianceDesk {
    /// The platform list every tenant is screened against from the start.
    static let bundledListName = "un-security-council"
    /// How many entries go in one insert.
    static let entryChunkRows = 500
    /// How many monitored subjects are read at a time when a new list version is screened against them.
    static let rescreenPageRows = 500

    /// Stores the bundled UN list as the platform's first version of it, unless a version of it exists. Replicas
    /// racing here meet the unique version and one of them stores it. Inside a transaction (`db`, an event's), the
    /// list is stored in it, and only a later look that finds it committed stops the looking.
    func ensureBundledList(on db: (any SQLDatabase)? = nil) async throws {
        guard !(await self.indexes.bundledListStored) else { return }
        let exists: @Sendable (any SQLDatabase) async throws -> Bool = { db in
            try await ComplianceStore.latest(owner: "", name: Self.bundledListName, db: db) != nil
        }
        if let db {
            if try await exists(db) { return }
            _ = try await self.storeBundled(on: db)
            return
        }
        if try await !self.database.read(exists) {
            do {
                _ = try await self.database.transaction { db in try await self.storeBundled(on: db) }
            } catch where violatedConstraint(error) != nil {
                // Another replica stored it.
            }
        }
        await self.indexes.markBundledListStored()
    }

    private func storeBundled(on db: any SQLDatabase) async throws -> ListRow {
        let (data, entries) = try UNConsolidatedList.bundledData()
        let row = try await self.insertVersion(
            entries: entries, owner: "", name: Self.bundledListName,
            source: "UN Security Council Consolidated List, generated 2020-11-24 (shipped with FinFlow)", format: "un-xml",
            sha256: Digest.sha256Hex(data), actor: "system", db: db)
        await self.indexes.prime(listId: row.id, ScreeningIndex(entries: entries))
        return row
    }

    /// Stores `entries` as the next version of list `name` of `owner` (`""`: the platform) and supersedes the version
    /// before it. Answers the new version.
    func store(entries: [ListEntry], owner: String, name: String, source: String, format: String, sha256: String, actor: String) async throws
        -> ListRow
    {
        let body: @Sendable (any SQLDatabase) async throws -> ListRow = { db in
            try await self.insertVersion(entries: entries, owner: owner, name: name, source: source, format: format, sha256: sha256, actor: actor, db: db)
        }
        return owner.isEmpty
            ? try await self.database.transaction(body)
            : try await self.database.tenantTransaction(tenantId: owner, body)
    }

    /// Writes a new list version and its entries in `db`, superseding the active one of the same name.
    private func insertVersion(
        entries: [ListEntry], owner: String, name: String, source: String, format: String, sha256: String, actor: String, db: any SQLDatabase
    ) async throws -> ListRow {
        let previous = try await ComplianceStore.latest(owner: owner, name: name, db: db)
        let row = ListRow(
            id: self.env.ids.nextString(), tenant_id: owner, name: name, version: (previous?.version ?? 0) + 1, source: source, format: format,
            sha256: sha256, entry_count: entries.count, status: "active", created_by: actor, created_at_ms: self.now)
        try await db.raw("""
            UPDATE screening_lists SET status = 'superseded' WHERE tenant_id = \(bind: owner) AND name = \(bind: name) AND status = 'active'
            """).run()
        try await db.insert(into: "screening_lists").model(row).run()
        for chunk in entries.chunked(Self.entryChunkRows) {
            try await db.insert(into: "list_entries").models(chunk.map { entry in
                EntryRow(
                    list_id: row.id, entry_id: entry.id, tenant_id: owner, reference: entry.reference, kind: entry.kind,
                    names: Self.json(entry.subject.names), birth_date: entry.subject.birthDate, country: entry.subject.country,
                    gender: entry.subject.gender, program: entry.regime, listed_on: entry.listedOn)
            }, with: Self.rowEncoder).run()
        }
        if !owner.isEmpty {
            try await self.env.audit.append(
                AuditEntry(tenantId: owner, actorId: actor, action: "compliance.list.loaded", target: row.id,
                           details: ["name": name, "version": "\(row.version)", "entries": "\(entries.count)", "sha256": sha256]),
                on: db, kind: self.database.kind)
        }
        return row
    }

    /// What screening the monitored subjects against a new list version did.
    struct Rescreen: Sendable {
        var screened = 0
        var hits = 0
    }

    /// Screens every subject monitored for `tenantId` (every tenant for a platform list) against `list` alone, so a
    /// name added to a list is found among the customers and counterparties already known. Each hit is a screening
    /// of origin `rescreen` with its alert.
    func rescreen(against list: ListRow) async throws -> Rescreen {
        var result = Rescreen()
        var after: (String, String, String)?
        let owner = list.tenant_id.isEmpty ? nil : list.tenant_id
        // Each tenant's threshold is read once, at its first monitored subject.
        var thresholds: [String: Double] = [:]
        while true {
            let cursor = after
            let page = try await self.database.read { db in
                try await ComplianceStore.monitoredPage(tenantId: owner, after: cursor, limit: Self.rescreenPageRows, db: db)
            }
            for subject in page {
                let request = try Self.request(monitored: subject)
                let threshold: Double
                if let known = thresholds[subject.tenant_id] {
                    threshold = known
                } else {
                    threshold = try await self.threshold(tenantId: subject.tenant_id)
                    thresholds[subject.tenant_id] = threshold
                }
                let outcome = try await self.evaluate(request, lists: [list], threshold: threshold)
                result.screened += 1
                guard !outcome.hits.isEmpty else { continue }
                result.hits += 1
                _ = try await self.database.tenantTransaction(tenantId: subject.tenant_id) { db in
                    try await self.record(request, outcome: outcome, tenantId: subject.tenant_id, actor: "system", origin: "rescreen", db: db)
                }
            }
            guard page.count == Self.rescreenPageRows, let last = page.last else { return result }
            after = (last.tenant_id, last.subject_type, last.subject_ref)
        }
    }

    /// The screening request that screens a monitored subject again.
    static func request(monitored row: MonitoredRow) throws -> ScreeningRequest {
        guard let names = try? JSONDecoder().decode([String].self, from: Data(row.names.utf8)) else {
            throw InvariantViolation("monitored subject \(row.subject_type)/\(row.subject_ref) has unreadable names")
        }
        return ScreeningRequest(
            id: nil, subjectType: row.subject_type, subjectRef: row.subject_ref, kind: row.kind, names: names, birthDate: row.birth_date,
            country: row.country, gender: row.gender, threshold: nil, monitor: false)
    }

    /// The list versions visible to the tenant, newest first per name.
    func lists(tenantId: String) async throws -> [ListRow] {
        try await self.ensureBundledList()
        return try await self.database.tenantRead(tenantId: tenantId) { db in try await ComplianceStore.lists(tenantId: tenantId, db: db) }
    }

    /// Loads a tenant's own list (a new version when the name exists) and screens the tenant's monitored subjects
    /// against it.
    func upload(entries: [ListEntry], name: String, source: String, format: String, sha256: String, principal: Principal) async throws
        -> (ListRow, Rescreen)
    {
        let row = try await self.store(
            entries: entries, owner: principal.tenantId, name: name, source: source, format: format, sha256: sha256, actor: principal.subject)
        return (row, try await self.rescreen(against: row))
    }
}
