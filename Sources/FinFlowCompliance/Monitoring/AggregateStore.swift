import FinFlowCore
import Foundation
import SQLKit

/// One time bucket's figures in one currency.
struct BucketFigures: Sendable, Equatable {
    var count: Int64
    var sumMinor: Int64
    var maxMinor: Int64
}

/// A change to the stored figures that one event makes.
enum AggregateUpdate: Sendable, Hashable {
    case bucket(key: String, group: String, currency: String, startMillis: Int64, amountMinor: Int64)
    case value(key: String, group: String, value: String, atMillis: Int64)
    case last(key: String, group: String, atMillis: Int64)
}

/// A read the engine is about to make, announced so that a store can make all of an event's reads at once.
enum FigureRequest: Sendable, Hashable {
    case buckets(key: String, group: String, fromMillis: Int64, throughMillis: Int64)
    case distinct(key: String, group: String, sinceMillis: Int64)
    case last(key: String, group: String)
}

/// Where a tenant's windowed figures live: its tables in the live service, memory in a backtest. Every read is bounded
/// by the window (at most `Aggregate.bucketsMax` buckets, or the group's distinct values), never by the history.
protocol AggregateStore {
    /// Reads ahead what the calls that follow will ask.
    func prefetch(_ requests: [FigureRequest]) async throws
    /// The buckets of a group from `fromMillis` through `throughMillis` (bucket starts), per currency.
    func buckets(key: String, group: String, fromMillis: Int64, throughMillis: Int64) async throws -> [String: BucketFigures]
    /// How many distinct values the group saw since `sinceMillis`, and whether `value` is among them.
    func distinct(key: String, group: String, sinceMillis: Int64, value: String?) async throws -> (count: Int, contains: Bool)
    /// When the group last had an event.
    func last(key: String, group: String) async throws -> Int64?
    func apply(_ updates: [AggregateUpdate]) async throws
}

extension AggregateStore {
    func prefetch(_ requests: [FigureRequest]) async throws {}
}

/// The figures in memory, for backtests and tests.
final class MemoryAggregateStore: AggregateStore {
    struct GroupKey: Hashable {
        let key: String
        let group: String
    }

    private var bucketsByGroup: [GroupKey: [Int64: [String: BucketFigures]]] = [:]
    private var valuesByGroup: [GroupKey: [String: Int64]] = [:]
    private var lastByGroup: [GroupKey: Int64] = [:]

    init() {}

    func buckets(key: String, group: String, fromMillis: Int64, throughMillis: Int64) async throws -> [String: BucketFigures] {
        var result: [String: BucketFigures] = [:]
        for (start, figures) in self.bucketsByGroup[GroupKey(key: key, group: group)] ?? [:] where start >= fromMillis && start <= throughMillis {
            for (currency, bucket) in figures { result[currency] = Self.merge(result[currency], bucket) }
        }
        return result
    }

    func distinct(key: String, group: String, sinceMillis: Int64, value: String?) async throws -> (count: Int, contains: Bool) {
        let values = self.valuesByGroup[GroupKey(key: key, group: group)] ?? [:]
        let recent = values.filter { $0.value >= sinceMillis }
        return (recent.count, value.map { recent[$0] != nil } ?? false)
    }

    func last(key: String, group: String) async throws -> Int64? {
        self.lastByGroup[GroupKey(key: key, group: group)]
    }

    func apply(_ updates: [AggregateUpdate]) async throws {
        for update in updates {
            switch update {
            case .bucket(let key, let group, let currency, let start, let amount):
                let figures = BucketFigures(count: 1, sumMinor: amount, maxMinor: amount)
                self.bucketsByGroup[GroupKey(key: key, group: group), default: [:]][start, default: [:]][currency] =
                    Self.merge(self.bucketsByGroup[GroupKey(key: key, group: group)]?[start]?[currency], figures)
            case .value(let key, let group, let value, let at):
                self.valuesByGroup[GroupKey(key: key, group: group), default: [:]][value] =
                    max(self.valuesByGroup[GroupKey(key: key, group: group)]?[value] ?? .min, at)
            case .last(let key, let group, let at):
                self.lastByGroup[GroupKey(key: key, group: group)] = max(self.lastByGroup[GroupKey(key: key, group: group)] ?? .min, at)
            }
        }
    }

    /// Everything held, as the changes that would write it to an empty store (a bucket's figures as one row).
    struct Contents {
        var buckets: [(key: String, group: String, startMillis: Int64, currency: String, figures: BucketFigures)] = []
        var values: [(key: String, group: String, value: String, lastMillis: Int64)] = []
        var last: [(key: String, group: String, lastMillis: Int64)] = []
    }

    var contents: Contents {
        var contents = Contents()
        for (group, byStart) in self.bucketsByGroup {
            for (start, byCurrency) in byStart {
                for (currency, figures) in byCurrency {
                    contents.buckets.append((group.key, group.group, start, currency, figures))
                }
            }
        }
        for (group, values) in self.valuesByGroup {
            for (value, last) in values { contents.values.append((group.key, group.group, value, last)) }
        }
        for (group, last) in self.lastByGroup { contents.last.append((group.key, group.group, last)) }
        return contents
    }

    static func merge(_ a: BucketFigures?, _ b: BucketFigures) -> BucketFigures {
        guard let a else { return b }
        let sum = a.sumMinor.addingReportingOverflow(b.sumMinor)
        return BucketFigures(
            count: a.count + b.count, sumMinor: sum.overflow ? (b.sumMinor > 0 ? .max : .min) : sum.partialValue,
            maxMinor: max(a.maxMinor, b.maxMinor))
    }
}

/// The figures in the compliance service's tables, read and written in the event's transaction: an event's reads
/// in one statement per table, its writes likewise.
final class SQLAggregateStore: AggregateStore {
    let tenantId: String
    let db: any SQLDatabase
    private var bucketRows: [GroupRef: (from: Int64, through: Int64, rows: [BucketRow])] = [:]
    private var valueRows: [GroupRef: (since: Int64, rows: [ValueRow])] = [:]
    private var lastRows: [GroupRef: Int64?] = [:]

    struct GroupRef: Hashable {
        let key: String
        let group: String
    }

    init(tenantId: String, db: any SQLDatabase) {
        self.tenantId = tenantId
        self.db = db
    }

    struct BucketRow: Decodable {
        let aggregate_key: String
        let group_value: String
        let bucket_start_ms: Int64
        let currency: String
        let count: Int64
        let sum_minor: Int64
        let max_minor: Int64
    }

    struct ValueRow: Decodable {
        let aggregate_key: String
        let group_value: String
        let value: String
        let last_ms: Int64
    }

    struct LastRow: Decodable {
        let aggregate_key: String
        let group_value: String
        let last_ms: Int64
    }

    func prefetch(_ requests: [FigureRequest]) async throws {
        var buckets: [GroupRef: (from: Int64, through: Int64)] = [:]
        var values: [GroupRef: Int64] = [:]
        var last = Set<GroupRef>()
        for request in requests {
            switch request {
            case .buckets(let key, let group, let from, let through):
                let ref = GroupRef(key: key, group: group)
                let known = buckets[ref]
                buckets[ref] = (min(known?.from ?? from, from), max(known?.through ?? through, through))
            case .distinct(let key, let group, let since):
                let ref = GroupRef(key: key, group: group)
                values[ref] = min(values[ref] ?? since, since)
            case .last(let key, let group):
                last.insert(GroupRef(key: key, group: group))
            }
        }
        // One statement a table, each group its own index range joined by UNION ALL (an OR of ranges would scan).
        if !buckets.isEmpty {
            var parts: [any SQLExpression] = []
            for (ref, range) in buckets {
                let part: SQLQueryString = """
                    SELECT aggregate_key, group_value, bucket_start_ms, currency, count, sum_minor, max_minor FROM monitoring_buckets
                    WHERE tenant_id = \(bind: self.tenantId) AND aggregate_key = \(bind: ref.key) AND group_value = \(bind: ref.group)
                      AND bucket_start_ms >= \(bind: range.from) AND bucket_start_ms <= \(bind: range.through)
                    """
                parts.append(part)
            }
            let rows = try await self.db.raw(Self.union(parts)).all().map { row in
                BucketRow(
                    aggregate_key: try row.decode(column: "aggregate_key", as: String.self), group_value: try row.decode(column: "group_value", as: String.self),
                    bucket_start_ms: try row.decode(column: "bucket_start_ms", as: Int64.self), currency: try row.decode(column: "currency", as: String.self),
                    count: try row.decode(column: "count", as: Int64.self), sum_minor: try row.decode(column: "sum_minor", as: Int64.self),
                    max_minor: try row.decode(column: "max_minor", as: Int64.self))
            }
            var byRef: [GroupRef: [BucketRow]] = [:]
            for row in rows { byRef[GroupRef(key: row.aggregate_key, group: row.group_value), default: []].append(row) }
            for (ref, range) in buckets { self.bucketRows[ref] = (range.from, range.through, byRef[ref] ?? []) }
        }
        if !values.isEmpty {
            var parts: [any SQLExpression] = []
            for (ref, since) in values {
                let part: SQLQueryString = """
                    SELECT aggregate_key, group_value, value, last_ms FROM monitoring_values WHERE tenant_id = \(bind: self.tenantId)
                      AND aggregate_key = \(bind: ref.key) AND group_value = \(bind: ref.group) AND last_ms >= \(bind: since)
                    """
                parts.append(part)
            }
            let rows = try await self.db.raw(Self.union(parts)).all(decoding: ValueRow.self)
            var byRef: [GroupRef: [ValueRow]] = [:]
            for row in rows { byRef[GroupRef(key: row.aggregate_key, group: row.group_value), default: []].append(row) }
            for (ref, since) in values { self.valueRows[ref] = (since, byRef[ref] ?? []) }
        }
        if !last.isEmpty {
            var parts: [any SQLExpression] = []
            for ref in last {
                let part: SQLQueryString = """
                    SELECT aggregate_key, group_value, last_ms FROM monitoring_last WHERE tenant_id = \(bind: self.tenantId)
                      AND aggregate_key = \(bind: ref.key) AND group_value = \(bind: ref.group)
                    """
                parts.append(part)
                self.lastRows[ref] = .some(nil)
            }
            let rows = try await self.db.raw(Self.union(parts)).all(decoding: LastRow.self)
            for row in rows { self.lastRows[GroupRef(key: row.aggregate_key, group: row.group_value)] = .some(row.last_ms) }
        }
    }

    /// `parts` joined by UNION ALL, as one statement.
    static func union(_ parts: [any SQLExpression]) -> SQLQueryString {
        var query = SQLQueryString("")
        query.appendInterpolation(SQLList(parts, separator: SQLRaw(" UNION ALL ")))
        return query
    }

    func buckets(key: String, group: String, fromMillis: Int64, throughMillis: Int64) async throws -> [String: BucketFigures] {
        let ref = GroupRef(key: key, group: group)
        let covered = self.bucketRows[ref].map { $0.from <= fromMillis && $0.through >= throughMillis } ?? false
        if !covered {
            try await self.prefetch([.buckets(key: key, group: group, fromMillis: fromMillis, throughMillis: throughMillis)])
        }
        var result: [String: BucketFigures] = [:]
        for row in self.bucketRows[ref]?.rows ?? [] where row.bucket_start_ms >= fromMillis && row.bucket_start_ms <= throughMillis {
            result[row.currency] = MemoryAggregateStore.merge(
                result[row.currency], BucketFigures(count: row.count, sumMinor: row.sum_minor, maxMinor: row.max_minor))
        }
        return result
    }

    func distinct(key: String, group: String, sinceMillis: Int64, value: String?) async throws -> (count: Int, contains: Bool) {
        let ref = GroupRef(key: key, group: group)
        let covered = self.valueRows[ref].map { $0.since <= sinceMillis } ?? false
        if !covered {
            try await self.prefetch([.distinct(key: key, group: group, sinceMillis: sinceMillis)])
        }
        let rows = (self.valueRows[ref]?.rows ?? []).filter { $0.last_ms >= sinceMillis }
        var contains = false
        if let value { contains = rows.contains { $0.value == value } }
        return (rows.count, contains)
    }

    func last(key: String, group: String) async throws -> Int64? {
        let ref = GroupRef(key: key, group: group)
        if self.lastRows[ref] == nil { try await self.prefetch([.last(key: key, group: group)]) }
        return self.lastRows[ref] ?? nil
    }

    /// Writes figures rebuilt in memory into empty rows, in bulk.
    func insert(_ contents: MemoryAggregateStore.Contents) async throws {
        try await self.write(
            buckets: contents.buckets.map { ($0.key, $0.group, $0.startMillis, $0.currency, $0.figures) },
            values: contents.values.map { ($0.key, $0.group, $0.value, $0.lastMillis) },
            last: contents.last.map { ($0.key, $0.group, $0.lastMillis) })
    }

    /// Adds an event's changes: one statement per table, each adding to the row it meets.
    func apply(_ updates: [AggregateUpdate]) async throws {
        var buckets: [(String, String, Int64, String, BucketFigures)] = []
        var values: [(String, String, String, Int64)] = []
        var last: [(String, String, Int64)] = []
        for update in updates {
            switch update {
            case .bucket(let key, let group, let currency, let start, let amount):
                buckets.append((key, group, start, currency, BucketFigures(count: 1, sumMinor: amount, maxMinor: amount)))
            case .value(let key, let group, let value, let at): values.append((key, group, value, at))
            case .last(let key, let group, let at): last.append((key, group, at))
            }
        }
        self.bucketRows.removeAll()
        self.valueRows.removeAll()
        self.lastRows.removeAll()
        try await self.write(buckets: buckets, values: values, last: last)
    }

    static let bucketColumns = ["tenant_id", "aggregate_key", "group_value", "bucket_start_ms", "currency", "count", "sum_minor", "max_minor"]
    static let bucketConflict = """
         ON CONFLICT (tenant_id, aggregate_key, group_value, bucket_start_ms, currency) DO UPDATE SET
            count = monitoring_buckets.count + excluded.count, sum_minor = monitoring_buckets.sum_minor + excluded.sum_minor,
            max_minor = CASE WHEN excluded.max_minor > monitoring_buckets.max_minor THEN excluded.max_minor ELSE monitoring_buckets.max_minor END
        """
    static let valueConflict = """
         ON CONFLICT (tenant_id, aggregate_key, group_value, value) DO UPDATE SET
            last_ms = CASE WHEN excluded.last_ms > monitoring_values.last_ms THEN excluded.last_ms ELSE monitoring_values.last_ms END
        """
    static let lastConflict = """
         ON CONFLICT (tenant_id, aggregate_key, group_value) DO UPDATE SET
            last_ms = CASE WHEN excluded.last_ms > monitoring_last.last_ms THEN excluded.last_ms ELSE monitoring_last.last_ms END
        """

    private func write(
        buckets: [(String, String, Int64, String, BucketFigures)], values: [(String, String, String, Int64)], last: [(String, String, Int64)]
    ) async throws {
        let tenant = SQLCell(self.tenantId)
        var bucketCells: [[SQLCell]] = []
        for row in buckets {
            bucketCells.append([
                tenant, SQLCell(row.0), SQLCell(row.1), SQLCell(row.2), SQLCell(row.3), SQLCell(row.4.count), SQLCell(row.4.sumMinor),
                SQLCell(row.4.maxMinor),
            ])
        }
        var valueCells: [[SQLCell]] = []
        for row in values { valueCells.append([tenant, SQLCell(row.0), SQLCell(row.1), SQLCell(row.2), SQLCell(row.3)]) }
        var lastCells: [[SQLCell]] = []
        for row in last { lastCells.append([tenant, SQLCell(row.0), SQLCell(row.1), SQLCell(row.2)]) }
        try await self.db.insertRows(into: "monitoring_buckets", columns: Self.bucketColumns, rows: bucketCells, suffix: Self.bucketConflict)
        try await self.db.insertRows(
            into: "monitoring_values", columns: ["tenant_id", "aggregate_key", "group_value", "value", "last_ms"], rows: valueCells,
            suffix: Self.valueConflict)
        try await self.db.insertRows(
            into: "monitoring_last", columns: ["tenant_id", "aggregate_key", "group_value", "last_ms"], rows: lastCells, suffix: Self.lastConflict)
    }
}
