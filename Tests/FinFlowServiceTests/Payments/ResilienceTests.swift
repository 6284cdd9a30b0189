import FinFlowCore
import FinFlowPayments
import Foundation
import Testing

@Suite("payments: retries and the circuit breaker")
struct ResilienceTests {
    /// A generator with a fixed sequence, so the drawn pauses are known.
    struct FixedGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            self.state = self.state &* 6364136223846793005 &+ 1442695040888963407
            return self.state
        }
    }

    @Test("backoff doubles from the base up to the cap, and every pause lies between zero and its ceiling")
    func backoff() {
        let backoff = Backoff(baseMillis: 100, capMillis: 1_000, attemptsMax: 6)
        #expect((2...7).map { backoff.ceilingMillis(beforeAttempt: $0) } == [100, 200, 400, 800, 1_000, 1_000])
        #expect(backoff.ceilingMillis(beforeAttempt: 200) == 1_000)
        var generator = FixedGenerator(state: 42)
        var pauses: Set<Int> = []
        for attempt in 2...7 {
            for _ in 0..<200 {
                let pause = backoff.pauseMillis(beforeAttempt: attempt, using: &generator)
                #expect(pause >= 0 && pause <= backoff.ceilingMillis(beforeAttempt: attempt))
                pauses.insert(pause)
            }
        }
        // Jittered: not the same pause every time.
        #expect(pauses.count > 100)
    }

    @Test("the breaker opens after the named failures, refuses while open, lets one trial through, and closes on its success")
    func breaker() {
        let clock = ManualClock()
        let breaker = CircuitBreaker(failuresToOpen: 3, openSeconds: 30, clock: clock)
        for _ in 0..<2 {
            #expect(breaker.permits())
            breaker.failed()
        }
        // An answer in between resets the count.
        #expect(breaker.permits())
        breaker.succeeded()
        #expect(breaker.current == .closed(failures: 0))
        for _ in 0..<3 {
            #expect(breaker.permits())
            breaker.failed()
        }
        #expect(!breaker.permits())
        clock.advance(seconds: 29)
        #expect(!breaker.permits())
        clock.advance(seconds: 1)
        // Half-open: one trial, and no second call while it is out.
        #expect(breaker.permits())
        #expect(!breaker.permits())
        // The trial fails: open for another period.
        breaker.failed()
        #expect(!breaker.permits())
        clock.advance(seconds: 30)
        #expect(breaker.permits())
        breaker.succeeded()
        #expect(breaker.permits())
        #expect(breaker.permits())
        #expect(breaker.current == .closed(failures: 0))
    }
}
