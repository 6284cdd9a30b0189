import FinFlowCore
import Foundation
import Logging
import OpenAPIHummingbird
import SQLKit
import ServiceLifecycle

/// accounting-service: the book of record.
public enum AccountingService {
    /// The descriptor `FinFlowServer` lists.
    public static let descriptor = ServiceDescriptor(
        name: "accounting", title: "accounting-service", migrations: AccountingMigrations.all,
        openAPIIn: .module,
        personalData: AccountingService.personalData,
        make: { env in Running(ledger: Ledger(env: env)) })

    struct Running: FinFlowService {
        let ledger: Ledger

        func registerRoutes(api: FinFlowRouterGroup, root: FinFlowRouter) throws {
            try AccountingAPI(ledger: self.ledger).registerHandlers(on: api, configuration: .finFlow)
        }

        var consumers: [EventConsumer] {
            let ledger = self.ledger
            let database = ledger.database
            return [
                .of(TenantCreated.self, name: "accounting.tenant-created", database: database) { event, db in
                    try await ledger.open(tenant: event.data, on: db)
                },
                .of(TransactionCreated.self, name: "accounting.transaction-created", database: database) { event, db in
                    // A held transaction is posted when its release asks for it.
                    guard event.data.postingHeldFor == nil else { return }
                    try await ledger.post(transaction: event.data, on: db)
                },
                .of(TransactionPostingRequested.self, name: "accounting.transaction-posting-requested", database: database) { event, db in
                    try await ledger.post(transaction: event.data.transaction, on: db)
                },
                .of(TransactionReversalRequested.self, name: "accounting.transaction-reversal-requested", database: database) { event, db in
                    try await ledger.reverse(transaction: event.data, on: db)
                },
                .of(PaymentProcessed.self, name: "accounting.payment-processed", database: database) { event, db in
                    try await ledger.post(payment: event.data, on: db)
                },
                .of(LoanOfferAccepted.self, name: "accounting.loan-offer-accepted", database: database) { event, db in
                    try await ledger.post(loan: event.data, on: db)
                },
                .of(TaxCommitted.self, name: "accounting.tax-committed", database: database) { event, db in
                    try await ledger.keep(committed: event.data, on: db)
                },
                .of(TaxVoided.self, name: "accounting.tax-voided", database: database) { event, db in
                    try await ledger.withdraw(voided: event.data, on: db)
                },
                .of(IntegrationSynced.self, name: "accounting.integration-synced", database: database) { event, db in
                    try await ledger.take(synced: event.data, on: db)
                },
                .of(IntegrationPushChanged.self, name: "accounting.integration-push-changed", database: database) { event, db in
                    try await ledger.pushChanged(event.data, on: db)
                },
                .of(TaxReturnFiled.self, name: "accounting.tax-return-filed", database: database) { event, db in
                    try await ledger.settle(filed: event.data, on: db)
                },
            ]
        }

        var backgroundServices: [any Service] {
            [PendingExpiry(ledger: self.ledger, logger: self.ledger.env.logger)]
        }
    }
}

/// Releases pending entries whose timeout has passed, every few seconds.
struct PendingExpiry: Service {
    let ledger: Ledger
    let logger: Logger
    static let intervalSeconds = 5

    func run() async throws {
        while await Periodic.wait(.seconds(Self.intervalSeconds)) {
            do {
                let expired = try await self.ledger.expirePending()
                if expired > 0 { self.logger.info("pending entries expired", metadata: ["count": "\(expired)"]) }
            } catch {
                self.logger.warning("pending expiry failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
