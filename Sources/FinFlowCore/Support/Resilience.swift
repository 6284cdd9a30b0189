import Foundation
import Synchronization

/// Exponential backoff with full jitter (AWS's "full jitter": a uniform pause between zero and the capped exponential),
/// so retries from many requests spread out instead of arriving at the gateway together.
public struct Backoff: Sendable {
    /// The cap of the first pause, in milliseconds; doubles per attempt.
    public var baseMillis: Int
    /// No pause is longer than this.
    public var capMillis: Int
    /// Attempts in all, the first included.
    public var attemptsMax: Int

    public init(baseMillis: Int = 100, capMillis: Int = 2_000, attemptsMax: Int = 3) {
        self.baseMillis = baseMillis
        self.capMillis = capMillis
        self.attemptsMax = attemptsMax
    }

    /// The longest pause before attempt `attempt` (2 is the first retry).
    public func ceilingMillis(beforeAttempt attempt: Int) -> Int {
        let doublings = min(max(attempt - 2, 0), 20)
        return min(self.capMillis, self.baseMillis << doublings)
    }

    /// A pause before attempt `attempt`, drawn with `generator`.
    public func pauseMillis(beforeAttempt attempt: Int, using generator: inout some RandomNumberGenerator) -> Int {
        Int.random(in: 0...self.ceilingMillis(beforeAttempt: attempt), using: &generator)
    }
}

/// Stops calling a gateway that keeps failing, so requests fail fast (and can fail over) instead of each waiting out
/// its timeouts. Closed: calls go through, consecutive failures are counted. After `failuresToOpen` it opens: calls are
/// refused for `openSeconds`. Then it is half-open: one trial call goes through; its success closes the breaker, its
/// failure opens it again.
public final class CircuitBreaker: Sendable {
    public enum State: Sendable, Equatable {
        case closed(failures: Int)
        case open(until: Date)
        case halfOpen(trialInFlight: Bool)
    }

    public let failuresToOpen: Int
    public let openSeconds: TimeInterval
    private let clock: any FinFlowClock
    private let state = Mutex(State.closed(failures: 0))

    public init(failuresToOpen: Int = 5, openSeconds: TimeInterval = 30, clock: any FinFlowClock) {
        self.failuresToOpen = failuresToOpen
        self.openSeconds = openSeconds
        self.clock = clock
    }

    public var current: State { self.state.withLock { $0 } }

    /// Whether a call may go to the gateway now. A caller that is let through must report `succeeded` or `failed`.
    public func permits() -> Bool {
        let now = self.clock.now()
        return self.state.withLock { state in
            switch state {
            case .closed:
                return true
            case .open(let until):
                guard now >= until else { return false }
                state = .halfOpen(trialInFlight: true)
                return true
            case .halfOpen(let trialInFlight):
                guard !trialInFlight else { return false }
                state = .halfOpen(trialInFlight: true)
                return true
            }
        }
    }

    /// The call reached the gateway and got an answer (a decline is an answer).
    public func succeeded() {
        self.state.withLock { $0 = .closed(failures: 0) }
    }

    /// The call failed for want of the gateway: a network error, a timeout or a 5xx.
    public func failed() {
        let reopen = self.clock.now().addingTimeInterval(self.openSeconds)
        self.state.withLock { state in
            switch state {
            case .closed(let failures):
                state = failures + 1 >= self.failuresToOpen ? .open(until: reopen) : .closed(failures: failures + 1)
            case .halfOpen, .open:
                state = .open(until: reopen)
            }
        }
    }
}
