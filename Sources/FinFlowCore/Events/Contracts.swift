/// The event contracts services exchange. Each has a versioned topic; `docs/events.md` is the catalogue.

/// A person registered (auth → tenancy, analytics).
public struct UserRegistered: EventContract, Equatable {
    public static let eventType = "finflow.user.registered"
    public static let schemaVersion = 1
    public let userId: String
    public let email: String
    public let displayName: String
    /// The name for the tenant created for the user.
    public let organizationName: String?

    public init(userId: String, email: String, displayName: String, organizationName: String?) {
        self.userId = userId
        self.email = email
        self.displayName = displayName
        self.organizationName = organizationName
    }
}

/// A user's membership of a tenant began, changed role or ended (tenancy → auth).
public struct MembershipChanged: EventContract, Equatable {
    public static let eventType = "finflow.membership.changed"
    public static let schemaVersion = 1
    public let tenantId: String
    public let userId: String
    public let roles: [String]
    /// `active` or `removed`.
    public let status: String
    /// Unix milliseconds of the change, so an older change never overwrites a newer one.
    public let changedAtMillis: Int64
    /// The permissions the roles grant in this tenant (custom roles included); absent from older producers,
    /// in which case the built-in role table applies.
    public let permissions: [String]?

    public init(
        tenantId: String, userId: String, roles: [String], status: String, changedAtMillis: Int64,
        permissions: [String]? = nil
    ) {
        self.tenantId = tenantId
        self.userId = userId
        self.roles = roles
        self.status = status
        self.changedAtMillis = changedAtMillis
        self.permissions = permissions
    }
}

/// A tenant was created (tenancy → accounting and others).
public struct TenantCreated: EventContract, Equatable {
    public static let eventType = "finflow.tenant.created"
    public static let schemaVersion = 1
    public let tenantId: String
    public let name: String
    public let baseCurrency: String
    public let fiscalYearStartMonth: Int
    public let ownerUserId: String?

    public init(tenantId: String, name: String, baseCurrency: String, fiscalYearStartMonth: Int, ownerUserId: String?) {
        self.tenantId = tenantId
        self.name = name
        self.baseCurrency = baseCurrency
        self.fiscalYearStartMonth = fiscalYearStartMonth
        self.ownerUserId = ownerUserId
    }
}

/// A tenant was suspended or reactivated (tenancy → every service: tokens of a suspended tenant stop working).
public struct TenantStatusChanged: EventContract, Equatable {
    public static let eventType = "finflow.tenant.status-changed"
    public static let schemaVersion = 1
    public let tenantId: String
    /// `active` or `suspended`.
    public let status: String

    public init(tenantId: String, status: String) {
        self.tenantId = tenantId
        self.status = status
    }
}

/// A sign-in session ended: logout, revocation, password change or refresh-token reuse (auth → every service).
public struct SessionRevoked: EventContract, Equatable {
    public static let eventType = "finflow.session.revoked"
    public static let schemaVersion = 1
    public let sessionId: String
    public let userId: String
    public let reason: String

    public init(sessionId: String, userId: String, reason: String) {
        self.sessionId = sessionId
        self.userId = userId
        self.reason = reason
    }
}

/// A message to send by mail (any service → the mail channel). In development the channel logs it.
public struct MailRequested: EventContract, Equatable {
    public static let eventType = "finflow.mail.requested"
    public static let schemaVersion = 1
    public let to: String
    public let subject: String
    public let body: String
    /// What the mail is for (`verify-email`, `reset-password`, `invitation`).
    public let purpose: String

    public init(to: String, subject: String, body: String, purpose: String) {
        self.to = to
        self.subject = subject
        self.body = body
        self.purpose = purpose
    }
}

/// A tenant's security policy changed (tenancy → auth): which roles must sign in with a second factor.
public struct TenantPolicyChanged: EventContract, Equatable {
    public static let eventType = "finflow.tenant.policy-changed"
    public static let schemaVersion = 1
    public let tenantId: String
    public let mfaRequiredRoles: [String]

    public init(tenantId: String, mfaRequiredRoles: [String]) {
        self.tenantId = tenantId
        self.mfaRequiredRoles = mfaRequiredRoles
    }
}
