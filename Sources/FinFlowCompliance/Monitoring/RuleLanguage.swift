import FinFlowCore
import Foundation

/// A JSON value as a rule's text holds it, numbers exact as decimals.
enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Decimal)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Decimal.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The value parsed from JSON text; nil when the text is not JSON.
    static func parse(_ text: String) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    /// The value as JSON text with sorted keys.
    var text: String { SortedJSON.text(self) }
}

/// The kinds of event monitoring evaluates, as rules name them.
enum MonitoredEventType: String, CaseIterable, Sendable, Codable {
    /// `TransactionCreated`: a business transaction accepted by the transaction service.
    case transaction
    /// `PaymentProcessed`: a payment settled, failed or refunded at its gateway.
    case payment
    /// `TransactionStatusChanged`, with the amounts and accounts of the transaction it concerns.
    case transactionStatus
}

/// A field of a monitored event that a rule can read.
enum EventField: String, CaseIterable, Sendable, Codable {
    /// The event's type: transaction, payment or transactionStatus.
    case event
    /// The amount in major units of the event's currency (`12.50`).
    case amount
    case currency
    /// transfer, payment, receipt, … for transactions.
    case kind
    /// A payment's status (succeeded, failed, refunded) or a transaction's new status.
    case status
    case sourceAccount
    case destinationAccount
    case counterparty
    /// The counterparty's country, ISO 3166-1 alpha-2.
    case counterpartyCountry
    case customer
    case gateway
    case category

    var isNumeric: Bool { self == .amount }
}

/// A constant a rule compares with.
enum Scalar: Sendable, Hashable {
    case number(Decimal)
    case text(String)

    var json: JSONValue {
        switch self {
        case .number(let value): .number(value)
        case .text(let value): .string(value)
        }
    }
}

/// What an operand evaluates to.
enum RuleValue: Sendable, Hashable {
    case scalar(Scalar)
    case list([Scalar])
}

/// A windowed aggregate over the tenant's past events: for the event evaluated, the events of the same group.
struct Aggregate: Sendable, Hashable {
    enum Function: String, CaseIterable, Sendable {
        case count, sum, average, max, distinctCount, idleDays
    }

    /// Where an aggregate's figures are kept.
    enum Storage: String, Sendable {
        /// Time buckets of count, sum and maximum per currency.
        case buckets
        /// The values of a field seen, each with when it was last seen.
        case values
        /// When the group last had an event.
        case last
    }

    let function: Function
    /// The field whose distinct values `distinctCount` counts.
    let field: EventField?
    /// The kind of past event aggregated.
    let event: MonitoredEventType
    /// The fields of past events that form the group.
    let groupBy: [EventField]
    /// The fields of the evaluated event that name its group (the same fields unless told otherwise).
    let key: [EventField]
    /// The window as written (`30m`, `24h`, `90d`) and in seconds.
    let window: String
    let windowSeconds: Int64
    /// Which past events count.
    let filter: Condition?
    /// Whether the evaluated event counts itself when it belongs to the group.
    let includeCurrent: Bool

    var storage: Storage { Self.storage(of: self.function) }

    static func storage(of function: Function) -> Storage {
        switch function {
        case .count, .sum, .average, .max: .buckets
        case .distinctCount: .values
        case .idleDays: .last
        }
    }

    /// The bucket width of the window: the narrowest of minute, ten minutes, hour, six hours, day and week that
    /// divides it into at most 96 buckets, so reading a window costs at most that many rows, whatever the history.
    var granuleSeconds: Int64 { Self.granule(ofWindow: self.windowSeconds) }

    static func granule(ofWindow seconds: Int64) -> Int64 {
        Self.granules.first { (seconds + $0 - 1) / $0 <= Self.bucketsMax } ?? Self.granules[Self.granules.count - 1]
    }

    static let granules: [Int64] = [60, 600, 3_600, 21_600, 86_400, 604_800]
    static let bucketsMax: Int64 = 96

    /// The identity of the stored figures: aggregates that differ only in function, window (within a granule) or
    /// key share them. Computed once, when the aggregate is read.
    let storageKey: String
    /// The aggregate in words, as explanations show it (every decision explains every rule).
    let summary: String
    /// The hash of every field, computed once: an evaluation looks aggregates up many times per event.
    private let fingerprint: Int

    func hash(into hasher: inout Hasher) {
        hasher.combine(self.fingerprint)
    }

    static func == (a: Aggregate, b: Aggregate) -> Bool {
        a.fingerprint == b.fingerprint && a.function == b.function && a.field == b.field && a.event == b.event && a.groupBy == b.groupBy
            && a.key == b.key && a.window == b.window && a.windowSeconds == b.windowSeconds && a.filter == b.filter
            && a.includeCurrent == b.includeCurrent
    }

    init(
        function: Function, field: EventField?, event: MonitoredEventType, groupBy: [EventField], key: [EventField], window: String,
        windowSeconds: Int64, filter: Condition?, includeCurrent: Bool
    ) {
        self.function = function
        self.field = field
        self.event = event
        self.groupBy = groupBy
        self.key = key
        self.window = window
        self.windowSeconds = windowSeconds
        self.filter = filter
        self.includeCurrent = includeCurrent
        let storage = Self.storage(of: function)
        var identity: [String: JSONValue] = [
            "storage": .string(storage.rawValue), "event": .string(event.rawValue),
            "groupBy": .array(groupBy.map { .string($0.rawValue) }), "where": filter?.json ?? .null,
        ]
        if storage == .buckets { identity["granule"] = .number(Decimal(Self.granule(ofWindow: windowSeconds))) }
        if let field { identity["field"] = .string(field.rawValue) }
        self.storageKey = String(Digest.sha256Hex(JSONValue.object(identity).text).prefix(24))
        var hasher = Hasher()
        hasher.combine(function)
        hasher.combine(field)
        hasher.combine(event)
        hasher.combine(groupBy)
        hasher.combine(key)
        hasher.combine(window)
        hasher.combine(windowSeconds)
        hasher.combine(filter)
        hasher.combine(includeCurrent)
        self.fingerprint = hasher.finalize()
        self.summary = Self.summary(
            function: function, field: field, event: event, groupBy: groupBy, key: key, window: window, filtered: filter != nil,
            includeCurrent: includeCurrent)
    }

    /// An aggregate in words.
    static func summary(
        function: Function, field: EventField?, event: MonitoredEventType, groupBy: [EventField], key: [EventField], window: String,
        filtered: Bool, includeCurrent: Bool
    ) -> String {
        let what = switch function {
        case .count: "count of \(event.rawValue) events"
        case .sum: "sum of \(event.rawValue) amounts"
        case .average: "average \(event.rawValue) amount"
        case .max: "largest \(event.rawValue) amount"
        case .distinctCount: "distinct \(field?.rawValue ?? "values") of \(event.rawValue) events"
        case .idleDays: "days since the previous \(event.rawValue) event"
        }
        let keyText = key == groupBy ? "" : " matching this event's \(key.map(\.rawValue).joined(separator: ", "))"
        return "\(what) by \(groupBy.map(\.rawValue).joined(separator: ", "))\(keyText) within \(window)"
            + (filtered ? " (filtered)" : "") + (includeCurrent || function == .idleDays ? "" : ", before this event")
    }

    var json: JSONValue {
        var object: [String: JSONValue] = [
            "function": .string(self.function.rawValue), "event": .string(self.event.rawValue),
            "groupBy": .array(self.groupBy.map { .string($0.rawValue) }), "window": .string(self.window),
            "current": .string(self.includeCurrent ? "include" : "exclude"),
        ]
        if self.key != self.groupBy { object["key"] = .array(self.key.map { .string($0.rawValue) }) }
        if let field = self.field { object["field"] = .string(field.rawValue) }
        if let filter = self.filter { object["where"] = filter.json }
        return .object(object)
    }
}

/// One side of a comparison.
indirect enum Operand: Sendable, Hashable {
    case field(EventField)
    case constant(RuleValue)
    case aggregate(Aggregate)
    /// A numeric operand multiplied by a constant (`5 ×` an account's average).
    case scaled(Operand, Decimal)

    var json: JSONValue {
        switch self {
        case .field(let field): return .object(["field": .string(field.rawValue)])
        case .constant(.scalar(let value)): return .object(["value": value.json])
        case .constant(.list(let values)): return .object(["value": .array(values.map(\.json))])
        case .aggregate(let aggregate): return .object(["aggregate": aggregate.json])
        case .scaled(let operand, let factor):
            guard case .object(var object) = operand.json else { return operand.json }
            object["times"] = .number(factor)
            return .object(object)
        }
    }

    /// Every aggregate the operand reads.
    var aggregates: [Aggregate] {
        switch self {
        case .aggregate(let aggregate): [aggregate]
        case .scaled(let operand, _): operand.aggregates
        case .field, .constant: []
        }
    }
}

enum Comparison: String, CaseIterable, Sendable {
    case equal = "=", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case `in` = "in", notIn = "notIn", multipleOf = "multipleOf"
}

/// A condition over an event and aggregates of the past, with three-valued logic: a comparison with a missing value
/// is unknown, and a rule hits only when its condition is true.
indirect enum Condition: Sendable, Hashable {
    case all([Condition])
    case any([Condition])
    case not(Condition)
    case compare(Operand, Comparison, Operand)

    var json: JSONValue {
        switch self {
        case .all(let conditions): .object(["all": .array(conditions.map(\.json))])
        case .any(let conditions): .object(["any": .array(conditions.map(\.json))])
        case .not(let condition): .object(["not": condition.json])
        case .compare(let left, let op, let right): .object(["left": left.json, "op": .string(op.rawValue), "right": right.json])
        }
    }

    /// Every aggregate the condition reads, in order of appearance.
    var aggregates: [Aggregate] {
        switch self {
        case .all(let conditions), .any(let conditions): conditions.flatMap(\.aggregates)
        case .not(let condition): condition.aggregates
        case .compare(let left, _, let right): left.aggregates + right.aggregates
        }
    }
}

/// A rule: a condition and the score it adds when it holds.
struct Rule: Sendable, Hashable {
    var name: String
    var condition: Condition
    var score: Int
    /// The template the rule was made from, and its parameters.
    var template: String?
    var parameters: JSONValue?

    var json: JSONValue {
        var object: [String: JSONValue] = [
            "name": .string(self.name), "condition": self.condition.json, "score": .number(Decimal(self.score)),
        ]
        if let template = self.template { object["template"] = .string(template) }
        if let parameters = self.parameters { object["parameters"] = parameters }
        return .object(object)
    }
}

/// The three score thresholds of a scenario version, in increasing order.
struct Thresholds: Sendable, Hashable, Codable {
    var review: Int
    var blockAndReview: Int
    var decline: Int

    /// The outcome of a score.
    func outcome(_ score: Int) -> String {
        if score >= self.decline { return "decline" }
        if score >= self.blockAndReview { return "block_and_review" }
        if score >= self.review { return "review" }
        return "approve"
    }

    /// Outcomes in increasing severity.
    static let outcomes = ["approve", "review", "block_and_review", "decline"]
}

/// What a scenario version holds: when it applies, its rules and thresholds.
struct VersionDefinition: Sendable, Hashable {
    var trigger: Condition?
    var rules: [Rule]
    var thresholds: Thresholds

    /// Every aggregate the version reads, each once.
    var aggregates: [Aggregate] {
        var seen = Set<Aggregate>()
        return ((self.trigger?.aggregates ?? []) + self.rules.flatMap(\.condition.aggregates)).filter { seen.insert($0).inserted }
    }

    var rulesJSON: JSONValue { .array(self.rules.map(\.json)) }
}

/// Reads rule text into the language's types, naming each fault by its path (`rules[2].condition.left.aggregate.window`).
struct RuleParser {
    var validator = Validator()
    private var nodes = 0

    static let depthMax = 8
    static let nodesMax = 400
    static let rulesMax = 50
    static let listMax = 300
    static let textMax = 200
    static let scoreRange = -1_000...1_000
    static let windowSecondsMax: Int64 = 366 * 86_400
    static let idleWindowSecondsMax: Int64 = 731 * 86_400

    /// A version's definition from its parts; nil with the faults recorded in `validator`.
    mutating func definition(trigger: JSONValue?, rules: JSONValue, thresholds: Thresholds, path: String = "", stored: Bool = false) -> VersionDefinition? {
        let triggerCondition = trigger.flatMap { $0 == .null ? nil : self.condition($0, path: path + "trigger", depth: 0, aggregates: true) }
        var parsed: [Rule] = []
        if case .array(let items) = rules, (1...Self.rulesMax).contains(items.count) {
            var names = Set<String>()
            for (index, item) in items.enumerated() {
                let rulePath = "\(path)rules[\(index)]"
                guard let rule = self.rule(item, path: rulePath, stored: stored) else { continue }
                if !names.insert(rule.name).inserted { self.validator.fail(rulePath + ".name", "repeats another rule's name") }
                parsed.append(rule)
            }
        } else {
            self.validator.fail(path + "rules", "must be an array of 1–\(Self.rulesMax) rules")
        }
        let thresholdsPath = path + "thresholds"
        for (name, value) in [("review", thresholds.review), ("blockAndReview", thresholds.blockAndReview), ("decline", thresholds.decline)] {
            self.validator.check(Self.scoreRange.contains(value), "\(thresholdsPath).\(name)", "must be between -1000 and 1000")
        }
        self.validator.check(
            thresholds.review <= thresholds.blockAndReview && thresholds.blockAndReview <= thresholds.decline, thresholdsPath,
            "must rise: review ≤ blockAndReview ≤ decline")
        if trigger != nil && trigger != .null && triggerCondition == nil || parsed.count != (rules.arrayCount ?? -1) || !self.validator.errors.isEmpty {
            return nil
        }
        return VersionDefinition(trigger: triggerCondition, rules: parsed, thresholds: thresholds)
    }

    /// A rule written out (`name`, `condition`, `score`) or made from a template (`template`, `parameters`, `score`).
    /// A stored rule has both: the condition its template rendered when the version was written, which is what counts.
    mutating func rule(_ value: JSONValue, path: String, stored: Bool = false) -> Rule? {
        guard case .object(let object) = value else {
            self.validator.fail(path, "must be an object with name, condition and score, or template, parameters and score")
            return nil
        }
        if object["condition"] == nil, let template = object["template"] {
            self.checkKeys(object, allowed: ["template", "parameters", "score", "name"], path: path)
            guard case .string(let id) = template, let found = RuleTemplates.byId[id] else {
                self.validator.fail(path + ".template", "must name a template: \(RuleTemplates.all.map(\.id).joined(separator: ", "))")
                return nil
            }
            let parameters = object["parameters"] ?? .object([:])
            guard let made = found.make(parameters, path: path + ".parameters", parser: &self) else { return nil }
            let score = object["score"].map { self.score($0, path: path + ".score") } ?? found.defaultScore
            let name = object["name"].map { self.text($0, path: path + ".name") } ?? found.id
            guard let score, let name else { return nil }
            return Rule(name: name, condition: made, score: score, template: id, parameters: parameters)
        }
        if !stored && object["template"] != nil {
            self.validator.fail(path, "gives both a template and a condition: give one")
            return nil
        }
        self.checkKeys(object, allowed: stored ? ["name", "condition", "score", "template", "parameters"] : ["name", "condition", "score"], path: path)
        let name = self.text(object["name"], path: path + ".name")
        let condition = object["condition"].flatMap { self.condition($0, path: path + ".condition", depth: 0, aggregates: true) }
        if object["condition"] == nil { self.validator.fail(path + ".condition", "is required") }
        let score = self.score(object["score"], path: path + ".score")
        guard let name, let condition, let score else { return nil }
        var template: String?
        if case .string(let id)? = object["template"] { template = id }
        return Rule(name: name, condition: condition, score: score, template: template, parameters: template == nil ? nil : object["parameters"])
    }

    /// A condition: `{"all": [...]}`, `{"any": [...]}`, `{"not": {...}}` or `{"left": …, "op": …, "right": …}`.
    mutating func condition(_ value: JSONValue, path: String, depth: Int, aggregates: Bool) -> Condition? {
        self.nodes += 1
        guard depth < Self.depthMax, self.nodes <= Self.nodesMax else {
            self.validator.fail(path, "nests too deep or too much (at most \(Self.depthMax) levels and \(Self.nodesMax) parts)")
            return nil
        }
        guard case .object(let object) = value else {
            self.validator.fail(path, "must be an object: all, any, not, or left/op/right")
            return nil
        }
        for combinator in ["all", "any"] {
            guard let items = object[combinator] else { continue }
            self.checkKeys(object, allowed: [combinator], path: path)
            guard case .array(let list) = items, (1...Self.listMax).contains(list.count) else {
                self.validator.fail("\(path).\(combinator)", "must be an array of 1–\(Self.listMax) conditions")
                return nil
            }
            let parts = list.enumerated().compactMap { self.condition($1, path: "\(path).\(combinator)[\($0)]", depth: depth + 1, aggregates: aggregates) }
            guard parts.count == list.count else { return nil }
            return combinator == "all" ? .all(parts) : .any(parts)
        }
        if let inner = object["not"] {
            self.checkKeys(object, allowed: ["not"], path: path)
            return self.condition(inner, path: path + ".not", depth: depth + 1, aggregates: aggregates).map(Condition.not)
        }
        self.checkKeys(object, allowed: ["left", "op", "right"], path: path)
        guard case .string(let opText) = object["op"], let op = Comparison(rawValue: opText) else {
            self.validator.fail(path + ".op", "must be one of \(Comparison.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        let left = self.operand(object["left"], path: path + ".left", depth: depth, aggregates: aggregates)
        let right = self.operand(object["right"], path: path + ".right", depth: depth, aggregates: aggregates)
        guard let left, let right else { return nil }
        let leftType = Self.type(of: left)
        let rightType = Self.type(of: right)
        switch op {
        case .equal, .notEqual:
            guard leftType == rightType, leftType != .list else {
                self.validator.fail(path, "compares \(leftType.rawValue) with \(rightType.rawValue): both sides must be numbers or both text")
                return nil
            }
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            guard leftType == .number, rightType == .number else {
                self.validator.fail(path, "orders \(leftType.rawValue) and \(rightType.rawValue): both sides must be numbers")
                return nil
            }
        case .in, .notIn:
            guard leftType != .list, case .constant(.list(let values)) = right, values.allSatisfy({ Self.type(of: $0) == leftType }) else {
                self.validator.fail(path + ".right", "must be a list of values of the left side's type (\(leftType.rawValue))")
                return nil
            }
        case .multipleOf:
            guard leftType == .number, case .constant(.scalar(.number(let divisor))) = right, divisor > 0 else {
                self.validator.fail(path, "multipleOf needs a number on the left and a positive number on the right")
                return nil
            }
        }
        return .compare(left, op, right)
    }

    enum OperandType: String { case number, text, list }

    static func type(of operand: Operand) -> OperandType {
        switch operand {
        case .field(let field): field.isNumeric ? .number : .text
        case .constant(.scalar(let scalar)): Self.type(of: scalar)
        case .constant(.list): .list
        case .aggregate, .scaled: .number
        }
    }

    static func type(of scalar: Scalar) -> OperandType {
        if case .number = scalar { return .number }
        return .text
    }

    /// An operand: `{"field": …}`, `{"value": …}` or `{"aggregate": {...}}`, numbers optionally with `"times"`.
    mutating func operand(_ value: JSONValue?, path: String, depth: Int, aggregates: Bool) -> Operand? {
        guard case .object(let object) = value else {
            self.validator.fail(path, "must be an object: field, value or aggregate")
            return nil
        }
        self.checkKeys(object, allowed: ["field", "value", "aggregate", "times"], path: path)
        var operand: Operand?
        if case .string(let name)? = object["field"] {
            guard let field = EventField(rawValue: name) else {
                self.validator.fail(path + ".field", "must be one of \(EventField.allCases.map(\.rawValue).joined(separator: ", "))")
                return nil
            }
            operand = .field(field)
        } else if let constant = object["value"] {
            operand = self.constant(constant, path: path + ".value").map(Operand.constant)
        } else if let aggregate = object["aggregate"] {
            guard aggregates else {
                self.validator.fail(path + ".aggregate", "is not allowed here: an aggregate's filter reads the past event only")
                return nil
            }
            operand = self.aggregate(aggregate, path: path + ".aggregate", depth: depth).map(Operand.aggregate)
        } else {
            self.validator.fail(path, "must have field, value or aggregate")
            return nil
        }
        guard let base = operand else { return nil }
        guard let times = object["times"] else { return base }
        guard case .number(let factor) = times, Self.type(of: base) == .number, factor.magnitude <= 1_000_000 else {
            self.validator.fail(path + ".times", "must be a number up to a million in size, on a numeric operand")
            return nil
        }
        return .scaled(base, factor)
    }

    mutating func constant(_ value: JSONValue, path: String) -> RuleValue? {
        switch value {
        case .number, .string: return self.scalar(value, path: path).map(RuleValue.scalar)
        case .array(let items) where (1...Self.listMax).contains(items.count):
            let scalars = items.enumerated().compactMap { self.scalar($1, path: "\(path)[\($0)]") }
            guard scalars.count == items.count else { return nil }
            return .list(scalars)
        default:
            self.validator.fail(path, "must be a number, a text or a list of 1–\(Self.listMax) of them")
            return nil
        }
    }

    mutating func scalar(_ value: JSONValue, path: String) -> Scalar? {
        switch value {
        case .number(let number) where number.magnitude < 1e18: return .number(number)
        case .string(let text) where text.count <= Self.textMax: return .text(text)
        default:
            self.validator.fail(path, "must be a number under 10^18 in size or a text of at most \(Self.textMax) characters")
            return nil
        }
    }

    mutating func aggregate(_ value: JSONValue, path: String, depth: Int) -> Aggregate? {
        guard case .object(let object) = value else {
            self.validator.fail(path, "must be an object with function, groupBy and window")
            return nil
        }
        self.checkKeys(object, allowed: ["function", "field", "event", "groupBy", "key", "window", "where", "current"], path: path)
        guard case .string(let functionName) = object["function"], let function = Aggregate.Function(rawValue: functionName) else {
            self.validator.fail(path + ".function", "must be one of \(Aggregate.Function.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        var event = MonitoredEventType.transaction
        if let given = object["event"] {
            guard case .string(let name) = given, let type = MonitoredEventType(rawValue: name) else {
                self.validator.fail(path + ".event", "must be one of \(MonitoredEventType.allCases.map(\.rawValue).joined(separator: ", "))")
                return nil
            }
            event = type
        }
        let groupBy = self.fields(object["groupBy"], path: path + ".groupBy")
        let key = object["key"].map { self.fields($0, path: path + ".key") } ?? groupBy
        if let groupBy, let key, groupBy.count != key.count {
            self.validator.fail(path + ".key", "must name as many fields as groupBy")
            return nil
        }
        var field: EventField?
        if function == .distinctCount {
            guard case .string(let name)? = object["field"], let found = EventField(rawValue: name), !found.isNumeric else {
                self.validator.fail(path + ".field", "must name the text field whose distinct values are counted")
                return nil
            }
            field = found
        } else if object["field"] != nil {
            self.validator.fail(path + ".field", "is only for distinctCount (sum, average and max read the amount)")
            return nil
        }
        let limit = function == .idleDays ? Self.idleWindowSecondsMax : Self.windowSecondsMax
        guard case .string(let window)? = object["window"], let seconds = Self.windowSeconds(window), (60...limit).contains(seconds) else {
            self.validator.fail(path + ".window", "must be a duration such as 30m, 24h or 90d, from 1m to \(limit / 86_400)d")
            return nil
        }
        var includeCurrent = true
        if let current = object["current"] {
            guard case .string(let text) = current, ["include", "exclude"].contains(text) else {
                self.validator.fail(path + ".current", "must be include or exclude")
                return nil
            }
            includeCurrent = text == "include"
        }
        var filter: Condition?
        if let condition = object["where"] {
            guard let parsed = self.condition(condition, path: path + ".where", depth: depth + 1, aggregates: false) else { return nil }
            filter = parsed
        }
        guard let groupBy, let key else { return nil }
        return Aggregate(
            function: function, field: field, event: event, groupBy: groupBy, key: key, window: window, windowSeconds: seconds,
            filter: filter, includeCurrent: includeCurrent)
    }

    mutating func fields(_ value: JSONValue?, path: String) -> [EventField]? {
        guard case .array(let items)? = value, (1...3).contains(items.count) else {
            self.validator.fail(path, "must be an array of 1–3 fields")
            return nil
        }
        var fields: [EventField] = []
        for (index, item) in items.enumerated() {
            guard case .string(let name) = item, let field = EventField(rawValue: name), field != .amount else {
                self.validator.fail("\(path)[\(index)]", "must be a text field: \(EventField.allCases.filter { !$0.isNumeric }.map(\.rawValue).joined(separator: ", "))")
                return nil
            }
            fields.append(field)
        }
        return fields
    }

    /// `30m`, `24h`, `90d` in seconds.
    static func windowSeconds(_ text: String) -> Int64? {
        guard let unit = text.last, let count = Int64(text.dropLast()), count > 0, count <= 100_000, text.first != "+" else { return nil }
        switch unit {
        case "m": return count * 60
        case "h": return count * 3_600
        case "d": return count * 86_400
        default: return nil
        }
    }

    mutating func text(_ value: JSONValue?, path: String) -> String? {
        guard case .string(let text)? = value, (1...Self.textMax).contains(text.count) else {
            self.validator.fail(path, "must be a text of 1–\(Self.textMax) characters")
            return nil
        }
        return text
    }

    mutating func score(_ value: JSONValue?, path: String) -> Int? {
        guard case .number(let number)? = value, number.magnitude <= 1_000, number == number.rounded else {
            self.validator.fail(path, "must be a whole number between -1000 and 1000")
            return nil
        }
        return Int(truncating: number as NSNumber)
    }

    mutating func checkKeys(_ object: [String: JSONValue], allowed: Set<String>, path: String) {
        for key in object.keys.sorted() where !allowed.contains(key) {
            self.validator.fail(path.isEmpty ? key : "\(path).\(key)", "is not a known key here (expected \(allowed.sorted().joined(separator: ", ")))")
        }
    }
}

extension JSONValue {
    var arrayCount: Int? {
        if case .array(let items) = self { return items.count }
        return nil
    }
}

extension Decimal {
    /// The value rounded toward zero to a whole number.
    var rounded: Decimal {
        var value = self
        var result = Decimal()
        NSDecimalRound(&result, &value, 0, .down)
        return result
    }
}

extension VersionDefinition {
    /// The definition as stored: trigger, rules (each with the condition it evaluates) and thresholds.
    var json: JSONValue {
        .object([
            "trigger": self.trigger?.json ?? .null, "rules": self.rulesJSON,
            "thresholds": .object([
                "review": .number(Decimal(self.thresholds.review)), "blockAndReview": .number(Decimal(self.thresholds.blockAndReview)),
                "decline": .number(Decimal(self.thresholds.decline)),
            ]),
        ])
    }

    /// A definition the service stored; anything unreadable is an impossible row.
    static func stored(_ text: String, what: String) throws -> VersionDefinition {
        guard case .object(let object)? = JSONValue.parse(text), case .object(let limits)? = object["thresholds"],
              case .number(let review)? = limits["review"], case .number(let block)? = limits["blockAndReview"],
              case .number(let decline)? = limits["decline"]
        else { throw InvariantViolation("unreadable definition of \(what)") }
        var parser = RuleParser()
        let thresholds = Thresholds(
            review: NSDecimalNumber(decimal: review).intValue, blockAndReview: NSDecimalNumber(decimal: block).intValue,
            decline: NSDecimalNumber(decimal: decline).intValue)
        guard let definition = parser.definition(trigger: object["trigger"], rules: object["rules"] ?? .null, thresholds: thresholds, stored: true)
        else { throw InvariantViolation("definition of \(what) no longer reads: \(parser.validator.errors.map { "\($0.field) \($0.message)" })") }
        return definition
    }
}
