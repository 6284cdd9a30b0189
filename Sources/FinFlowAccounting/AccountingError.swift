import FinFlowCore

/// The accounting service's domain errors, each with its stable code.
enum AccountingError {
    static func unbalanced(_ detail: String) -> AppError {
        AppError(.invalidInput, code: "unbalanced", "debits and credits differ: \(detail)")
    }
    static func unknownAccount(field: String) -> AppError {
        AppError(.invalidInput, code: "unknown-account", "an account of the entry does not exist",
                 fieldErrors: [.init(field: field, message: "no such account")])
    }
    static func archivedAccount(field: String, code: String) -> AppError {
        AppError(.rejected, code: "account-archived", "account \(code) is archived and takes no postings",
                 fieldErrors: [.init(field: field, message: "archived")])
    }
    static func currencyMismatch(field: String, expected: String, got: String) -> AppError {
        AppError(.invalidInput, code: "currency-mismatch", "the line is in \(got) but its account keeps \(expected)",
                 fieldErrors: [.init(field: field, message: "must be \(expected)")])
    }
    static func insufficientFunds(code: String) -> AppError {
        AppError(.rejected, code: "insufficient-funds", "the posting would take account \(code) below zero on its balance side")
    }
    static func balanceConstraint(code: String) -> AppError {
        AppError(.rejected, code: "balance-constraint", "the posting would break the balance constraint of account \(code)")
    }
    static func periodClosed(_ period: String) -> AppError {
        AppError(.rejected, code: "period-closed", "period \(period) is closed; only a holder of periods:reopen may post into it")
    }
    static func periodLocked(_ period: String) -> AppError {
        AppError(.rejected, code: "period-locked", "period \(period) is locked and takes no postings")
    }
    static func idReused() -> AppError {
        AppError.conflict(code: "id-reused", "an entry with this id exists with different content")
    }
    static func wrongStatus(_ status: String, _ action: String) -> AppError {
        AppError.conflict(code: "invalid-state", "the entry is \(status) and cannot be \(action)")
    }
    static func ledgerNotReady() -> AppError {
        AppError(.unavailable, code: "ledger-not-ready", "the tenant's ledger is being set up; retry shortly",
                 retryAfterSeconds: 1)
    }
    static func pendingExpired() -> AppError {
        AppError.conflict(code: "pending-expired", "the pending entry passed its timeout and was released")
    }
}
