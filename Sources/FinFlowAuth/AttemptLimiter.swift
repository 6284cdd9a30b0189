import FinFlowCore
import Foundation
import Synchronization

/// Counts attempts per key (a client address). With a shared store (Redis) the count is kept there, in a fixed minute
/// window, so the limit holds across every replica; without one, or while it fails, each process counts alone in a
/// sliding minute, bounded in memory.
final class AttemptLimiter: Sendable {
    private let attempts = Mutex<[String: [Date]]>([:])
    let limitPerMinute: Int
    let shared: (any SharedStore)?
    /// Addresses tracked at once; beyond it the map is cleared of stale entries, then of the oldest.
    static let keysMax = 50_000

    init(limitPerMinute: Int, shared: (any SharedStore)? = nil) {
        self.limitPerMinute = limitPerMinute
        self.shared = shared
    }

    /// Records an attempt; returns the seconds to wait when the key is over its limit (the attempt is then refused).
    func register(key: String, now: Date) async -> Int? {
        if let shared = self.shared, let counted = try? await shared.hit("finflow:sign-in:\(Digest.sha256Hex(key))", windowMillis: 60_000) {
            guard counted.count > Int64(self.limitPerMinute) else { return nil }
            return max(1, Int((Double(counted.resetsInMillis) / 1_000).rounded(.up)))
        }
        return self.registerLocally(key: key, now: now)
    }

    /// The count of this process alone, in a sliding minute.
    func registerLocally(key: String, now: Date) -> Int? {
        self.attempts.withLock { attempts in
            let windowStart = now.addingTimeInterval(-60)
            var recent = (attempts[key] ?? []).filter { $0 > windowStart }
            if recent.count >= self.limitPerMinute {
                attempts[key] = recent
                let oldest = recent.first ?? now
                return max(1, Int(oldest.addingTimeInterval(60).timeIntervalSince(now).rounded(.up)))
            }
            recent.append(now)
            attempts[key] = recent
            if attempts.count > Self.keysMax {
                attempts = attempts.filter { $0.value.last.map { $0 > windowStart } ?? false }
                if attempts.count > Self.keysMax { attempts.removeAll() }
            }
            return nil
        }
    }
}
