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

/// Where a tenant's windowed figures live: its tables in the live service, memory in a backtest. Every read is bounded
/// by the window (at most `Aggregate.bucketsMax` buckets, or the group's distinct values), never by the history.
protocol AggregateStore {
    /// The buckets of a group from `fromMillis` through `throughMillis` (bucket starts), per currency.
    func buckets(key: String, group: String, fromMillis: Int64, throughMillis: Int64) async throws -> [String: BucketFigures]
    /// How many distinct values the group saw since `sinceMillis`, and whether `value` is among them.
    func distinct(key: String, group: String, sinceMillis: Int64, value: String?) async throws -> (count: Int, contains: Bool)
    /// When the group last had an event.
    func last(key: String, group: String) async throws -> Int64?
    func apply(_ updates: [AggregateUpdate]) async throws
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

/// The figures in the compliance service's tables, read and written in the event's transaction.
struct SQLAggregateStore: AggregateStore {
    let tenantId: String
    let db: any SQLDatabase

    struct BucketRow: Decodable {
        let currency: String
        let count: Int64
        let sum_minor: Int64
        let max_minor: Int64
    }

    func buckets(key: String, group: String, fromMillis: Int64, throughMillis: Int64) async throws -> [String: BucketFigures] {
        let rows = try await self.db.raw("""
            SELECT currency, count, sum_minor, max_minor FROM monitoring_buckets
            WHERE tenant_id = \(bind: self.tenantId) AND aggregate_key = \(bind: key) AND group_value = \(bind: group)
              AND bucket_start_ms >= \(bind: fromMillis) AND bucket_start_ms <= \(bind: throughMillis)
            """).all(decoding: BucketRow.self)
        var result: [String: BucketFigures] = [:]
        for row in rows {
            result[row.currency] = MemoryAggregateStore.merge(
                result[row.currency], BucketFigures(count: row.count, sumMinor: row.sum_minor, maxMinor: row.max_minor))
        }
        return result
    }

    struct CountRow: Decodable {
        let count: Int
        let present: Int
    }

    func distinct(key: String, group: String, sinceMillis: Int64, value: String?) async throws -> (count: Int, contains: Bool) {
        let row = try await self.db.raw("""
            SELECT count(*) AS count, coalesce(sum(CASE WHEN value = \(bind: value ?? "") THEN 1 ELSE 0 END), 0) AS present
            FROM monitoring_values
            WHERE tenant_id = \(bind: self.tenantId) AND aggregate_key = \(bind: key) AND group_value = \(bind: group)
              AND last_ms >= \(bind: sinceMillis)
            """).first(decoding: CountRow.self)
        return (row?.count ?? 0, value != nil && (row?.present ?? 0) > 0)
    }

    struct LastRow: Decodable {
        let last_ms: Int64
    }

    func last(key: String, group: String) async throws -> Int64? {
        try await self.db.raw("""
            SELECT last_ms FROM monitoring_last
            WHERE tenant_id = \(bind: self.tenantId) AND aggregate_key = \(bind: key) AND group_value = \(bind: group)
            """).first(decoding: LastRow.self)?.last_ms
    }

    /// Writes figures rebuilt in memory into empty rows, in bulk.
    func insert(_ contents: MemoryAggregateStore.Contents) async throws {
        let tenant = SQLCell(self.tenantId)
        try await self.db.insertRows(
            into: "monitoring_buckets",
            columns: ["tenant_id", "aggregate_key", "group_value", "bucket_start_ms", "currency", "count", "sum_minor", "max_minor"],
            rows: contents.buckets.map {
                [tenant, .init($0.key), .init($0.group), .init($0.startMillis), .init($0.currency), .init($0.figures.count),
                 .init($0.figures.sumMinor), .init($0.figures.maxMinor)]
            })
        try await self.db.insertRows(
            into: "monitoring_values", columns: ["tenant_id", "aggregate_key", "group_value", "value", "last_ms"],
            rows: contents.values.map { [tenant, .init($0.key), .init($0.group), .init($0.value), .init($0.lastMillis)] })
        try await self.db.insertRows(
            into: "monitoring_last", columns: ["tenant_id", "aggregate_key", "group_value", "last_ms"],
            rows: contents.last.map { [tenant, .init($0.key), .init($0.group), .init($0.lastMillis)] })
    }

    func apply(_ updates: [AggregateUpdate]) async throws {
        for update in updates {
            switch update {
            case .bucket(let key, let group, let currency, let start, let amount):
                try await self.db.raw("""
                    INSERT INTO monitoring_buckets (tenant_id, aggregate_key, group_value, bucket_start_ms, currency, count, sum_minor, max_minor)
                    VALUES (\(bind: self.tenantId), \(bind: key), \(bind: group), \(bind: start), \(bind: currency), 1, \(bind: amount), \(bind: amount))
                    ON CONFLICT (tenant_id, aggregate_key, group_value, bucket_start_ms, currency) DO UPDATE SET
                        count = monitoring_buckets.count + 1, sum_minor = monitoring_buckets.sum_minor + excluded.sum_minor,
                        max_minor = CASE WHEN excluded.max_minor > monitoring_buckets.max_minor THEN excluded.max_minor ELSE monitoring_buckets.max_minor END
                    """).run()
            case .value(let key, let group, let value, let at):
                try await self.db.raw("""
                    INSERT INTO monitoring_values (tenant_id, aggregate_key, group_value, value, last_ms)
                    VALUES (\(bind: self.tenantId), \(bind: key), \(bind: group), \(bind: value), \(bind: at))
                    ON CONFLICT (tenant_id, aggregate_key, group_value, value) DO UPDATE SET
                        last_ms = CASE WHEN excluded.last_ms > monitoring_values.last_ms THEN excluded.last_ms ELSE monitoring_values.last_ms END
                    """).run()
            case .last(let key, let group, let at):
                try await self.db.raw("""
                    INSERT INTO monitoring_last (tenant_id, aggregate_key, group_value, last_ms)
                    VALUES (\(bind: self.tenantId), \(bind: key), \(bind: group), \(bind: at))
                    ON CONFLICT (tenant_id, aggregate_key, group_value) DO UPDATE SET
                        last_ms = CASE WHEN excluded.last_ms > monitoring_last.last_ms THEN excluded.last_ms ELSE monitoring_last.last_ms END
                    """).run()
            }
        }
    }
}
