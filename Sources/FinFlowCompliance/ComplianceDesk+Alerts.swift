import FinFlowCore
import Foundation
import SQLKit

extension ComplianceDesk {
    /// How an alert may be closed.
    static let outcomes = ["confirmed_risk", "false_positive", "valuable_alert"]
    static let noteLengthMax = 4000

    /// A page of the tenant's alerts, newest first.
    func alerts(tenantId: String, status: String?, page: PageRequest) async throws -> (items: [AlertRow], nextCursor: String?) {
        let rows = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await ComplianceStore.alerts(tenantId: tenantId, status: status, page: page, db: db)
        }
        return page.page(rows, key: \.id)
    }

    /// One alert of the tenant.
    func alert(tenantId: String, id: String) async throws -> AlertRow {
        guard let row = try await self.database.tenantRead(tenantId: tenantId, { db in
            try await ComplianceStore.alert(tenantId: tenantId, id: id, db: db)
        }) else { throw AppError.notFound("alert") }
        return row
    }

    /// Closes an open alert with its outcome, audited. Closing it again with the same outcome answers it as it is.
    func close(alertId: String, outcome: String, note: String?, principal: Principal) async throws -> AlertRow {
        let tenantId = principal.tenantId
        let now = self.now
        return try await self.database.tenantTransaction(tenantId: tenantId) { db in
            guard var row = try await ComplianceStore.alert(tenantId: tenantId, id: alertId, db: db) else { throw AppError.notFound("alert") }
            guard row.status == "open" else {
                if row.outcome == outcome && row.note == note { return row }
                throw AppError.conflict(code: "alert-closed", "the alert was closed already, as \(row.outcome ?? "closed")")
            }
            row.status = "closed"
            row.outcome = outcome
            row.note = note
            row.closed_by = principal.subject
            row.closed_at_ms = now
            try await db.raw("""
                UPDATE compliance_alerts SET status = 'closed', outcome = \(bind: outcome), note = \(bind: note), closed_by = \(bind: principal.subject),
                closed_at_ms = \(bind: now) WHERE tenant_id = \(bind: tenantId) AND id = \(bind: alertId) AND status = 'open'
                """).run()
            try await self.env.audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "compliance.alert.closed", target: alertId,
                           details: ["outcome": outcome]),
                on: db, kind: self.database.kind)
            return row
        }
    }

    /// The tenant's screening threshold (the product's default until it sets one).
    func threshold(tenantId: String) async throws -> Double {
        try await self.database.tenantRead(tenantId: tenantId) { db in
            try await ComplianceStore.settings(tenantId: tenantId, db: db)?.screening_threshold ?? NameMatcher.defaultThreshold
        }
    }

    /// Sets the tenant's screening threshold, audited.
    func setThreshold(_ threshold: Double, principal: Principal) async throws {
        let tenantId = principal.tenantId
        let now = self.now
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            try await db.raw("""
                INSERT INTO compliance_settings (tenant_id, screening_threshold, updated_by, updated_at_ms)
                VALUES (\(bind: tenantId), \(bind: threshold), \(bind: principal.subject), \(bind: now))
                ON CONFLICT (tenant_id) DO UPDATE SET screening_threshold = excluded.screening_threshold,
                    updated_by = excluded.updated_by, updated_at_ms = excluded.updated_at_ms
                """).run()
            try await self.env.audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "compliance.settings.changed", target: tenantId,
                           details: ["screeningThreshold": String(threshold)]),
                on: db, kind: self.database.kind)
        }
    }

    /// Screens a transaction's counterparty the first time the tenant's books name it; later it is monitored.
    func screenCounterparty(of event: TransactionCreated, db: any SQLDatabase) async throws {
        guard let name = event.counterparty?.trimmingCharacters(in: .whitespacesAndNewlines), !name.isEmpty,
            name.count <= ListFile.nameLengthMax, !NameText.tokens(name).isEmpty
        else { return }
        let ref = String(NameText.tokens(name).joined(separator: " ").prefix(Self.subjectRefLengthMax))
        if try await ComplianceStore.monitored(tenantId: event.tenantId, type: "counterparty", ref: ref, db: db) != nil { return }
        let request = ScreeningRequest(
            id: nil, subjectType: "counterparty", subjectRef: ref, kind: nil, names: [name], birthDate: nil, country: nil, gender: nil,
            threshold: nil, monitor: true)
        let outcome = try await self.evaluate(request, tenantId: event.tenantId, db: db)
        _ = try await self.record(request, outcome: outcome, tenantId: event.tenantId, actor: "system", origin: "transaction", db: db)
    }
}
