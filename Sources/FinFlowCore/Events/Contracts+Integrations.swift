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
