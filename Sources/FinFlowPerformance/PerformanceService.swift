import FinFlowCore
import Foundation
import OpenAPIHummingbird
import ServiceLifecycle

/// performance-service: what every statement of every service costs, the advice on their databases, the incidents
/// beside the figures of their time, and those figures kept as time series. The platform operators' service.
public enum PerformanceService {
    /// The descriptor `FinFlowServer` lists.
    public static let descriptor = ServiceDescriptor(
        name: "performance", title: "performance-service", migrations: PerformanceMigrations.all, openAPIIn: .module,
        personalData: PerformanceService.personalData,
        make: { env in Running(desk: PerformanceDesk(env: env)) })

    struct Running: FinFlowService {
        let desk: PerformanceDesk

        func registerRoutes(api: FinFlowRouterGroup, root: FinFlowRouter) throws {
            try PerformanceAPI(desk: self.desk).registerHandlers(on: api, configuration: .finFlow)
        }

        var consumers: [EventConsumer] {
            let desk = self.desk
            return [
                .of(ComplianceAlert.self, name: "performance.compliance-alert", database: desk.database) { event, db in
                    try await desk.record(alert: event.data, db: db)
                },
                .of(AnomalyDetected.self, name: "performance.anomaly-detected", database: desk.database) { event, db in
                    // The envelope's time, within the calendar's years (recordIncident checks the range again).
                    let seconds = max(0, min(32_503_680_000, event.time.timeIntervalSince1970))
                    try await desk.record(anomaly: event.data, occurredAtMillis: Int64(seconds * 1000), db: db)
                },
            ]
        }

        var backgroundServices: [any Service] { [PerformanceSampler(desk: self.desk, logger: self.desk.env.logger)] }
    }

    static let personalData: [PersonalDataSource] = [
        PersonalDataSource(
            category: "operational-incidents",
            purpose: "show the platform's operators each compliance alert and anomaly beside the system's figures of its time (legitimate interest)",
            retention: "90 days", table: "performance_incidents",
            columns: ["id", "source", "kind", "severity", "subject_type", "subject_id", "user_id", "reason", "occurred_at_ms:int"],
            matches: [.customerId: "subject_id", .userId: "user_id"], mentions: ["reason"], erasure: .delete,
            expiry: .init(dateColumn: "recorded_at_ms", days: PerformanceDesk.incidentRetentionDays), orderBy: "seq"),
    ]
}
