import FinFlowCore
import Foundation
import SQLKit
import Synchronization

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

/// A read the engine will make, announced so that the live store can load a delivery's reads at once.
enum FigureRequest: Sendable, Hashable {
    case buckets(key: String, group: String, fromMillis: Int64)
    case distinct(key: String, group: String, sinceMillis: Int64)
    case last(key: String, group: String)
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
        var count = 0
        for (_, last) in values where last >= sinceMillis { count += 1 }
        return (count, value.map { (values[$0] ?? .min) >= sinceMillis } ?? false)
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

    /// What is held of one group.
    func bucketRows(_ group: GroupKey) -> [(startMillis: Int64, currency: String, figures: BucketFigures)] {
        var rows: [(startMillis: Int64, currency: String, figures: BucketFigures)] = []
        for (start, byCurrency) in self.bucketsByGroup[group] ?? [:] {
            for (currency, figures) in byCurrency { rows.append((start, currency, figures)) }
        }
        return rows
    }

    func valueRows(_ group: GroupKey) -> [(value: String, lastMillis: Int64)] {
        (self.valuesByGroup[group] ?? [:]).map { ($0.key, $0.value) }
    }

    func lastMillis(_ group: GroupKey) -> Int64? {
        self.lastByGroup[group]
    }

    /// Puts the stored figures of one group in place of what was held for it.
    func replaceBuckets(_ group: GroupKey, with rows: [(startMillis: Int64, currency: String, figures: BucketFigures)]) {
        var byStart: [Int64: [String: BucketFigures]] = [:]
        for row in rows { byStart[row.startMillis, default: [:]][row.currency] = row.figures }
        self.bucketsByGroup[group] = byStart
    }

    func replaceValues(_ group: GroupKey, with rows: [(value: String, lastMillis: Int64)]) {
        self.valuesByGroup[group] = Dictionary(rows, uniquingKeysWith: { max($0, $1) })
    }

    func replaceLast(_ group: GroupKey, with lastMillis: Int64?) {
        self.lastByGroup[group] = lastMillis
    }

    /// Forgets a group's buckets starting before `startMillis` and values last seen before `sinceMillis`.
    func prune(_ group: GroupKey, bucketsBefore startMillis: Int64?, valuesBefore sinceMillis: Int64?) {
        if let startMillis, let byStart = self.bucketsByGroup[group] {
            self.bucketsByGroup[group] = byStart.filter { $0.key >= startMillis }
        }
        if let sinceMillis, let values = self.valuesByGroup[group] {
            self.valuesByGroup[group] = values.filter { $0.value >= sinceMillis }
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

/// A tenant's figures as the live service evaluates with them. The groups a delivery's events read are loaded from the
/// service's tables before the first is evaluated (one statement per table); every event then reads and changes them in
/// memory, so the next event sees it, and the changes are written back together, added to the stored rows. The window
/// outlives its delivery in a `FigureCache` while the tenant's figures stamp shows that nothing else (another process,
/// a delivery rolled back, a publication's rebuild) changed the tables since it last wrote. Used by one delivery at a
/// time: the cache hands it out and takes it back.
final class FigureWindow: AggregateStore, @unchecked Sendable {
    typealias GroupKey = MemoryAggregateStore.GroupKey
    let tenantId: String
    /// The tenant's generation of live versions the figures belong to.
    let generation: Int64
    /// The stamp written with this window's last changes: the tables hold what the window holds while it is current.
    var stamp: String?
    let memory = MemoryAggregateStore()
    private var pending = MemoryAggregateStore()
    private var pendingCount = 0
    /// Per group, what memory holds of the tables: every bucket from this start on, every value seen since this time,
    /// the last time.
    var bucketsFrom: [GroupKey: Int64] = [:]
    var valuesSince: [GroupKey: Int64] = [:]
    var lastLoaded = Set<GroupKey>()
    /// With figures shared between processes: the groups whose shared copy this window must write (loaded from the
    /// tables, or changed) when its delivery's figures are stamped.
    var unshared = Set<SharedFigures.Field>()
    var sharing = false
    /// Per group, the oldest figures this delivery's reads needed: older ones are dropped when it ends.
    private var bucketsNeeded: [GroupKey: Int64] = [:]
    private var valuesNeeded: [GroupKey: Int64] = [:]
    /// The most group values one statement names.
    static let groupsPerStatement = 500

    init(tenantId: String, generation: Int64) {
        self.tenantId = tenantId
        self.generation = generation
    }

    /// How many groups are held: the cache's measure of a window's size.
    var groups: Int { self.bucketsFrom.count + self.valuesSince.count + self.lastLoaded.count }

    /// Loads whatever `requests` ask that memory does not hold: from the copy other processes share when it carries
    /// the tables' stamp, the rest from `db`, one statement per table.
    /// Answers how many groups it read from the tables.
    @discardableResult
    func load(_ requests: [FigureRequest], db: any SQLDatabase, shared: SharedFigures? = nil) async throws -> Int {
        guard self.pendingCount == 0 else { throw InvariantViolation("figures are loaded before a delivery's changes, never among them") }
        var buckets: [String: (groups: Set<String>, from: Int64)] = [:]
        var values: [String: (groups: Set<String>, since: Int64)] = [:]
        var last: [String: Set<String>] = [:]
        for request in requests {
            switch request {
            case .buckets(let key, let group, let from):
                let ref = GroupKey(key: key, group: group)
                self.bucketsNeeded[ref] = min(self.bucketsNeeded[ref] ?? from, from)
                guard (self.bucketsFrom[ref] ?? .max) > from else { continue }
                var wanted = buckets[key] ?? ([], from)
                wanted.groups.insert(group)
                wanted.from = min(wanted.from, from)
                buckets[key] = wanted
            case .distinct(let key, let group, let since):
                let ref = GroupKey(key: key, group: group)
                self.valuesNeeded[ref] = min(self.valuesNeeded[ref] ?? since, since)
                guard (self.valuesSince[ref] ?? .max) > since else { continue }
                var wanted = values[key] ?? ([], since)
                wanted.groups.insert(group)
                wanted.since = min(wanted.since, since)
                values[key] = wanted
            case .last(let key, let group):
                guard !self.lastLoaded.contains(GroupKey(key: key, group: group)) else { continue }
                last[key, default: []].insert(group)
            }
        }
        if let shared {
            self.sharing = true
            if !(buckets.isEmpty && values.isEmpty && last.isEmpty) { await shared.load(into: self, buckets: &buckets, values: &values, last: &last) }
        }
        if !buckets.isEmpty { try await self.loadBuckets(buckets, db: db) }
        if !values.isEmpty { try await self.loadValues(values, db: db) }
        if !last.isEmpty { try await self.loadLast(last, db: db) }
        return buckets.values.reduce(0) { $0 + $1.groups.count } + values.values.reduce(0) { $0 + $1.groups.count } + last.values.reduce(0) { $0 + $1.count }
    }

    /// One part per aggregate and chunk of groups, joined by UNION ALL: each part an index range.
    private func parts(
        _ wanted: [String: (groups: Set<String>, bound: Int64?)], _ part: (String, [String], Int64?) -> SQLQueryString
    ) -> SQLQueryString {
        var parts: [any SQLExpression] = []
        for (key, entry) in wanted.sorted(by: { $0.key < $1.key }) {
            for chunk in entry.groups.sorted().chunked(Self.groupsPerStatement) { parts.append(part(key, Array(chunk), entry.bound)) }
        }
        var query = SQLQueryString("")
        query.appendInterpolation(SQLList(parts, separator: SQLRaw(" UNION ALL ")))
        return query
    }

    private func loadBuckets(_ wanted: [String: (groups: Set<String>, from: Int64)], db: any SQLDatabase) async throws {
        let tenantId = self.tenantId
        let query = self.parts(wanted.mapValues { ($0.groups, $0.from) }) { key, groups, from in
            "SELECT aggregate_key, group_value, bucket_start_ms, currency, count, sum_minor, max_minor FROM monitoring_buckets WHERE tenant_id = \(bind: tenantId) AND aggregate_key = \(bind: key) AND group_value IN (\(binds: groups)) AND bucket_start_ms >= \(bind: from ?? .min)"
        }
        var found: [GroupKey: [(startMillis: Int64, currency: String, figures: BucketFigures)]] = [:]
        for row in try await db.raw(query).all() {
            let ref = GroupKey(key: try row.decode(column: "aggregate_key", as: String.self), group: try row.decode(column: "group_value", as: String.self))
            let figures = BucketFigures(
                count: try row.decode(column: "count", as: Int64.self), sumMinor: try row.decode(column: "sum_minor", as: Int64.self),
                maxMinor: try row.decode(column: "max_minor", as: Int64.self))
            found[ref, default: []].append(
                (try row.decode(column: "bucket_start_ms", as: Int64.self), try row.decode(column: "currency", as: String.self), figures))
        }
        for (key, entry) in wanted {
            for group in entry.groups {
                let ref = GroupKey(key: key, group: group)
                self.memory.replaceBuckets(ref, with: found[ref] ?? [])
                self.bucketsFrom[ref] = entry.from
                if self.sharing { self.unshared.insert(.buckets(ref)) }
            }
        }
    }

    private func loadValues(_ wanted: [String: (groups: Set<String>, since: Int64)], db: any SQLDatabase) async throws {
        let tenantId = self.tenantId
        let query = self.parts(wanted.mapValues { ($0.groups, $0.since) }) { key, groups, since in
            "SELECT aggregate_key, group_value, value, last_ms FROM monitoring_values WHERE tenant_id = \(bind: tenantId) AND aggregate_key = \(bind: key) AND group_value IN (\(binds: groups)) AND last_ms >= \(bind: since ?? .min)"
        }
        var found: [GroupKey: [(value: String, lastMillis: Int64)]] = [:]
        for row in try await db.raw(query).all() {
            let ref = GroupKey(key: try row.decode(column: "aggregate_key", as: String.self), group: try row.decode(column: "group_value", as: String.self))
            found[ref, default: []].append((try row.decode(column: "value", as: String.self), try row.decode(column: "last_ms", as: Int64.self)))
        }
        for (key, entry) in wanted {
            for group in entry.groups {
                let ref = GroupKey(key: key, group: group)
                self.memory.replaceValues(ref, with: found[ref] ?? [])
                self.valuesSince[ref] = entry.since
                if self.sharing { self.unshared.insert(.values(ref)) }
            }
        }
    }

    private func loadLast(_ wanted: [String: Set<String>], db: any SQLDatabase) async throws {
        let tenantId = self.tenantId
        let query = self.parts(wanted.mapValues { ($0, nil) }) { key, groups, _ in
            "SELECT aggregate_key, group_value, last_ms FROM monitoring_last WHERE tenant_id = \(bind: tenantId) AND aggregate_key = \(bind: key) AND group_value IN (\(binds: groups))"
        }
        var found: [GroupKey: Int64] = [:]
        for row in try await db.raw(query).all() {
            found[GroupKey(key: try row.decode(column: "aggregate_key", as: String.self), group: try row.decode(column: "group_value", as: String.self))] =
                try row.decode(column: "last_ms", as: Int64.self)
        }
        for (key, groups) in wanted {
            for group in groups {
                let ref = GroupKey(key: key, group: group)
                self.memory.replaceLast(ref, with: found[ref])
                self.lastLoaded.insert(ref)
                if self.sharing { self.unshared.insert(.last(ref)) }
            }
        }
    }

    func buckets(key: String, group: String, fromMillis: Int64, throughMillis: Int64) async throws -> [String: BucketFigures] {
        guard (self.bucketsFrom[GroupKey(key: key, group: group)] ?? .max) <= fromMillis else {
            throw InvariantViolation("the figures of \(key) for one group were read before they were loaded")
        }
        return try await self.memory.buckets(key: key, group: group, fromMillis: fromMillis, throughMillis: throughMillis)
    }

    func distinct(key: String, group: String, sinceMillis: Int64, value: String?) async throws -> (count: Int, contains: Bool) {
        guard (self.valuesSince[GroupKey(key: key, group: group)] ?? .max) <= sinceMillis else {
            throw InvariantViolation("the values of \(key) for one group were read before they were loaded")
        }
        return try await self.memory.distinct(key: key, group: group, sinceMillis: sinceMillis, value: value)
    }

    func last(key: String, group: String) async throws -> Int64? {
        guard self.lastLoaded.contains(GroupKey(key: key, group: group)) else {
            throw InvariantViolation("the last time of \(key) for one group was read before it was loaded")
        }
        return try await self.memory.last(key: key, group: group)
    }

    /// Applies an event's changes in memory (a group not loaded yet is changed in the tables only) and keeps them for
    /// `flush`.
    func apply(_ updates: [AggregateUpdate]) async throws {
        let loaded = updates.filter { update in
            switch update {
            case .bucket(let key, let group, _, _, _): self.bucketsFrom[GroupKey(key: key, group: group)] != nil
            case .value(let key, let group, _, _): self.valuesSince[GroupKey(key: key, group: group)] != nil
            case .last(let key, let group, _): self.lastLoaded.contains(GroupKey(key: key, group: group))
            }
        }
        try await self.memory.apply(loaded)
        try await self.pending.apply(updates)
        if self.sharing {
            for update in updates {
                switch update {
                case .bucket(let key, let group, _, _, _): self.unshared.insert(.buckets(GroupKey(key: key, group: group)))
                case .value(let key, let group, _, _): self.unshared.insert(.values(GroupKey(key: key, group: group)))
                case .last(let key, let group, _): self.unshared.insert(.last(GroupKey(key: key, group: group)))
                }
            }
        }
        self.pendingCount += updates.count
    }

    /// Writes the changes kept since the last flush, each added to its stored row; answers whether there were any.
    /// Drops what this delivery's reads showed no longer needed.
    func flush(db: any SQLDatabase) async throws -> Bool {
        for (ref, from) in self.bucketsNeeded where (self.bucketsFrom[ref] ?? .max) < from {
            self.memory.prune(ref, bucketsBefore: from, valuesBefore: nil)
            self.bucketsFrom[ref] = from
        }
        for (ref, since) in self.valuesNeeded where (self.valuesSince[ref] ?? .max) < since {
            self.memory.prune(ref, bucketsBefore: nil, valuesBefore: since)
            self.valuesSince[ref] = since
        }
        self.bucketsNeeded.removeAll(keepingCapacity: true)
        self.valuesNeeded.removeAll(keepingCapacity: true)
        guard self.pendingCount > 0 else { return false }
        try await Self.add(self.pending.contents, tenantId: self.tenantId, db: db)
        self.pending = MemoryAggregateStore()
        self.pendingCount = 0
        return true
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

    /// Adds `contents` to the tenant's stored figures: one statement per table, each row added to the one it meets (a
    /// bucket's counts and sums summed, its maximum and the times kept at the larger).
    static func add(_ contents: MemoryAggregateStore.Contents, tenantId: String, db: any SQLDatabase) async throws {
        let tenant = SQLCell(tenantId)
        var bucketCells: [[SQLCell]] = []
        bucketCells.reserveCapacity(contents.buckets.count)
        for row in contents.buckets {
            bucketCells.append([
                tenant, SQLCell(row.key), SQLCell(row.group), SQLCell(row.startMillis), SQLCell(row.currency), SQLCell(row.figures.count),
                SQLCell(row.figures.sumMinor), SQLCell(row.figures.maxMinor),
            ])
        }
        var valueCells: [[SQLCell]] = []
        for row in contents.values { valueCells.append([tenant, SQLCell(row.key), SQLCell(row.group), SQLCell(row.value), SQLCell(row.lastMillis)]) }
        var lastCells: [[SQLCell]] = []
        for row in contents.last { lastCells.append([tenant, SQLCell(row.key), SQLCell(row.group), SQLCell(row.lastMillis)]) }
        try await db.insertRows(into: "monitoring_buckets", columns: Self.bucketColumns, rows: bucketCells, suffix: Self.bucketConflict)
        try await db.insertRows(
            into: "monitoring_values", columns: ["tenant_id", "aggregate_key", "group_value", "value", "last_ms"], rows: valueCells,
            suffix: Self.valueConflict)
        try await db.insertRows(
            into: "monitoring_last", columns: ["tenant_id", "aggregate_key", "group_value", "last_ms"], rows: lastCells, suffix: Self.lastConflict)
    }
}

/// The figure windows kept between deliveries, a tenant each, within a bound on the groups held.
final class FigureCache: Sendable {
    private let windows = Mutex<[String: FigureWindow]>([:])
    /// The most groups all windows hold together; past it the cache starts again empty.
    let groupsMax: Int
    /// Where deliveries found the groups their windows lacked: in the shared copy or in the tables.
    let counts = SharedFigures.Counts()

    init(groupsMax: Int = 200_000) {
        self.groupsMax = groupsMax
    }

    /// Takes out the tenant's window if the tables still hold what it holds (same generation, same stamp); a window
    /// taken out is the delivery's alone until `keep` puts it back.
    func take(_ tenantId: String, generation: Int64, stamp: String?) -> FigureWindow? {
        self.windows.withLock { windows in
            guard let window = windows.removeValue(forKey: tenantId), window.generation == generation, let held = window.stamp, held == stamp
            else { return nil }
            return window
        }
    }

    func keep(_ window: FigureWindow) {
        guard window.groups <= self.groupsMax else { return }
        self.windows.withLock { windows in
            let held = windows.values.reduce(0) { $0 + $1.groups }
            if held + window.groups > self.groupsMax { windows.removeAll() }
            windows[window.tenantId] = window
        }
    }
}
