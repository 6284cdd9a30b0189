import FinFlowCore
import Foundation

/// A scenario version ready to evaluate.
struct EvaluatedVersion: Sendable {
    let scenarioId: String
    let scenarioName: String
    let versionId: String
    let version: Int
    let definition: VersionDefinition
    /// What the trigger reads, what the rules read, and each rule's own aggregates, each once: worked out here, not per
    /// event.
    let triggerAggregates: [Aggregate]
    let ruleAggregates: [Aggregate]
    let aggregatesPerRule: [[Aggregate]]

    init(scenarioId: String, scenarioName: String, versionId: String, version: Int, definition: VersionDefinition) {
        self.scenarioId = scenarioId
        self.scenarioName = scenarioName
        self.versionId = versionId
        self.version = version
        self.definition = definition
        self.triggerAggregates = Self.distinct(definition.trigger?.aggregates ?? [])
        self.ruleAggregates = Self.distinct(definition.rules.flatMap(\.condition.aggregates))
        self.aggregatesPerRule = definition.rules.map { Self.distinct($0.condition.aggregates) }
    }

    static func distinct(_ aggregates: [Aggregate]) -> [Aggregate] {
        var seen = Set<Aggregate>()
        return aggregates.filter { seen.insert($0).inserted }
    }
}

/// An aggregate's value as a rule read it, for the decision's explanation.
struct AggregateReading: Codable, Sendable, Equatable {
    let aggregate: String
    let value: Decimal?
}

/// One rule's result in a decision: `hit`, `no_hit` or `error`.
struct RuleResult: Codable, Sendable, Equatable {
    /// `results` as JSON text, written directly: every decision stores its rules' results, so this runs once per event
    /// and scenario (what `JSONDecoder` reads back as `[RuleResult]`).
    static func json(_ results: [RuleResult]) -> String {
        // Appended piece by piece into one buffer: joining with `+` made a new string at every step.
        var text = "["
        text.reserveCapacity(256 * results.count)
        for (index, result) in results.enumerated() {
            if index > 0 { text.append(",") }
            text.append("{\"rule\":")
            JSONText.appendQuoted(result.rule, to: &text)
            text.append(",\"result\":")
            JSONText.appendQuoted(result.result, to: &text)
            text.append(",\"score\":")
            text.append(String(result.score))
            text.append(",\"values\":[")
            for (position, reading) in result.values.enumerated() {
                if position > 0 { text.append(",") }
                text.append("{\"aggregate\":")
                JSONText.appendQuoted(reading.aggregate, to: &text)
                if let value = reading.value {
                    text.append(",\"value\":")
                    text.append(JSONText.number(value))
                }
                text.append("}")
            }
            text.append("]")
            if let error = result.error {
                text.append(",\"error\":")
                JSONText.appendQuoted(error, to: &text)
            }
            text.append("}")
        }
        text.append("]")
        return text
    }

    let rule: String
    let result: String
    /// The score the rule added (zero unless it hit).
    let score: Int
    let values: [AggregateReading]
    let error: String?
}

/// What a scenario version decided about one event.
struct Decision: Sendable, Equatable {
    let scenarioId: String
    let versionId: String
    let eventId: String
    let score: Int
    let outcome: String
    let rules: [RuleResult]
}

/// JSON text written by hand where encoding runs per event.
enum JSONText {
    /// Significands below this are placed digit by digit.
    private static let placedBelow = Decimal(string: "1000000000000000000")!

    /// `value` as a JSON number: its significand's digits with the point placed by hand when they fit in 64 bits (most
    /// do; the `Decimal`'s own text costs several times as much), else the `Decimal`'s own text.
    static func number(_ value: Decimal) -> String {
        let exponent = value.exponent
        let significand = value.significand.magnitude
        guard value.isFinite, exponent >= -40, exponent <= 20, significand < Self.placedBelow else { return value.description }
        var digits = String(NSDecimalNumber(decimal: significand).uint64Value)
        if digits == "0" { return "0" }
        if exponent > 0 {
            digits += String(repeating: "0", count: exponent)
        } else if exponent < 0 {
            let places = -exponent
            if digits.count <= places { digits = String(repeating: "0", count: places - digits.count + 1) + digits }
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -places))
            while digits.hasSuffix("0") { digits.removeLast() }
            if digits.hasSuffix(".") { digits.removeLast() }
        }
        return value.sign == .minus ? "-" + digits : digits
    }

    /// Appends `value` as a JSON string literal to `text`.
    static func appendQuoted(_ value: String, to text: inout String) {
        if !value.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            text.append("\"")
            text.append(value)
            text.append("\"")
        } else {
            text.append(Self.quoted(value))
        }
    }

    /// `value` as a JSON string literal.
    static func quoted(_ value: String) -> String {
        // Most text needs no escape: then it is copied whole.
        if !value.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) { return "\"" + value + "\"" }
        var text = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    text.unicodeScalars.append(scalar)
                }
            }
        }
        return text + "\""
    }
}

/// A rule that could not be evaluated (an amount too large to add up, say): its result is `error`.
struct RuleFailure: Error {
    let message: String
}

/// Evaluates monitoring scenarios on events. The same code runs live (figures in the service's tables) and in a
/// backtest (figures in memory, rebuilt from stored events), so both decide alike on the same events.
enum MonitoringEngine {
    enum Reading: Hashable {
        case value(Decimal?)
        case failed(String)
    }

    /// Evaluates `event` against each version whose trigger holds, then adds the event to the figures of `maintained`
    /// (every aggregate the tenant's live versions read). Aggregates are read before the event is added: a rule sees the
    /// past, plus the event itself where its aggregate includes the current event.
    static func run(
        _ event: MonitoredEvent, versions: [EvaluatedVersion], maintained: [Aggregate], store: some AggregateStore
    ) async throws -> [Decision] {
        var readings: [Aggregate: Reading] = [:]
        func ensure(_ aggregates: [Aggregate]) async throws {
            for aggregate in aggregates where readings[aggregate] == nil {
                readings[aggregate] = try await self.read(aggregate, event: event, store: store)
            }
        }
        var decisions: [Decision] = []
        for version in versions {
            if let trigger = version.definition.trigger {
                try await ensure(version.triggerAggregates)
                guard (try? self.truth(trigger, event: event, readings: readings)) == true else { continue }
            }
            try await ensure(version.ruleAggregates)
            decisions.append(self.decide(event, version: version, readings: readings))
        }
        try await store.apply(self.updates(event, maintained: maintained))
        return decisions
    }

    /// The decision of `version` on `event` from the aggregates read.
    static func decide(_ event: MonitoredEvent, version: EvaluatedVersion, readings: [Aggregate: Reading]) -> Decision {
        var score = 0
        var results: [RuleResult] = []
        for (rule, aggregates) in zip(version.definition.rules, version.aggregatesPerRule) {
            let values = aggregates.map { aggregate in
                if case .value(let value)? = readings[aggregate] { return AggregateReading(aggregate: aggregate.summary, value: value) }
                return AggregateReading(aggregate: aggregate.summary, value: nil)
            }
            do {
                let hit = try self.truth(rule.condition, event: event, readings: readings) == true
                if hit { score += rule.score }
                results.append(RuleResult(rule: rule.name, result: hit ? "hit" : "no_hit", score: hit ? rule.score : 0, values: values, error: nil))
            } catch let failure as RuleFailure {
                results.append(RuleResult(rule: rule.name, result: "error", score: 0, values: values, error: failure.message))
            } catch {
                results.append(RuleResult(rule: rule.name, result: "error", score: 0, values: values, error: "\(error)"))
            }
        }
        return Decision(
            scenarioId: version.scenarioId, versionId: version.versionId, eventId: event.id, score: score,
            outcome: version.definition.thresholds.outcome(score), rules: results)
    }

    /// The read `read` will make for `aggregate`, if any: what a store loads ahead.
    static func request(_ aggregate: Aggregate, event: MonitoredEvent) -> FigureRequest? {
        guard let group = event.group(aggregate.key) else { return nil }
        let windowMillis = aggregate.windowSeconds * 1_000
        switch aggregate.storage {
        case .buckets:
            let granule = aggregate.granuleSeconds * 1_000
            return .buckets(key: aggregate.storageKey, group: group, fromMillis: Self.floor(event.atMillis - windowMillis, granule))
        case .values: return .distinct(key: aggregate.storageKey, group: group, sinceMillis: event.atMillis - windowMillis)
        case .last: return .last(key: aggregate.storageKey, group: group)
        }
    }

    /// The aggregate's value for `event`'s group; nil (unknown) when the event lacks a field of its key.
    static func read(_ aggregate: Aggregate, event: MonitoredEvent, store: some AggregateStore) async throws -> Reading {
        guard let group = event.group(aggregate.key) else { return .value(nil) }
        let counts = aggregate.includeCurrent && event.type == aggregate.event && event.group(aggregate.groupBy) == group
            && (aggregate.filter.map { (try? self.truth($0, event: event, readings: [:])) == true } ?? true)
        let windowMillis = aggregate.windowSeconds * 1_000
        let key = aggregate.storageKey
        switch aggregate.storage {
        case .buckets:
            let granule = aggregate.granuleSeconds * 1_000
            var figures = try await store.buckets(
                key: key, group: group, fromMillis: Self.floor(event.atMillis - windowMillis, granule), throughMillis: Self.floor(event.atMillis, granule))
            if counts {
                let amount = event.amountMinor ?? 0
                figures[event.currency ?? ""] = MemoryAggregateStore.merge(
                    figures[event.currency ?? ""], BucketFigures(count: 1, sumMinor: amount, maxMinor: amount))
            }
            if aggregate.function == .count { return .value(Decimal(figures.values.reduce(0) { $0 + $1.count })) }
            guard let currency = event.currency else { return .value(nil) }
            guard let found = figures[currency], found.count > 0 else { return .value(aggregate.function == .sum ? 0 : nil) }
            if found.sumMinor == .max || found.sumMinor == .min { return .failed("the sum exceeds what 64 bits of minor units hold") }
            switch aggregate.function {
            case .sum: return .value(MonitoredEvent.major(found.sumMinor, currency: currency))
            case .average: return .value(Self.quotient(found.sumMinor, found.count, currency: currency))
            default: return .value(MonitoredEvent.major(found.maxMinor, currency: currency))
            }
        case .values:
            let value: String? = if case .text(let text)? = aggregate.field.flatMap(event.value) { text } else { nil }
            let found = try await store.distinct(key: key, group: group, sinceMillis: event.atMillis - windowMillis, value: value)
            return .value(Decimal(found.count + (counts && value != nil && !found.contains ? 1 : 0)))
        case .last:
            guard let last = try await store.last(key: key, group: group), event.atMillis - last <= windowMillis else { return .value(nil) }
            return .value(Self.quotient(Swift.max(0, event.atMillis - last), 86_400_000, currency: nil))
        }
    }

    /// The places kept below a unit in a quotient (an average, days between events).
    static let quotientPlaces = 6

    /// `dividend` / `divisor` in major units of `currency` (nil: whole units), truncated to `quotientPlaces` decimals
    /// below the smallest unit: worked out in integers where they hold it (a `Decimal` division keeps 38 digits that no
    /// rule needs and costs as much as the rest of the rule).
    static func quotient(_ dividend: Int64, _ divisor: Int64, currency: String?) -> Decimal {
        let (scaled, overflow) = dividend.multipliedReportingOverflow(by: 1_000_000)
        guard !overflow, divisor > 0 else { return MonitoredEvent.major(dividend, currency: currency) / Decimal(divisor) }
        let whole = MonitoredEvent.major(scaled / divisor, currency: currency)
        return Decimal(sign: whole.sign, exponent: whole.exponent - Self.quotientPlaces, significand: whole.significand)
    }

    /// The changes `event` makes to the figures of `maintained`, each stored figure once.
    static func updates(_ event: MonitoredEvent, maintained: [Aggregate]) -> [AggregateUpdate] {
        var seen = Set<AggregateUpdate>()
        var updates: [AggregateUpdate] = []
        for aggregate in maintained where aggregate.event == event.type {
            guard let group = event.group(aggregate.groupBy),
                  aggregate.filter.map({ (try? self.truth($0, event: event, readings: [:])) == true }) ?? true
            else { continue }
            let update: AggregateUpdate
            switch aggregate.storage {
            case .buckets:
                update = .bucket(
                    key: aggregate.storageKey, group: group, currency: event.currency ?? "",
                    startMillis: Self.floor(event.atMillis, aggregate.granuleSeconds * 1_000), amountMinor: event.amountMinor ?? 0)
            case .values:
                guard case .text(let value)? = aggregate.field.flatMap(event.value) else { continue }
                update = .value(key: aggregate.storageKey, group: group, value: value, atMillis: event.atMillis)
            case .last:
                update = .last(key: aggregate.storageKey, group: group, atMillis: event.atMillis)
            }
            if seen.insert(update).inserted { updates.append(update) }
        }
        return updates
    }

    /// `value` rounded down to a multiple of `step`, for negative values too.
    static func floor(_ value: Int64, _ step: Int64) -> Int64 {
        let remainder = value % step
        return remainder < 0 ? value - remainder - step : value - remainder
    }

    /// Whether `condition` holds: true, false or nil (unknown, a value was missing).
    static func truth(_ condition: Condition, event: MonitoredEvent, readings: [Aggregate: Reading]) throws -> Bool? {
        switch condition {
        case .all(let parts):
            var unknown = false
            for part in parts {
                switch try self.truth(part, event: event, readings: readings) {
                case false?: return false
                case nil: unknown = true
                case true?: break
                }
            }
            return unknown ? nil : true
        case .any(let parts):
            var unknown = false
            for part in parts {
                switch try self.truth(part, event: event, readings: readings) {
                case true?: return true
                case nil: unknown = true
                case false?: break
                }
            }
            return unknown ? nil : false
        case .not(let inner):
            return try self.truth(inner, event: event, readings: readings).map(!)
        case .compare(let leftOperand, let op, let rightOperand):
            guard let left = try self.value(leftOperand, event: event, readings: readings),
                  let right = try self.value(rightOperand, event: event, readings: readings)
            else { return nil }
            return self.compare(left, op, right)
        }
    }

    static func compare(_ left: RuleValue, _ op: Comparison, _ right: RuleValue) -> Bool? {
        switch (left, op, right) {
        case (.scalar(let value), .in, .list(let values)): return values.contains(value)
        case (.scalar(let value), .notIn, .list(let values)): return !values.contains(value)
        case (.scalar(let a), .equal, .scalar(let b)): return a == b
        case (.scalar(let a), .notEqual, .scalar(let b)): return a != b
        case (.scalar(.number(let a)), _, .scalar(.number(let b))):
            switch op {
            case .less: return a < b
            case .lessOrEqual: return a <= b
            case .greater: return a > b
            case .greaterOrEqual: return a >= b
            case .multipleOf:
                guard b > 0 else { return nil }
                let quotient = a / b
                return quotient == quotient.rounded
            default: return nil
            }
        default: return nil
        }
    }

    static func value(_ operand: Operand, event: MonitoredEvent, readings: [Aggregate: Reading]) throws -> RuleValue? {
        switch operand {
        case .field(let field): return event.value(field).map(RuleValue.scalar)
        case .constant(let value): return value
        case .aggregate(let aggregate):
            switch readings[aggregate] {
            case .value(let value)?: return value.map { .scalar(.number($0)) }
            case .failed(let message)?: throw RuleFailure(message: message)
            case nil: throw RuleFailure(message: "the aggregate \(aggregate.summary) was not read")
            }
        case .scaled(let inner, let factor):
            guard case .scalar(.number(let number))? = try self.value(inner, event: event, readings: readings) else { return nil }
            return .scalar(.number(number * factor))
        }
    }

    /// Replays `events` (in time order) through `version` with figures in memory: events before `evaluateFromMillis` only
    /// build the figures, the rest are evaluated too. Answers the decisions by event id.
    static func replay(
        _ events: [MonitoredEvent], evaluateFromMillis: Int64, version: EvaluatedVersion
    ) async throws -> [String: Decision] {
        let store = MemoryAggregateStore()
        let maintained = version.definition.aggregates
        var decisions: [String: Decision] = [:]
        for event in events {
            if event.atMillis < evaluateFromMillis {
                try await store.apply(self.updates(event, maintained: maintained))
                continue
            }
            for decision in try await self.run(event, versions: [version], maintained: maintained, store: store) {
                decisions[event.id] = decision
            }
        }
        return decisions
    }
}
