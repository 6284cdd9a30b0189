import FinFlowCore
import Foundation
import OpenAPIHummingbird

/// compliance-service: sanctions screening against versioned lists (the UN's shipped, the tenant's own), continuous
/// screening of known customers and counterparties, and the alerts a compliance officer works.
public enum ComplianceService {
    /// The descriptor `FinFlowServer` lists.
    public static let descriptor = ServiceDescriptor(
        name: "compliance", title: "compliance-service", migrations: ComplianceMigrations.all, openAPIIn: .module,
        personalData: ComplianceService.personalData, make: { env in Running(desk: ComplianceDesk(env: env)) })

    struct Running: FinFlowService {
        let desk: ComplianceDesk

        func registerRoutes(api: FinFlowRouterGroup, root: FinFlowRouter) throws {
            try ComplianceAPI(desk: self.desk).registerHandlers(on: api, configuration: .finFlow)
        }

        var consumers: [EventConsumer] {
            let desk = self.desk
            return [
                .of(TransactionCreated.self, name: "compliance.transaction-created", database: desk.database) { event, db in
                    try await desk.screenCounterparty(of: event.data, db: db)
                },
                .batchOf(TransactionCreated.self, name: "compliance.monitoring.transaction-created", database: desk.database) { events, db in
                    let decisions = try await desk.monitor(events.map { MonitoredEvent($0) }, db: db)
                    // A transaction its tenant holds waits for this service's word before the ledger posts it.
                    for (event, decided) in zip(events, decisions) where event.data.postingHeldFor == "compliance" {
                        try await desk.decideHold(of: event.data, decisions: decided, db: db)
                    }
                },
                .batchOf(PaymentProcessed.self, name: "compliance.monitoring.payment-processed", database: desk.database) { events, db in
                    try await desk.monitor(events.map { MonitoredEvent($0) }, db: db)
                },
                .batchOf(TransactionStatusChanged.self, name: "compliance.monitoring.transaction-status-changed", database: desk.database) { events, db in
                    try await desk.monitor(events, db: db)
                },
                .batchOf(AuditRecorded.self, name: "compliance.audit-trail.records", database: desk.database) { events, db in
                    try await desk.keepAuditRecords(events, db: db)
                },
                .batchOf(AuditCheckpointed.self, name: "compliance.audit-trail.checkpoints", database: desk.database) { events, db in
                    try await desk.keepAuditCheckpoints(events, db: db)
                },
                .of(DataSubjectRequestAnswered.self, name: "compliance.data-subject-answers", database: desk.database) { event, db in
                    try await desk.keepSubjectAnswer(event.data, db: db)
                },
            ]
        }
    }
}
