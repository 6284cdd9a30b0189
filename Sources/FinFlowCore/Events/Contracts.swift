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

/// A business transaction was accepted and awaits posting (transactions → accounting, analytics, realtime).
/// The accounting service debits `destinationAccountId` and credits `sourceAccountId` and answers with
/// `JournalEntryPosted` or `JournalEntryRejected` naming the transaction; unless `postingHeldFor` is set, in which
/// case it posts only on the `TransactionPostingRequested` that follows the release.
public struct TransactionCreated: EventContract, Equatable {
    public static let eventType = "finflow.transaction.created"
    public static let schemaVersion = 1
    public let transactionId: String
    public let tenantId: String
    /// transfer, payment, receipt, expense, income, refund, fee, adjustment.
    public let kind: String
    public let amountMinor: Int64
    public let currency: String
    /// The accounting date, `YYYY-MM-DD`.
    public let valueDate: String
    /// The ledger account the money leaves (credited).
    public let sourceAccountId: String
    /// The ledger account the money reaches (debited).
    public let destinationAccountId: String
    public let counterparty: String?
    public let category: String?
    public let description: String?
    public let externalReference: String?
    /// The counterparty's country, ISO 3166-1 alpha-2, when the transaction names one.
    public let counterpartyCountry: String?
    /// What posting waits for: `compliance` when the tenant holds its transactions until the compliance service
    /// decides (the transaction service then sends `TransactionPostingRequested` or rejects it); nil to post at once.
    public let postingHeldFor: String?

    public init(
        transactionId: String, tenantId: String, kind: String, amountMinor: Int64, currency: String, valueDate: String,
        sourceAccountId: String, destinationAccountId: String, counterparty: String? = nil, category: String? = nil,
        description: String? = nil, externalReference: String? = nil, counterpartyCountry: String? = nil, postingHeldFor: String? = nil
    ) {
        self.transactionId = transactionId
        self.tenantId = tenantId
        self.kind = kind
        self.amountMinor = amountMinor
        self.currency = currency
        self.valueDate = valueDate
        self.sourceAccountId = sourceAccountId
        self.destinationAccountId = destinationAccountId
        self.counterparty = counterparty
        self.category = category
        self.description = description
        self.externalReference = externalReference
        self.counterpartyCountry = counterpartyCountry
        self.postingHeldFor = postingHeldFor
    }
}

/// A payment reached a final state at its gateway (payments → accounting, credit engine).
public struct PaymentProcessed: EventContract, Equatable {
    public static let eventType = "finflow.payment.processed"
    public static let schemaVersion = 1
    public let paymentId: String
    public let tenantId: String
    /// `succeeded`, `failed` or `refunded`.
    public let status: String
    /// The gross amount moved (the refunded amount for a refund), in minor units.
    public let amountMinor: Int64
    public let currency: String
    /// The gateway's fee in the same currency, when the gateway reports it.
    public let feeMinor: Int64?
    /// stripe, paypal, square.
    public let gateway: String
    public let gatewayReference: String?
    public let customerId: String?
    /// The receivable invoice the payment settles, if any.
    public let invoiceId: String?
    /// Unix milliseconds at which the gateway processed it.
    public let processedAtMillis: Int64
    /// Distinguishes several refunds of one payment (the refund id); nil for the payment itself.
    public let refundId: String?

    public init(
        paymentId: String, tenantId: String, status: String, amountMinor: Int64, currency: String, feeMinor: Int64?,
        gateway: String, gatewayReference: String?, customerId: String?, invoiceId: String?, processedAtMillis: Int64,
        refundId: String? = nil
    ) {
        self.paymentId = paymentId
        self.tenantId = tenantId
        self.status = status
        self.amountMinor = amountMinor
        self.currency = currency
        self.feeMinor = feeMinor
        self.gateway = gateway
        self.gatewayReference = gatewayReference
        self.customerId = customerId
        self.invoiceId = invoiceId
        self.processedAtMillis = processedAtMillis
        self.refundId = refundId
    }
}

/// The accounting service posted an entry for another service's record (accounting → its producer).
public struct JournalEntryPosted: EventContract, Equatable {
    public static let eventType = "finflow.journal-entry.posted"
    public static let schemaVersion = 1
    public let entryId: String
    public let tenantId: String
    /// manual, transaction, payment, invoice, close, revaluation.
    public let source: String
    /// The producer's record (a transaction id, a payment id), when the entry answers one.
    public let sourceId: String?
    public let accountingDate: String
    public let reversesEntryId: String?

    public init(
        entryId: String, tenantId: String, source: String, sourceId: String?, accountingDate: String,
        reversesEntryId: String?
    ) {
        self.entryId = entryId
        self.tenantId = tenantId
        self.source = source
        self.sourceId = sourceId
        self.accountingDate = accountingDate
        self.reversesEntryId = reversesEntryId
    }
}

/// The accounting service refused to post another service's record (accounting → its producer), with the
/// problem code (`balance-constraint`, `period-closed`, `unknown-account`…) and its explanation.
public struct JournalEntryRejected: EventContract, Equatable {
    public static let eventType = "finflow.journal-entry.rejected"
    public static let schemaVersion = 1
    public let tenantId: String
    public let source: String
    public let sourceId: String
    public let code: String
    public let reason: String

    public init(tenantId: String, source: String, sourceId: String, code: String, reason: String) {
        self.tenantId = tenantId
        self.source = source
        self.sourceId = sourceId
        self.code = code
        self.reason = reason
    }
}

/// A ledger account was opened or changed (accounting → transactions' read model of accounts).
public struct LedgerAccountChanged: EventContract, Equatable {
    public static let eventType = "finflow.ledger-account.changed"
    public static let schemaVersion = 1
    public let accountId: String
    public let tenantId: String
    public let code: String
    public let name: String
    /// asset, liability, equity, revenue, expense.
    public let type: String
    public let currency: String
    /// `active` or `archived`.
    public let status: String
    /// Unix milliseconds of the change, so an older change never overwrites a newer one.
    public let changedAtMillis: Int64

    public init(
        accountId: String, tenantId: String, code: String, name: String, type: String, currency: String, status: String,
        changedAtMillis: Int64
    ) {
        self.accountId = accountId
        self.tenantId = tenantId
        self.code = code
        self.name = name
        self.type = type
        self.currency = currency
        self.status = status
        self.changedAtMillis = changedAtMillis
    }
}
