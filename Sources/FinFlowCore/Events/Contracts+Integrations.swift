/// A tenant's webhook endpoint was disabled (integrations → whoever tells the tenant): its deliveries failed for a
/// whole retry window, or a manager disabled it.
public struct WebhookEndpointDisabled: EventContract, Equatable {
    public static let eventType = "finflow.webhook-endpoint.disabled"
    public static let schemaVersion = 1
    public let tenantId: String
    public let endpointId: String
    public let url: String
    /// `failing` (deliveries failed for the whole retry window) or `manual`.
    public let reason: String
    /// What the last attempt met (the status code or the network error), when the endpoint was failing.
    public let lastError: String?
    public let disabledAtMillis: Int64

    public init(tenantId: String, endpointId: String, url: String, reason: String, lastError: String?, disabledAtMillis: Int64) {
        self.tenantId = tenantId
        self.endpointId = endpointId
        self.url = url
        self.reason = reason
        self.lastError = lastError
        self.disabledAtMillis = disabledAtMillis
    }
}

/// A tenant's connection to QuickBooks Online or Xero changed state (integrations → whoever tells the tenant): it was
/// authorised (or mended), its organisation chosen, the provider refused its grant (it needs the user again), or a
/// manager disconnected it.
public struct IntegrationConnectionChanged: EventContract, Equatable {
    public static let eventType = "finflow.integration-connection.changed"
    public static let schemaVersion = 1
    public let tenantId: String
    public let connectionId: String
    /// `quickbooks` or `xero`.
    public let provider: String
    /// `connected`, `choosing-organisation`, `needs-authorisation` or `disconnected`.
    public let status: String
    /// The QuickBooks realmId or the Xero tenant id, once known.
    public let externalId: String?
    /// Why: the provider's refusal, or `manual` for a disconnection.
    public let reason: String?
    public let changedAtMillis: Int64

    public init(
        tenantId: String, connectionId: String, provider: String, status: String, externalId: String?, reason: String?, changedAtMillis: Int64
    ) {
        self.tenantId = tenantId
        self.connectionId = connectionId
        self.provider = provider
        self.status = status
        self.externalId = externalId
        self.reason = reason
        self.changedAtMillis = changedAtMillis
    }
}
