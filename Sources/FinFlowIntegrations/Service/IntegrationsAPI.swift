import FinFlowCore
import Foundation
import OpenAPIRuntime

/// The integration service's HTTP API: decodes, checks permissions and input, calls the desks, maps to the wire.
struct IntegrationsAPI: APIProtocol {
    let webhooks: WebhookDesk
    let connections: ConnectionDesk
    let sync: SyncDesk

    func listWebhookEventTypes(_ input: Operations.ListWebhookEventTypes.Input) async throws -> Operations.ListWebhookEventTypes.Output {
        _ = try RequestScope.require("integrations:read")
        return .ok(.init(body: .json(.init(items: WebhookCatalogue.entries.map { .init(_type: $0.type, description: $0.description) }))))
    }

    func listWebhookEndpoints(_ input: Operations.ListWebhookEndpoints.Input) async throws -> Operations.ListWebhookEndpoints.Output {
        let principal = try RequestScope.require("integrations:read")
        return .ok(.init(body: .json(.init(items: try await self.webhooks.endpoints(tenantId: principal.tenantId).map(Self.dto)))))
    }

    func createWebhookEndpoint(_ input: Operations.CreateWebhookEndpoint.Input) async throws -> Operations.CreateWebhookEndpoint.Output {
        let principal = try RequestScope.require("integrations:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let draft = WebhookEndpointDraft.checked(
            url: body.url, eventTypes: body.eventTypes, description: Self.clearable(body.description), notifyEmail: Self.clearable(body.notifyEmail),
            enabled: nil, allowLoopback: self.webhooks.allowLoopback, validator: &validator)
        try validator.throwIfInvalid()
        return .created(.init(body: .json(Self.dto(try await self.webhooks.createEndpoint(draft, principal: principal)))))
    }

    func getWebhookEndpoint(_ input: Operations.GetWebhookEndpoint.Input) async throws -> Operations.GetWebhookEndpoint.Output {
        let principal = try RequestScope.require("integrations:read")
        return .ok(.init(body: .json(Self.dto(try await self.webhooks.endpoint(tenantId: principal.tenantId, id: input.path.endpointId)))))
    }

    func updateWebhookEndpoint(_ input: Operations.UpdateWebhookEndpoint.Input) async throws -> Operations.UpdateWebhookEndpoint.Output {
        let principal = try RequestScope.require("integrations:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let draft = WebhookEndpointDraft.checked(
            url: body.url, eventTypes: body.eventTypes, description: Self.clearable(body.description), notifyEmail: Self.clearable(body.notifyEmail),
            enabled: body.enabled, allowLoopback: self.webhooks.allowLoopback, validator: &validator)
        try validator.throwIfInvalid()
        let changed = try await self.webhooks.updateEndpoint(id: input.path.endpointId, draft, principal: principal)
        return .ok(.init(body: .json(Self.dto(changed))))
    }

    func deleteWebhookEndpoint(_ input: Operations.DeleteWebhookEndpoint.Input) async throws -> Operations.DeleteWebhookEndpoint.Output {
        let principal = try RequestScope.require("integrations:manage")
        try await self.webhooks.deleteEndpoint(id: input.path.endpointId, principal: principal)
        return .noContent(.init())
    }

    func getWebhookSecret(_ input: Operations.GetWebhookSecret.Input) async throws -> Operations.GetWebhookSecret.Output {
        let principal = try RequestScope.require("integrations:manage")
        let secrets = try await self.webhooks.secrets(id: input.path.endpointId, principal: principal)
        return .ok(.init(body: .json(.init(
            secret: secrets.current, previousSecret: secrets.previous, previousSecretUntil: secrets.previousUntilMillis.map(Self.date)))))
    }

    func rotateWebhookSecret(_ input: Operations.RotateWebhookSecret.Input) async throws -> Operations.RotateWebhookSecret.Output {
        let principal = try RequestScope.require("integrations:manage")
        var overlap = WebhookDesk.rotationOverlapSecondsDefault
        if case .json(let body) = input.body, let asked = body.overlapSeconds {
            guard (0...WebhookDesk.rotationOverlapSecondsMax).contains(asked) else {
                throw AppError.validation([.init(field: "overlapSeconds", message: "must be 0–\(WebhookDesk.rotationOverlapSecondsMax) seconds")])
            }
            overlap = asked
        }
        let rotated = try await self.webhooks.rotateSecret(id: input.path.endpointId, overlapSeconds: overlap, principal: principal)
        return .ok(.init(body: .json(Self.dto(rotated))))
    }

    func listWebhookDeliveries(_ input: Operations.ListWebhookDeliveries.Input) async throws -> Operations.ListWebhookDeliveries.Output {
        let principal = try RequestScope.require("integrations:read")
        let page = try PageRequest(limit: input.query.limit, cursor: input.query.cursor)
        let status = input.query.status.flatMap { WebhookDelivery.Status(rawValue: $0.rawValue) }
        let found = try await self.webhooks.deliveries(tenantId: principal.tenantId, endpointId: input.path.endpointId, status: status, page: page)
        return .ok(.init(body: .json(.init(items: try found.items.map(Self.dto), nextCursor: found.nextCursor))))
    }

    func getWebhookDelivery(_ input: Operations.GetWebhookDelivery.Input) async throws -> Operations.GetWebhookDelivery.Output {
        let principal = try RequestScope.require("integrations:read")
        let delivery = try await self.webhooks.delivery(tenantId: principal.tenantId, endpointId: input.path.endpointId, id: input.path.deliveryId)
        return .ok(.init(body: .json(try Self.dto(delivery))))
    }

    func replayWebhookDelivery(_ input: Operations.ReplayWebhookDelivery.Input) async throws -> Operations.ReplayWebhookDelivery.Output {
        let principal = try RequestScope.require("integrations:manage")
        let replay = try await self.webhooks.replay(endpointId: input.path.endpointId, deliveryId: input.path.deliveryId, principal: principal)
        return .accepted(.init(body: .json(try Self.dto(replay))))
    }

    /// A field where an empty text clears the value: absent is "unchanged" (nil), empty is "remove" (.some(nil)).
    static func clearable(_ text: String?) -> String?? {
        guard let text else { return nil }
        return text.isEmpty ? .some(nil) : .some(text)
    }

    static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1_000) }

    static func dto(_ e: WebhookEndpoint) -> Components.Schemas.WebhookEndpoint {
        .init(
            id: e.id, url: e.url, description: e.description, notifyEmail: e.notifyEmail, eventTypes: e.eventTypes,
            status: .init(rawValue: e.status.rawValue) ?? .disabled, disabledReason: e.disabledReason.flatMap { .init(rawValue: $0) },
            disabledAt: e.disabledAtMillis.map(Self.date), createdBy: e.createdBy, createdAt: Self.date(e.createdAtMillis),
            previousSecretUntil: e.previousSecretUntilMillis.map(Self.date))
    }

    static func dto(_ d: WebhookDelivery) throws -> Components.Schemas.WebhookDelivery {
        .init(
            id: d.id, endpointId: d.endpointId, eventId: d.eventId, eventType: d.eventType, replayOf: d.replayOf,
            status: .init(rawValue: d.status.rawValue) ?? .failed, attempts: d.attempts, createdAt: Self.date(d.createdAtMillis),
            nextAttemptAt: d.nextAttemptAtMillis.map(Self.date), giveUpAt: Self.date(d.giveUpAtMillis),
            lastAttemptAt: d.lastAttemptAtMillis.map(Self.date), lastStatusCode: d.lastStatusCode, lastError: d.lastError,
            deliveredAt: d.deliveredAtMillis.map(Self.date),
            event: try d.payload.map { try JSONDecoder().decode(Components.Schemas.WebhookDelivery.EventPayload.self, from: Data($0.utf8)) },
            log: d.log?.map {
                .init(attempt: $0.number, at: Self.date($0.atMillis), durationMs: $0.durationMillis, statusCode: $0.statusCode, error: $0.error,
                      responseExcerpt: $0.responseExcerpt)
            })
    }
}
