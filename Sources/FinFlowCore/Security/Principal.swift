import Crypto
import Foundation

/// Who is calling: the verified claims of an access token, as services see them.
public struct Principal: Sendable, Equatable {
    /// The user (or API client) id.
    public let subject: String
    /// The tenant the token was issued for.
    public let tenantId: String
    /// Role names in that tenant.
    public let roles: [String]
    /// Permissions granted, `resource:action`.
    public let permissions: Set<String>
    /// The sign-in session the token belongs to (nil for machine clients).
    public let sessionId: String?

    /// A principal from verified claims.
    public init(subject: String, tenantId: String, roles: [String], permissions: Set<String>, sessionId: String?) {
        self.subject = subject
        self.tenantId = tenantId
        self.roles = roles
        self.permissions = permissions
        self.sessionId = sessionId
    }

    /// Whether a person signed in (a user's session), not an API client: a client's token names the client as its
    /// session so that revoking the client ends its tokens, and internal principals have no session.
    public var isSignedInUser: Bool {
        guard let session = self.sessionId else { return false }
        return session != self.subject
    }

    /// Whether the principal holds `permission`.
    public func has(_ permission: String) -> Bool {
        self.permissions.contains(permission)
    }
}

/// What is known about the request being handled, reachable from any handler through a task local, since
/// generated OpenAPI handlers do not see the Hummingbird context.
public struct RequestScope: Sendable {
    /// The request id, echoed in `X-Request-Id`, in every log line and in every problem.
    public let requestId: String
    /// The authenticated caller, when the request carried a valid access token.
    public var principal: Principal?
    /// The client address, when the transport knows it.
    public var clientAddress: String?
    /// The client's `User-Agent`.
    public var userAgent: String?
    /// The raw `Authorization` header when it is not a bearer token (HTTP Basic client credentials).
    public var authorization: String?
    /// The `Idempotency-Key` this request runs under, once the idempotency middleware has claimed it.
    public var idempotency: IdempotentRun?
    /// The bearer token the principal came from, for a response that outlives the request to check it again.
    public var tokenWatch: TokenWatch?

    /// A scope for a new request.
    public init(
        requestId: String, principal: Principal? = nil, clientAddress: String? = nil, userAgent: String? = nil,
        authorization: String? = nil
    ) {
        self.requestId = requestId
        self.principal = principal
        self.clientAddress = clientAddress
        self.userAgent = userAgent
        self.authorization = authorization
    }

    @TaskLocal public static var current: RequestScope?

    /// The id of what the current request creates for `purpose` (the `index`th of a batch), derived from its
    /// `Idempotency-Key`; nil without one. A handler names what it creates by it when the caller named nothing, so a
    /// retry after a crash between the effect's commit and the stored answer finds the effect instead of repeating it.
    public static func effectId(_ purpose: String, index: Int = 0) -> String? {
        RequestScope.current?.idempotency?.effectId(purpose, index: index)
    }

    /// Whether the current request runs under a claimed `Idempotency-Key`. A keyed request that finds the state change
    /// it asks for already made (its first run committed, then crashed before its answer was stored) answers with the
    /// object as it is, instead of refusing the change as one from the wrong state.
    public static var isKeyed: Bool { RequestScope.current?.idempotency != nil }

    /// The authenticated caller, or a 401.
    public static func authenticated() throws -> Principal {
        guard let principal = RequestScope.current?.principal else { throw AppError.unauthenticated() }
        return principal
    }

    /// The authenticated caller holding `permission`, or a 401/403.
    public static func require(_ permission: String) throws -> Principal {
        let principal = try authenticated()
        guard principal.has(permission) else {
            throw AppError.forbidden(code: "permission-denied", "this action needs the permission '\(permission)'")
        }
        return principal
    }
}

/// A request running under a claimed `Idempotency-Key`: every run of the key (the first, and a retry after a crash left
/// it unanswered) derives the same ids for what it creates.
public struct IdempotentRun: Sendable {
    /// Who used the key (`tenant:subject`) and the key itself.
    public let scope: String
    public let key: String
    /// When the key was first claimed: the time part of every derived id, so ids stay ordered by time (UUIDv7).
    public let firstClaimedAtMillis: Int64

    /// A run of `key` by `scope`, first claimed at `firstClaimedAtMillis`.
    public init(scope: String, key: String, firstClaimedAtMillis: Int64) {
        self.scope = scope
        self.key = key
        self.firstClaimedAtMillis = firstClaimedAtMillis
    }

    /// A UUIDv7 whose time is the key's first claim and whose random part is a hash of the scope, key, purpose and
    /// index: the same for every run of the key, different for anything else.
    public func effectId(_ purpose: String, index: Int = 0) -> String {
        let digest = Array(SHA256.hash(data: Data("finflow-effect\u{1F}\(self.scope)\u{1F}\(self.key)\u{1F}\(purpose)\u{1F}\(index)".utf8)))
        let millis = UInt64(max(self.firstClaimedAtMillis, 0)) & 0xFFFF_FFFF_FFFF
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: millis >> (8 * (5 - i))) }
        for i in 6..<16 { bytes[i] = digest[i] }
        bytes[6] = 0x70 | (bytes[6] & 0x0F)
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        let uuid = UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                               bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
        return uuid.canonical
    }
}
