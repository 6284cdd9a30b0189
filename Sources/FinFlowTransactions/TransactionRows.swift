import FinFlowCore
import Foundation
import SQLKit

/// A stored transaction, as its table holds it.
struct TransactionRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let kind: String
    var status: String
    let amount_minor: Int64
    let currency: String
    let value_date: String
    let source_account_id: String
    let destination_account_id: String
    let counterparty: String?
    let counterparty_country: String?
    let counterparty_account: String?
    let counterparty_key: String
    let category: String?
    let description: String?
    let external_reference: String?
    let reference_key: String
    let metadata: String
    let request_hash: String
    let import_id: String?
    let import_fingerprint: String?
    var entry_id: String?
    var reversal_entry_id: String?
    var status_code: String?
    var status_reason: String?
    let created_by: String
    let created_at_ms: Int64
    var updated_at_ms: Int64

    var transactionStatus: TransactionStatus { TransactionStatus(rawValue: self.status) ?? .pending }

    var metadataDictionary: [String: String] {
        (try? JSONDecoder().decode([String: String].self, from: Data(self.metadata.utf8))) ?? [:]
    }

    static let columns = [
        "id", "tenant_id", "kind", "status", "amount_minor", "currency", "value_date", "source_account_id",
        "destination_account_id", "counterparty", "counterparty_country", "counterparty_account", "counterparty_key", "category",
        "description", "external_reference", "reference_key", "metadata", "request_hash", "import_id", "import_fingerprint",
        "entry_id", "reversal_entry_id", "status_code", "status_reason", "created_by", "created_at_ms", "updated_at_ms",
    ]

    var cells: [SQLCell] {
        [
            .init(self.id), .init(self.tenant_id), .init(self.kind), .init(self.status), .init(self.amount_minor), .init(self.currency),
            .init(self.value_date), .init(self.source_account_id), .init(self.destination_account_id), .init(self.counterparty),
            .init(self.counterparty_country), .init(self.counterparty_account), .init(self.counterparty_key), .init(self.category),
            .init(self.description), .init(self.external_reference), .init(self.reference_key), .init(self.metadata),
            .init(self.request_hash), .init(self.import_id), .init(self.import_fingerprint), .init(self.entry_id),
            .init(self.reversal_entry_id), .init(self.status_code), .init(self.status_reason), .init(self.created_by),
            .init(self.created_at_ms), .init(self.updated_at_ms),
        ]
    }

    /// The event announcing the transaction to the ledger and the rest.
    var created: TransactionCreated {
        TransactionCreated(
            transactionId: self.id, tenantId: self.tenant_id, kind: self.kind, amountMinor: self.amount_minor, currency: self.currency,
            valueDate: self.value_date, sourceAccountId: self.source_account_id, destinationAccountId: self.destination_account_id,
            counterparty: self.counterparty, category: self.category, description: self.description,
            externalReference: self.external_reference, counterpartyCountry: self.counterparty_country,
            postingHeldFor: self.transactionStatus == .held ? TransactionStatus.heldFor : nil)
    }
}

/// One status change of a transaction.
struct HistoryRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let transaction_id: String
    let status: String
    let code: String?
    let reason: String?
    let entry_id: String?
    let at_ms: Int64

    static let columns = ["id", "tenant_id", "transaction_id", "status", "code", "reason", "entry_id", "at_ms"]
    var cells: [SQLCell] {
        [.init(self.id), .init(self.tenant_id), .init(self.transaction_id), .init(self.status), .init(self.code), .init(self.reason),
         .init(self.entry_id), .init(self.at_ms)]
    }
}

/// A ledger account as the accounting service last announced it.
struct AccountRow: Codable, Sendable {
    let tenant_id: String
    let id: String
    let code: String
    let name: String
    let type: String
    let currency: String
    let status: String
    let changed_at_ms: Int64
}

/// A transaction with its history, as reads return it.
struct TransactionRecord: Sendable {
    let row: TransactionRow
    let history: [HistoryRow]
}

/// What a search narrows transactions to.
struct TransactionFilter: Sendable {
    var from: ValueDate?
    var to: ValueDate?
    var accountId: String?
    var counterpartyKey: String?
    var category: String?
    var status: TransactionStatus?
    var kind: TransactionKind?
    var currency: String?
    var amountMin: Int64?
    var amountMax: Int64?
    var text: String?
}
