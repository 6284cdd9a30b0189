import FinFlowCore
import Foundation

/// A rule made from parameters: the typologies a payment company monitors first. Each renders to an ordinary condition
/// in the rule language, read by the same parser as a rule written by hand.
struct RuleTemplate: Sendable {
    struct Parameter: Sendable {
        enum Kind: String, Sendable {
            /// A positive amount in major units of the event's currency.
            case amount
            /// A whole number from 1 to 10,000.
            case count
            /// A positive factor (0.8, 5).
            case factor
            /// A duration: 30m, 24h, 90d.
            case window
            /// A list of ISO 3166-1 alpha-2 codes.
            case countries
            /// A text field of events to group by.
            case field
            /// An ISO 4217 code, or null for every currency.
            case currency
            /// transaction or payment.
            case event
        }

        let name: String
        let kind: Kind
        let defaultValue: JSONValue
        let description: String
    }

    let id: String
    let title: String
    let description: String
    let defaultScore: Int
    let parameters: [Parameter]
    let build: @Sendable ([String: JSONValue]) -> JSONValue

    /// The condition for `given` parameters (missing ones take their defaults); nil with faults recorded in `parser`.
    func make(_ given: JSONValue, path: String, parser: inout RuleParser) -> Condition? {
        guard case .object(let object) = given else {
            parser.validator.fail(path, "must be an object of parameters: \(self.parameters.map(\.name).joined(separator: ", "))")
            return nil
        }
        parser.checkKeys(object, allowed: Set(self.parameters.map(\.name)), path: path)
        var resolved: [String: JSONValue] = [:]
        var valid = true
        for parameter in self.parameters {
            let value = object[parameter.name] ?? parameter.defaultValue
            if let fault = Self.fault(value, kind: parameter.kind) {
                parser.validator.fail("\(path).\(parameter.name)", fault)
                valid = false
            }
            resolved[parameter.name] = value
        }
        guard valid, parser.validator.errors.isEmpty else { return nil }
        return parser.condition(self.build(resolved), path: "\(path) (as the template renders them)", depth: 0, aggregates: true)
    }

    /// What is wrong with `value` as a parameter of `kind`, if anything.
    static func fault(_ value: JSONValue, kind: Parameter.Kind) -> String? {
        switch kind {
        case .amount:
            guard case .number(let number) = value, number > 0, number < 1e15 else { return "must be a positive amount under 10^15" }
        case .count:
            guard case .number(let number) = value, number == number.rounded, number >= 1, number <= 10_000 else { return "must be a whole number from 1 to 10000" }
        case .factor:
            guard case .number(let number) = value, number > 0, number <= 1_000 else { return "must be a positive number up to 1000" }
        case .window:
            guard case .string(let text) = value, let seconds = RuleParser.windowSeconds(text), (60...RuleParser.windowSecondsMax).contains(seconds) else {
                return "must be a duration such as 30m, 24h or 90d, from 1m to 366d"
            }
        case .countries:
            guard case .array(let items) = value, (1...RuleParser.listMax).contains(items.count),
                  items.allSatisfy({ if case .string(let code) = $0 { ListFile.isCountry(code) } else { false } })
            else { return "must be a list of ISO 3166-1 alpha-2 codes in capitals" }
        case .field:
            guard case .string(let name) = value, let field = EventField(rawValue: name), !field.isNumeric, field != .event else {
                return "must be a field to group by: \(EventField.allCases.filter { !$0.isNumeric && $0 != .event }.map(\.rawValue).joined(separator: ", "))"
            }
        case .currency:
            if value == .null { return nil }
            guard case .string(let code) = value, Currency(code: code)?.code == code else { return "must be an ISO 4217 code in capitals, or null" }
        case .event:
            guard case .string(let name) = value, ["transaction", "payment"].contains(name) else { return "must be transaction or payment" }
        }
        return nil
    }
}

/// The shipped templates.
enum RuleTemplates {
    static let all: [RuleTemplate] = [
        largeAmount, structuring, velocity, rapidMovement, highRiskCountry, roundAmount, dormantAccount, newCounterparty,
    ]
    static let byId: [String: RuleTemplate] = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })

    static func field(_ name: String) -> JSONValue { .object(["field": .string(name)]) }
    static func value(_ value: JSONValue) -> JSONValue { .object(["value": value]) }
    static func compare(_ left: JSONValue, _ op: String, _ right: JSONValue) -> JSONValue {
        .object(["left": left, "op": .string(op), "right": right])
    }
    static func all(_ parts: [JSONValue]) -> JSONValue { .object(["all": .array(parts)]) }
    static func aggregate(_ fields: [String: JSONValue], times: Decimal? = nil) -> JSONValue {
        var object: [String: JSONValue] = ["aggregate": .object(fields)]
        if let times { object["times"] = .number(times) }
        return .object(object)
    }
    /// The event is of `event` and, when a currency is set, in it.
    static func scope(_ p: [String: JSONValue], event: JSONValue = .string("transaction")) -> [JSONValue] {
        var parts = [compare(field("event"), "=", value(event))]
        if p["currency"] != .null, let currency = p["currency"] { parts.append(compare(field("currency"), "=", value(currency))) }
        return parts
    }

    static let currency = RuleTemplate.Parameter(
        name: "currency", kind: .currency, defaultValue: .null,
        description: "Only events in this currency (amounts are compared in the event's own currency); null for all")

    static let largeAmount = RuleTemplate(
        id: "large-amount", title: "Large single amount",
        description: "One transaction or payment at or above a threshold, such as a currency transaction reporting limit.",
        defaultScore: 50,
        parameters: [
            .init(name: "threshold", kind: .amount, defaultValue: .number(10_000), description: "The amount that counts as large"),
            .init(name: "event", kind: .event, defaultValue: .string("transaction"), description: "transaction or payment"),
            currency,
        ],
        build: { p in all(scope(p, event: p["event", default: .null]) + [compare(field("amount"), ">=", value(p["threshold", default: .null]))]) })

    static let structuring = RuleTemplate(
        id: "structuring", title: "Structuring",
        description: """
            Several amounts just under a reporting threshold within a window, by the same account (or other field): \
            the splitting of a large sum to stay below the limit.
            """,
        defaultScore: 60,
        parameters: [
            .init(name: "threshold", kind: .amount, defaultValue: .number(10_000), description: "The reporting threshold"),
            .init(name: "margin", kind: .factor, defaultValue: .number(Decimal(string: "0.1")!), description: "How far under the threshold counts as just under, as a fraction of it"),
            .init(name: "count", kind: .count, defaultValue: .number(3), description: "How many such amounts within the window, this one included"),
            .init(name: "window", kind: .window, defaultValue: .string("72h"), description: "The window"),
            .init(name: "by", kind: .field, defaultValue: .string("sourceAccount"), description: "The field that makes amounts belong together"),
            currency,
        ],
        build: { p in
            guard case .number(let threshold)? = p["threshold"], case .number(let margin)? = p["margin"] else { return .null }
            let floor = threshold * (1 - Swift.min(margin, 1))
            let band: [JSONValue] = [compare(field("amount"), ">=", value(.number(floor))), compare(field("amount"), "<", value(.number(threshold)))]
            return all(scope(p) + band + [
                compare(aggregate([
                    "function": .string("count"), "groupBy": .array([p["by", default: .null]]), "window": p["window", default: .null], "where": all(band),
                ]), ">=", value(p["count", default: .null])),
            ])
        })

    static let velocity = RuleTemplate(
        id: "velocity", title: "Velocity",
        description: "More transactions than usual for one account (or other field) in a short window.",
        defaultScore: 30,
        parameters: [
            .init(name: "count", kind: .count, defaultValue: .number(10), description: "How many within the window, this one included, is too many"),
            .init(name: "window", kind: .window, defaultValue: .string("1h"), description: "The window"),
            .init(name: "by", kind: .field, defaultValue: .string("sourceAccount"), description: "The field counted by"),
            .init(name: "event", kind: .event, defaultValue: .string("transaction"), description: "transaction or payment"),
        ],
        build: { p in
            all(scope(p, event: p["event", default: .null]) + [
                compare(aggregate([
                    "function": .string("count"), "event": p["event", default: .null], "groupBy": .array([p["by", default: .null]]), "window": p["window", default: .null],
                ]), ">=", value(p["count", default: .null])),
            ])
        })

    static let rapidMovement = RuleTemplate(
        id: "rapid-movement", title: "Rapid movement of funds",
        description: """
            Money leaves an account soon after money reached it: the amount going out is mostly covered by what came in \
            within the window (pass-through or layering).
            """,
        defaultScore: 40,
        parameters: [
            .init(name: "window", kind: .window, defaultValue: .string("24h"), description: "How soon after coming in"),
            .init(name: "share", kind: .factor, defaultValue: .number(Decimal(string: "0.8")!), description: "The share of the outgoing amount that came in within the window"),
            .init(name: "minimum", kind: .amount, defaultValue: .number(1_000), description: "The smallest outgoing amount considered"),
            currency,
        ],
        build: { p in
            guard case .number(let share)? = p["share"] else { return .null }
            return all(scope(p) + [
                compare(field("amount"), ">=", value(p["minimum", default: .null])),
                compare(aggregate([
                    "function": .string("sum"), "groupBy": .array([.string("destinationAccount")]), "key": .array([.string("sourceAccount")]),
                    "window": p["window", default: .null], "current": .string("exclude"),
                ]), ">=", .object(["field": .string("amount"), "times": .number(share)])),
            ])
        })

    static let highRiskCountry = RuleTemplate(
        id: "high-risk-country", title: "High-risk or sanctioned country",
        description: """
            The counterparty is in a country on the tenant's list. The default is the FATF's list of high-risk \
            jurisdictions subject to a call for action (North Korea, Iran, Myanmar, as published in February 2025); add \
            the jurisdictions under increased monitoring and the countries your sanctions programmes name.
            """,
        defaultScore: 80,
        parameters: [
            .init(name: "countries", kind: .countries, defaultValue: .array([.string("KP"), .string("IR"), .string("MM")]), description: "The countries"),
        ],
        build: { p in all(scope(p) + [compare(field("counterpartyCountry"), "in", value(p["countries", default: .null]))]) })

    static let roundAmount = RuleTemplate(
        id: "round-amount", title: "Round amount",
        description: "A large amount that is a whole multiple of a round unit (5,000.00, 20,000.00), common in layering and fraud.",
        defaultScore: 15,
        parameters: [
            .init(name: "unit", kind: .amount, defaultValue: .number(1_000), description: "The round unit"),
            .init(name: "minimum", kind: .amount, defaultValue: .number(5_000), description: "The smallest amount considered"),
            currency,
        ],
        build: { p in
            all(scope(p) + [compare(field("amount"), ">=", value(p["minimum", default: .null])), compare(field("amount"), "multipleOf", value(p["unit", default: .null]))])
        })

    static let dormantAccount = RuleTemplate(
        id: "dormant-account", title: "Dormant account waking with a large amount",
        description: """
            An account without transactions for a long time moves a large amount. Dormancy is read within two years: \
            an account idle for longer is not distinguished from a new one.
            """,
        defaultScore: 40,
        parameters: [
            .init(name: "days", kind: .count, defaultValue: .number(180), description: "Days without a transaction that make an account dormant"),
            .init(name: "minimum", kind: .amount, defaultValue: .number(5_000), description: "The amount that counts as large"),
            .init(name: "by", kind: .field, defaultValue: .string("sourceAccount"), description: "The account field"),
            currency,
        ],
        build: { p in
            all(scope(p) + [
                compare(field("amount"), ">=", value(p["minimum", default: .null])),
                compare(aggregate(["function": .string("idleDays"), "groupBy": .array([p["by", default: .null]]), "window": .string("731d")]), ">=", value(p["days", default: .null])),
            ])
        })

    static let newCounterparty = RuleTemplate(
        id: "new-counterparty", title: "New counterparty receiving far above the usual",
        description: """
            An account pays a counterparty it has not paid within the lookback, an amount far above the account's \
            average payment over the same period.
            """,
        defaultScore: 50,
        parameters: [
            .init(name: "multiple", kind: .factor, defaultValue: .number(5), description: "How many times the account's average counts as far above"),
            .init(name: "lookback", kind: .window, defaultValue: .string("90d"), description: "The period for 'new' and for the average"),
            .init(name: "minimum", kind: .amount, defaultValue: .number(1_000), description: "The smallest amount considered"),
            currency,
        ],
        build: { p in
            guard case .number(let multiple)? = p["multiple"] else { return .null }
            return all(scope(p) + [
                compare(field("amount"), ">=", value(p["minimum", default: .null])),
                compare(aggregate([
                    "function": .string("count"), "groupBy": .array([.string("sourceAccount"), .string("counterparty")]), "window": p["lookback", default: .null],
                    "current": .string("exclude"),
                ]), "=", value(.number(0))),
                compare(field("amount"), ">", aggregate([
                    "function": .string("average"), "groupBy": .array([.string("sourceAccount")]), "window": p["lookback", default: .null],
                    "current": .string("exclude"),
                ], times: multiple)),
            ])
        })
}
