import Foundation
import Synchronization

/// Counts attempts per key (a client address) in a sliding minute; bounded in memory.
final class AttemptLimiter: Sendable {
    private let attempts = Mutex<[String: [Date]]>([:])
    let limitPerMinute: Int
    /// Addresses tracked at once; beyond it the map is cleared of stale entries, then of the oldest.
    static let keysMax = 50_000

    init(limitPerMinute: Int) {
        self.limitPerMinute = limitPerMinute
    }

    /// Records an attempt; returns the seconds to wait when the key is over its limit (the attempt is then refused).
    func register(key: String, now: Date) -> Int? {
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
