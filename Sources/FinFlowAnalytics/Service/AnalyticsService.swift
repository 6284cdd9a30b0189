import FinFlowCore
import Foundation
import Logging
import OpenAPIHummingbird
import ServiceLifecycle

/// analytics-service: KPIs, breakdowns and trends of each tenant's business, from a read model the other services'
/// events keep (and a journal of those events it can be rebuilt from).
public enum AnalyticsService {
    /// The descriptor `FinFlowServer` lists.
    public static let descriptor = ServiceDescriptor(
        name: "analytics", title: "analytics-service", migrations: AnalyticsMigrations.all, openAPIIn: .module,
        sendsMail: true, personalData: AnalyticsService.personalData,
        make: { env in Running(desk: AnalyticsDesk(env: env), clock: env.clock, logger: env.logger) })

    struct Running: FinFlowService {
        let desk: AnalyticsDesk
        let clock: any FinFlowClock
        let logger: Logger

        var backgroundServices: [any Service] { [ReportScheduler(desk: self.desk, logger: self.logger)] }

        func registerRoutes(api: FinFlowRouterGroup, root: FinFlowRouter) throws {
            try AnalyticsAPI(desk: self.desk).registerHandlers(on: api, configuration: .finFlow)
        }

        /// A consumer per topic read; each delivery's events are kept in the journal and added to the figures in one
        /// transaction (the inbox makes a redelivery a no-op).
        var consumers: [EventConsumer] {
            let clock = self.clock
            return Contribution.readers.map { reader in
                EventConsumer(name: "analytics." + reader.topic, topic: reader.topic, database: self.desk.database, applyAll: { events, db in
                    let read = events.compactMap { event in Contribution.of(event).map { (event, $0) } }
                    guard !read.isEmpty else { return }
                    try await ReadModelWriter.journal(read, receivedAtMillis: clock.nowMillis(), db: db)
                    try await ReadModelWriter.apply(read.map(\.1), db: db)
                })
            }
        }
    }
}
