import FinFlowCore

extension ComplianceService {
    /// Where compliance keeps personal data: screenings and alerts about the subject, and what the subject did as the
    /// audit trail records it.
    static let personalData: [PersonalDataSource] = [
        PersonalDataSource(
            category: "sanctions-screenings", purpose: "screen customers and counterparties against sanctions lists (legal obligation)",
            retention: "5 years after the relationship ends (anti-money-laundering law)", table: "screenings",
            columns: ["id", "subject_type", "subject_ref", "names", "birth_date", "country", "status", "match_count:int", "origin", "created_at_ms:int"],
            matches: [.customerId: "subject_ref", .userId: "subject_ref"], erasure: .keep(rule: "anti-money-laundering law: 5 years after the relationship", years: 5, dateColumn: "created_at_ms")),
        PersonalDataSource(
            category: "compliance-alerts", purpose: "investigate suspected money laundering or sanctions hits (legal obligation)",
            retention: "5 years after the relationship ends (anti-money-laundering law)", table: "compliance_alerts",
            columns: ["id", "kind", "severity", "status", "subject_type", "subject_ref", "reason", "outcome", "created_at_ms:int", "closed_at_ms:int"],
            matches: [.customerId: "subject_ref", .userId: "subject_ref"], erasure: .keep(rule: "anti-money-laundering law: 5 years after the relationship", years: 5, dateColumn: "created_at_ms")),
        PersonalDataSource(
            category: "consents", purpose: "show that and to what the subject consented (GDPR article 7(1))",
            retention: "3 years after the consent ends (limitation period for claims)", table: "consents",
            columns: ["id", "subject_ref", "purpose", "status", "text_version", "method", "evidence", "given_at_ms:int", "withdrawn_at_ms:int"],
            matches: [.customerId: "subject_ref", .userId: "subject_ref", .email: "subject_ref"],
            erasure: .keep(rule: "proof of consent is kept 3 years after the consent ends (limitation period)", years: 3, dateColumn: "given_at_ms")),
        PersonalDataSource(
            category: "audit-trail", purpose: "account for every security- and money-relevant act (legal obligation, security)",
            retention: "10 years (bookkeeping law)", table: "audit_trail",
            columns: ["record_id", "service", "seq:int", "occurred_at_ms:int", "actor_id", "action", "target", "outcome", "client_address", "details"],
            matches: [.userId: "actor_id"],
            erasure: .keep(rule: "the audit trail is append-only and kept 10 years (bookkeeping law)", years: 10, dateColumn: "occurred_at_ms"),
            orderBy: "record_id"),
        // The copies assembled for access requests: given once, and deleted by the retention sweep 7 days after they are
        // ready when nobody downloaded them. They are the subject's data already held above, so no request searches them.
        PersonalDataSource(
            category: "data-subject-request-archives", purpose: "give data subjects the copy of their data they asked for (GDPR article 15)",
            retention: "until downloaded, at most 7 days after the archive is ready", table: "dsr_chunks",
            columns: ["request_id", "service", "chunk_index:int"], matches: [:], erasure: .delete,
            expiry: .init(dateColumn: "expires_at_ms", days: 0, idColumn: "request_id"), orderBy: "request_id"),
    ]
}
