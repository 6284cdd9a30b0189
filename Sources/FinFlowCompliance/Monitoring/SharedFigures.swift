import FinFlowCore
import Foundation
import Logging
import Synchronization

/// A tenant's monitoring figures shared by the service's processes through the shared store (Redis when configured),
/// so that a process taking a tenant's events after another reads them there instead of from the tables.
///
/// The tables stay the truth. The shared copy is a map per tenant and generation whose stamp is the tables' figures
/// stamp it was written at; a process uses it only when that stamp equals the one it read while holding the tenant's
/// lock, and writes it while still holding the lock: the groups it loaded from the tables or changed, with the stamp
/// its delivery writes to the tables. A copy whose delivery rolled back, or that a crash left behind, carries a stamp
/// the tables never committed (stamps are never reused), so nobody reads it; a store that fails costs the tables'
/// reads, never a decision.
struct SharedFigures: Sendable {
    /// One group of one kind of figure: a field of the map.
    enum Field: Hashable, Sendable {
        case buckets(MemoryAggregateStore.GroupKey)
        case values(MemoryAggregateStore.GroupKey)
        case last(MemoryAggregateStore.GroupKey)

        /// The field's name in the map ("~" begins only the stamp's).
        var name: String {
            switch self {
            case .buckets(let ref): "b\u{1F}" + ref.key + "\u{1F}" + ref.group
            case .values(let ref): "v\u{1F}" + ref.key + "\u{1F}" + ref.group
            case .last(let ref): "l\u{1F}" + ref.key + "\u{1F}" + ref.group
            }
        }
    }

    /// How many groups deliveries found in the shared copy, and how many they read from the tables.
    final class Counts: Sendable {
        let shared = Atomic<Int>(0)
        let tables = Atomic<Int>(0)
    }

    let store: any SharedStore
    let key: String
    /// The tables' figures stamp, read under the tenant's lock.
    let stamp: String?
    let counts: Counts
    let logger: Logger
    /// A tenant's map expires a day after its last write.
    static let ttlSeconds = 86_400

    init(store: any SharedStore, tenantId: String, generation: Int64, stamp: String?, counts: Counts, logger: Logger) {
        self.store = store
        self.key = "finflow:compliance:figures:\(generation):\(tenantId)"
        self.stamp = stamp
        self.counts = counts
        self.logger = logger
    }

    /// Puts into `window` every wanted group the shared copy holds far enough back, when it carries the tables'
    /// stamp, and takes those groups out of the wanted ones.
    func load(
        into window: FigureWindow, buckets: inout [String: (groups: Set<String>, from: Int64)], values: inout [String: (groups: Set<String>, since: Int64)],
        last: inout [String: Set<String>]
    ) async {
        var fields: [Field] = []
        for (key, entry) in buckets { fields += entry.groups.map { .buckets(.init(key: key, group: $0)) } }
        for (key, entry) in values { fields += entry.groups.map { .values(.init(key: key, group: $0)) } }
        for (key, groups) in last { fields += groups.map { .last(.init(key: key, group: $0)) } }
        var found = 0
        defer { self.counts.shared.add(found, ordering: .relaxed) }
        guard let stamp = self.stamp else { return }
        let answer: (stamp: String?, values: [Data?])
        do {
            answer = try await self.store.stampedFields(self.key, fields: fields.map(\.name))
        } catch {
            self.logger.debug("shared monitoring figures unreadable; reading the tables", metadata: ["error": "\(error)"])
            return
        }
        guard answer.stamp == stamp, answer.values.count == fields.count else { return }
        for (field, data) in zip(fields, answer.values) {
            guard let data else { continue }
            switch field {
            case .buckets(let ref):
                guard let wanted = buckets[ref.key], let decoded = Self.decodeBuckets(data), decoded.from <= wanted.from else { continue }
                window.memory.replaceBuckets(ref, with: decoded.rows)
                window.bucketsFrom[ref] = decoded.from
                buckets[ref.key]?.groups.remove(ref.group)
                if buckets[ref.key]?.groups.isEmpty == true { buckets[ref.key] = nil }
            case .values(let ref):
                guard let wanted = values[ref.key], let decoded = Self.decodeValues(data), decoded.since <= wanted.since else { continue }
                window.memory.replaceValues(ref, with: decoded.rows)
                window.valuesSince[ref] = decoded.since
                values[ref.key]?.groups.remove(ref.group)
                if values[ref.key]?.groups.isEmpty == true { values[ref.key] = nil }
            case .last(let ref):
                guard let decoded = Self.decodeLast(data) else { continue }
                window.memory.replaceLast(ref, with: decoded)
                window.lastLoaded.insert(ref)
                last[ref.key]?.remove(ref.group)
                if last[ref.key]?.isEmpty == true { last[ref.key] = nil }
            }
            found += 1
        }
    }

    /// Writes the groups `window` loaded from the tables or changed since it last wrote, stamped `stamp` (the stamp
    /// the delivery writes to the tables; the one it read when nothing changed).
    func write(from window: FigureWindow, stamp: String) async {
        guard !window.unshared.isEmpty || stamp != self.stamp else { return }
        var changes: [(field: String, value: Data?)] = []
        changes.reserveCapacity(window.unshared.count)
        for field in window.unshared {
            switch field {
            case .buckets(let ref):
                changes.append((field.name, window.bucketsFrom[ref].map { Self.encodeBuckets(from: $0, window.memory.bucketRows(ref)) }))
            case .values(let ref):
                changes.append((field.name, window.valuesSince[ref].map { Self.encodeValues(since: $0, window.memory.valueRows(ref)) }))
            case .last(let ref):
                changes.append((field.name, window.lastLoaded.contains(ref) ? Self.encodeLast(window.memory.lastMillis(ref)) : nil))
            }
        }
        window.unshared.removeAll(keepingCapacity: true)
        do {
            try await self.store.writeStamped(self.key, expected: self.stamp, stamp: stamp, changes: changes, ttlSeconds: Self.ttlSeconds)
        } catch {
            self.logger.debug("shared monitoring figures not written; other processes will read the tables", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Encoding: integers little-endian, strings their UTF-8 length first

    static func encodeBuckets(from: Int64, _ rows: [(startMillis: Int64, currency: String, figures: BucketFigures)]) -> Data {
        var data = Data()
        Self.append(from, to: &data)
        Self.append(Int64(rows.count), to: &data)
        for row in rows {
            Self.append(row.startMillis, to: &data)
            Self.append(row.currency, to: &data)
            Self.append(row.figures.count, to: &data)
            Self.append(row.figures.sumMinor, to: &data)
            Self.append(row.figures.maxMinor, to: &data)
        }
        return data
    }

    static func decodeBuckets(_ data: Data) -> (from: Int64, rows: [(startMillis: Int64, currency: String, figures: BucketFigures)])? {
        var reader = Reader(data)
        guard let from = reader.integer(), let count = reader.count() else { return nil }
        var rows: [(startMillis: Int64, currency: String, figures: BucketFigures)] = []
        for _ in 0..<count {
            guard let start = reader.integer(), let currency = reader.string(), let n = reader.integer(), let sum = reader.integer(),
                let max = reader.integer()
            else { return nil }
            rows.append((start, currency, BucketFigures(count: n, sumMinor: sum, maxMinor: max)))
        }
        return reader.atEnd ? (from, rows) : nil
    }

    static func encodeValues(since: Int64, _ rows: [(value: String, lastMillis: Int64)]) -> Data {
        var data = Data()
        Self.append(since, to: &data)
        Self.append(Int64(rows.count), to: &data)
        for row in rows {
            Self.append(row.value, to: &data)
            Self.append(row.lastMillis, to: &data)
        }
        return data
    }

    static func decodeValues(_ data: Data) -> (since: Int64, rows: [(value: String, lastMillis: Int64)])? {
        var reader = Reader(data)
        guard let since = reader.integer(), let count = reader.count() else { return nil }
        var rows: [(value: String, lastMillis: Int64)] = []
        for _ in 0..<count {
            guard let value = reader.string(), let last = reader.integer() else { return nil }
            rows.append((value, last))
        }
        return reader.atEnd ? (since, rows) : nil
    }

    /// A last time, or a marker that the group never had an event.
    static func encodeLast(_ lastMillis: Int64?) -> Data {
        var data = Data()
        Self.append(lastMillis == nil ? 0 : 1, to: &data)
        Self.append(lastMillis ?? 0, to: &data)
        return data
    }

    static func decodeLast(_ data: Data) -> Int64?? {
        var reader = Reader(data)
        guard let present = reader.integer(), let value = reader.integer(), reader.atEnd, present == 0 || present == 1 else { return nil }
        return .some(present == 1 ? value : nil)
    }

    static func append(_ value: Int64, to data: inout Data) {
        withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
    }

    static func append(_ text: String, to data: inout Data) {
        let bytes = Array(text.utf8)
        Self.append(Int64(bytes.count), to: &data)
        data.append(contentsOf: bytes)
    }

    /// Reads what the encoders wrote; nil at the first thing out of place (a copy written by another version, or damaged).
    struct Reader {
        let bytes: [UInt8]
        var at = 0

        init(_ data: Data) {
            self.bytes = Array(data)
        }

        var atEnd: Bool { self.at == self.bytes.count }

        mutating func integer() -> Int64? {
            guard self.bytes.count - self.at >= 8 else { return nil }
            var value: UInt64 = 0
            for index in 0..<8 { value |= UInt64(self.bytes[self.at + index]) << (8 * UInt64(index)) }
            self.at += 8
            return Int64(bitPattern: value)
        }

        /// A count of rows, each at least eight bytes: never more than the bytes left could hold.
        mutating func count() -> Int? {
            guard let value = self.integer(), value >= 0, value <= Int64((self.bytes.count - self.at) / 8) else { return nil }
            return Int(value)
        }

        mutating func string() -> String? {
            guard let length = self.integer(), length >= 0, length <= Int64(self.bytes.count - self.at) else { return nil }
            let text = String(decoding: self.bytes[self.at..<(self.at + Int(length))], as: UTF8.self)
            self.at += Int(length)
            return text
        }
    }
}
