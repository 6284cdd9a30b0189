import FinFlowCore
import Foundation
import Synchronization

/// What a provider allows one connection (a QuickBooks company, a Xero organisation): requests in a rolling minute and
/// day, and requests in flight at once.
struct ProviderLimits: Sendable, Equatable {
    var perWindow: Int
    var windowSeconds: Int = 60
    var perDay: Int?
    var concurrent: Int

    /// The published limits: QuickBooks Online 500 a minute and 10 at once per company; Xero 60 a minute, 5,000 a day
    /// and 5 at once per organisation.
    static func of(_ provider: AccountingProvider) -> ProviderLimits {
        switch provider {
        case .quickbooks: ProviderLimits(perWindow: 500, perDay: nil, concurrent: 10)
        case .xero: ProviderLimits(perWindow: 60, perDay: 5_000, concurrent: 5)
        }
    }
}

/// Keeps one connection's calls within its provider's limits in this process: a call waits for a free slot (at most
/// `concurrent` in flight), for room in the rolling minute, and out any pause the provider asked for (`Retry-After` on
/// a 429, or a `…-Limit-Remaining` header at zero). Past the day's allowance it refuses, saying when it resumes.
/// Replicas each keep their own count; the provider's 429 and its `Retry-After` catch what their sum overshoots.
actor ProviderLimiter {
    let limits: ProviderLimits
    private var windowStarts: [ContinuousClock.Instant] = []
    private var dayStarts: [ContinuousClock.Instant] = []
    private var inFlight = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var pausedUntil: ContinuousClock.Instant?
    /// The most calls that were ever in flight at once (for tests and the benchmark).
    private(set) var peakInFlight = 0

    init(limits: ProviderLimits) {
        self.limits = limits
    }

    /// Waits until a call may start, and counts it; the caller calls `finish` when its answer is in.
    func start() async throws {
        while true {
            let now = ContinuousClock.now
            let window = Duration.seconds(self.limits.windowSeconds)
            self.windowStarts.removeAll { now - $0 >= window }
            self.dayStarts.removeAll { now - $0 >= .seconds(86_400) }
            if let until = self.pausedUntil, until > now {
                try await Task.sleep(until: until, clock: .continuous)
                continue
            }
            if self.inFlight >= self.limits.concurrent {
                await withCheckedContinuation { self.waiting.append($0) }
                continue
            }
            if self.windowStarts.count >= self.limits.perWindow, let first = self.windowStarts.first {
                try await Task.sleep(until: first + window, clock: .continuous)
                continue
            }
            if let perDay = self.limits.perDay, self.dayStarts.count >= perDay, let first = self.dayStarts.first {
                let hours = max(1, Int((first + .seconds(86_400) - now).components.seconds / 3_600))
                throw AppError(
                    .unavailable, code: "provider-daily-limit",
                    "the provider's allowance of \(perDay) calls a day for this connection is spent; it comes back within \(hours) h")
            }
            self.windowStarts.append(now)
            if self.limits.perDay != nil { self.dayStarts.append(now) }
            self.inFlight += 1
            self.peakInFlight = max(self.peakInFlight, self.inFlight)
            return
        }
    }

    /// A call is over: its slot goes to the next waiting one.
    func finish() {
        self.inFlight -= 1
        if !self.waiting.isEmpty { self.waiting.removeFirst().resume() }
    }

    /// The provider asked for a pause (a 429's `Retry-After`, or a remaining allowance of zero): no call starts before
    /// it is over.
    func pause(seconds: Int) {
        let until = ContinuousClock.now + .seconds(max(0, seconds))
        if until > (self.pausedUntil ?? .now) { self.pausedUntil = until }
    }
}

/// One limiter per connection, shared by every sync of it in this process.
final class ProviderLimiters: Sendable {
    private let limiters = Mutex<[String: ProviderLimiter]>([:])
    /// Limits other than the providers' (tests, to see waiting without waiting a minute).
    let override: ProviderLimits?

    init(override: ProviderLimits? = nil) {
        self.override = override
    }

    func limiter(connectionId: String, provider: AccountingProvider) -> ProviderLimiter {
        self.limiters.withLock { limiters in
            if let existing = limiters[connectionId] { return existing }
            let limiter = ProviderLimiter(limits: self.override ?? .of(provider))
            limiters[connectionId] = limiter
            return limiter
        }
    }
}
