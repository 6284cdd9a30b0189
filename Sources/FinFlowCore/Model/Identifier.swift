import Crypto
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
        // One draw of 64 random bits (one system call) fills the variant byte and the seven after it.
        var random = SystemRandomNumberGenerator()
        let tail: UInt64 = random.next()
        func byte(_ value: UInt64, _ shift: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: value >> shift) }
        return UUID(uuid: (byte(millis, 40), byte(millis, 32), byte(millis, 24), byte(millis, 16), byte(millis, 8), byte(millis, 0),
                           0x70 | UInt8((counter >> 8) & 0x0F), UInt8(counter & 0xFF),
                           0x80 | (byte(tail, 56) & 0x3F), byte(tail, 48), byte(tail, 40), byte(tail, 32),
                           byte(tail, 24), byte(tail, 16), byte(tail, 8), byte(tail, 0)))
    }

    /// The identifier as FinFlow stores and prints it: lower-case hyphenated text.
    public func nextString() -> String {
        self.next().canonical
    }
}

extension UUID {
    /// The identifier in FinFlow's canonical text form (lower case).
    public var canonical: String {
        // Written digit by digit: `uuidString.lowercased()` builds two strings for every id the ledger makes.
        let digits: StaticString = "0123456789abcdef"
        return withUnsafeBytes(of: self.uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { buffer in
                var at = 0
                for (index, byte) in bytes.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        buffer[at] = UInt8(ascii: "-")
                        at += 1
                    }
                    buffer[at] = digits.utf8Start[Int(byte >> 4)]
                    buffer[at + 1] = digits.utf8Start[Int(byte & 0x0F)]
                    at += 2
                }
                return at
            }
        }
    }
}

extension UUID {
    /// A UUIDv8 over SHA-256 of `name` (RFC 9562): the same name always gives the same id, in every process, so an id
    /// derived from what it stands for (a key, a document at a provider) is found again instead of made twice.
    public static func derived(from name: String) -> UUID {
        var bytes = Array(SHA256.hash(data: Data(name.utf8)).prefix(16))
        bytes[6] = 0x80 | (bytes[6] & 0x0F)
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
