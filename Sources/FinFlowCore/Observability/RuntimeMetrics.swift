import Foundation
import Metrics

/// The names under which the platform's own work reaches `/metrics` (documented in docs/performance.md): each handle
/// made once, where the work is set up, so measuring costs no look-up on the hot path.
public enum RuntimeMetrics {
    /// A consumer's deliveries: events applied, failed deliveries, time to apply a delivery, and lag (from the event's
    /// creation, read from its time-ordered id, to its application).
    struct Consumer: Sendable {
        let applied: Counter
        let failures: Counter
        let duration: Metrics.Timer
        let lag: Metrics.Timer

        init(consumer: String, topic: String) {
            let dimensions = [("consumer", consumer), ("topic", topic)]
            self.applied = Counter(label: "finflow_events_consumed_total", dimensions: dimensions)
            self.failures = Counter(label: "finflow_event_delivery_failures_total", dimensions: dimensions)
            self.duration = Metrics.Timer(label: "finflow_event_delivery_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
            self.lag = Metrics.Timer(label: "finflow_event_consumer_lag_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
        }
    }

    /// An outbox relay's publishing: events published, their wait in the outbox, events set aside (dead letters).
    struct Outbox: Sendable {
        let published: Counter
        let lag: Metrics.Timer
        let deadLetters: Counter

        init(service: String) {
            let dimensions = [("service", service)]
            self.published = Counter(label: "finflow_outbox_published_total", dimensions: dimensions)
            self.lag = Metrics.Timer(label: "finflow_outbox_lag_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
            self.deadLetters = Counter(label: "finflow_outbox_dead_letters_total", dimensions: dimensions)
        }
    }

    /// A database's waits: for a pooled connection (PostgreSQL) or the writer (SQLite), and SQLite's background
    /// checkpoints.
    struct DatabaseWaits: Sendable {
        let connection: Metrics.Timer
        let writer: Metrics.Timer
        let checkpoint: Metrics.Timer

        init(service: String) {
            let dimensions = [("service", service)]
            self.connection = Metrics.Timer(label: "finflow_db_pool_wait_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
            self.writer = Metrics.Timer(label: "finflow_sqlite_writer_wait_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
            self.checkpoint = Metrics.Timer(label: "finflow_sqlite_checkpoint_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
        }
    }

    /// Jobs per group commit.
    static func groupCommitSize(service: String) -> Recorder {
        Recorder(label: "finflow_group_commit_jobs", dimensions: [("service", service)], aggregate: true)
    }

    /// The creation time (Unix milliseconds) a UUIDv7 id carries in its first 48 bits; nil for another kind of id.
    static func millis(ofVersion7 id: String) -> Int64? {
        // `xxxxxxxx-xxxx-7…`: 36 characters, the version digit at offset 14; no copy of the id (every event passes here).
        guard id.utf8.count == 36, id.utf8.dropFirst(14).first == UInt8(ascii: "7") else { return nil }
        var millis: Int64 = 0
        for byte in id.utf8.prefix(13) where byte != UInt8(ascii: "-") {
            let digit = hexValue(byte)
            guard digit >= 0 else { return nil }
            millis = millis << 4 | Int64(digit)
        }
        return millis
    }

    private static func hexValue(_ byte: UInt8) -> Int {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A")) + 10
        default: -1
        }
    }

    /// The nanoseconds from `createdMillis` to `nowMillis`, or nil when the event claims to be from the future or from
    /// more than a year before (an id or a clock not to be trusted with a figure).
    static func lagNanoseconds(from createdMillis: Int64, to nowMillis: Int64) -> Int64? {
        let millis = nowMillis - createdMillis
        guard (0...31_622_400_000).contains(millis) else { return nil }
        return millis * 1_000_000
    }

    /// Nanoseconds since `start` (a `DispatchTime` reading).
    static func since(_ start: UInt64) -> Int64 {
        Int64(clamping: DispatchTime.now().uptimeNanoseconds &- start)
    }
}
