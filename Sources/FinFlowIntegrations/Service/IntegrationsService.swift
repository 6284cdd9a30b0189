import FinFlowCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OpenAPIHummingbird
import ServiceLifecycle

/// integration-service: connects a tenant's books to the systems around them: signed webhooks out, delivered at least
/// once with retries for 24 hours, a log per endpoint and replay by id; connections to QuickBooks Online and Xero,
/// authorised once with OAuth and kept alive through rotating refresh tokens, and synced incrementally into a mapping
/// of their documents to FinFlow ids, within each provider's limits.
public enum IntegrationsService {
    static let name = "integrations"

    /// The descriptor `FinFlowServer` lists.
    public static let descriptor = ServiceDescriptor(
        name: name, title: "integration-service", migrations: IntegrationsMigrations.all, openAPIIn: .module, sendsMail: true,
        personalData: IntegrationsService.personalData,
        make: { env in
            let webhooks = WebhookDesk(env: env, serviceName: name)
            let connections = ConnectionDesk(env: env, serviceName: name, sealer: webhooks.sealer, client: WebhookDispatcher.sharedClient)
            return Running(
                webhooks: webhooks, connections: connections,
                sync: SyncDesk(env: env, connections: connections, limiters: ProviderLimiters()),
                clock: env.clock, ids: env.ids, logger: env.logger)
        })

    struct Running: FinFlowService {
        let webhooks: WebhookDesk
        let connections: ConnectionDesk
        let sync: SyncDesk
        let clock: any FinFlowClock
        let ids: IdentifierGenerator
        let logger: Logger

        var backgroundServices: [any Service] {
            [
                WebhookDispatcher(desk: self.webhooks, logger: self.logger, client: WebhookDispatcher.sharedClient),
                SyncRunner(desk: self.sync, logger: self.logger),
                PushRunner(desk: self.sync, logger: self.logger),
            ]
        }

        func registerRoutes(api: FinFlowRouterGroup, root: FinFlowRouter) throws {
            try IntegrationsAPI(webhooks: self.webhooks, connections: self.connections, sync: self.sync).registerHandlers(on: api, configuration: .finFlow)
            // Outside the generated API: each signature is over the exact bytes, so the body is read raw. The answer is
            // empty and quick (Xero wants one within five seconds); the sync it asks for runs later.
            let sync = self.sync
            for (provider, header) in [(AccountingProvider.quickbooks, "intuit-signature"), (.xero, "x-xero-signature")] {
                let name = HTTPField.Name(header)!
                root.post("/v1/integrations/providers/\(provider.rawValue)/notifications") { request, _ -> Response in
                    let body = try await request.body.collect(upTo: SyncDesk.notificationBodyBytesMax)
                    try await sync.receive(provider: provider, signature: request.headers[name], body: Data(body.readableBytesView))
                    return Response(status: .ok)
                }
            }
        }

        /// A consumer per event type offered, each event queued for the endpoints that take it. No inbox: the queue's
        /// unique key (endpoint, event) makes a redelivery queue nothing twice by itself, so an event for a tenant without
        /// endpoints costs one read and no write.
        var consumers: [EventConsumer] {
            let clock = self.clock, ids = self.ids, database = self.webhooks.database
            let webhooks = WebhookCatalogue.entries.map { entry in
                EventConsumer(name: "integrations.webhooks." + entry.topic, topic: entry.topic, database: nil, apply: { event, _ in
                    try await WebhookDesk.queue(event, ids: ids, now: clock.nowMillis(), database: database)
                })
            }
            // The ledger's refusal of a synced document is shown on the document's record.
            let refusals = EventConsumer.of(JournalEntryRejected.self, name: "integrations.journal-entry-rejected", database: database) { event, db in
                try await SyncDesk.refused(event.data, on: db)
            }
            // An entry the ledger shares is queued for each connection that pushes it.
            let shared = EventConsumer.of(JournalEntryShared.self, name: "integrations.journal-entry-shared", database: database) { event, db in
                try await SyncDesk.queue(event.data, now: clock.nowMillis(), on: db)
            }
            return webhooks + [refusals, shared]
        }
    }
}
