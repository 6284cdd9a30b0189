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
