import FinFlowCore
import Foundation

/// A stored decision, as its table holds it.
struct DecisionRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let customer_id: String?
    let model_version: String
    /// The application as given, JSON.
    let inputs: String
    let probability: Double
    let margin: Double
    let score: Int
    let grade: String
    let score_bin: Int
    /// Every field's contribution (`[Assessment.Factor]`), JSON, with the expected margin first.
    let factors: String
    let shadow_version: String?
    let shadow_probability: Double?
    let shadow_score: Int?
    let shadow_grade: String?
    let shadow_bin: Int?
    /// The customer's behavioural features at decision time, JSON.
    let behaviour: String?
    let request_hash: String
    let created_by: String
    let created_at_ms: Int64
}

/// An uploaded model version.
struct ModelRow: Codable, Sendable {
    let tenant_id: String
    let version: String
    let model_json: String
    let features_json: String
    let metadata_json: String
    let created_by: String
    let created_at_ms: Int64
}

/// A tenant's choice of active and shadow model.
struct AssignmentRow: Codable, Sendable {
    let tenant_id: String
    let active_version: String
    let shadow_version: String?
    let updated_by: String
    let updated_at_ms: Int64
}

/// A loan offer.
struct OfferRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let decision_id: String
    let customer_id: String?
    let currency: String
    let grade: String
    var status: String
    let requested_minor: Int64
    let rate_bps: Int
    let fee_bps: Int
    /// `[OfferOption]`, JSON.
    let options: String
    let request_hash: String
    let expires_at_ms: Int64
    var accepted_term_months: Int?
    var accepted_minor: Int64?
    var accepted_by: String?
    var accepted_at_ms: Int64?
    let created_by: String
    let created_at_ms: Int64
    /// What the ledger answered for an accepted loan: `booked` (with its entry) or `refused` (with the reason).
    var booking_status: String?
    var booking_entry_id: String?
    var booking_detail: String?
}

/// One month of a customer's activity in one currency.
struct BehaviourRow: Codable, Sendable {
    let tenant_id: String
    let customer_id: String
    let currency: String
    /// `YYYY-MM`.
    let month: String
    let payments_succeeded: Int
    let payments_failed: Int
    let payments_refunded: Int
    let paid_minor: Int64
    let refunded_minor: Int64
    let inflow_minor: Int64
    let outflow_minor: Int64
    let transactions: Int
    /// Invoices fully settled in the month, and how many of them by their due date.
    let invoices_settled: Int
    let invoices_on_time: Int
}
