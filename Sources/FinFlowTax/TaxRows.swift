/// A kept calculation, as stored.
struct DocumentRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let code: String
    let type: String
    var status: String
    let document_date: String
    let currency: String
    var net_minor: Int64
    var tax_minor: Int64
    var self_assessed_minor: Int64
    var total_minor: Int64
    /// The request's document (`TaxDocumentInput`) as JSON.
    let request: String
    /// The answer (`TaxResult`) as JSON.
    var result: String
    /// What was known of the buyer's VAT number (`VATCheck`) as JSON.
    let vat_check: String?
    let request_hash: String
    let rule_set_version: Int
    let created_by: String
    let created_at_ms: Int64
    var committed_at_ms: Int64?
    var voided_at_ms: Int64?
    var void_reason: String?
}

/// One jurisdiction-rate-treatment amount of a committed document, as returns read it.
struct AmountRow: Codable, Sendable {
    let document_id: String
    let tenant_id: String
    let row_no: Int
    let document_date: String
    let type: String
    let currency: String
    let jurisdiction: String
    let tax_type: String
    let category: String
    let rate: String
    let treatment: String
    let self_assessed: Int
    let taxable_minor: Int64
    let tax_minor: Int64
    /// The return that declares it: a country (`DE`), `OSS`, or a US state (`US-CA`).
    let declared_in: String?
    /// The ledger's tax account that holds it: a country, `OSS-FR`, or a US state.
    let account: String?
}

/// A tenant's rule, as stored.
struct RuleRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let kind: String
    let jurisdiction: String
    let category: String
    let product: String?
    let rate: String?
    let valid_from: String
    let valid_to: String?
    let note: String?
    let added_in_version: Int
    var retired_in_version: Int?
    let created_by: String
    let created_at_ms: Int64
}

/// A version of a tenant's rule set.
struct RuleSetRow: Codable, Sendable {
    let tenant_id: String
    let version: Int
    let summary: String
    let changed_by: String
    let changed_at_ms: Int64
}

/// A local US rate, as stored.
struct LocalRateRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let state: String
    let level: String
    let name: String
    let zip_from: Int
    let zip_to: Int
    let rate: String
    let valid_from: String
    let valid_to: String?
}

/// An exemption certificate, as stored (`jurisdictions` comma-separated).
struct CertificateRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let customer_id: String
    let number: String
    let jurisdictions: String
    let reason: String
    let valid_from: String
    let expires_on: String?
    var revoked_at_ms: Int64?
    let request_hash: String
    let created_by: String
    let created_at_ms: Int64
}

/// Committed sales of a scheme in a year.
struct TallyRow: Codable, Sendable {
    let tenant_id: String
    let scheme: String
    let year: Int
    let amount_minor: Int64
    let transactions: Int
}

/// A VIES answer kept for the day.
struct VIESRow: Codable, Sendable {
    let tenant_id: String
    let number: String
    let day: String
    let status: String
    let detail: String?
    let name: String?
    let address: String?
    let consultation_number: String?
    let checked_at_ms: Int64
}

/// One posted entry's movement of a ledger tax account, as the accounting service announced it.
struct LedgerMovementRow: Codable, Sendable {
    let entry_id: String
    let row_no: Int
    let tenant_id: String
    let accounting_date: String
    let account: String
    /// `output` or `input`.
    let kind: String
    let currency: String
    let amount_minor: Int64
    let document_id: String?
    let filing_id: String?
}

/// A filed return.
struct FilingRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let kind: String
    let jurisdiction: String
    let period_start: String
    let period_end: String
    let currency: String
    let output_tax_minor: Int64
    let input_tax_minor: Int64
    let net_minor: Int64
    /// The return as filed (JSON).
    let figures: String
    let request_hash: String
    let filed_by: String
    let filed_at_ms: Int64
}
