import FinFlowCore
import Foundation
import OpenAPIRuntime

/// The audit trail's operations: one query over every service's records, and the verifiable export.
extension ComplianceAPI {
    func queryAuditTrail(_ input: Operations.QueryAuditTrail.Input) async throws -> Operations.QueryAuditTrail.Output {
        let principal = try RequestScope.require("audit:read")
        let q = input.query
        let query = try Self.auditQuery(
            tenantId: principal.tenantId, service: q.service, actor: q.actor, action: q.action, resource: q.resource, from: q.from, to: q.to)
        let page = try PageRequest(limit: q.limit, cursor: q.cursor)
        let result = try await self.desk.auditTrail(query, page: page)
        return .ok(.init(body: .json(.init(items: result.items.map(Self.dto), nextCursor: result.nextCursor))))
    }

    func exportAuditTrail(_ input: Operations.ExportAuditTrail.Input) async throws -> Operations.ExportAuditTrail.Output {
        let principal = try RequestScope.require("audit:read")
        let q = input.query
        let query = try Self.auditQuery(
            tenantId: principal.tenantId, service: q.service, actor: q.actor, action: q.action, resource: q.resource, from: q.from, to: q.to)
        let format: AuditExport.Format = q.format == .csv ? .csv : .jsonl
        let body = HTTPBody(self.desk.exportAuditTrail(query, format: format), length: .unknown, iterationBehavior: .single)
        return .ok(.init(body: format == .csv ? .csv(body) : .applicationJsonl(body)))
    }

    /// A query from the request's filters, each checked.
    static func auditQuery(
        tenantId: String, service: String?, actor: String?, action: String?, resource: String?, from: Date?, to: Date?
    ) throws -> AuditTrailQuery {
        var validator = Validator()
        for (field, value, most) in [("service", service, 40), ("actor", actor, 200), ("action", action, 200), ("resource", resource, 200)] {
            if let value { validator.check((1...most).contains(value.count), field, "must be 1–\(most) characters") }
        }
        if let from, let to { validator.check(from < to, "to", "must be after from") }
        try validator.throwIfInvalid()
        return AuditTrailQuery(
            tenantId: tenantId, service: service, actorId: actor, action: action, target: resource, fromMillis: from.map(\.unixMillis),
            toMillis: to.map(\.unixMillis))
    }

    static func dto(_ row: AuditTrailRow) -> Components.Schemas.AuditRecord {
        let details = (try? JSONDecoder().decode([String: String].self, from: Data(row.details.utf8))) ?? [:]
        return .init(
            service: row.service, tenantId: row.tenant_id, seq: row.seq, recordId: row.record_id, occurredAt: Date(unixMillis: row.occurred_at_ms),
            actorId: row.actor_id, action: row.action, resource: row.target, outcome: row.outcome, clientAddress: row.client_address,
            details: .init(additionalProperties: details), prevHash: row.prev_hash, hash: row.hash)
    }
}
