import Foundation
import Synchronization

/// Makes UUIDv7 identifiers (RFC 9562): 48 bits of Unix milliseconds, then a counter and random bits, so ids sort by
/// creation time and stay monotonic within one process even when the clock stands still or steps back.
public final class IdentifierGenerator: Sendable {
    private let clock: any FinFlowClock
    private let state = Mutex<(lastMillis: UInt64, counter: UInt16)>((0, 0))

    /// A generator reading time from `clock`.
    public init(clock: any FinFlowClock) {
        self.clock = clock
    }

    /// A new, time-ordered identifier.
    public func next() -> UUID {
        let nowMillis = UInt64(max(0, self.clock.now().timeIntervalSince1970 * 1000))
        let (millis, counter): (UInt64, UInt16) = self.state.withLock { state in
            if nowMillis > state.lastMillis {
                state.lastMillis = nowMillis
                state.counter = UInt16.random(in: 0..<0x400)
            } else {
                state.counter &+= 1
                if state.counter > 0xFFF {
                    state.lastMillis += 1
                    state.counter = 0
                }
            }
            return (state.lastMillis, state.counter)
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 { bytes[index] = UInt8((millis >> (8 * (5 - UInt64(index)))) & 0xFF) }
        bytes[6] = 0x70 | UInt8((counter >> 8) & 0x0F)
        bytes[7] = UInt8(counter & 0xFF)
        var random = SystemRandomNumberGenerator()
        for index in 8..<16 { bytes[index] = UInt8.random(in: 0...255, using: &random) }
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }

    /// The identifier as FinFlow stores and prints it: lower-case hyphenated text.
    public func nextString() -> String {
        self.next().uuidString.lowercased()
    }
}

extension UUID {
    /// The identifier in FinFlow's canonical text form (lower case).
    public var canonical: String { self.uuidString.lowercased() }
}
