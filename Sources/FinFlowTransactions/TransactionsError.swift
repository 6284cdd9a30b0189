import FinFlowCore

/// The transaction service's domain errors, each with its stable code: one per step of the validation pipeline.
enum TransactionsError {
    static func amountAboveLimit(field: String, limit: Int64, currency: String) -> AppError {
        AppError(.rejected, code: "amount-above-limit", "the amount exceeds the tenant's limit of \(limit) minor units of \(currency) per transaction",
                 fieldErrors: [.init(field: field, message: "must be at most \(limit)")])
    }
    static func currencyNotAllowed(field: String, currency: String) -> AppError {
        AppError(.rejected, code: "currency-not-allowed", "the tenant does not take transactions in \(currency)",
                 fieldErrors: [.init(field: field, message: "is not an allowed currency")])
    }
    static func currencyMismatch(field: String, account: String, expected: String, got: String) -> AppError {
        AppError(.invalidInput, code: "currency-mismatch", "the transaction is in \(got) but account \(account) keeps \(expected)",
                 fieldErrors: [.init(field: field, message: "keeps \(expected)")])
    }
    static func unknownAccount(field: String) -> AppError {
        AppError(.invalidInput, code: "unknown-account", "an account of the transaction does not exist in the tenant's ledger",
                 fieldErrors: [.init(field: field, message: "no such account")])
    }
    static func archivedAccount(field: String, account: String) -> AppError {
        AppError(.rejected, code: "account-archived", "account \(account) is archived and takes no transactions",
                 fieldErrors: [.init(field: field, message: "archived")])
    }
    static func duplicate(field: String, existingId: String) -> AppError {
        AppError(.conflict, code: "duplicate-transaction",
                 "transaction \(existingId) has the same amount, accounts, counterparty and reference within the duplicate window; send allowDuplicate to take it anyway",
                 fieldErrors: [.init(field: field, message: "duplicates \(existingId)")])
    }
    static func accountVelocity(field: String, account: String, detail: String) -> AppError {
        AppError(.rejected, code: "account-velocity-exceeded", "account \(account) is over its velocity limit: \(detail)",
                 fieldErrors: [.init(field: field, message: detail)])
    }
    static func tenantVelocity(field: String, detail: String) -> AppError {
        AppError(.rejected, code: "tenant-velocity-exceeded", "the tenant is over its velocity limit: \(detail)",
                 fieldErrors: [.init(field: field, message: detail)])
    }
    static func sanctionedCountry(field: String, country: String) -> AppError {
        AppError(.rejected, code: "sanctioned-country", "the counterparty's country \(country) is on the sanctioned-country list",
                 fieldErrors: [.init(field: field, message: "sanctioned")])
    }
    static func blockedCounterparty(field: String) -> AppError {
        AppError(.rejected, code: "blocked-counterparty", "the counterparty is on the blocked-counterparty list",
                 fieldErrors: [.init(field: field, message: "blocked")])
    }
    static func idReused() -> AppError {
        AppError.conflict(code: "id-reused", "a transaction with this id exists with different content")
    }
    static func wrongStatus(_ status: TransactionStatus, _ action: String) -> AppError {
        AppError.conflict(code: "invalid-state", "the transaction is \(status.rawValue) and cannot be \(action)")
    }
}
