import Foundation
import Synchronization

/// The source of the current instant. Domain code asks this, never `Date()`, so tests can move time.
public protocol FinFlowClock: Sendable {
    /// The current instant (UTC).
    func now() -> Date
}

extension FinFlowClock {
    /// The current instant in Unix milliseconds, the unit FinFlow stores times in.
    public func nowMillis() -> Int64 { Int64((self.now().timeIntervalSince1970 * 1000).rounded(.down)) }
}

/// The wall clock.
public struct SystemClock: FinFlowClock {
    /// A wall clock.
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock that stands still until told to move; for tests.
public final class ManualClock: FinFlowClock {
    private let current: Mutex<Date>

    /// A clock standing at `start`.
    public init(start: Date = Date(timeIntervalSince1970: 1_767_225_600)) {
        self.current = Mutex(start)
    }

    public func now() -> Date { self.current.withLock { $0 } }

    /// Moves the clock forward by `seconds`.
    public func advance(seconds: TimeInterval) {
        self.current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}

extension Date {
    /// The instant from Unix milliseconds.
    public init(unixMillis: Int64) {
        self.init(timeIntervalSince1970: TimeInterval(unixMillis) / 1000)
    }

    /// The instant in Unix milliseconds.
    public var unixMillis: Int64 { Int64((self.timeIntervalSince1970 * 1000).rounded(.down)) }
}
