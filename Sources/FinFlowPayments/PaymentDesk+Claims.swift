import FinFlowCore
import Foundation
import SQLKit

extension PaymentDesk {
    /// Writes `operation` down as pending with a new idempotency key, after `prepare` (which throws when the payment's
    /// state refuses the operation, and returns the amount it concerns). An unanswered earlier attempt of the same
    /// operation is taken over with its key and amount instead; one of another operation blocks everything else.
    func claim(
        principal: Principal, id: String, operation: Operation, amount: Int64?, note: (action: String, detail: String)? = nil,
        prepare: @escaping @Sendable (inout PaymentRow) throws -> Int64?
    ) async throws -> Claim {
        guard UUID(uuidString: id) != nil else { throw AppError.notFound("payment") }
        let now = self.now
        let kind = self.kind
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            guard var row = try await PaymentStore.payment(tenantId: principal.tenantId, id: id.lowercased(), forUpdate: true, kind: kind, db: db)
            else { throw AppError.notFound("payment") }
            let before = row
            var events: [PaymentEventRow] = []
            var resent = false
            if let pending = row.pending_operation, let key = row.pending_key {
                if row.pending_active != 0, now - (row.pending_since_ms ?? 0) < Self.staleOperationMillis {
                    throw AppError(.conflict, code: "payment-operation-in-progress", "a \(pending) of this payment is being sent to the gateway", transient: true)
                }
                guard pending == operation.rawValue, amount == nil || amount == row.pending_amount_minor else {
                    throw AppError(
                        .conflict, code: "payment-attempt-unresolved",
                        "the gateway never answered the \(pending)\(row.pending_amount_minor.map { " of \($0)" } ?? "") of this payment; "
                            + "repeat that request first (it is resent with its idempotency key, so it cannot take money twice)",
                        transient: true)
                }
                row.pending_active = 1
                row.pending_since_ms = now
                resent = true
                events.append(self.event(row, action: "\(operation.rawValue)_resent", from: nil, amount: row.pending_amount_minor, key: key, detail: nil, actor: principal.subject))
            } else {
                let amount = try prepare(&row)
                row.operations += 1
                row.pending_operation = operation.rawValue
                row.pending_key = "\(row.id)-\(operation.rawValue)-\(row.operations)"
                row.pending_amount_minor = amount
                row.pending_active = 1
                row.pending_since_ms = now
                if row.status != before.status {
                    events.append(self.event(row, action: "payment_method_attached", from: before.status, amount: nil, key: nil, detail: nil, actor: principal.subject))
                }
                if let note {
                    events.append(self.event(row, action: note.action, from: nil, amount: nil, key: nil, detail: note.detail, actor: principal.subject))
                }
            }
            try await self.write(row, before: before, events: events, db: db)
            return Claim(
                row: row, operation: operation, key: row.pending_key!, amount: row.pending_amount_minor, actor: principal.subject, resent: resent)
        }
    }

    /// Sends the claimed operation to the payment's gateway. A failure is recorded on the claim (dropped when nothing
    /// can have been sent, kept for a resend when the outcome is unknown) and thrown as a problem. A resend that could
    /// not be sent keeps the claim: the earlier attempt's outcome is still unknown. A refusal drops it even then, since
    /// the gateway answers a key it has seen with that first answer.
    func send<Answer: Sendable>(_ claim: Claim, _ call: @Sendable (any PaymentGateway) async throws -> Answer) async throws -> Answer {
        do { return try await self.attempt(claim, call) } catch let failure as SendFailure { throw failure.problem }
    }

    /// A gateway call that got no answer: the problem for the client, and whether it certainly never reached the gateway
    /// (the one case where another gateway may be tried).
    struct SendFailure: Error {
        let problem: AppError
        let neverSent: Bool
    }

    /// `send`, throwing `SendFailure`.
    func attempt<Answer: Sendable>(_ claim: Claim, _ call: @Sendable (any PaymentGateway) async throws -> Answer) async throws -> Answer {
        do {
            let gateway = try await self.gateways.gateway(tenantId: claim.row.tenant_id, provider: claim.row.gateway)
            return try await call(gateway)
        } catch {
            // Whether this attempt certainly reached nobody, and what the timeline says of it.
            let unsent: Bool
            let detail: String
            switch error {
            case GatewayError.unavailable(let message): (unsent, detail) = (false, "no answer from the gateway: \(message)")
            case GatewayError.circuitOpen: (unsent, detail) = (true, "not sent: the gateway's circuit breaker is open")
            case GatewayError.unreachable(let message): (unsent, detail) = (true, "not sent: no connection to the gateway: \(message)")
            case GatewayError.refused(let refusal): (unsent, detail) = (true, "refused by the gateway: \(refusal.code): \(refusal.message)")
            case let appError as AppError where appError.code == "gateway-not-configured": (unsent, detail) = (true, "\(error)")
            default: (unsent, detail) = (false, "\(error)")
            }
            // A refusal is the gateway's answer to this key, so nothing waits on it; an unsent resend leaves the first
            // attempt's outcome as unknown as it was.
            let isRefusal = if case GatewayError.refused = error { true } else { false }
            let keepForResend = !isRefusal && (!unsent || claim.resent)
            try? await self.release(claim, keepForResend: keepForResend, detail: detail)
            let failoverSafe = switch error {
            case GatewayError.circuitOpen, GatewayError.unreachable: !claim.resent
            default: false
            }
            throw SendFailure(problem: Self.problem(error, sent: keepForResend), neverSent: failoverSafe)
        }
    }

    /// The problem a failed gateway call becomes.
    static func problem(_ error: any Error, sent: Bool) -> AppError {
        switch error {
        case GatewayError.refused(let refusal): return refusal
        case let appError as AppError: return appError
        case GatewayError.circuitOpen:
            return AppError(.unavailable, code: "gateway-unavailable", "the gateway is failing and was not called; nothing was sent, try again later")
        case GatewayError.unreachable:
            return AppError(.unavailable, code: "gateway-unavailable", "no connection to the gateway could be made; nothing was sent, try again later")
        default:
            return AppError(
                .unavailable, code: "gateway-unavailable",
                sent
                    ? "the gateway did not answer, so the outcome is unknown; repeat the request: it is resent with the same idempotency key and cannot take money twice"
                    : "the gateway could not be reached; nothing was sent")
        }
    }

    /// Ends a claim that got no answer: kept (inactive) for a resend, or dropped.
    private func release(_ claim: Claim, keepForResend: Bool, detail: String) async throws {
        let kind = self.kind
        try await self.database.tenantTransaction(tenantId: claim.row.tenant_id) { db in
            guard var row = try await PaymentStore.payment(tenantId: claim.row.tenant_id, id: claim.row.id, forUpdate: true, kind: kind, db: db),
                row.pending_key == claim.key
            else { return }
            let before = row
            if keepForResend { row.pending_active = 0 } else { row.clearPending() }
            try await self.write(row, before: before, events: [
                self.event(row, action: "\(claim.operation.rawValue)_\(keepForResend ? "unanswered" : "not_sent")", from: nil,
                           amount: claim.amount, key: claim.key, detail: detail, actor: claim.actor),
            ], db: db)
        }
    }

    /// Records the gateway's answer to a claim: `change` moves the payment (and returns a detail for the timeline), the
    /// claim is cleared, and what settled is announced, all in one transaction. If another request already settled the
    /// claim, the payment is answered as it stands.
    func settle(
        _ claim: Claim, action: String,
        change: @escaping @Sendable (inout PaymentRow, any SQLDatabase) async throws -> String?
    ) async throws -> PaymentRecord {
        let kind = self.kind
        try await self.database.tenantTransaction(tenantId: claim.row.tenant_id) { db in
            guard var row = try await PaymentStore.payment(tenantId: claim.row.tenant_id, id: claim.row.id, forUpdate: true, kind: kind, db: db),
                row.pending_key == claim.key
            else { return }
            let before = row
            let detail = try await change(&row, db)
            row.clearPending()
            try await self.write(row, before: before, events: [
                self.event(row, action: action, from: before.status, amount: claim.amount, key: claim.key, detail: detail, actor: claim.actor),
            ], db: db)
        }
        return try await self.record(tenantId: claim.row.tenant_id, id: claim.row.id)
    }

    /// Writes a changed payment (one version on), its timeline lines, and the event of what settled.
    func write(_ row: PaymentRow, before: PaymentRow, events: [PaymentEventRow], db: any SQLDatabase) async throws {
        var row = row
        row.version = before.version + 1
        row.updated_at_ms = self.now
        guard try await PaymentStore.update(row, db: db) else {
            throw AppError(.conflict, code: "payment-changed", "the payment changed while this request ran; repeat it", transient: true)
        }
        try await PaymentStore.insert(events: events, db: db)
        try await self.announce(before: before, after: row, db: db)
    }
}
