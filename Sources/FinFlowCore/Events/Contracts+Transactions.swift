/// The transaction service's own events besides `TransactionCreated`.

/// A business transaction changed status (transactions → analytics, realtime analytics and any other observer):
/// `posted` or `rejected` by the accounting service, `reversal-requested`, `reversed`, or back to `posted` when a
/// reversal was refused.
public struct TransactionStatusChanged: EventContract, Equatable {
    public static let eventType = "finflow.transaction.status-changed"
    public static let schemaVersion = 1
    public let transactionId: String
    public let tenantId: String
    /// pending, posted, rejected, reversal-requested, reversed.
    public let status: String
    public let previousStatus: String
    /// The problem code of a refusal (`period-closed`, `balance-constraint`…), when there is one.
    public let code: String?
    /// The explanation of a refusal or the reason given for a reversal.
    public let reason: String?
    /// The journal entry that posted (or, for `reversed`, reversed) the transaction.
    public let entryId: String?
    /// Unix milliseconds of the change.
    public let changedAtMillis: Int64

    public init(
        transactionId: String, tenantId: String, status: String, previousStatus: String, code: String? = nil,
        reason: String? = nil, entryId: String? = nil, changedAtMillis: Int64
    ) {
        self.transactionId = transactionId
        self.tenantId = tenantId
        self.status = status
        self.previousStatus = previousStatus
        self.code = code
        self.reason = reason
        self.entryId = entryId
        self.changedAtMillis = changedAtMillis
    }
}

/// A posted transaction is to be reversed (transactions → accounting). The accounting service posts the reversing
/// entry of the transaction's entry and answers `JournalEntryPosted` (with `reversesEntryId`) or
/// `JournalEntryRejected` naming the transaction.
public struct TransactionReversalRequested: EventContract, Equatable {
    public static let eventType = "finflow.transaction.reversal-requested"
    public static let schemaVersion = 1
    public let transactionId: String
    public let tenantId: String
    /// The accounting date of the reversing entry, `YYYY-MM-DD`.
    public let reversalDate: String
    public let reason: String?

    public init(transactionId: String, tenantId: String, reversalDate: String, reason: String?) {
        self.transactionId = transactionId
        self.tenantId = tenantId
        self.reversalDate = reversalDate
        self.reason = reason
    }
}

/// The compliance service raised an alert (compliance → auth, performance): AML monitoring, sanctions screening,
/// fraud or a data-protection finding about a user, transaction, payment or counterparty. `action` says what other
/// services do at once: `end-sessions` makes auth end the named user's sessions in the tenant.
public struct ComplianceAlert: EventContract, Equatable {
    public static let eventType = "finflow.compliance.alert"
    public static let schemaVersion = 1
    public let alertId: String
    public let tenantId: String
    /// aml, sanctions, fraud, gdpr, psd2.
    public let kind: String
    /// low, medium, high, critical.
    public let severity: String
    /// user, transaction, payment, counterparty.
    public let subjectType: String
    public let subjectId: String
    /// The user concerned, when there is one.
    public let userId: String?
    /// none, review, end-sessions.
    public let action: String
    public let reason: String
    /// Unix milliseconds at which the alert was raised.
    public let raisedAtMillis: Int64

    public init(
        alertId: String, tenantId: String, kind: String, severity: String, subjectType: String, subjectId: String, userId: String?,
        action: String, reason: String, raisedAtMillis: Int64
    ) {
        self.alertId = alertId
        self.tenantId = tenantId
        self.kind = kind
        self.severity = severity
        self.subjectType = subjectType
        self.subjectId = subjectId
        self.userId = userId
        self.action = action
        self.reason = reason
        self.raisedAtMillis = raisedAtMillis
    }
}
