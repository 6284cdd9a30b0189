import FinFlowCore
import Foundation
import OpenAPIHummingbird

/// credit-engine: scores from a natively served tree model, explained and stored; the model registry; loan offers.
public enum CreditService {
    /// The descriptor `FinFlowServer` lists.
    public static let descriptor = ServiceDescriptor(
        name: "credit", title: "credit-engine", migrations: CreditMigrations.all,
        openAPIIn: .module,
        personalData: CreditService.personalData,
        make: { env in Running(desk: CreditDesk(env: env)) })

    struct Running: FinFlowService {
        let desk: CreditDesk

        func registerRoutes(api: FinFlowRouterGroup, root: FinFlowRouter) throws {
            try CreditAPI(desk: self.desk).registerHandlers(on: api, configuration: .finFlow)
        }

        var consumers: [EventConsumer] {
            let desk = self.desk
            let database = desk.database
            return [
                .of(PaymentProcessed.self, name: "credit.payment-processed", database: database) { event, db in
                    try await desk.apply(payment: event.data, on: db)
                },
                .of(TransactionCreated.self, name: "credit.transaction-created", database: database) { event, db in
                    try await desk.apply(transaction: event.data, on: db)
                },
                .of(TransactionStatusChanged.self, name: "credit.transaction-status-changed", database: database) { event, db in
                    try await desk.apply(statusChange: event.data, on: db)
                },
                .of(InvoiceSettled.self, name: "credit.invoice-settled", database: database) { event, db in
                    try await desk.apply(invoice: event.data, on: db)
                },
                .of(JournalEntryPosted.self, name: "credit.journal-entry-posted", database: database) { event, db in
                    guard event.data.source == "loan", let offerId = event.data.sourceId else { return }
                    let reversal = event.data.reversesEntryId != nil
                    try await desk.recordBooking(
                        tenantId: event.data.tenantId, offerId: offerId, status: reversal ? "reversed" : "booked", entryId: event.data.entryId,
                        detail: reversal ? "reversed by entry \(event.data.entryId)" : nil, on: db)
                },
                .of(JournalEntryRejected.self, name: "credit.journal-entry-rejected", database: database) { event, db in
                    guard event.data.source == "loan" else { return }
                    try await desk.recordBooking(
                        tenantId: event.data.tenantId, offerId: event.data.sourceId, status: "refused", entryId: nil,
                        detail: "\(event.data.code): \(event.data.reason)", on: db)
                },
            ]
        }
    }
}
