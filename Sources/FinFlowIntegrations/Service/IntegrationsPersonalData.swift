import FinFlowCore

extension IntegrationsService {
    /// Where the integration service keeps what can name a person: the contact address of a webhook endpoint, who
    /// registered it, the events it delivers (which can carry counterparty names), and the provider documents synced
    /// (customers' and vendors' names and addresses).
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
        PersonalDataSource(
            category: "synced-documents", purpose: "keep the tenant's books in step with its QuickBooks or Xero company (contract)",
            retention: "while the connection exists", table: "integration_records",
            columns: ["entity", "external_id", "finflow_id", "label", "document", "synced_at_ms:int"], matches: [:], mentions: ["label", "document"],
            erasure: .pseudonymise(
                [], rule: "a copy of the tenant's own books at the provider: erased there, the next sync carries the change", years: nil, dateColumn: nil),
            orderBy: "entity, external_id"),
        PersonalDataSource(
            category: "pushed-entries", purpose: "write the tenant's ledger entries into its QuickBooks or Xero company (contract)",
            retention: "while the connection exists", table: "integration_pushes",
            columns: ["entry_id", "connection_id", "status", "payload", "created_at_ms:int"], matches: [:], mentions: ["payload"],
            erasure: .pseudonymise(
                [], rule: "a copy of the tenant's own ledger entries, which the ledger's erasure marks; the provider's copy is erased there",
                years: nil, dateColumn: nil),
            orderBy: "created_at_ms, entry_id"),
        PersonalDataSource(
            category: "pushed-contacts", purpose: "name the tenant's customers and vendors in its QuickBooks or Xero company (contract)",
            retention: "while the connection exists", table: "integration_push_refs",
            columns: ["kind", "finflow_id", "external_id", "name", "created_at_ms:int"], matches: [:], mentions: ["name"],
            erasure: .pseudonymise(
                [], rule: "the name the provider's contact was found or made by, a copy of the tenant's own records; the provider's copy is erased there",
                years: nil, dateColumn: nil),
            orderBy: "kind, finflow_id"),
        PersonalDataSource(
            category: "sync-requests", purpose: "say who started each sync (legitimate interest)",
            retention: "while the connection exists", table: "integration_sync_runs", columns: ["id", "connection_id", "created_at_ms:int"],
            matches: [.userId: "requested_by"],
            erasure: .pseudonymise(["requested_by"], rule: "the run is the tenant's; who started it is forgotten", years: nil, dateColumn: nil),
            orderBy: "created_at_ms, id"),
    ]
}
