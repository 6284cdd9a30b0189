@testable import FinFlowCompliance
import FinFlowCore
import Foundation
import Testing

/// The rule language and the shipped templates, evaluated by the engine with figures in memory.
@Suite("compliance: monitoring rules, templates and decisions")
struct MonitoringRuleTests {
    static let start: Int64 = 1_780_000_000_000
    static let minute: Int64 = 60_000
    static let hour: Int64 = 60 * minute
    static let day: Int64 = 24 * hour

    /// A transaction of `amount` (major units) at `at` ms after the start.
    static func transaction(
        _ amount: Decimal, at: Int64, from: String = "acc-1", to: String = "acc-2", counterparty: String? = "Acme Ltd",
        country: String? = nil, currency: String = "USD"
    ) -> MonitoredEvent {
        let factor = Decimal(MonitoredEvent.minorUnitsPerMajor(currency))
        return MonitoredEvent(
            id: UUID().uuidString, type: .transaction, tenantId: "t", subjectId: UUID().uuidString, atMillis: Self.start + at,
            amountMinor: NSDecimalNumber(decimal: amount * factor).int64Value, currency: currency, kind: "payment", status: "pending",
            sourceAccount: from, destinationAccount: to, counterparty: counterparty.map(Counterparties.key), counterpartyCountry: country)
    }

    static func template(_ id: String, _ parameters: [String: JSONValue] = [:], score: Int = 10) -> JSONValue {
        .object(["template": .string(id), "parameters": .object(parameters), "score": .number(Decimal(score))])
    }

    static func version(_ rules: [JSONValue], thresholds: Thresholds = Thresholds(review: 10, blockAndReview: 50, decline: 100), trigger: JSONValue? = nil)
        throws -> EvaluatedVersion
    {
        var parser = RuleParser()
        let definition = parser.definition(trigger: trigger, rules: .array(rules), thresholds: thresholds)
        try #require(parser.validator.errors.isEmpty, "\(parser.validator.errors)")
        return EvaluatedVersion(scenarioId: "s", scenarioName: "S", versionId: "v", version: 1, definition: try #require(definition))
    }

    /// Runs `events` in order through `version`; answers whether each event's decision hit any rule.
    static func hits(_ events: [MonitoredEvent], _ version: EvaluatedVersion) async throws -> [Bool] {
        let store = MemoryAggregateStore()
        var hits: [Bool] = []
        for event in events {
            let decisions = try await MonitoringEngine.run(event, versions: [version], maintained: version.definition.aggregates, store: store)
            hits.append(decisions.first?.rules.contains { $0.result == "hit" } ?? false)
        }
        return hits
    }

    static func single(_ id: String, _ parameters: [String: JSONValue] = [:]) throws -> EvaluatedVersion {
        try Self.version([Self.template(id, parameters)])
    }

    @Test("large amount: at the threshold and above, in the chosen currency only")
    func largeAmount() async throws {
        let version = try Self.single("large-amount", ["currency": .string("USD")])
        let events = [
            Self.transaction(Decimal(string: "9999.99")!, at: 0), Self.transaction(10_000, at: 1), Self.transaction(25_000, at: 2),
            Self.transaction(25_000, at: 3, currency: "EUR"),
        ]
        #expect(try await Self.hits(events, version) == [false, true, true, false])
    }

    @Test("structuring: the third amount just under the threshold within the window hits; spread out or outside the band it does not")
    func structuring() async throws {
        let version = try Self.single("structuring")
        let close = [Self.transaction(9_500, at: 0), Self.transaction(9_100, at: 5 * Self.hour), Self.transaction(9_900, at: 20 * Self.hour)]
        #expect(try await Self.hits(close, version) == [false, false, true])
        let spread = [Self.transaction(9_500, at: 0), Self.transaction(9_500, at: 40 * Self.hour), Self.transaction(9_500, at: 80 * Self.hour)]
        #expect(try await Self.hits(spread, version) == [false, false, false])
        let band = [Self.transaction(9_500, at: 0), Self.transaction(10_000, at: 1), Self.transaction(8_000, at: 2), Self.transaction(9_500, at: 3)]
        #expect(try await Self.hits(band, version) == [false, false, false, false])
        let accounts = [
            Self.transaction(9_500, at: 0, from: "a"), Self.transaction(9_500, at: 1, from: "b"), Self.transaction(9_500, at: 2, from: "c"),
        ]
        #expect(try await Self.hits(accounts, version) == [false, false, false])
    }

    @Test("velocity: the tenth transaction of an account within the hour hits, not the ninth nor another account's")
    func velocity() async throws {
        let version = try Self.single("velocity")
        var events = (0..<10).map { Self.transaction(10, at: Int64($0) * 5 * Self.minute) }
        events.append(Self.transaction(10, at: 51 * Self.minute, from: "acc-9"))
        #expect(try await Self.hits(events, version) == Array(repeating: false, count: 9) + [true, false])
        let slow = (0..<10).map { Self.transaction(10, at: Int64($0) * 10 * Self.minute) }
        #expect(try await Self.hits(slow, version).last == false)
    }

    @Test("rapid movement: money out of an account soon after as much came in hits; later, or far more than came in, does not")
    func rapidMovement() async throws {
        let version = try Self.single("rapid-movement")
        let inflow = Self.transaction(5_000, at: 0, from: "acc-x", to: "acc-a")
        #expect(try await Self.hits([inflow, Self.transaction(4_500, at: 2 * Self.hour, from: "acc-a", to: "acc-z")], version) == [false, true])
        #expect(try await Self.hits([inflow, Self.transaction(4_500, at: 30 * Self.hour, from: "acc-a", to: "acc-z")], version) == [false, false])
        #expect(try await Self.hits([inflow, Self.transaction(9_000, at: 2 * Self.hour, from: "acc-a", to: "acc-z")], version) == [false, false])
        #expect(try await Self.hits([inflow, Self.transaction(4_500, at: 2 * Self.hour, from: "acc-b", to: "acc-z")], version) == [false, false])
    }

    @Test("high-risk country: a listed country hits; another or none does not")
    func highRiskCountry() async throws {
        let version = try Self.single("high-risk-country", ["countries": .array([.string("IR"), .string("KP"), .string("SY")])])
        let events = [
            Self.transaction(10, at: 0, country: "IR"), Self.transaction(10, at: 1, country: "DE"), Self.transaction(10, at: 2, country: nil),
            Self.transaction(10, at: 3, country: "SY"),
        ]
        #expect(try await Self.hits(events, version) == [true, false, false, true])
    }

    @Test("round amount: whole multiples of the unit from the minimum up hit")
    func roundAmount() async throws {
        let version = try Self.single("round-amount")
        let amounts: [Decimal] = [5_000, Decimal(string: "5000.50")!, 4_000, 12_000, 12_500]
        let events = amounts.enumerated().map { Self.transaction($1, at: Int64($0)) }
        #expect(try await Self.hits(events, version) == [true, false, false, true, false])
    }

    @Test("dormant account: a large amount after half a year of silence hits; after ten days, small, or on a new account it does not")
    func dormantAccount() async throws {
        let version = try Self.single("dormant-account")
        let first = Self.transaction(50, at: 0)
        #expect(try await Self.hits([first, Self.transaction(6_000, at: 200 * Self.day)], version) == [false, true])
        #expect(try await Self.hits([first, Self.transaction(6_000, at: 10 * Self.day)], version) == [false, false])
        #expect(try await Self.hits([first, Self.transaction(100, at: 200 * Self.day)], version) == [false, false])
        #expect(try await Self.hits([Self.transaction(6_000, at: 0)], version) == [false])
    }

    @Test("new counterparty: far above the account's average to a counterparty not paid before hits; a known one or a modest amount does not")
    func newCounterparty() async throws {
        let version = try Self.single("new-counterparty")
        let history = (0..<5).map { Self.transaction(100, at: Int64($0) * 5 * Self.day, counterparty: "Acme Ltd") }
        let later = 30 * Self.day
        #expect(try await Self.hits(history + [Self.transaction(1_000, at: later, counterparty: "NewCo")], version).last == true)
        #expect(try await Self.hits(history + [Self.transaction(1_000, at: later, counterparty: "ACME  ltd")], version).last == false)
        #expect(try await Self.hits(history + [Self.transaction(450, at: later, counterparty: "NewCo")], version).last == false)
        let twice = history + [Self.transaction(1_000, at: later, counterparty: "NewCo"), Self.transaction(5_000, at: later + 1, counterparty: "NewCo")]
        #expect(try await Self.hits(twice, version).suffix(2) == [true, false])
        // Without history there is no average to be far above.
        #expect(try await Self.hits([Self.transaction(9_000, at: 0, counterparty: "NewCo")], version) == [false])
    }

    @Test("a decision adds the scores of the rules that hit and maps the sum to each outcome at its threshold")
    func thresholds() async throws {
        func rule(_ name: String, atLeast: Int, score: Int) -> JSONValue {
            .object([
                "name": .string(name), "score": .number(Decimal(score)),
                "condition": .object(["left": .object(["field": .string("amount")]), "op": .string(">="), "right": .object(["value": .number(Decimal(atLeast))])]),
            ])
        }
        let version = try Self.version(
            [rule("a", atLeast: 100, score: 10), rule("b", atLeast: 200, score: 20), rule("c", atLeast: 400, score: 40)],
            thresholds: Thresholds(review: 10, blockAndReview: 30, decline: 70))
        let store = MemoryAggregateStore()
        var outcomes: [String] = []
        var scores: [Int] = []
        for (index, amount) in [50, 100, 200, 400].enumerated() {
            let decision = try #require(try await MonitoringEngine.run(
                Self.transaction(Decimal(amount), at: Int64(index)), versions: [version], maintained: [], store: store).first)
            outcomes.append(decision.outcome)
            scores.append(decision.score)
            #expect(decision.rules.map(\.rule) == ["a", "b", "c"])
        }
        #expect(scores == [0, 10, 30, 70])
        #expect(outcomes == ["approve", "review", "block_and_review", "decline"])
    }

    @Test("a trigger limits a version to the events it names; a missing field is unknown, so neither a rule nor its negation hits")
    func triggerAndUnknown() async throws {
        let trigger: JSONValue = .object(["left": .object(["field": .string("currency")]), "op": .string("="), "right": .object(["value": .string("EUR")])])
        let notListed: JSONValue = .object([
            "name": .string("not listed"), "score": .number(10),
            "condition": .object(["not": .object([
                "left": .object(["field": .string("counterpartyCountry")]), "op": .string("in"), "right": .object(["value": .array([.string("IR")])]),
            ])]),
        ])
        let version = try Self.version([notListed], trigger: trigger)
        let store = MemoryAggregateStore()
        let usd = try await MonitoringEngine.run(Self.transaction(10, at: 0, country: "DE"), versions: [version], maintained: [], store: store)
        #expect(usd.isEmpty)
        let known = try await MonitoringEngine.run(Self.transaction(10, at: 1, country: "DE", currency: "EUR"), versions: [version], maintained: [], store: store)
        #expect(known.first?.rules.first?.result == "hit")
        let unknown = try await MonitoringEngine.run(Self.transaction(10, at: 2, country: nil, currency: "EUR"), versions: [version], maintained: [], store: store)
        #expect(unknown.first?.rules.first?.result == "no_hit")
    }

    @Test("a replay decides as the live run does, after warming up on the events before the range")
    func replayMatchesRun() async throws {
        let version = try Self.version([
            Self.template("structuring", ["window": .string("24h")], score: 60), Self.template("velocity", ["count": .number(3)], score: 30),
            Self.template("new-counterparty", score: 50),
        ])
        var generator = SeededRandom(seed: 20)
        let events = (0..<400).map { index in
            Self.transaction(
                Decimal(Int.random(in: 1...12, using: &generator) * 1_000 - 500), at: Int64(index) * 17 * Self.minute,
                from: "acc-\(Int.random(in: 1...4, using: &generator))", counterparty: "party \(Int.random(in: 1...30, using: &generator))")
        }
        let store = MemoryAggregateStore()
        var live: [String: Decision] = [:]
        for event in events {
            for decision in try await MonitoringEngine.run(event, versions: [version], maintained: version.definition.aggregates, store: store) {
                live[event.id] = decision
            }
        }
        let from = events[200].atMillis
        let replayed = try await MonitoringEngine.replay(events, evaluateFromMillis: from, version: version)
        let inRange = events.filter { $0.atMillis >= from }.map(\.id)
        #expect(inRange.map { replayed[$0] } == inRange.map { live[$0] })
        #expect(inRange.contains { live[$0]?.outcome != "approve" })
    }

    @Test("faults in a version are named by path and nothing is made of it", arguments: [
        (#"{"left": {"field": "colour"}, "op": "=", "right": {"value": "red"}}"#, "rules[0].condition.left.field"),
        (#"{"left": {"field": "amount"}, "op": "=", "right": {"value": "red"}}"#, "rules[0].condition"),
        (#"{"left": {"field": "amount"}, "op": "~", "right": {"value": 1}}"#, "rules[0].condition.op"),
        (#"{"left": {"aggregate": {"function": "count", "groupBy": ["sourceAccount"], "window": "25x"}}, "op": ">", "right": {"value": 1}}"#,
         "rules[0].condition.left.aggregate.window"),
        (#"{"left": {"aggregate": {"function": "count", "groupBy": ["amount"], "window": "1h"}}, "op": ">", "right": {"value": 1}}"#,
         "rules[0].condition.left.aggregate.groupBy[0]"),
        (#"{"left": {"aggregate": {"function": "sum", "groupBy": ["sourceAccount"], "window": "1h", "where": {"left": {"aggregate": {"function": "count", "groupBy": ["customer"], "window": "1h"}}, "op": ">", "right": {"value": 1}}}}, "op": ">", "right": {"value": 1}}"#,
         "rules[0].condition.left.aggregate.where.left.aggregate"),
        (#"{"left": {"field": "counterpartyCountry"}, "op": "in", "right": {"value": 3}}"#, "rules[0].condition.right"),
        (#"{"all": []}"#, "rules[0].condition.all"),
        (#"{"not": {"not": {"not": {"not": {"not": {"not": {"not": {"not": {"not": {"left": {"field": "amount"}, "op": ">", "right": {"value": 1}}}}}}}}}}}"#,
         "rules[0].condition.not.not.not.not.not.not.not.not"),
        (#"{"left": {"field": "amount"}, "op": "multipleOf", "right": {"value": 0}}"#, "rules[0].condition"),
        (#"{"left": {"field": "amount", "times": "x"}, "op": ">", "right": {"value": 1}}"#, "rules[0].condition.left.times"),
        (#"{"left": {"field": "amount"}, "op": ">", "right": {"value": 1}, "extra": 1}"#, "rules[0].condition.extra"),
    ])
    func faults(condition: String, path: String) throws {
        var parser = RuleParser()
        let rule: JSONValue = .object(["name": .string("r"), "score": .number(10), "condition": try #require(JSONValue.parse(condition))])
        let definition = parser.definition(trigger: nil, rules: .array([rule]), thresholds: Thresholds(review: 1, blockAndReview: 2, decline: 3))
        #expect(definition == nil)
        #expect(parser.validator.errors.map(\.field).contains(path), "\(parser.validator.errors)")
    }

    @Test("faults of templates, names, scores and thresholds are named too")
    func versionFaults() throws {
        func errors(_ rules: [JSONValue], _ thresholds: Thresholds = Thresholds(review: 1, blockAndReview: 2, decline: 3)) -> [String] {
            var parser = RuleParser()
            let definition = parser.definition(trigger: nil, rules: .array(rules), thresholds: thresholds)
            return definition == nil ? parser.validator.errors.map(\.field) : []
        }
        #expect(errors([Self.template("nope")]) == ["rules[0].template"])
        #expect(errors([Self.template("structuring", ["count": .number(0)])]) == ["rules[0].parameters.count"])
        #expect(errors([Self.template("velocity", ["window": .string("1y")])]) == ["rules[0].parameters.window"])
        #expect(errors([Self.template("high-risk-country", ["countries": .array([.string("Iran")])])]) == ["rules[0].parameters.countries"])
        #expect(errors([Self.template("velocity", ["colour": .string("red")])]) == ["rules[0].parameters.colour"])
        #expect(errors([Self.template("velocity"), Self.template("velocity")]) == ["rules[1].name"])
        #expect(errors([Self.template("velocity", score: 5000)]) == ["rules[0].score"])
        #expect(errors([Self.template("velocity")], Thresholds(review: 50, blockAndReview: 20, decline: 90)) == ["thresholds"])
        #expect(errors([]) == ["rules"])
        var both = Self.template("velocity")
        if case .object(var object) = both {
            object["condition"] = .object(["left": .object(["field": .string("amount")]), "op": .string(">"), "right": .object(["value": .number(1)])])
            both = .object(object)
        }
        #expect(errors([both]) == ["rules[0]"])
    }

    @Test("every template renders with its defaults, and a stored version reads back as written")
    func storedRoundTrip() throws {
        let version = try Self.version(RuleTemplates.all.map { Self.template($0.id) })
        #expect(version.definition.rules.map(\.name) == RuleTemplates.all.map(\.id))
        let stored = try VersionDefinition.stored(version.definition.json.text, what: "test")
        #expect(stored == version.definition)
        #expect(stored.aggregates.map(\.storageKey) == version.definition.aggregates.map(\.storageKey))
    }

    @Test("rule results written by hand read back as written, whatever their text holds")
    func ruleResultsJSON() throws {
        let results = [
            RuleResult(rule: "quote \" back\\slash", result: "hit", score: 40, values: [
                AggregateReading(aggregate: "tab\tnew\nline \u{01} ünïcødé 💶", value: Decimal(string: "12345.678")!),
                AggregateReading(aggregate: "none", value: nil),
            ], error: nil),
            RuleResult(rule: "r", result: "error", score: 0, values: [], error: "the sum exceeds \"64 bits\""),
            RuleResult(rule: "neg", result: "no_hit", score: 0, values: [AggregateReading(aggregate: "a", value: Decimal(-3))], error: nil),
        ]
        let text = RuleResult.json(results)
        #expect(try JSONDecoder().decode([RuleResult].self, from: Data(text.utf8)) == results)
        #expect(RuleResult.json([]) == "[]")
    }

    @Test("a stored event written by hand reads back as it was, with or without its optional values")
    func monitoredEventJSON() throws {
        var full = MonitoredEvent(
            id: "e\"1", type: .transaction, tenantId: "t\\1", subjectId: "tx\n1", atMillis: -5, amountMinor: -12_345, currency: "EUR",
            kind: "payment", status: "pending", sourceAccount: "a\u{01}", destinationAccount: "b", counterparty: "ünïcødé 💶", counterpartyCountry: "DE",
            customer: "c", gateway: "g", category: "cat")
        full.counterpartyName = "Ünïcødé \"Ltd\""
        let bare = MonitoredEvent(id: "e2", type: .payment, tenantId: "t", subjectId: "p", atMillis: 1_000)
        for event in [full, bare] {
            #expect(try JSONDecoder().decode(MonitoredEvent.self, from: Data(event.json.utf8)) == event)
        }
    }

    @Test("a decimal written as a JSON number by hand reads back as the same value")
    func decimalText() throws {
        let texts = ["0", "1", "-1", "0.5", "-0.05", "12345.678", "0.0000000001", "100", "1e20", "-7e3", "999999999999999999",
                     "1000000000000000000", "18446744073709551616", "123456789012345678901234567890.5", "0.1234567890123456789", "99999.99"]
        var values = texts.compactMap { Decimal(string: $0) }
        values += [Decimal(1) / Decimal(3), Decimal(-2) / Decimal(7), Decimal(sign: .plus, exponent: 30, significand: 12), Decimal(Int64.min)]
        #expect(values.count == texts.count + 4)
        for value in values {
            let text = JSONText.number(value)
            #expect(try JSONDecoder().decode(Decimal.self, from: Data(text.utf8)) == value, "\(value) as \(text)")
        }
        #expect(JSONText.number(Decimal(string: "12.50")!) == "12.5")
        #expect(JSONText.number(Decimal(string: "-0.05")!) == "-0.05")
        #expect(JSONText.number(Decimal(string: "-7e3")!) == "-7000")
    }

    @Test("an average and a count of days are the exact quotient truncated six places below the smallest unit")
    func quotients() {
        #expect(MonitoringEngine.quotient(1_000, 3, currency: "EUR") == Decimal(string: "3.33333333")!)
        #expect(MonitoringEngine.quotient(-1_000, 3, currency: "EUR") == Decimal(string: "-3.33333333")!)
        #expect(MonitoringEngine.quotient(90 * 86_400_000 + 43_200_000, 86_400_000, currency: nil) == Decimal(string: "90.5")!)
        #expect(MonitoringEngine.quotient(7, 2, currency: "JPY") == Decimal(string: "3.5")!)
        // Past what 64 bits hold once scaled, the decimal division answers.
        #expect(MonitoringEngine.quotient(Int64.max, 1, currency: "EUR") == Decimal(Int64.max) / 100)
    }

    @Test("an amount in major units moves the decimal point as dividing would, for every exponent and sign")
    func majorUnits() {
        for (minor, currency) in [(12_345 as Int64, "EUR"), (-12_345, "EUR"), (7, "JPY"), (-1_234_567, "KWD"), (0, "USD"), (Int64.max, "EUR"), (Int64.min + 1, "BHD"), (5, nil)] {
            let divided = Decimal(minor) / Decimal(MonitoredEvent.minorUnitsPerMajor(currency))
            #expect(MonitoredEvent.major(minor, currency: currency) == divided, "\(minor) \(currency ?? "none")")
        }
    }
}
