import FinFlowCore
import Foundation
import OpenAPIHummingbird

/// tax_automation: tax rules with effective dates, EU VAT and US sales tax calculation, commit and void, VAT numbers,
/// returns reconciled against the ledger's tax accounts and filed.
public enum TaxService {
    /// The descriptor `FinFlowServer` lists.
    public static let descriptor = ServiceDescriptor(
        name: "tax", title: "tax_automation", migrations: TaxMigrations.all, openAPIIn: .module,
        make: { env in
            try RuleBook.checkShipped()
            return Running(desk: TaxDesk(env: env))
        })

    struct Running: FinFlowService {
        let desk: TaxDesk

        func registerRoutes(api: FinFlowRouterGroup, root: FinFlowRouter) throws {
            try TaxAPI(desk: self.desk).registerHandlers(on: api, configuration: .finFlow)
        }

        var consumers: [EventConsumer] {
            [
                // The ledger's side of every return: each posted entry's movement of a per-jurisdiction tax account.
                .of(TaxLedgerPosted.self, name: "tax.ledger-posted", database: self.desk.database) { event, db in
                    try await TaxDesk.record(event.data, db: db)
                },
            ]
        }
    }
}
