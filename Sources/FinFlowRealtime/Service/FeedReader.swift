import FinFlowCore
import Foundation

/// One client's live feed, whichever way it is carried (Server-Sent Events or WebSocket): the anomalies after where it
/// resumed, then each new one, in sequence order, with no gap and no repeat. Pulled by the writer one message at a
/// time, so a client that reads slowly holds up only its own queue (bounded in `LiveFeed`).
final class FeedReader: @unchecked Sendable {
    /// What the feed says next.
    enum Message: Equatable {
        /// The feed is open (the backlog is read).
        case opened
        case anomaly(sequence: Int64, json: Data)
        /// Nothing happened for a while.
        case keepAlive
        /// The feed ends here (the client fell too far behind, or the process is stopping): resume after `after`.
        case resume(after: Int64)
        /// The feed ends here because its access token no longer holds (expired, its session ended, its tenant
        /// suspended): `code` is the refusal a request with it would get.
        case refused(code: String)
    }

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
    private let watch: TokenWatch?

    /// Ticks (two seconds apart) without a message before a keep-alive comment.
    static let keepAliveTicks = 7

    /// A reader for `tenantId` after sequence `after`, checking `watch`'s token before each message and at each tick.
    init?(desk: RealtimeDesk, tenantId: String, after: Int64, watch: TokenWatch?, encode: @escaping @Sendable (StoredAnomaly) throws -> Data) {
        guard let (id, items) = desk.feed.subscribe(tenantId: tenantId) else { return nil }
        self.desk = desk
        self.tenantId = tenantId
        self.subscription = id
        self.items = items.makeAsyncIterator()
        self.lastSent = after
        self.encode = encode
        self.watch = watch
    }

    deinit { self.desk.feed.unsubscribe(self.subscription) }

    /// The next message, nil once the feed has ended.
    func next() async throws -> Message? {
        guard !self.ended else { return nil }
        if !self.started {
            self.started = true
            // Subscribed before reading the backlog, so nothing found in between is missed (repeats are skipped).
            try await self.fill(upTo: nil)
            return .opened
        }
        while true {
            if let refusal = await self.watch?.lapse() {
                self.ended = true
                return .refused(code: refusal.code)
            }
            if !self.backlog.isEmpty { return try self.message(self.backlog.removeFirst()) }
            guard let item = await self.items.next() else {
                self.ended = true
                return .resume(after: self.lastSent)
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
                    return .keepAlive
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

    private func message(_ anomaly: StoredAnomaly) throws -> Message {
        self.lastSent = anomaly.sequence
        self.quietTicks = 0
        return .anomaly(sequence: anomaly.sequence, json: try self.encode(anomaly))
    }

    /// `message` as a Server-Sent Event (a keep-alive as a comment; the client told to retry after two seconds).
    static func serverSentEvent(_ message: Message) -> ArraySlice<UInt8> {
        let text = switch message {
        case .opened: "retry: 2000\n\n"
        case .anomaly(let sequence, let json): "id: \(sequence)\nevent: anomaly\ndata: \(String(decoding: json, as: UTF8.self))\n\n"
        case .keepAlive: ": keep-alive\n\n"
        case .resume(let after): "event: resume\ndata: {\"after\":\(after)}\n\n"
        case .refused(let code): "event: refused\ndata: {\"code\":\"\(code)\"}\n\n"
        }
        return ArraySlice(Array(text.utf8))
    }

    /// `message` as a WebSocket text message, nil for a keep-alive (WebSocket pings keep the connection alive):
    /// `{"type":"opened"}`, `{"type":"anomaly","id":12,"anomaly":{…}}`, `{"type":"resume","after":12}`.
    static func webSocketText(_ message: Message) -> String? {
        switch message {
        case .opened: "{\"type\":\"opened\"}"
        case .anomaly(let sequence, let json): "{\"type\":\"anomaly\",\"id\":\(sequence),\"anomaly\":\(String(decoding: json, as: UTF8.self))}"
        case .keepAlive: nil
        case .resume(let after): "{\"type\":\"resume\",\"after\":\(after)}"
        case .refused(let code): "{\"type\":\"refused\",\"code\":\"\(code)\"}"
        }
    }
}
