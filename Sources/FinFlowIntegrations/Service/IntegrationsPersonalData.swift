import FinFlowCore

extension IntegrationsService {
    /// Where the integration service keeps what can name a person: the contact address of a webhook endpoint, who
    /// registered it, and the events it delivers (which can carry counterparty names).
    static let personalData: [PersonalDataSource] = [
        PersonalDataSource(
            category: "webhook-contacts", purpose: "tell the contact of a tenant's webhook endpoint when it is disabled for failing (contract)",
            retention: "until the endpoint is deleted", table: "webhook_endpoints", columns: ["id", "url", "notify_email", "created_at_ms:int"],
            matches: [.email: "notify_email"],
            erasure: .pseudonymise(["notify_email"], rule: "the endpoint is the tenant's; its contact is forgotten", years: nil, dateColumn: nil),
            orderBy: "created_at_ms, id"),
        PersonalDataSource(
            category: "webhook-registrations", purpose: "say who registered each webhook endpoint (legitimate interest)",
            retention: "until the endpoint is deleted", table: "webhook_endpoints", columns: ["id", "url", "created_at_ms:int"],
            matches: [.userId: "created_by"],
            erasure: .pseudonymise(["created_by"], rule: "the endpoint is the tenant's; who registered it is forgotten", years: nil, dateColumn: nil),
            orderBy: "created_at_ms, id"),
        PersonalDataSource(
            category: "webhook-deliveries", purpose: "deliver the tenant's events and show what was delivered (contract)",
            retention: "until the endpoint is deleted", table: "webhook_deliveries",
            columns: ["id", "endpoint_id", "event_id", "event_type", "payload", "created_at_ms:int"], matches: [:], mentions: ["payload"],
            erasure: .pseudonymise([], rule: "what was delivered to the tenant's own systems is its record", years: nil, dateColumn: nil),
            orderBy: "created_at_ms, id"),
    ]
}
