import FinFlowCore
import Foundation
import OpenAPIRuntime

/// The held-transaction operations: list, read, decide.
extension ComplianceAPI {
    func listHolds(_ input: Operations.ListHolds.Input) async throws -> Operations.ListHolds.Output {
        let principal = try RequestScope.require("compliance:read")
        let page = try PageRequest(limit: input.query.limit, cursor: input.query.cursor)
        let result = try await self.desk.holds(tenantId: principal.tenantId, status: input.query.status?.rawValue, page: page)
        return .ok(.init(body: .json(.init(items: result.items.map(Self.dto), nextCursor: result.nextCursor))))
    }

    func getHold(_ input: Operations.GetHold.Input) async throws -> Operations.GetHold.Output {
        let principal = try RequestScope.require("compliance:read")
        return .ok(.init(body: .json(Self.dto(try await self.desk.hold(tenantId: principal.tenantId, transactionId: input.path.transactionId)))))
    }

    func decideHold(_ input: Operations.DecideHold.Input) async throws -> Operations.DecideHold.Output {
        let principal = try RequestScope.require("compliance:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let reason = body.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        validator.check((1...ComplianceDesk.holdReasonLengthMax).contains(reason.count), "reason",
                        "must be 1–\(ComplianceDesk.holdReasonLengthMax) characters besides spaces")
        try validator.throwIfInvalid()
        let row = try await self.desk.decideHold(
            transactionId: input.path.transactionId, approve: body.outcome == .approve, reason: reason, principal: principal)
        return .ok(.init(body: .json(Self.dto(row))))
    }

    static func dto(_ row: HoldRow) -> Components.Schemas.TransactionHold {
        let status = Components.Schemas.HoldStatus(rawValue: row.status) ?? .inReview
        let outcome = Components.Schemas.MonitoringOutcome(rawValue: row.outcome) ?? .approve
        let decisionIds: [String] = row.decision_ids.split(separator: " ").map { String($0) }
        let decidedAt: Date? = row.decided_at_ms.map { Date(unixMillis: $0) }
        return Components.Schemas.TransactionHold(
            transactionId: row.transaction_id, status: status, outcome: outcome, score: row.score, decisionIds: decisionIds,
            decidedBy: row.decided_by, reason: row.reason, createdAt: Date(unixMillis: row.created_at_ms), decidedAt: decidedAt)
    }
}
