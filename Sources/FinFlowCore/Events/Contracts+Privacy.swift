/// A data subject asked a tenant for their data (compliance → every service that holds personal data): each service
/// answers with its part, or that it holds nothing, as `DataSubjectRequestAnswered`.
public struct DataSubjectRequestOpened: EventContract, Equatable {
    public static let eventType = "finflow.data-subject-request.opened"
    public static let schemaVersion = 1
    /// The services that hold personal data and answer every request; a test holds it to the services' declarations.
    public static let answeringServices = ["accounting", "analytics", "auth", "compliance", "credit", "insights", "integrations", "payments", "performance", "realtime", "tenancy", "transactions"]

    public let requestId: String
    public let tenantId: String
    /// `access` (a copy of everything held) or `erasure`.
    public let kind: String
    /// The subject's user id, when they are a user of the platform.
    public let userId: String?
    /// The subject's customer id in the tenant's books.
    public let customerId: String?
    public let email: String?
    /// Names the subject goes by as a counterparty or customer.
    public let names: [String]
    public let openedAtMillis: Int64

    public init(
        requestId: String, tenantId: String, kind: String, userId: String?, customerId: String?, email: String?, names: [String],
        openedAtMillis: Int64
    ) {
        self.requestId = requestId
        self.tenantId = tenantId
        self.kind = kind
        self.userId = userId
        self.customerId = customerId
        self.email = email
        self.names = names
        self.openedAtMillis = openedAtMillis
    }
}

/// One service's answer to a data subject request (every such service → compliance), in pieces: the part is a JSON
/// document that can run to megabytes, carried `chunkCount` pieces of at most `chunkBytesMax` each.
public struct DataSubjectRequestAnswered: EventContract, Equatable {
    public static let eventType = "finflow.data-subject-request.answered"
    public static let schemaVersion = 1
    /// The most UTF-8 bytes of the part one event carries, well inside a broker's message limit.
    public static let chunkBytesMax = 256 * 1_024

    public let requestId: String
    public let tenantId: String
    public let service: String
    /// `data` or `nothing-held`.
    public let outcome: String
    /// Records the part holds.
    public let records: Int64
    /// This piece's place, from 0.
    public let chunkIndex: Int
    public let chunkCount: Int
    /// This piece of the part's JSON text.
    public let content: String
    /// The SHA-256 of the whole part, hexadecimal, to check it once assembled.
    public let partSha256: String
    public let answeredAtMillis: Int64

    public init(
        requestId: String, tenantId: String, service: String, outcome: String, records: Int64, chunkIndex: Int, chunkCount: Int, content: String,
        partSha256: String, answeredAtMillis: Int64
    ) {
        self.requestId = requestId
        self.tenantId = tenantId
        self.service = service
        self.outcome = outcome
        self.records = records
        self.chunkIndex = chunkIndex
        self.chunkCount = chunkCount
        self.content = content
        self.partSha256 = partSha256
        self.answeredAtMillis = answeredAtMillis
    }
}
