import FinFlowCore
import Foundation
import OpenAPIHummingbird

/// credit-engine: scores from a natively served tree model, explained and stored; the model registry; loan offers.
public enum CreditService {
    /// The descriptor `FinFlowServer` lists.
    public static let descriptor = ServiceDescriptor(
        name: "credit", title: "credit-engine", migrations: CreditMigrations.all,
        openAPIIn: .module,
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
            ]
        }
    }
}
