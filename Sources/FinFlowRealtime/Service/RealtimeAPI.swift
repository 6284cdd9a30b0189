import FinFlowCore
import Foundation
import OpenAPIRuntime

/// The realtime service's HTTP contract (generated from `openapi.yaml`) implemented.
struct RealtimeAPI: APIProtocol {
    let desk: RealtimeDesk

    func listAnomalies(_ input: Operations.ListAnomalies.Input) async throws -> Operations.ListAnomalies.Output {
        let principal = try RequestScope.require("analytics:read")
        let limit = input.query.limit ?? 100
        var validator = Validator()
        validator.check((1...RealtimeDesk.pageMax).contains(limit), "limit", "must be 1–\(RealtimeDesk.pageMax)")
        validator.check((input.query.after ?? 0) >= 0, "after", "must not be negative")
        try validator.throwIfInvalid()
        let items = try await self.desk.anomalies(tenantId: principal.tenantId, after: input.query.after ?? 0, limit: limit)
        return .ok(.init(body: .json(.init(items: items.map(Self.dto), nextAfter: items.count == limit ? items.last?.sequence : nil))))
    }

    func streamAnomalies(_ input: Operations.StreamAnomalies.Input) async throws -> Operations.StreamAnomalies.Output {
        let principal = try RequestScope.require("analytics:read")
        var after = input.query.after ?? 0
        guard after >= 0 else { throw AppError.invalid("after must not be negative", fields: [.init(field: "after", message: "must not be negative")]) }
        if let header = input.headers.lastEventID {
            guard let resumed = Int64(header), resumed >= 0 else {
                throw AppError.invalid("Last-Event-ID must be the sequence number of an anomaly", fields: [.init(field: "Last-Event-ID", message: "is not a sequence number")])
            }
            after = max(after, resumed)
        }
        guard let reader = FeedReader(desk: self.desk, tenantId: principal.tenantId, after: after, watch: RequestScope.current?.tokenWatch, encode: { anomaly in
            try Self.encoder.encode(Self.dto(anomaly))
        }) else {
            throw AppError(.unavailable, code: "feed-full", "the live feed takes no more clients on this process; retry shortly", retryAfterSeconds: 5)
        }
        let stream = AsyncThrowingStream<ArraySlice<UInt8>, any Error>(unfolding: { try await reader.next().map(FeedReader.serverSentEvent) })
        return .ok(.init(body: .textEventStream(HTTPBody(stream, length: .unknown, iterationBehavior: .single))))
    }

    func connectAnomalies(_ input: Operations.ConnectAnomalies.Input) async throws -> Operations.ConnectAnomalies.Output {
        // Reached only when the request was not a WebSocket upgrade the WebSocket router took.
        _ = try RequestScope.require("analytics:read")
        if let after = input.query.after, after < 0 {
            throw AppError.invalid("after must not be negative", fields: [.init(field: "after", message: "must not be negative")])
        }
        throw AppError(.upgradeRequired, code: "websocket-upgrade-required",
                       "this is a WebSocket: connect with Connection: Upgrade and Upgrade: websocket")
    }

    func getAnomaly(_ input: Operations.GetAnomaly.Input) async throws -> Operations.GetAnomaly.Output {
        let principal = try RequestScope.require("analytics:read")
        return .ok(.init(body: .json(Self.dto(try await self.desk.anomaly(tenantId: principal.tenantId, id: input.path.anomalyId)))))
    }

    func getSettings(_ input: Operations.GetSettings.Input) async throws -> Operations.GetSettings.Output {
        let principal = try RequestScope.require("analytics:read")
        let settings = try await self.desk.settings(tenantId: principal.tenantId)
        return .ok(.init(body: .json(.init(anomalyThreshold: settings.anomaly, complianceThreshold: settings.compliance))))
    }

    func putSettings(_ input: Operations.PutSettings.Input) async throws -> Operations.PutSettings.Output {
        let principal = try RequestScope.require("compliance:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        validator.check((0.5...1).contains(body.anomalyThreshold), "anomalyThreshold", "must be from 0.5 to 1")
        validator.check((0.5...1).contains(body.complianceThreshold), "complianceThreshold", "must be from 0.5 to 1")
        validator.check(body.complianceThreshold >= body.anomalyThreshold, "complianceThreshold", "must not be below anomalyThreshold")
        try validator.throwIfInvalid()
        try await self.desk.setSettings(anomaly: body.anomalyThreshold, compliance: body.complianceThreshold, principal: principal)
        return .ok(.init(body: .json(.init(anomalyThreshold: body.anomalyThreshold, complianceThreshold: body.complianceThreshold))))
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    static func dto(_ a: StoredAnomaly) -> Components.Schemas.Anomaly {
        .init(
            id: a.id, sequence: a.sequence, subjectType: .init(rawValue: a.subjectType) ?? .transaction, subjectId: a.subjectId, score: a.score,
            threshold: a.threshold, amountMinor: a.amountMinor, currency: a.currency, accountKey: a.accountKey, counterparty: a.counterparty,
            reasons: a.reasons.map { .init(feature: .init(rawValue: $0.feature) ?? .amountForAccount, value: $0.value, contribution: $0.contribution, detail: $0.detail) },
            occurredAt: Date(timeIntervalSince1970: Double(a.occurredAtMillis) / 1000),
            detectedAt: Date(timeIntervalSince1970: Double(a.detectedAtMillis) / 1000))
    }
}
