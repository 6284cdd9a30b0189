import FinFlowCore
import Foundation
import SQLKit

/// A case: alerts grouped for one investigation.
struct CaseRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let title: String
    var status: String
    var assignee: String?
    var due_date: String?
    var outcome: String?
    let created_by: String
    let created_at_ms: Int64
    var updated_at_ms: Int64
    var closed_by: String?
    var closed_at_ms: Int64?
}

/// One entry of a case's timeline: a note, an attachment by reference, or a change.
struct CaseEventRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let case_id: String
    /// created, note, attachment, status, assigned, due-date, alerts-added, closed, report.
    let kind: String
    let actor: String
    let text: String?
    let reference: String?
    let sha256: String?
    let created_at_ms: Int64
}

extension ComplianceDesk {
    static let caseTitleLengthMax = 200
    static let caseAlertsMax = 100
    static let caseTextLengthMax = 8_000

    /// A case with its alerts and timeline.
    struct CaseRecord: Sendable {
        let row: CaseRow
        let alerts: [AlertRow]
        let timeline: [CaseEventRow]
    }

    /// What a case's fields may be changed to.
    struct CaseChange: Sendable {
        var status: String?
        var assignee: String?
        var dueDate: String?
    }

    /// Opens a case over open alerts that no other case holds, audited.
    func openCase(title: String, alertIds: [String], assignee: String?, dueDate: String?, principal: Principal) async throws -> CaseRecord {
        let tenantId = principal.tenantId
        let now = self.now
        let row = CaseRow(
            id: self.env.ids.nextString(), tenant_id: tenantId, title: title, status: "pending", assignee: assignee, due_date: dueDate,
            outcome: nil, created_by: principal.subject, created_at_ms: now, updated_at_ms: now, closed_by: nil, closed_at_ms: nil)
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            try await db.insert(into: "compliance_cases").model(row).run()
            try await self.note(row.id, kind: "created", text: title, principal: principal, db: db)
            try await self.attach(alertIds, to: row.id, principal: principal, db: db)
            try await self.env.audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "compliance.case.opened", target: row.id,
                           details: ["alerts": alertIds.joined(separator: " ")]),
                on: db, kind: self.database.kind)
        }
        return try await self.complianceCase(tenantId: tenantId, id: row.id)
    }

    /// Adds open alerts to an open case, audited.
    func addAlerts(_ alertIds: [String], caseId: String, principal: Principal) async throws -> CaseRecord {
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            let row = try await self.openCaseRow(caseId, tenantId: principal.tenantId, db: db)
            try await self.attach(alertIds, to: row.id, principal: principal, db: db)
            try await self.touch(row.id, db: db)
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "compliance.case.alerts-added", target: row.id,
                           details: ["alerts": alertIds.joined(separator: " ")]),
                on: db, kind: self.database.kind)
        }
        return try await self.complianceCase(tenantId: principal.tenantId, id: caseId)
    }

    /// Records alerts as the case's; each must be the tenant's, open, and in no other case.
    private func attach(_ alertIds: [String], to caseId: String, principal: Principal, db: any SQLDatabase) async throws {
        var faults = Validator()
        for (index, alertId) in alertIds.enumerated() {
            guard let alert = try await ComplianceStore.alert(tenantId: principal.tenantId, id: alertId, db: db) else {
                faults.fail("alertIds[\(index)]", "is not an alert of the tenant")
                continue
            }
            if alert.status != "open" { faults.fail("alertIds[\(index)]", "is closed already") }
        }
        try faults.throwIfInvalid()
        for alertId in alertIds {
            guard try await db.raw("""
                INSERT INTO case_alerts (tenant_id, alert_id, case_id, added_by, added_at_ms)
                VALUES (\(bind: principal.tenantId), \(bind: alertId), \(bind: caseId), \(bind: principal.subject), \(bind: self.now))
                ON CONFLICT DO NOTHING RETURNING alert_id
                """).first() != nil
            else { throw AppError.conflict(code: "alert-in-case", "alert \(alertId) belongs to a case already") }
        }
        try await self.note(caseId, kind: "alerts-added", text: alertIds.joined(separator: " "), principal: principal, db: db)
    }

    /// Changes a case's status (pending or investigating), assignee or due date, each change on its timeline and audited.
    func changeCase(_ caseId: String, change: CaseChange, principal: Principal) async throws -> CaseRecord {
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            var row = try await self.openCaseRow(caseId, tenantId: principal.tenantId, db: db)
            var details: [String: String] = [:]
            if let status = change.status, status != row.status {
                row.status = status
                details["status"] = status
                try await self.note(caseId, kind: "status", text: status, principal: principal, db: db)
            }
            if let assignee = change.assignee, assignee != row.assignee {
                row.assignee = assignee
                details["assignee"] = assignee
                try await self.note(caseId, kind: "assigned", text: assignee, principal: principal, db: db)
            }
            if let due = change.dueDate, due != row.due_date {
                row.due_date = due
                details["dueDate"] = due
                try await self.note(caseId, kind: "due-date", text: due, principal: principal, db: db)
            }
            guard !details.isEmpty else { return }
            try await db.raw("""
                UPDATE compliance_cases SET status = \(bind: row.status), assignee = \(bind: row.assignee), due_date = \(bind: row.due_date),
                    updated_at_ms = \(bind: self.now)
                WHERE tenant_id = \(bind: principal.tenantId) AND id = \(bind: caseId)
                """).run()
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "compliance.case.changed", target: caseId, details: details),
                on: db, kind: self.database.kind)
        }
        return try await self.complianceCase(tenantId: principal.tenantId, id: caseId)
    }

    /// Adds a note, or an attachment by reference (a document id or URI, with its SHA-256 when known), audited.
    func annotate(_ caseId: String, kind: String, text: String?, reference: String?, sha256: String?, principal: Principal) async throws -> CaseRecord {
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            let row = try await self.openCaseRow(caseId, tenantId: principal.tenantId, db: db)
            try await self.note(row.id, kind: kind, text: text, reference: reference, sha256: sha256, principal: principal, db: db)
            try await self.touch(row.id, db: db)
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "compliance.case.\(kind)-added", target: caseId,
                           details: reference.map { ["reference": $0] } ?? [:]),
                on: db, kind: self.database.kind)
        }
        return try await self.complianceCase(tenantId: principal.tenantId, id: caseId)
    }

    /// Closes a case with its outcome; its open alerts close with the same outcome. Closing again the same way answers
    /// the case as it is.
    func closeCase(_ caseId: String, outcome: String, note: String?, principal: Principal) async throws -> CaseRecord {
        let tenantId = principal.tenantId
        let now = self.now
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            guard let row = try await Self.caseRow(caseId, tenantId: tenantId, db: db) else { throw AppError.notFound("case") }
            if row.status == "closed" {
                guard row.outcome == outcome else {
                    throw AppError.conflict(code: "case-closed", "the case was closed already, as \(row.outcome ?? "closed")")
                }
                return
            }
            try await db.raw("""
                UPDATE compliance_cases SET status = 'closed', outcome = \(bind: outcome), closed_by = \(bind: principal.subject),
                    closed_at_ms = \(bind: now), updated_at_ms = \(bind: now)
                WHERE tenant_id = \(bind: tenantId) AND id = \(bind: caseId)
                """).run()
            try await db.raw("""
                UPDATE compliance_alerts SET status = 'closed', outcome = \(bind: outcome), note = \(bind: note ?? "closed with case \(caseId)"),
                    closed_by = \(bind: principal.subject), closed_at_ms = \(bind: now)
                WHERE tenant_id = \(bind: tenantId) AND status = 'open'
                  AND id IN (SELECT alert_id FROM case_alerts WHERE tenant_id = \(bind: tenantId) AND case_id = \(bind: caseId))
                """).run()
            try await self.note(caseId, kind: "closed", text: [outcome, note].compactMap { $0 }.joined(separator: ": "), principal: principal, db: db)
            try await self.env.audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "compliance.case.closed", target: caseId, details: ["outcome": outcome]),
                on: db, kind: self.database.kind)
        }
        return try await self.complianceCase(tenantId: tenantId, id: caseId)
    }

    /// One case of the tenant with its alerts and timeline.
    func complianceCase(tenantId: String, id: String) async throws -> CaseRecord {
        guard let record = try await self.database.tenantRead(tenantId: tenantId, { db in
            try await Self.caseRecord(id, tenantId: tenantId, db: db)
        }) else { throw AppError.notFound("case") }
        return record
    }

    static func caseRecord(_ id: String, tenantId: String, db: any SQLDatabase) async throws -> CaseRecord? {
        guard let row = try await Self.caseRow(id, tenantId: tenantId, db: db) else { return nil }
        let alerts = try await db.raw("""
            SELECT a.* FROM compliance_alerts a JOIN case_alerts c ON c.tenant_id = a.tenant_id AND c.alert_id = a.id
            WHERE c.tenant_id = \(bind: tenantId) AND c.case_id = \(bind: id) ORDER BY a.id
            """).all(decoding: AlertRow.self)
        let timeline = try await db.raw("""
            SELECT * FROM case_events WHERE tenant_id = \(bind: tenantId) AND case_id = \(bind: id) ORDER BY id
            """).all(decoding: CaseEventRow.self)
        return CaseRecord(row: row, alerts: alerts, timeline: timeline)
    }

    /// A page of the tenant's cases, newest first.
    func cases(tenantId: String, status: String?, assignee: String?, page: PageRequest) async throws -> (items: [CaseRow], nextCursor: String?) {
        let rows = try await self.database.tenantRead(tenantId: tenantId) { db in
            var query = db.select().column("*").from("compliance_cases").where("tenant_id", .equal, tenantId)
            if let status { query = query.where("status", .equal, status) }
            if let assignee { query = query.where("assignee", .equal, assignee) }
            if let after = page.after { query = query.where("id", .lessThan, after) }
            return try await query.orderBy("id", .descending).limit(page.limit + 1).all(decoding: CaseRow.self)
        }
        return page.page(rows, key: \.id)
    }

    static func caseRow(_ id: String, tenantId: String, db: any SQLDatabase) async throws -> CaseRow? {
        try await db.select().column("*").from("compliance_cases").where("tenant_id", .equal, tenantId).where("id", .equal, id)
            .first(decoding: CaseRow.self)
    }

    /// The case, which must be the tenant's and not closed.
    private func openCaseRow(_ id: String, tenantId: String, db: any SQLDatabase) async throws -> CaseRow {
        guard let row = try await Self.caseRow(id, tenantId: tenantId, db: db) else { throw AppError.notFound("case") }
        guard row.status != "closed" else { throw AppError.conflict(code: "case-closed", "the case is closed") }
        return row
    }

    private func touch(_ caseId: String, db: any SQLDatabase) async throws {
        try await db.raw("UPDATE compliance_cases SET updated_at_ms = \(bind: self.now) WHERE id = \(bind: caseId)").run()
    }

    /// Adds an entry to a case's timeline.
    func note(
        _ caseId: String, kind: String, text: String?, reference: String? = nil, sha256: String? = nil, principal: Principal, db: any SQLDatabase
    ) async throws {
        try await db.insert(into: "case_events").model(CaseEventRow(
            id: self.env.ids.nextString(), tenant_id: principal.tenantId, case_id: caseId, kind: kind, actor: principal.subject, text: text,
            reference: reference, sha256: sha256, created_at_ms: self.now)).run()
    }
}
