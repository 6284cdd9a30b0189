import FinFlowCore
import Foundation
import SQLKit

/// Gateway operations. Each is claimed first (written down with its idempotency key before anything is sent), sent
/// outside any database transaction, then settled in one transaction with its timeline line and events. A request
/// that dies between sending and settling leaves the claim behind; the next request for the same operation resends it
/// with the same key, so the gateway answers the first attempt instead of charging again.
extension PaymentDesk {
    enum Operation: String, Sendable {
        case authorize, capture, cancel, refund
    }

    /// An operation written down and about to be sent.
    struct Claim: Sendable {
        let row: PaymentRow
        let operation: Operation
        let key: String
        let amount: Int64?
        let actor: String
        /// Taking over an earlier attempt that got no answer (sent again with its key).
        let resent: Bool
    }

    /// Confirms the payment (attaching `paymentMethod` first when given): the gateway authorizes or takes it, asks for
    /// the customer's action, or declines.
    func confirm(principal: Principal, id: String, paymentMethod: PaymentMethodInput?) async throws -> PaymentRecord {
        let claim = try await self.claim(principal: principal, id: id, operation: .authorize, amount: nil) { row in
            var state = row.state
            if let method = paymentMethod {
                state = try state.applying(.attachPaymentMethod)
                row.adopt(state)
                row.payment_method_token = method.token
                row.fallback_tokens = method.fallbackTokens.isEmpty ? nil : Self.json(method.fallbackTokens)
                row.card_brand = method.brand
                row.card_last4 = method.last4
                row.card_exp_month = method.expMonth
                row.card_exp_year = method.expYear
            }
            _ = try state.applying(.confirm(.processing))
            return nil
        }
        let (sent, answer) = try await self.authorize(claim, principal: principal)
        return try await self.settle(sent, action: "confirm") { row, _ in
            _ = self.apply(answer, to: &row)
            return Self.describe(answer.outcome)
        }
    }

    /// Sends a claimed authorization; one that certainly reached nobody fails over to the tenant's next gateway that has
    /// a token for the card, as often as that holds. The claim answered, and the answer.
    private func authorize(_ claim: Claim, principal: Principal) async throws -> (Claim, GatewayPayment) {
        var sending = claim
        while true {
            let row = sending.row, key = sending.key
            guard let token = row.payment_method_token else { preconditionFailure("a payment awaiting confirmation has a payment method") }
            let charge = GatewayCharge(
                amountMinor: row.amount_minor, currency: row.currency, paymentMethodToken: token,
                captureMethod: CaptureMethod(rawValue: row.capture_method) ?? .automatic, description: row.description,
                metadata: row.metadataDictionary.merging(["finflow_payment_id": row.id]) { $1 }, returnURL: row.return_url)
            do {
                return (sending, try await self.attempt(sending) { gateway in try await gateway.authorize(charge, idempotencyKey: key) })
            } catch let failure as SendFailure {
                guard failure.neverSent, let next = try await self.failover(sending, principal: principal, reason: failure.problem.message) else {
                    throw failure.problem
                }
                sending = next
            }
        }
    }

    /// Moves a payment whose authorization never reached its gateway to the tenant's next enabled gateway (by priority)
    /// for which the customer gave a token, and claims the authorization there; nil when there is none.
    func failover(_ failed: Claim, principal: Principal, reason: String) async throws -> Claim? {
        let fallbacks = failed.row.fallback_tokens.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) } ?? [:]
        let settings = try await self.gateways.settings(tenantId: failed.row.tenant_id).filter(\.enabled)
        let ranked = settings.map(\.provider.rawValue)
        // Only gateways after the failed one in the tenant's order, so a chain of failovers ends.
        let after = ranked.firstIndex(of: failed.row.gateway).map { ranked.suffix(from: $0 + 1) } ?? ranked[...]
        guard let next = after.first(where: { fallbacks[$0] != nil }), let token = fallbacks[next] else { return nil }
        let from = failed.row.gateway
        return try await self.claim(
            principal: principal, id: failed.row.id, operation: .authorize, amount: nil,
            note: (action: "failover", detail: "\(from) → \(next): \(reason)")
        ) { row in
            guard row.gateway == from, row.gateway_reference == nil else {
                throw AppError.conflict(code: "payment-changed", "the payment changed while failing over; repeat the request")
            }
            _ = try row.state.applying(.confirm(.processing))
            row.gateway = next
            row.payment_method_token = token
            return nil
        }
    }

    /// Takes `amount` (all when nil) of an authorized payment; the rest is released.
    func capture(principal: Principal, id: String, amount: Int64?) async throws -> PaymentRecord {
        let claim = try await self.claim(principal: principal, id: id, operation: .capture, amount: amount) { row in
            _ = try row.state.applying(.capture(amount: amount))
            return amount ?? row.amount_capturable
        }
        let reference = try Self.reference(of: claim.row)
        let answer = try await self.send(claim) { gateway in
            try await gateway.capture(reference: reference, amountMinor: claim.amount, idempotencyKey: claim.key)
        }
        return try await self.settle(claim, action: "capture") { row, _ in
            guard answer.outcome == .captured, let next = try? row.state.applying(.capture(amount: claim.amount)) else {
                return "the gateway answered \(Self.describe(answer.outcome))"
            }
            row.adopt(next)
            if let fee = answer.feeMinor { row.fee_minor = fee }
            return nil
        }
    }

    /// Cancels a payment before money moves; one the gateway never saw is canceled here alone.
    func cancel(principal: Principal, id: String) async throws -> PaymentRecord {
        let claim = try await self.claim(principal: principal, id: id, operation: .cancel, amount: nil) { row in
            _ = try row.state.applying(.cancel)
            return nil
        }
        if let reference = claim.row.gateway_reference {
            _ = try await self.send(claim) { gateway in try await gateway.cancel(reference: reference, idempotencyKey: claim.key) }
        }
        return try await self.settle(claim, action: "cancel") { row, _ in
            if let next = try? row.state.applying(.cancel) { row.adopt(next) }
            row.next_action_url = nil
            return nil
        }
    }

    /// Returns `amount` (all that is left when nil) of the received amount; several refunds may follow one another.
    func refund(principal: Principal, id: String, amount: Int64?, reason: String?) async throws -> PaymentRecord {
        let claim = try await self.claim(principal: principal, id: id, operation: .refund, amount: amount) { row in
            let refundable = row.amount_received - row.amount_refunded
            let asked = amount ?? refundable
            _ = try row.state.applying(.refund(amount: asked))
            return asked
        }
        guard let amount = claim.amount else { preconditionFailure("a refund claim carries its amount") }
        let reference = try Self.reference(of: claim.row)
        let answer = try await self.send(claim) { gateway in
            try await gateway.refund(reference: reference, amountMinor: amount, currency: claim.row.currency, idempotencyKey: claim.key)
        }
        return try await self.settle(claim, action: "refund") { row, db in
            let refund = RefundRow(
                id: self.env.ids.nextString(), tenant_id: row.tenant_id, payment_id: row.id, amount_minor: amount,
                status: answer.accepted ? "succeeded" : "failed", reason: reason, gateway_reference: answer.reference,
                created_by: claim.actor, created_at_ms: self.now)
            try await PaymentStore.insert(refund: refund, db: db)
            guard answer.accepted, let next = try? row.state.applying(.refund(amount: amount)) else {
                return "the gateway did not accept refund \(answer.reference)"
            }
            row.adopt(next)
            try await self.outbox.enqueue(
                PaymentProcessed(
                    paymentId: row.id, tenantId: row.tenant_id, status: "refunded", amountMinor: amount, currency: row.currency,
                    feeMinor: nil, gateway: row.gateway, gatewayReference: answer.reference, customerId: row.customer_id,
                    invoiceId: row.invoice_id, processedAtMillis: self.now, refundId: refund.id),
                subject: row.id, tenantId: row.tenant_id, on: db)
            return "refund \(refund.id)"
        }
    }

    /// Asks the gateway where the payment stands and takes in what moved (a 3-D Secure step done, processing settled).
    func sync(principal: Principal, id: String) async throws -> PaymentRecord {
        let record = try await self.record(tenantId: principal.tenantId, id: id)
        guard let reference = record.row.gateway_reference else { return record }
        let gateway = try await self.gateways.gateway(tenantId: principal.tenantId, provider: record.row.gateway)
        let answer: GatewayPayment
        do { answer = try await gateway.status(reference: reference) } catch { throw Self.problem(error, sent: true) }
        _ = try await self.observe(answer, tenantId: principal.tenantId, paymentId: record.row.id, source: "sync", actor: principal.subject)
        return try await self.record(tenantId: principal.tenantId, id: record.row.id)
    }

    /// Takes in what a gateway reported about a payment (a sync or a webhook), where the payment's status allows it;
    /// a report that would move it backwards changes nothing. Whether it changed the payment.
    func observe(_ answer: GatewayPayment, tenantId: String, paymentId: String, source: String, actor: String) async throws -> Bool {
        let kind = self.kind
        return try await self.database.tenantTransaction(tenantId: tenantId) { db in
            guard let row = try await PaymentStore.payment(tenantId: tenantId, id: paymentId, forUpdate: true, kind: kind, db: db) else {
                throw AppError.notFound("payment")
            }
            return try await self.observe(answer, row: row, source: source, actor: actor, db: db)
        }
    }

    /// `observe` inside the caller's transaction, on `row` read in it.
    func observe(_ answer: GatewayPayment, row: PaymentRow, source: String, actor: String, db: any SQLDatabase) async throws -> Bool {
        var row = row
        let before = row
        guard self.apply(answer, to: &row) else { return false }
        try await self.write(row, before: before, events: [
            self.event(row, action: source, from: before.status, amount: nil, key: nil, detail: Self.describe(answer.outcome), actor: actor),
        ], db: db)
        return true
    }

    /// `answer` applied to `row` where its status allows it.
    func apply(_ answer: GatewayPayment, to row: inout PaymentRow) -> Bool {
        if let reference = answer.reference, row.gateway_reference == nil { row.gateway_reference = reference }
        guard let command = Self.command(for: answer.outcome, at: row.paymentStatus),
            let next = try? row.state.applying(command)
        else { return false }
        row.adopt(next)
        if let fee = answer.feeMinor { row.fee_minor = fee }
        if case .actionRequired(let url) = answer.outcome { row.next_action_url = url } else { row.next_action_url = nil }
        return true
    }

    /// The command a gateway's report amounts to for a payment in `status`; nil when it says nothing new.
    static func command(for outcome: GatewayOutcome, at status: PaymentStatus) -> PaymentCommand? {
        switch (status, outcome) {
        case (.requiresConfirmation, _): .confirm(outcome)
        case (.requiresAction, .actionRequired): nil
        case (.requiresAction, _): .actionCompleted(outcome)
        case (.processing, .processing), (.processing, .actionRequired): nil
        case (.processing, _): .settled(outcome)
        case (.requiresCapture, .captured): .capture(amount: nil)
        default: nil
        }
    }

    static func describe(_ outcome: GatewayOutcome) -> String {
        switch outcome {
        case .actionRequired(let url): "customer action required" + (url.map { " at \($0)" } ?? "")
        case .processing: "processing"
        case .authorized: "authorized"
        case .captured: "captured"
        case .declined(let code, let message): "declined: \(code): \(message)"
        case .failed(let code, let message): "failed: \(code): \(message)"
        }
    }

    static func reference(of row: PaymentRow) throws -> String {
        guard let reference = row.gateway_reference else {
            throw AppError(.conflict, code: "invalid-state-transition", "the gateway holds no payment for \(row.id) yet")
        }
        return reference
    }
}
