import FinFlowCore
import Foundation

/// One client's Server-Sent Events: the anomalies after where it resumed, then each new one, in sequence order, with
/// no gap and no repeat. Pulled by the HTTP writer one message at a time, so a client that reads slowly holds up
/// only its own queue (bounded in `LiveFeed`).
final class FeedReader: @unchecked Sendable {
    // Used by the one task iterating the response body, one call at a time.
    private let desk: RealtimeDesk
    private let tenantId: String
    private let subscription: UUID
    private var items: AsyncStream<LiveFeed.Item>.AsyncIterator
    private var backlog: [StoredAnomaly] = []
    private var lastSent: Int64
    private var quietTicks = 0
    private var started = false
    private var ended = false
    private let encode: @Sendable (StoredAnomaly) throws -> Data

    /// Ticks (two seconds apart) without a message before a keep-alive comment.
    static let keepAliveTicks = 7

    init?(desk: RealtimeDesk, tenantId: String, after: Int64, encode: @escaping @Sendable (StoredAnomaly) throws -> Data) {
        guard let (id, items) = desk.feed.subscribe(tenantId: tenantId) else { return nil }
        self.desk = desk
        self.tenantId = tenantId
        self.subscription = id
        self.items = items.makeAsyncIterator()
        self.lastSent = after
        self.encode = encode
    }

    deinit { self.desk.feed.unsubscribe(self.subscription) }

    /// The next message, nil once the feed has ended.
    func next() async throws -> ArraySlice<UInt8>? {
        guard !self.ended else { return nil }
        if !self.started {
            self.started = true
            // Subscribed before reading the backlog, so nothing found in between is missed (repeats are skipped).
            try await self.fill(upTo: nil)
            return ArraySlice(Array("retry: 2000\n\n".utf8))
        }
        while true {
            if !self.backlog.isEmpty { return try self.message(self.backlog.removeFirst()) }
            guard let item = await self.items.next() else {
                self.ended = true
                return ArraySlice(Array("event: resume\ndata: {\"after\":\(self.lastSent)}\n\n".utf8))
            }
            switch item {
            case .anomaly(let anomaly):
                let known = max(self.lastSent, self.backlog.last?.sequence ?? 0)
                guard anomaly.sequence > known else { continue }
                // Found by another process in between: read what lies before it first.
                if anomaly.sequence > known + 1 { try await self.fill(upTo: anomaly.sequence - 1) }
                if anomaly.sequence > (self.backlog.last?.sequence ?? 0) { self.backlog.append(anomaly) }
            case .tick:
                try await self.fill(upTo: nil)
                self.quietTicks += 1
                if self.backlog.isEmpty, self.quietTicks >= Self.keepAliveTicks {
                    self.quietTicks = 0
                    return ArraySlice(Array(": keep-alive\n\n".utf8))
                }
            }
        }
    }

    /// Adds the stored anomalies after the last sent (up to `last`, when given) to the backlog.
    private func fill(upTo last: Int64?) async throws {
        let after = max(self.lastSent, self.backlog.last?.sequence ?? 0)
        let found = try await self.desk.anomalies(tenantId: self.tenantId, after: after, limit: RealtimeDesk.pageMax)
        self.backlog += found.filter { last == nil || $0.sequence <= last! }
    }

    private func message(_ anomaly: StoredAnomaly) throws -> ArraySlice<UInt8> {
        self.lastSent = anomaly.sequence
        self.quietTicks = 0
        let json = String(decoding: try self.encode(anomaly), as: UTF8.self)
        return ArraySlice(Array("id: \(anomaly.sequence)\nevent: anomaly\ndata: \(json)\n\n".utf8))
    }
}
