import FinFlowCore
import Foundation
import Synchronization

/// Answers already worked out, keyed by the tenant, the version of its read model and the question. Every event
/// applied to a tenant's read model raises its version in the same transaction, so a cached answer is never served
/// after the events that change it: it is simply never asked for again. In the process by default; in the shared
/// store (Redis) when one is configured, so every replica reuses what one worked out.
final class AnswerCache: Sendable {
    /// The most answers the process keeps; past it the cache starts again empty.
    static let entriesMax = 2_000
    /// How long the shared store keeps an answer, in seconds: answers of old versions expire on their own.
    static let sharedTTLSeconds = 600

    private let shared: (any SharedStore)?
    private let entries = Mutex<[String: Data]>([:])
    private let counters = Mutex<(hits: Int, misses: Int)>((0, 0))

    init(shared: (any SharedStore)?) {
        self.shared = shared
    }

    /// Hits and misses so far.
    var counts: (hits: Int, misses: Int) { self.counters.withLock { $0 } }

    /// The key of `question` for `tenantId` at `version`.
    static func key(tenantId: String, version: Int64, question: String) -> String {
        "analytics:answer:\(tenantId):\(version):\(Digest.sha256Hex(question))"
    }

    /// The cached answer under `key`, or `work`'s (then kept). A failing shared store is passed by, never a failure.
    func answer<T: Codable & Sendable>(_ key: String, _ work: () async throws -> T) async throws -> T {
        if let data = await self.lookup(key), let value = try? JSONDecoder().decode(T.self, from: data) {
            self.counters.withLock { $0.hits += 1 }
            return value
        }
        self.counters.withLock { $0.misses += 1 }
        let value = try await work()
        if let data = try? JSONEncoder().encode(value) { await self.keep(key, data) }
        return value
    }

    private func lookup(_ key: String) async -> Data? {
        if let shared = self.shared { return try? await shared.get(key) }
        return self.entries.withLock { $0[key] }
    }

    private func keep(_ key: String, _ data: Data) async {
        if let shared = self.shared {
            try? await shared.set(key, data, ttlSeconds: Self.sharedTTLSeconds)
            return
        }
        self.entries.withLock { entries in
            if entries.count >= Self.entriesMax { entries.removeAll(keepingCapacity: true) }
            entries[key] = data
        }
    }
}
