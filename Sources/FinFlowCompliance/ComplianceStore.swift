import FinFlowCore
import Foundation
import SQLKit

/// The compliance tables' SQL, the same on SQLite and PostgreSQL.
enum ComplianceStore {
    /// The active list versions screened for `tenantId`: the platform's and the tenant's own.
    static func activeLists(tenantId: String, db: any SQLDatabase) async throws -> [ListRow] {
        try await db.raw("""
            SELECT * FROM screening_lists WHERE (tenant_id = '' OR tenant_id = \(bind: tenantId)) AND status = 'active' ORDER BY name, id
            """).all(decoding: ListRow.self)
    }

    /// Every list version visible to `tenantId`, newest first per name.
    static func lists(tenantId: String, db: any SQLDatabase) async throws -> [ListRow] {
        try await db.raw("""
            SELECT * FROM screening_lists WHERE tenant_id = '' OR tenant_id = \(bind: tenantId) ORDER BY name, version DESC
            """).all(decoding: ListRow.self)
    }

    /// One list version visible to `tenantId`.
    static func list(tenantId: String, id: String, db: any SQLDatabase) async throws -> ListRow? {
        try await db.raw("""
            SELECT * FROM screening_lists WHERE id = \(bind: id) AND (tenant_id = '' OR tenant_id = \(bind: tenantId))
            """).first(decoding: ListRow.self)
    }

    /// The newest version of the list `name` of `owner` (`""`: the platform), if any.
    static func latest(owner: String, name: String, db: any SQLDatabase) async throws -> ListRow? {
        try await db.raw("""
            SELECT * FROM screening_lists WHERE tenant_id = \(bind: owner) AND name = \(bind: name) ORDER BY version DESC LIMIT 1
            """).first(decoding: ListRow.self)
    }

    /// The entries of a list version.
    static func entries(listId: String, db: any SQLDatabase) async throws -> [EntryRow] {
        try await db.raw("SELECT * FROM list_entries WHERE list_id = \(bind: listId) ORDER BY entry_id").all(decoding: EntryRow.self)
    }

    /// One screening of a tenant, and its matches in order.
    static func screening(tenantId: String, id: String, db: any SQLDatabase) async throws -> (ScreeningRow, [MatchRow])? {
        guard let row = try await db.raw("SELECT * FROM screenings WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id)")
            .first(decoding: ScreeningRow.self)
        else { return nil }
        let matches = try await db.raw("""
            SELECT * FROM screening_matches WHERE tenant_id = \(bind: tenantId) AND screening_id = \(bind: id) ORDER BY position
            """).all(decoding: MatchRow.self)
        return (row, matches)
    }

    /// What a listing of screenings may be narrowed to.
    struct ScreeningFilter: Sendable {
        var status: String?
        var subjectType: String?
        var subjectRef: String?
    }

    /// A page of a tenant's screenings, newest first (fetched one over the page to know whether another follows).
    static func screenings(tenantId: String, filter: ScreeningFilter, page: PageRequest, db: any SQLDatabase) async throws -> [ScreeningRow] {
        var query = db.select().column("*").from("screenings").where("tenant_id", .equal, tenantId)
        if let status = filter.status { query = query.where("status", .equal, status) }
        if let type = filter.subjectType { query = query.where("subject_type", .equal, type) }
        if let ref = filter.subjectRef { query = query.where("subject_ref", .equal, ref) }
        if let after = page.after { query = query.where("id", .lessThan, after) }
        return try await query.orderBy("id", .descending).limit(page.limit + 1).all(decoding: ScreeningRow.self)
    }

    /// A page of a tenant's alerts, newest first.
    static func alerts(tenantId: String, status: String?, page: PageRequest, db: any SQLDatabase) async throws -> [AlertRow] {
        var query = db.select().column("*").from("compliance_alerts").where("tenant_id", .equal, tenantId)
        if let status { query = query.where("status", .equal, status) }
        if let after = page.after { query = query.where("id", .lessThan, after) }
        return try await query.orderBy("id", .descending).limit(page.limit + 1).all(decoding: AlertRow.self)
    }

    /// One alert of a tenant.
    static func alert(tenantId: String, id: String, db: any SQLDatabase) async throws -> AlertRow? {
        try await db.select().column("*").from("compliance_alerts").where("tenant_id", .equal, tenantId).where("id", .equal, id)
            .first(decoding: AlertRow.self)
    }

    /// A monitored subject of a tenant.
    static func monitored(tenantId: String, type: String, ref: String, db: any SQLDatabase) async throws -> MonitoredRow? {
        try await db.select().column("*").from("monitored_subjects").where("tenant_id", .equal, tenantId)
            .where("subject_type", .equal, type).where("subject_ref", .equal, ref).first(decoding: MonitoredRow.self)
    }

    /// A page of the subjects monitored for `tenantId` (every tenant when nil), in key order after `after`.
    static func monitoredPage(tenantId: String?, after: (String, String, String)?, limit: Int, db: any SQLDatabase) async throws -> [MonitoredRow] {
        let tenantClause: SQLQueryString = tenantId.map { "tenant_id = \(bind: $0)" } ?? "1 = 1"
        let afterClause: SQLQueryString = after.map { key in
            "(tenant_id > \(bind: key.0) OR (tenant_id = \(bind: key.0) AND (subject_type > \(bind: key.1) OR (subject_type = \(bind: key.1) AND subject_ref > \(bind: key.2)))))"
        } ?? "1 = 1"
        return try await db.raw("""
            SELECT * FROM monitored_subjects WHERE \(tenantClause) AND \(afterClause)
            ORDER BY tenant_id, subject_type, subject_ref LIMIT \(bind: limit)
            """).all(decoding: MonitoredRow.self)
    }

    /// Records (or refreshes) a subject to screen again when lists change.
    static func monitor(_ row: MonitoredRow, kind: DatabaseKind, db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO monitored_subjects (tenant_id, subject_type, subject_ref, kind, names, birth_date, country, gender, last_screening_id, updated_at_ms)
            VALUES (\(bind: row.tenant_id), \(bind: row.subject_type), \(bind: row.subject_ref), \(bind: row.kind), \(bind: row.names),
                    \(bind: row.birth_date), \(bind: row.country), \(bind: row.gender), \(bind: row.last_screening_id), \(bind: row.updated_at_ms))
            ON CONFLICT (tenant_id, subject_type, subject_ref) DO UPDATE SET kind = excluded.kind, names = excluded.names,
                birth_date = excluded.birth_date, country = excluded.country, gender = excluded.gender,
                last_screening_id = excluded.last_screening_id, updated_at_ms = excluded.updated_at_ms
            """).run()
    }

    /// The tenant's screening threshold, if it set one.
    static func settings(tenantId: String, db: any SQLDatabase) async throws -> SettingsRow? {
        try await db.select().column("*").from("compliance_settings").where("tenant_id", .equal, tenantId).first(decoding: SettingsRow.self)
    }
}
