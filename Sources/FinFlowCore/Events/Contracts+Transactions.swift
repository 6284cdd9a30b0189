/// The transaction service's own events besides `TransactionCreated`.

/// A business transaction changed status (transactions → analytics, realtime analytics and any other observer):
/// `posted` or `rejected` by the accounting service, `reversal-requested`, `reversed`, or back to `posted` when a
/// reversal was refused.
public struct TransactionStatusChanged: EventContract, Equatable {
    public static let eventType = "finflow.transaction.status-changed"
    public static let schemaVersion = 1
    public let transactionId: String
    public let tenantId: String
    /// held, pending (released by compliance), posted, rejected, reversal-requested, reversed.
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

/// A held transaction was released by the compliance decision and is to be posted now (transactions → accounting):
/// the same transaction as its `TransactionCreated`, which the ledger did not post. The accounting service answers
/// with `JournalEntryPosted` or `JournalEntryRejected` naming the transaction, as it does for an unheld one.
public struct TransactionPostingRequested: EventContract, Equatable {
    public static let eventType = "finflow.transaction.posting-requested"
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
    public let description: String?
    public let externalReference: String?

    /// The posting request for the transaction `created` announced.
    public init(_ created: TransactionCreated) {
        self.transactionId = created.transactionId
        self.tenantId = created.tenantId
        self.kind = created.kind
        self.amountMinor = created.amountMinor
        self.currency = created.currency
        self.valueDate = created.valueDate
        self.sourceAccountId = created.sourceAccountId
        self.destinationAccountId = created.destinationAccountId
        self.counterparty = created.counterparty
        self.description = created.description
        self.externalReference = created.externalReference
    }

    /// The transaction as the ledger posts it, not held.
    public var transaction: TransactionCreated {
        TransactionCreated(
            transactionId: self.transactionId, tenantId: self.tenantId, kind: self.kind, amountMinor: self.amountMinor, currency: self.currency,
            valueDate: self.valueDate, sourceAccountId: self.sourceAccountId, destinationAccountId: self.destinationAccountId,
            counterparty: self.counterparty, description: self.description, externalReference: self.externalReference)
    }
}

/// The compliance service decided a held transaction (compliance → transactions): `approve` releases it to the ledger,
/// `decline` rejects it. Scenario rules decide at once when the outcome is approve, review or decline; a
/// block-and-review outcome waits for an officer, who decides through the API.
public struct ComplianceTransactionDecided: EventContract, Equatable {
    public static let eventType = "finflow.compliance.transaction-decided"
    public static let schemaVersion = 1
    public let transactionId: String
    public let tenantId: String
    /// approve, decline.
    public let outcome: String
    /// `rules` (the live scenarios) or `officer`.
    public let decidedBy: String
    /// The officer who decided, when one did.
    public let userId: String?
    /// The highest scenario score, when scenarios ran.
    public let score: Int?
    public let reason: String?
    /// Unix milliseconds of the decision.
    public let decidedAtMillis: Int64

    public init(
        transactionId: String, tenantId: String, outcome: String, decidedBy: String, userId: String? = nil, score: Int? = nil,
        reason: String? = nil, decidedAtMillis: Int64
    ) {
        self.transactionId = transactionId
        self.tenantId = tenantId
        self.outcome = outcome
        self.decidedBy = decidedBy
        self.userId = userId
        self.score = score
        self.reason = reason
        self.decidedAtMillis = decidedAtMillis
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
