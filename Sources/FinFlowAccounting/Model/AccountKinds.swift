/// The five elements of accounting.
enum AccountType: String, Sendable, CaseIterable, Codable {
    case asset, liability, equity, revenue, expense

    /// The side on which an account of this type normally carries its balance.
    var naturalSide: Side {
        switch self {
        case .asset, .expense: return .debit
        case .liability, .equity, .revenue: return .credit
        }
    }

    /// Whether the account is a balance-sheet account (its balance carries into the next year).
    var isBalanceSheet: Bool { self == .asset || self == .liability || self == .equity }
}

/// Debit or credit.
enum Side: String, Sendable, Codable {
    case debit, credit

    var opposite: Side { self == .debit ? .credit : .debit }
}

/// How an account's movements appear in the cash-flow statement (indirect method).
enum CashFlowTag: String, Sendable, CaseIterable, Codable {
    /// The account is cash or a cash equivalent: the statement explains its change.
    case cash
    /// Working capital (receivables, payables, inventory, accruals).
    case operating
    /// Long-term assets.
    case investing
    /// Loans and owners' capital.
    case financing
    /// A non-cash item added back to net income (depreciation and its contra account).
    case noncash
}

/// A TigerBeetle-style limit on an account's running totals, checked on every posting.
enum BalanceConstraint: String, Sendable, CaseIterable, Codable {
    case none
    /// Posted and pending debits may never exceed posted credits (a customer wallet that cannot go negative).
    case debitsMustNotExceedCredits = "debits_must_not_exceed_credits"
    /// Posted and pending credits may never exceed posted debits.
    case creditsMustNotExceedDebits = "credits_must_not_exceed_debits"
}

/// Whether an account takes new postings.
enum AccountStatus: String, Sendable, Codable {
    case active, archived
}

/// Where a journal entry came from.
enum EntrySource: String, Sendable, CaseIterable, Codable {
    case manual, transaction, payment, invoice, close, revaluation, `import`, loan, bill, tax
    /// A document synced from QuickBooks Online or Xero.
    case sync
}

/// The life of a journal entry.
enum EntryStatus: String, Sendable, Codable {
    /// Saved, changes no balance, can be posted or discarded.
    case draft
    /// Waiting for a second person with the approver role (maker-checker).
    case awaitingApproval = "awaiting_approval"
    /// First phase of a two-phase entry: its amounts are reserved in the pending balances.
    case pending
    /// In the books; immutable.
    case posted
    /// A pending entry released without posting.
    case voided
    /// A pending entry whose timeout passed.
    case expired
    /// A pending entry resolved by posting (its posted counterpart is another entry).
    case resolved
    /// A draft thrown away.
    case discarded
}

/// The state of a fiscal month.
enum PeriodStatus: String, Sendable, Codable {
    /// Takes postings.
    case open
    /// Refuses postings except from someone holding `periods:reopen` (audited).
    case closed
    /// Refuses every posting; final.
    case locked
}
