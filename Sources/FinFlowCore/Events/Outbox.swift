import Foundation
import SQLKit

/// Writes a service's events into its outbox table, inside the transaction that makes the change they report.
public struct Outbox: Sendable {
    /// The producing service, for the CloudEvents `source`.
    public let serviceName: String
    let ids: IdentifierGenerator
    let clock: any FinFlowClock
    /// The relay's wake-up, signalled at every event written.
    let wakeup: OutboxWakeup?

    /// An outbox for `serviceName`.
    public init(serviceName: String, ids: IdentifierGenerator, clock: any FinFlowClock, wakeup: OutboxWakeup? = nil) {
        self.serviceName = serviceName
        self.ids = ids
        self.clock = clock
        self.wakeup = wakeup
    }

    /// Appends `payload` as an event of its contract, on `db`, which must be the change's open transaction.
    @discardableResult
    public func enqueue<Contract: EventContract>(
        _ payload: Contract, subject: String?, tenantId: String?, on db: any SQLDatabase
    ) async throws -> PublishedEvent {
        try await self.enqueue([(payload, subject, tenantId)], on: db)[0]
    }

    /// Appends each payload, in order, as an event of its contract, in one statement on `db` (the change's open
    /// transaction).
    @discardableResult
    public func enqueue<Contract: EventContract>(
        _ payloads: [(payload: Contract, subject: String?, tenantId: String?)], on db: any SQLDatabase
    ) async throws -> [PublishedEvent] {
        guard !payloads.isEmpty else { return [] }
        let now = self.clock.now()
        let nowMillis = self.clock.nowMillis()
        var events: [PublishedEvent] = []
        var rows: [[SQLCell]] = []
        for (payload, subject, tenantId) in payloads {
            let id = self.ids.nextString()
            let event = try PublishedEvent(payload, id: id, service: self.serviceName, time: now, subject: subject, tenantId: tenantId)
            let json = event.json
            events.append(event)
            rows.append([
                SQLCell(id), SQLCell(Contract.topic), SQLCell(tenantId), SQLCell(String(decoding: json, as: UTF8.self)), SQLCell(nowMillis),
                SQLCell(0),
            ])
        }
        try await db.insertRows(into: "outbox", columns: ["id", "topic", "tenant_id", "payload", "created_at_ms", "attempts"], rows: rows)
        self.wakeup?.signal()
        return events
    }
}
