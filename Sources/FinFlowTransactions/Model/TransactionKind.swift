/// What a business transaction is, as its producer names it.
public enum TransactionKind: String, Sendable, CaseIterable {
    case transfer, payment, receipt, expense, income, refund, fee, adjustment
}

/// Where a transaction is in its saga.
public enum TransactionStatus: String, Sendable, CaseIterable {
    /// Accepted and announced, held until the compliance service decides (the tenant holds its transactions).
    case held
    /// Accepted and announced (or released by compliance); the ledger has not answered yet.
    case pending
    /// The ledger posted it.
    case posted
    /// The ledger refused it (closed period, balance constraint…).
    case rejected
    /// A reversal was asked of the ledger, which has not answered yet.
    case reversalRequested = "reversal-requested"
    /// The ledger posted its reversing entry.
    case reversed

    /// What a held transaction waits for, as `TransactionCreated.postingHeldFor` names it.
    static let heldFor = "compliance"
}

/// The service's named bounds.
enum TransactionLimitsBounds {
    /// Most transactions in one batch request.
    static let batchSizeMax = 500
    /// Most statement lines in one import.
    static let importLinesMax = 5_000
    static let counterpartyLengthMax = 200
    static let counterpartyAccountLengthMax = 64
    static let categoryLengthMax = 100
    static let descriptionLengthMax = 500
    static let referenceLengthMax = 200
    static let reasonLengthMax = 300
    static let metadataKeysMax = 50
    static let metadataKeyLengthMax = 64
    static let metadataValueLengthMax = 500
    /// The largest amount any transaction may carry, in minor units (a thousand trillion), whatever the tenant allows.
    static let amountMinorMax: Int64 = 1_000_000_000_000_000
    /// Text search terms longer than this are refused.
    static let searchLengthMax = 100
}
