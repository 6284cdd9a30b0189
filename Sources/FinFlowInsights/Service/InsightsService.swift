import FinFlowCore
import Foundation
import OpenAPIHummingbird

/// ai_features: cash-flow forecasting from the service's read model of the books, every method backtested and the
/// best kept with conformal intervals.
public enum InsightsService {
    /// The descriptor `FinFlowServer` lists.
    public static let descriptor = ServiceDescriptor(
        name: "insights", title: "ai_features", migrations: InsightsMigrations.all, openAPIIn: .module,
        personalData: InsightsService.personalData,
        make: { env in Running(desk: InsightsDesk(env: env)) })

    struct Running: FinFlowService {
        let desk: InsightsDesk

        func registerRoutes(api: FinFlowRouterGroup, root: FinFlowRouter) throws {
            try InsightsAPI(desk: self.desk).registerHandlers(on: api, configuration: .finFlow)
        }

        var consumers: [EventConsumer] {
            let db = self.desk.database
            return [
                .of(LedgerMovementsRecorded.self, name: "insights.ledger-movements", database: db) { event, db in
                    try await ReadModel.record(event.data, db: db)
                },
                .of(InvoiceIssued.self, name: "insights.invoice-issued", database: db) { event, db in
                    let e = event.data
                    try await ReadModel.open(
                        tenantId: e.tenantId, id: e.invoiceId, kind: "invoice", partyId: e.customerId, currency: e.currency, totalMinor: e.totalMinor,
                        issueDate: e.issueDate, dueDate: e.dueDate, credits: e.kind == "credit_note" ? e.creditedInvoiceId ?? "" : nil, db: db)
                },
                .of(InvoiceVoided.self, name: "insights.invoice-voided", database: db) { event, db in
                    try await ReadModel.void(tenantId: event.data.tenantId, id: event.data.invoiceId, db: db)
                },
                .of(InvoiceSettled.self, name: "insights.invoice-settled", database: db) { event, db in
                    try await ReadModel.settle(tenantId: event.data.tenantId, id: event.data.invoiceId, date: event.data.settledDate, db: db)
                },
                .of(PaymentProcessed.self, name: "insights.payment-processed", database: db) { event, db in
                    let e = event.data
                    guard let invoiceId = e.invoiceId, ["succeeded", "refunded"].contains(e.status), e.amountMinor > 0 else { return }
                    try await ReadModel.apply(
                        tenantId: e.tenantId, id: invoiceId, amountMinor: e.status == "refunded" ? -e.amountMinor : e.amountMinor, currency: e.currency,
                        db: db)
                },
                .of(BillPosted.self, name: "insights.bill-posted", database: db) { event, db in
                    let e = event.data
                    try await ReadModel.open(
                        tenantId: e.tenantId, id: e.billId, kind: "bill", partyId: e.vendorId, currency: e.currency, totalMinor: e.totalMinor,
                        issueDate: e.billDate, dueDate: e.dueDate, credits: e.kind == "vendor_credit" ? e.creditedBillId ?? "" : nil, db: db)
                },
                .of(BillSettled.self, name: "insights.bill-settled", database: db) { event, db in
                    try await ReadModel.settle(tenantId: event.data.tenantId, id: event.data.billId, date: event.data.settledDate, db: db)
                },
            ]
        }
    }
}
