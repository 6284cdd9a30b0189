import Crypto
import FinFlowCore
import Foundation
import SQLKit

/// The payment service's use cases: the only API its HTTP handlers and webhook endpoints call.
struct PaymentDesk: Sendable {
    let env: ServiceEnvironment
    let outbox: Outbox
    let gateways: GatewayDirectory
    var database: any Database { self.env.database }
    var kind: DatabaseKind { self.env.database.kind }
    var now: Int64 { self.env.clock.nowMillis() }
    /// A gateway call marked as being sent for longer than this is taken to belong to a request that died; a later
    /// request may resend it (with the same idempotency key).
    static let staleOperationMillis: Int64 = 120_000

    init(env: ServiceEnvironment, gateways: GatewayDirectory? = nil) {
        self.env = env
        self.outbox = env.outbox(serviceName: "payments")
        self.gateways = gateways ?? GatewayDirectory(database: env.database, clock: env.clock, configuredKey: env.settings.paymentsCredentialKey)
    }

    /// Creates a payment on the tenant's chosen (or first) gateway. A client id is also an idempotency key: the same id
    /// with the same content answers the payment it made (`created` false), with other content `id-reused`.
    ///
    /// While the tenant's strong-customer-authentication policy is on, a payment a user initiates is made only with an
    /// authentication code bound to it (`code`, verified by the caller) or under an exemption; the decision is kept
    /// with the payment, and a refusal is kept too.
    func create(_ draft: PaymentDraft, principal: Principal, code: AuthenticationCodeClaims? = nil) async throws
        -> (record: PaymentRecord, created: Bool)
    {
        let policy = try await self.scaPolicy(tenantId: principal.tenantId)
        let sca = try await self.scaRequest(for: draft, principal: principal, policy: policy, code: code)
        let configured = try await self.gateways.settings(tenantId: principal.tenantId).filter(\.enabled)
        let gateway: String
        if let asked = draft.gateway {
            guard configured.contains(where: { $0.provider.rawValue == asked }) else {
                throw AppError(.rejected, code: "gateway-not-configured", "the tenant has no enabled \(asked) gateway")
            }
            gateway = asked
        } else {
            guard let first = configured.first else {
                throw AppError(.rejected, code: "gateway-not-configured", "configure a gateway first (PUT /v1/payments/gateways/{provider})")
            }
            gateway = first.provider.rawValue
        }
        let state = try PaymentState(amount: draft.amountMinor, captureMethod: draft.captureMethod, hasPaymentMethod: draft.paymentMethod != nil)
        let now = self.now
        let method = draft.paymentMethod
        let row = PaymentRow(
            id: draft.id ?? self.env.ids.nextString(), tenant_id: principal.tenantId, status: state.status.rawValue,
            amount_minor: draft.amountMinor, currency: draft.currency, capture_method: draft.captureMethod.rawValue, amount_capturable: 0,
            amount_received: 0, amount_refunded: 0, customer_id: draft.customerId, invoice_id: draft.invoiceId,
            payment_method_token: method?.token, fallback_tokens: method.flatMap { $0.fallbackTokens.isEmpty ? nil : Self.json($0.fallbackTokens) }, card_brand: method?.brand, card_last4: method?.last4, card_exp_month: method?.expMonth,
            card_exp_year: method?.expYear, description: draft.description, metadata: Self.json(draft.metadata), return_url: draft.returnURL,
            gateway: gateway, gateway_reference: nil, next_action_url: nil, last_error: nil, fee_minor: nil, request_hash: draft.requestHash,
            operations: 0, pending_operation: nil, pending_key: nil, pending_amount_minor: nil, pending_active: 0, pending_since_ms: nil,
            version: 1, created_by: principal.subject, created_at_ms: now, updated_at_ms: now, payee: draft.payee,
            payer_id: sca != nil && principal.isSignedInUser ? principal.subject : nil)
        let event = self.event(row, action: "created", from: nil, amount: row.amount_minor, key: nil, detail: nil, actor: principal.subject)
        let kind = self.kind
        do {
            let created: Bool = try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
                if draft.id != nil, let existing = try await PaymentStore.payment(tenantId: principal.tenantId, id: row.id, kind: kind, db: db) {
                    guard existing.request_hash == row.request_hash else { throw Self.idReused() }
                    return false
                }
                try await PaymentStore.insert(row, db: db)
                try await PaymentStore.insert(events: [event], db: db)
                if let sca { try await self.decideSCA(for: row, request: sca, policy: policy, principal: principal, db: db) }
                return true
            }
            return (try await self.record(tenantId: principal.tenantId, id: row.id), created)
        } catch let error as AppError where error.code == "sca-required" || error.code == "sca-code-used" {
            await self.recordSCARefusal(principal: principal, amountMinor: draft.amountMinor, currency: draft.currency,
                                        payee: sca?.payee ?? "", reason: error.message)
            throw error
        } catch where violatedConstraint(error) != nil {
            // The same client id raced in from another request: the winner's payment is the answer, if it is this one.
            guard let existing = try await self.database.tenantRead(tenantId: principal.tenantId, { db in
                try await PaymentStore.payment(tenantId: principal.tenantId, id: row.id, kind: kind, db: db)
            }), existing.request_hash == row.request_hash else { throw Self.idReused() }
            return (try await self.record(tenantId: principal.tenantId, id: row.id), false)
        }
    }

    /// The payment id an `Idempotency-Key` stands for when the client gives none: derived from the tenant and the key
    /// (a UUIDv8 over SHA-256, RFC 9562), so a request repeated after a gateway fault finds the payment it made instead of
    /// making, and charging, another.
    static func paymentId(tenantId: String, idempotencyKey: String) -> String {
        UUID.derived(from: "finflow-payment\u{1F}\(tenantId)\u{1F}\(idempotencyKey)").canonical
    }

    static func idReused() -> AppError {
        AppError.conflict(code: "id-reused", "this payment id was used for a different payment")
    }

    /// One payment with its timeline and refunds.
    func record(tenantId: String, id: String) async throws -> PaymentRecord {
        guard UUID(uuidString: id) != nil else { throw AppError.notFound("payment") }
        let kind = self.kind
        return try await self.database.tenantRead(tenantId: tenantId) { db in
            guard let row = try await PaymentStore.payment(tenantId: tenantId, id: id.lowercased(), kind: kind, db: db) else {
                throw AppError.notFound("payment")
            }
            let details = try await PaymentStore.details(tenantId: tenantId, paymentIds: [row.id], db: db)
            let sca = try await db.select().column("*").from("sca_decisions").where("tenant_id", .equal, tenantId)
                .where("payment_id", .equal, row.id).orderBy("id").first(decoding: SCADecisionRow.self)
            return PaymentRecord(row: row, events: details.events[row.id] ?? [], refunds: details.refunds[row.id] ?? [], sca: sca)
        }
    }

    /// A page of the tenant's payments, newest first (without timelines).
    func search(principal: Principal, filter: PaymentFilter, page: PageRequest) async throws -> (items: [PaymentRow], nextCursor: String?) {
        let rows = try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            try await PaymentStore.search(tenantId: principal.tenantId, filter: filter, page: page, db: db)
        }
        return page.page(rows, key: \.id)
    }

    /// A timeline line for `row` as it now stands.
    func event(_ row: PaymentRow, action: String, from: String?, amount: Int64?, key: String?, detail: String?, actor: String) -> PaymentEventRow {
        PaymentEventRow(
            id: self.env.ids.nextString(), tenant_id: row.tenant_id, payment_id: row.id, action: action, from_status: from,
            to_status: row.status, amount_minor: amount, gateway: row.gateway, gateway_reference: row.gateway_reference,
            idempotency_key: key, detail: detail.map { String($0.prefix(1_000)) }, actor: actor, at_ms: self.now)
    }

    /// Announces what a change of `before` into `after` settled: a payment received or failed.
    func announce(before: PaymentRow, after: PaymentRow, db: any SQLDatabase) async throws {
        let settled: String?
        switch (before.paymentStatus, after.paymentStatus) {
        case (let old, .succeeded) where old != .succeeded && old != .partiallyRefunded: settled = "succeeded"
        case (let old, .failed) where old != .failed: settled = "failed"
        default: settled = nil
        }
        guard let settled else { return }
        try await self.outbox.enqueue(
            PaymentProcessed(
                paymentId: after.id, tenantId: after.tenant_id, status: settled,
                amountMinor: settled == "succeeded" ? after.amount_received : after.amount_minor, currency: after.currency,
                feeMinor: after.fee_minor, gateway: after.gateway, gatewayReference: after.gateway_reference, customerId: after.customer_id,
                invoiceId: after.invoice_id, processedAtMillis: self.now),
            subject: after.id, tenantId: after.tenant_id, on: db)
    }

    static func json(_ value: [String: String]) -> String {
        String(decoding: (try? GatewayTransport.json(value)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
