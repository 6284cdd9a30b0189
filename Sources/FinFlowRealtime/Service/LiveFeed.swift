import FinFlowCore
import Foundation
import Synchronization

/// Anomalies pushed to the clients connected to this process, each client seeing only its tenant's. Every client has
/// a bounded queue: a client that falls `bufferMax` items behind is disconnected (told to resume), and resumes from
/// its last event id, which the database serves, instead of holding the process's memory hostage.
final class LiveFeed: Sendable {
    enum Item: Sendable {
        case anomaly(StoredAnomaly)
        /// Time passing: a chance to look in the database (another process may have found something) and to keep an
        /// idle connection alive.
        case tick
    }

    static let bufferMax = 256
    static let subscribersMax = 2_000

    private struct Subscriber {
        let tenantId: String
        let continuation: AsyncStream<Item>.Continuation
    }

    private let subscribers = Mutex<[UUID: Subscriber]>([:])

    /// Subscribers now.
    var count: Int { self.subscribers.withLock { $0.count } }

    /// A new subscription to `tenantId`'s anomalies; nil when the process has as many as it takes.
    func subscribe(tenantId: String) -> (id: UUID, items: AsyncStream<Item>)? {
        let id = UUID()
        let (stream, continuation) = AsyncStream<Item>.makeStream(bufferingPolicy: .bufferingOldest(Self.bufferMax))
        let admitted = self.subscribers.withLock { subscribers -> Bool in
            guard subscribers.count < Self.subscribersMax else { return false }
            subscribers[id] = Subscriber(tenantId: tenantId, continuation: continuation)
            return true
        }
        guard admitted else {
            continuation.finish()
            return nil
        }
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(id) }
        return (id, stream)
    }

    func unsubscribe(_ id: UUID) {
        _ = self.subscribers.withLock { $0.removeValue(forKey: id) }
    }

    /// Hands each anomaly to its tenant's subscribers; a subscriber whose queue is full is ended.
    func publish(_ anomalies: [StoredAnomaly]) {
        guard !anomalies.isEmpty else { return }
        let targets = self.subscribers.withLock { subscribers in subscribers.map { ($0.key, $0.value) } }
        for (id, subscriber) in targets {
            for anomaly in anomalies where anomaly.tenantId == subscriber.tenantId {
                if case .dropped = subscriber.continuation.yield(.anomaly(anomaly)) {
                    subscriber.continuation.finish()
                    self.unsubscribe(id)
                    break
                }
            }
        }
    }

    /// A tick to every subscriber (a full queue is left as it is: the tick would add nothing).
    func tick() {
        let targets = self.subscribers.withLock { subscribers in subscribers.values.map(\.continuation) }
        for continuation in targets { _ = continuation.yield(.tick) }
    }

    /// Ends every subscription (the process is stopping; clients resume elsewhere from their last event id).
    func closeAll() {
        let all = self.subscribers.withLock { subscribers in
            defer { subscribers.removeAll() }
            return subscribers.values.map(\.continuation)
        }
        for continuation in all { continuation.finish() }
    }
}
