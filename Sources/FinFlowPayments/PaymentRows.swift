import FinFlowCore
import Foundation
import SQLKit

/// A stored payment, as its table holds it.
struct PaymentRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    var status: String
    let amount_minor: Int64
    let currency: String
    let capture_method: String
    var amount_capturable: Int64
    var amount_received: Int64
    var amount_refunded: Int64
    let customer_id: String?
    let invoice_id: String?
    var payment_method_token: String?
    /// JSON object of provider → token (`PaymentMethodInput.fallbackTokens`).
    var fallback_tokens: String?
    var card_brand: String?
    var card_last4: String?
    var card_exp_month: Int?
    var card_exp_year: Int?
    let description: String?
    let metadata: String
    let return_url: String?
    var gateway: String
    var gateway_reference: String?
    var next_action_url: String?
    var last_error: String?
    var fee_minor: Int64?
    let request_hash: String
    /// Gateway operations begun, for each one's idempotency key.
    var operations: Int
    /// An operation sent (or being sent) to the gateway whose answer is not yet recorded.
    var pending_operation: String?
    var pending_key: String?
    var pending_amount_minor: Int64?
    /// 1 while a request is sending the pending operation; 0 once it gave up without an answer.
    var pending_active: Int
    var pending_since_ms: Int64?
    var version: Int64
    let created_by: String
    let created_at_ms: Int64
    var updated_at_ms: Int64
    /// Who is paid, as `Payee.key` normalises it (given by the client; strong customer authentication is bound to it).
    var payee: String? = nil
    /// The user who initiated the payment as its payer, when strong customer authentication applied.
    var payer_id: String? = nil

    var paymentStatus: PaymentStatus { PaymentStatus(rawValue: self.status) ?? .failed }

    var state: PaymentState {
        PaymentState(
            restoring: self.paymentStatus, amount: self.amount_minor, captureMethod: CaptureMethod(rawValue: self.capture_method) ?? .automatic,
            amountCapturable: self.amount_capturable, amountReceived: self.amount_received, amountRefunded: self.amount_refunded,
            lastError: self.last_error)
    }

    /// Takes `state`'s status and amounts.
    mutating func adopt(_ state: PaymentState) {
        self.status = state.status.rawValue
        self.amount_capturable = state.amountCapturable
        self.amount_received = state.amountReceived
        self.amount_refunded = state.amountRefunded
        self.last_error = state.lastError
    }

    var metadataDictionary: [String: String] {
        (try? JSONDecoder().decode([String: String].self, from: Data(self.metadata.utf8))) ?? [:]
    }

    /// Whether a request to create and confirm this payment left the confirmation unfinished: never sent (the gateway
    /// could not be called), or sent without an answer and not being sent now. Repeating the request finishes it.
    func confirmationUnfinished(nowMillis: Int64) -> Bool {
        switch self.pending_operation {
        case nil: self.paymentStatus == .requiresConfirmation
        case PaymentDesk.Operation.authorize.rawValue:
            self.pending_active == 0 || nowMillis - (self.pending_since_ms ?? 0) >= PaymentDesk.staleOperationMillis
        default: false
        }
    }

    mutating func clearPending() {
        self.pending_operation = nil
        self.pending_key = nil
        self.pending_amount_minor = nil
        self.pending_active = 0
        self.pending_since_ms = nil
    }
}

/// One line of a payment's timeline.
struct PaymentEventRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let payment_id: String
    let action: String
    let from_status: String?
    let to_status: String
    let amount_minor: Int64?
    let gateway: String
    let gateway_reference: String?
    let idempotency_key: String?
    let detail: String?
    let actor: String
    let at_ms: Int64
}

/// A refund of a payment.
struct RefundRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let payment_id: String
    let amount_minor: Int64
    let status: String
    let reason: String?
    let gateway_reference: String?
    let created_by: String
    let created_at_ms: Int64
}

/// A tenant's gateway settings as stored (credentials sealed).
struct GatewayRow: Codable, Sendable {
    let tenant_id: String
    let provider: String
    let priority: Int
    let base_url: String
    let credentials_sealed: String
    let webhook_secret_sealed: String?
    let webhook_url: String?
    let enabled: Int
    let updated_by: String
    let updated_at_ms: Int64
}

/// A payment with its timeline and refunds, as the API shows it.
struct PaymentRecord: Sendable {
    let row: PaymentRow
    let events: [PaymentEventRow]
    let refunds: [RefundRow]
    /// The strong-customer-authentication decision that let the payment be made, when the tenant's policy applied.
    var sca: SCADecisionRow? = nil
}
