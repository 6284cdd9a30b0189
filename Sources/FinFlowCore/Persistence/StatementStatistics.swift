import Foundation
import Logging
import Metrics
import Synchronization
import Tracing

/// What every database statement of one service's database has cost since the process started, by fingerprint
/// (`SQLFingerprint`): count, errors, total and longest time, rows, and a histogram of times for its percentiles.
/// `ConnectionDatabase` records every statement here; the figures are also exported through swift-metrics
/// (`finflow_db_statement_duration_seconds`, `finflow_db_statement_rows_total`, `finflow_db_statement_errors_total`,
/// labelled by `service` and `statement`, the fingerprint's id).
public final class StatementBook: Sendable {
    /// The service (the database's name: the SQLite file or the PostgreSQL schema).
    public let service: String
    private let state = Mutex(State())
    private let slowMillis: Int
    private let logger: Logger

    /// Distinct fingerprints kept; later ones are counted under `otherFingerprint`, so a stream of statements with
    /// ever new text cannot grow the book without bound.
    public static let fingerprintsMax = 1_000
    /// SQL texts whose fingerprint is remembered (most statements are parameterised, so their text repeats).
    static let textsMax = 4_096
    /// The fingerprint of the statements beyond `fingerprintsMax`.
    public static let otherFingerprint = "(other statements)"
    /// The longest SQL text kept as a fingerprint's example.
    static let exampleBytesMax = 8_192

    private struct State {
        var entries: [Entry] = []
        var byFingerprint: [String: Int] = [:]
        var byText: [String: Int] = [:]
        /// Texts longer than `exampleBytesMax` (bulk inserts) by their hash, so they are not kept whole.
        var byLongText: [Int: Int] = [:]
        /// Entries that ran slow and whose plan has not been logged yet, and those whose plan has been.
        var slowUnexplained: [Int] = []
        var slowExplained: Set<Int> = []
    }

    /// Most slow statements waiting for their plan to be logged.
    static let slowUnexplainedMax = 100

    private struct Entry {
        let fingerprint: String
        let id: String
        var example: String
        var figures = StatementFigures()
        let timer: Metrics.Timer
        let rows: Counter
        let errors: Counter
    }

    /// A book for `service`; a statement taking `slowMillis` or longer is logged as slow.
    public init(service: String, slowMillis: Int = StatementBook.slowMillisDefault, logger: Logger = Logger(label: "finflow.statements")) {
        self.service = service
        self.slowMillis = slowMillis
        self.logger = logger
    }

    /// Set for work that looks at the statements themselves (explaining them, counting a table's rows for advice): what it
    /// runs is not the service's own work and is not recorded.
    @TaskLocal public static var unrecorded = false

    /// When a statement is logged as slow, by default.
    public static let slowMillisDefault = 500

    /// Records one statement of text `sql` that took `nanoseconds`, returned `rows` rows and failed when `failed`.
    /// With a `trace` parent, the statement is also a span of that trace, on database `system`.
    public func record(sql: String, nanoseconds: UInt64, rows: Int, failed: Bool, system: String = "sqlite", trace: ServiceContext? = nil) {
        // A long text is hashed outside the lock; a collision of two (one in 2^64) would only file one's figures
        // under the other's fingerprint.
        let longKey = sql.utf8.count > Self.exampleBytesMax ? sql.hashValue : nil
        let slow = nanoseconds >= UInt64(self.slowMillis) * 1_000_000
        let recorded = self.state.withLock { state -> (Metrics.Timer, Counter, Counter, String, String) in
            let index = Self.index(of: sql, longKey: longKey, in: &state, service: self.service)
            state.entries[index].figures.add(nanoseconds: nanoseconds, rows: rows, failed: failed)
            if slow, !state.slowExplained.contains(index), !state.slowUnexplained.contains(index),
                state.slowUnexplained.count < Self.slowUnexplainedMax
            {
                state.slowUnexplained.append(index)
            }
            let entry = state.entries[index]
            return (entry.timer, entry.rows, entry.errors, entry.id, entry.fingerprint)
        }
        recorded.0.recordNanoseconds(Int64(clamping: nanoseconds))
        if rows > 0 { recorded.1.increment(by: Int64(rows)) }
        if failed { recorded.2.increment() }
        if let trace {
            FinFlowTracing.statementSpan(
                parent: trace, service: self.service, system: system, id: recorded.3, fingerprint: recorded.4, nanoseconds: nanoseconds,
                rows: rows, failed: failed)
        }
        if slow {
            self.logger.warning(
                "slow statement",
                metadata: [
                    "service": "\(self.service)", "statement": "\(recorded.3)", "millis": "\(nanoseconds / 1_000_000)", "rows": "\(rows)",
                    "fingerprint": "\(recorded.4.prefix(2_000))",
                ])
        }
    }

    private static func index(of sql: String, longKey: Int?, in state: inout State, service: String) -> Int {
        if let longKey {
            if let known = state.byLongText[longKey] { return known }
        } else if let known = state.byText[sql] {
            return known
        }
        var fingerprint = SQLFingerprint.of(sql)
        // The last place is kept for the rest.
        if state.byFingerprint[fingerprint] == nil && state.entries.count >= Self.fingerprintsMax - 1 { fingerprint = Self.otherFingerprint }
        let index: Int
        if let known = state.byFingerprint[fingerprint] {
            index = known
        } else {
            let id = SQLFingerprint.id(fingerprint)
            let dimensions = [("service", service), ("statement", id)]
            index = state.entries.count
            state.entries.append(Entry(
                fingerprint: fingerprint, id: id, example: String(decoding: sql.utf8.prefix(Self.exampleBytesMax), as: UTF8.self),
                timer: Metrics.Timer(label: "finflow_db_statement_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds),
                rows: Counter(label: "finflow_db_statement_rows_total", dimensions: dimensions),
                errors: Counter(label: "finflow_db_statement_errors_total", dimensions: dimensions)))
            state.byFingerprint[fingerprint] = index
        }
        if let longKey {
            if state.byLongText.count < Self.textsMax { state.byLongText[longKey] = index }
        } else if state.byText.count < Self.textsMax {
            state.byText[sql] = index
        }
        return index
    }

    /// Every fingerprint recorded, with its figures.
    public func snapshot() -> [StatementSummary] {
        self.state.withLock { state in
            state.entries.map { entry in
                StatementSummary(service: self.service, id: entry.id, fingerprint: entry.fingerprint, example: entry.example, figures: entry.figures)
            }
        }
    }

    /// The statements that ran slow since the last call and whose plan has not been logged in this process, each once:
    /// the performance service explains and logs them at its next sample.
    public func takeSlowUnexplained() -> [StatementSummary] {
        self.state.withLock { state in
            defer {
                state.slowExplained.formUnion(state.slowUnexplained)
                state.slowUnexplained = []
            }
            return state.slowUnexplained.map { index in
                let entry = state.entries[index]
                return StatementSummary(service: self.service, id: entry.id, fingerprint: entry.fingerprint, example: entry.example, figures: entry.figures)
            }
        }
    }

    /// Forgets every figure (an operator's reset, and tests that measure one workload).
    public func reset() {
        self.state.withLock { state in
            for index in state.entries.indices { state.entries[index].figures = StatementFigures() }
        }
    }
}

/// One fingerprint's figures as a book holds them.
public struct StatementFigures: Sendable, Equatable {
    public private(set) var calls = 0
    public private(set) var errors = 0
    public private(set) var rows = 0
    public private(set) var totalNanoseconds: UInt64 = 0
    public private(set) var maxNanoseconds: UInt64 = 0
    /// Calls by time: bucket `i` holds times up to `StatementFigures.bucketBound(i)`.
    public private(set) var buckets = [UInt32](repeating: 0, count: StatementFigures.bucketCount)

    /// Buckets grow by a quarter from 10 µs (so a percentile is within 25% of the true time) up to about 60 s.
    public static let bucketCount = 70
    static let firstBoundNanoseconds = 10_000.0
    static let growth = 1.25

    public init() {}

    /// The upper bound of bucket `index`, in nanoseconds (the last is unbounded).
    public static func bucketBound(_ index: Int) -> Double {
        index >= bucketCount - 1 ? .infinity : firstBoundNanoseconds * pow(growth, Double(index))
    }

    mutating func add(nanoseconds: UInt64, rows: Int, failed: Bool) {
        self.calls += 1
        if failed { self.errors += 1 }
        self.rows &+= rows
        self.totalNanoseconds &+= nanoseconds
        self.maxNanoseconds = max(self.maxNanoseconds, nanoseconds)
        let ratio = Double(nanoseconds) / Self.firstBoundNanoseconds
        let bucket = ratio <= 1 ? 0 : Int((log(ratio) / log(Self.growth)).rounded(.up))
        let index = min(Self.bucketCount - 1, max(0, bucket))
        self.buckets[index] &+= 1
    }

    /// The time under which `quantile` (0–1) of the calls took, in nanoseconds: a bucket's upper bound (the longest
    /// time seen for the last bucket); nil before any call.
    public func percentileNanoseconds(_ quantile: Double) -> Double? {
        guard self.calls > 0 else { return nil }
        let rank = max(1, Int((Double(self.calls) * quantile).rounded(.up)))
        var seen = 0
        for (index, count) in self.buckets.enumerated() {
            seen += Int(count)
            if seen >= rank { return min(Self.bucketBound(index), Double(self.maxNanoseconds)) }
        }
        return Double(self.maxNanoseconds)
    }
}

/// A fingerprint and its figures, as the performance service reports them.
public struct StatementSummary: Sendable {
    public let service: String
    public let id: String
    public let fingerprint: String
    /// The text of the first statement seen with this fingerprint (parameters unbound), to explain its plan.
    public let example: String
    public let figures: StatementFigures
}

/// The statement books of a process's databases, by service: what the performance service reads in this process.
public final class StatementStatistics: Sendable {
    private let books = Mutex<[String: StatementBook]>([:])
    private let slowMillis: Int
    private let logger: Logger

    /// Statistics whose books log statements taking `slowMillis` or longer to `logger`.
    public init(slowMillis: Int = StatementBook.slowMillisDefault, logger: Logger = Logger(label: "finflow.statements")) {
        self.slowMillis = slowMillis
        self.logger = logger
    }

    /// The book of `service`, made on first use.
    public func book(_ service: String) -> StatementBook {
        self.books.withLock { books in
            if let book = books[service] { return book }
            let book = StatementBook(service: service, slowMillis: self.slowMillis, logger: self.logger)
            books[service] = book
            return book
        }
    }

    /// Every book, by service name.
    public var all: [StatementBook] {
        self.books.withLock { $0.values.sorted { $0.service < $1.service } }
    }
}
