import FinFlowCore
import Foundation
import SQLKit

/// A transaction the tenant holds until compliance decides, as the compliance service keeps it.
struct HoldRow: Codable, Sendable {
    let tenant_id: String
    let transaction_id: String
    /// in_review (waiting for an officer), approved or declined.
    var status: String
    /// The most severe outcome of the live scenarios (approve when none ran).
    let outcome: String
    let score: Int?
    /// The scenario decisions behind the outcome, space-separated.
    let decision_ids: String
    var decided_by: String?
    var reason: String?
    let created_at_ms: Int64
    var decided_at_ms: Int64?

    static let columns = [
        "tenant_id", "transaction_id", "status", "outcome", "score", "decision_ids", "decided_by", "reason", "created_at_ms", "decided_at_ms",
    ]
    var cells: [SQLCell] {
        [.init(self.tenant_id), .init(self.transaction_id), .init(self.status), .init(self.outcome), .init(self.score.map(Int64.init)),
         .init(self.decision_ids), .init(self.decided_by), .init(self.reason), .init(self.created_at_ms), .init(self.decided_at_ms)]
    }
}

extension ComplianceDesk {
    static let holdReasonLengthMax = 2000

    /// Decides a transaction its tenant holds, from the decisions the live scenarios just took on its creation: the most
    /// severe outcome wins. Approve or review releases it at once (a review's alert is worked afterwards), decline
    /// rejects it, block-and-review keeps it held for an officer. Without live scenarios it is approved. Each hold
    /// is kept, with its outcome and decisions, so officers can list them; a decision goes to the transaction
    /// service as `ComplianceTransactionDecided`.
    func decideHold(of transaction: TransactionCreated, decisions: [RecordedDecision], db: any SQLDatabase) async throws {
        let worst = decisions.max { Self.severity($0.decision.outcome) < Self.severity($1.decision.outcome) }
        let outcome = worst?.decision.outcome ?? "approve"
        let score = decisions.map(\.decision.score).max()
        let now = self.now
        let reason = worst.map { "\($0.scenarioName) decided \($0.decision.outcome) at score \($0.decision.score)" }
            ?? "no live scenario"
        var row = HoldRow(
            tenant_id: transaction.tenantId, transaction_id: transaction.transactionId.lowercased(), status: "in_review", outcome: outcome,
            score: score, decision_ids: decisions.map(\.id).joined(separator: " "), decided_by: nil, reason: nil, created_at_ms: now,
            decided_at_ms: nil)
        // Block-and-review waits for an officer; the rules decide everything else at once.
        let verdict: String? = switch outcome {
        case "block_and_review": nil
        case "decline": "decline"
        default: "approve"
        }
        if let verdict {
            row.status = verdict == "approve" ? "approved" : "declined"
            row.decided_by = "rules"
            row.reason = reason
            row.decided_at_ms = now
        }
        try await db.insertRows(into: "transaction_holds", columns: HoldRow.columns, rows: [row.cells], suffix: " ON CONFLICT DO NOTHING")
        guard let verdict else { return }
        try await self.outbox.enqueue(
            ComplianceTransactionDecided(
                transactionId: row.transaction_id, tenantId: row.tenant_id, outcome: verdict, decidedBy: "rules", score: score,
                reason: reason, decidedAtMillis: now),
            subject: row.transaction_id, tenantId: row.tenant_id, on: db)
    }

    /// An officer approves or declines a transaction held for review: the hold records who and why, the audit log
    /// keeps it, and the transaction service releases or rejects the transaction.
    func decideHold(transactionId: String, approve: Bool, reason: String, principal: Principal) async throws -> HoldRow {
        let tenantId = principal.tenantId
        return try await self.database.tenantTransaction(tenantId: tenantId) { db in
            let lock: SQLQueryString = self.database.kind == .postgres ? " FOR UPDATE" : ""
            guard var row = try await db.raw("""
                SELECT * FROM transaction_holds WHERE tenant_id = \(bind: tenantId) AND transaction_id = \(bind: transactionId.lowercased())\(lock)
                """).first(decoding: HoldRow.self)
            else { throw AppError.notFound("held transaction") }
            guard row.status == "in_review" else {
                throw AppError.conflict(code: "hold-decided", "the transaction was \(row.status) already (\(row.decided_by ?? "rules"))")
            }
            let now = self.now
            row.status = approve ? "approved" : "declined"
            row.decided_by = principal.subject
            row.reason = reason
            row.decided_at_ms = now
            try await db.raw("""
                UPDATE transaction_holds SET status = \(bind: row.status), decided_by = \(bind: principal.subject), reason = \(bind: reason),
                  decided_at_ms = \(bind: now)
                WHERE tenant_id = \(bind: tenantId) AND transaction_id = \(bind: row.transaction_id)
                """).run()
            try await self.outbox.enqueue(
                ComplianceTransactionDecided(
                    transactionId: row.transaction_id, tenantId: tenantId, outcome: approve ? "approve" : "decline", decidedBy: "officer",
                    userId: principal.subject, score: row.score, reason: reason, decidedAtMillis: now),
                subject: row.transaction_id, tenantId: tenantId, on: db)
            try await self.env.audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "compliance.hold.decided", target: row.transaction_id,
                           details: ["outcome": approve ? "approve" : "decline", "reason": reason]),
                on: db, kind: self.database.kind)
            return row
        }
    }

    /// The tenant's held transactions, newest transaction id first, optionally of one status.
    func holds(tenantId: String, status: String?, page: PageRequest) async throws -> (items: [HoldRow], nextCursor: String?) {
        let rows = try await self.database.tenantRead(tenantId: tenantId) { db in
            var query = db.select().column("*").from("transaction_holds").where("tenant_id", .equal, tenantId)
            if let status { query = query.where("status", .equal, status) }
            if let after = page.after { query = query.where("transaction_id", .lessThan, after) }
            return try await query.orderBy("transaction_id", .descending).limit(page.limit + 1).all(decoding: HoldRow.self)
        }
        return page.page(rows, key: \.transaction_id)
    }

    /// One held transaction.
    func hold(tenantId: String, transactionId: String) async throws -> HoldRow {
        let row = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.select().column("*").from("transaction_holds").where("tenant_id", .equal, tenantId)
                .where("transaction_id", .equal, transactionId.lowercased()).first(decoding: HoldRow.self)
        }
        guard let row else { throw AppError.notFound("held transaction") }
        return row
    }

    /// An outcome's rank, from approve (0) to decline (3).
    static func severity(_ outcome: String) -> Int {
        Thresholds.outcomes.firstIndex(of: outcome) ?? 0
    }
}

/// A decision as monitoring stored it, with its scenario's name.
struct RecordedDecision: Sendable {
    let id: String
    let scenarioName: String
    let decision: Decision
}
