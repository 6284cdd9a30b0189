import FinFlowCore
import Foundation
import OpenAPIHummingbird

/// transaction-service: business transactions in, through the validation pipeline, posted by the ledger as a saga.
public enum TransactionsService {
    /// The descriptor `FinFlowServer` lists.
    public static let descriptor = ServiceDescriptor(
        name: "transactions", title: "transaction-service", migrations: TransactionsMigrations.all,
        openAPIIn: .module,
        personalData: TransactionsService.personalData,
        make: { env in Running(book: TransactionBook(env: env)) })

    struct Running: FinFlowService {
        let book: TransactionBook

        func registerRoutes(api: FinFlowRouterGroup, root: FinFlowRouter) throws {
            try TransactionsAPI(book: self.book).registerHandlers(on: api, configuration: .finFlow)
        }

        var consumers: [EventConsumer] {
            let book = self.book
            let database = book.database
            return [
                .of(LedgerAccountChanged.self, name: "transactions.ledger-account-changed", database: database) { event, db in
                    try await book.apply(account: event.data, on: db)
                },
                .of(JournalEntryPosted.self, name: "transactions.journal-entry-posted", database: database) { event, db in
                    try await book.apply(posted: event.data, on: db)
                },
                .of(JournalEntryRejected.self, name: "transactions.journal-entry-rejected", database: database) { event, db in
                    try await book.apply(rejected: event.data, on: db)
                },
                .of(ComplianceTransactionDecided.self, name: "transactions.compliance-transaction-decided", database: database) { event, db in
                    try await book.apply(decided: event.data, on: db)
                },
            ]
        }
    }
}
