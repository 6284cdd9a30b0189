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
