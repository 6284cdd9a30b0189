import FinFlowCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SQLKit
import Testing

@Suite("compliance: transaction monitoring by scenarios over HTTP and events")
struct MonitoringAPITests {
    static let json = ScreeningAPITests.json

    /// A scenario named `name` with one version of `rules` and `thresholds`, published.
    static func scenario(
        _ client: any TestClientProtocol, token: String, name: String, rules: [[String: Any]],
        thresholds: [String: Int] = ["review": 10, "blockAndReview": 50, "decline": 100], publish: Bool = true
    ) async throws -> String {
        let created = try await client.send(.post, "/v1/compliance/scenarios", json: Self.json(["name": name]), token: token)
        try #require(created.status == 201, "\(created.body)")
        let id = try #require(created.body["id"] as? String)
        let version = try await client.send(
            .post, "/v1/compliance/scenarios/\(id)/versions", json: Self.json(["rules": rules, "thresholds": thresholds]), token: token)
        try #require(version.status == 201, "\(version.body)")
        if publish {
            let published = try await client.send(.post, "/v1/compliance/scenarios/\(id)/versions/1/publish", token: token)
            try #require(published.status == 200 && published.body["status"] as? String == "live", "\(published.body)")
        }
        return id
    }

    static func transaction(
        _ tenantId: String, amountMinor: Int64, from: String = "acc-1", to: String = "acc-2", counterparty: String? = "Acme Ltd",
        country: String? = nil
    ) -> TransactionCreated {
        TransactionCreated(
            transactionId: UUID().uuidString.lowercased(), tenantId: tenantId, kind: "payment", amountMinor: amountMinor, currency: "USD",
            valueDate: "2026-03-03", sourceAccountId: from, destinationAccountId: to, counterparty: counterparty, counterpartyCountry: country)
    }

    static func decisions(_ client: any TestClientProtocol, token: String, query: String = "") async throws -> [[String: Any]] {
        let response = try await client.send(.get, "/v1/compliance/decisions?limit=200" + query, token: token)
        try #require(response.status == 200, "\(response.body)")
        return try #require(response.body["items"] as? [[String: Any]])
    }

    @Test("a transaction through the transaction service is decided by the live scenario: rules explained, alert raised and announced")
    func endToEnd() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let desk = try await Desk.open(client, sut, tag: "monitor")
            _ = try await Self.scenario(client, token: desk.token, name: "Cross-border", rules: [
                ["template": "high-risk-country", "parameters": ["countries": ["NG", "MM"]], "score": 60],
                ["template": "large-amount", "parameters": ["threshold": 1_000], "score": 50],
            ])
            let risky = try await desk.create(desk.body(150_000, counterparty: "Lagos Trading", country: "NG"))
            try #require(risky.status == 201, "\(risky.body)")
            let plain = try await desk.create(desk.body(2_000, counterparty: "City Power", country: "DE"))
            try #require(plain.status == 201, "\(plain.body)")
            try await sut.deliver()
            let riskyId = try #require(risky.body["id"] as? String)
            let decided = try await Self.decisions(client, token: desk.token, query: "&subjectId=\(riskyId)")
            // The transaction, then its posting (a status change, which these rules do not look at).
            #expect(decided.map { $0["eventType"] as? String } == ["transactionStatus", "transaction"])
            let decision = try #require(decided.last, "no decision for the transaction")
            #expect(decision["outcome"] as? String == "decline" && decision["score"] as? Int == 110)
            let rules = try #require(decision["rules"] as? [[String: Any]])
            #expect(rules.map { $0["result"] as? String } == ["hit", "hit"])
            let alertId = try #require(decision["alertId"] as? String)
            let alert = try await client.send(.get, "/v1/compliance/alerts/\(alertId)", token: desk.token)
            #expect(alert.status == 200 && alert.body["kind"] as? String == "aml" && alert.body["severity"] as? String == "critical")
            #expect(alert.body["subjectType"] as? String == "transaction" && alert.body["subjectRef"] as? String == riskyId)
            #expect(alert.body["sourceType"] as? String == "decision")
            let announced = try await ScreeningAPITests.outbox(ComplianceAlert.self, sut).filter { $0.kind == "aml" }
            #expect(announced.map(\.alertId) == [alertId])

            let plainId = try #require(plain.body["id"] as? String)
            let plainDecision = try #require(try await Self.decisions(client, token: desk.token, query: "&subjectId=\(plainId)").last)
            #expect(plainDecision["outcome"] as? String == "approve" && plainDecision["alertId"] == nil)
            #expect((plainDecision["rules"] as? [[String: Any]])?.map { $0["result"] as? String } == ["no_hit", "no_hit"])
            let decisionId = try #require(decision["id"] as? String)
            let fetched = try await client.send(.get, "/v1/compliance/decisions/\(decisionId)", token: desk.token)
            #expect(fetched.status == 200 && fetched.body["eventType"] as? String == "transaction")
        }
    }

    @Test("publishing rebuilds windows from events seen before; a backtest of the live version equals its live decisions; a draft's changes are listed")
    func backtestEqualsLive() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let officer = try await Fixtures.signUp(client, sut, tag: "officer")
            // Publication rebuilds the windows that reach back from now: the events happened in the last two days.
            let start = sut.clock.now().addingTimeInterval(-2 * 86_400)
            // Two amounts just under the threshold before any scenario exists.
            for hour in [0.0, 2.0] {
                try await LedgerEventTests.publish(
                    Self.transaction(officer.tenantId, amountMinor: 950_000), tenantId: officer.tenantId, time: start.addingTimeInterval(hour * 3_600), on: sut)
            }
            try await sut.deliver()
            let scenarioId = try await Self.scenario(client, token: officer.accessToken, name: "Structuring", rules: [
                ["template": "structuring", "score": 60], ["template": "velocity", "parameters": ["count": 4], "score": 20],
            ])
            // The third counts the two stored before publication.
            var amounts: [Int64] = [960_000]
            var generator = SeededRandom(seed: 7)
            for _ in 0..<40 { amounts.append([950_000, 120_000, 990_000, 40_000, 1_500_000][Int.random(in: 0..<5, using: &generator)]) }
            for (index, amount) in amounts.enumerated() {
                let account = index == 0 ? "acc-1" : "acc-\(Int.random(in: 1...3, using: &generator))"
                try await LedgerEventTests.publish(
                    Self.transaction(officer.tenantId, amountMinor: amount, from: account), tenantId: officer.tenantId,
                    time: start.addingTimeInterval(3 * 3_600 + Double(index) * 1_800), on: sut)
            }
            try await sut.deliver()
            let decisions = try await Self.decisions(client, token: officer.accessToken)
            #expect(decisions.count == amounts.count)
            let first = try #require(decisions.last)
            #expect(first["outcome"] as? String == "block_and_review", "\(first)")
            let live = Dictionary(grouping: decisions, by: { $0["outcome"] as? String ?? "" }).mapValues(\.count)
            #expect(live.count >= 2, "\(live)")

            let formatter = ISO8601DateFormatter()
            let range = Self.json([
                "from": formatter.string(from: start.addingTimeInterval(3 * 3_600 - 1)), "to": formatter.string(from: start.addingTimeInterval(86_400)),
            ])
            let replay = try await client.send(.post, "/v1/compliance/scenarios/\(scenarioId)/versions/1/backtest", json: range, token: officer.accessToken)
            try #require(replay.status == 200, "\(replay.body)")
            #expect(replay.body["events"] as? Int == amounts.count && replay.body["warmUpEvents"] as? Int == 2)
            let candidate = try #require(replay.body["candidate"] as? [String: Any])
            #expect(candidate["outcomes"] as? [String: Int] == live)
            #expect(replay.body["changed"] as? Int == 0 && replay.body["live"] == nil)

            // A stricter draft: the same rules with lower thresholds.
            let draft = try await client.send(
                .post, "/v1/compliance/scenarios/\(scenarioId)/versions",
                json: Self.json(["rules": [["template": "structuring", "score": 60], ["template": "velocity", "parameters": ["count": 4], "score": 20]],
                                 "thresholds": ["review": 10, "blockAndReview": 20, "decline": 60]]),
                token: officer.accessToken)
            try #require(draft.status == 201 && draft.body["status"] as? String == "draft", "\(draft.body)")
            let compared = try await client.send(.post, "/v1/compliance/scenarios/\(scenarioId)/versions/2/backtest", json: range, token: officer.accessToken)
            try #require(compared.status == 200, "\(compared.body)")
            let liveTally = try #require(compared.body["live"] as? [String: Any])
            #expect(liveTally["outcomes"] as? [String: Int] == live)
            let changes = try #require(compared.body["changes"] as? [[String: Any]])
            // Scores of 20 go from review to block_and_review, of 60 and 80 from block_and_review to decline.
            let expected = decisions.filter { ($0["score"] as? Int ?? 0) >= 20 }.count
            #expect(compared.body["changed"] as? Int == expected && changes.count == expected)
            #expect(changes.allSatisfy { $0["draftOutcome"] as? String != $0["liveOutcome"] as? String })
        }
    }

    @Test("a status change is evaluated with its transaction's amount by a scenario that triggers on it")
    func statusChanges() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let officer = try await Fixtures.signUp(client, sut, tag: "officer")
            _ = try await Self.scenario(client, token: officer.accessToken, name: "Reversals", rules: [[
                "name": "large reversal", "score": 20,
                "condition": ["all": [
                    ["left": ["field": "event"], "op": "=", "right": ["value": "transactionStatus"]],
                    ["left": ["field": "status"], "op": "=", "right": ["value": "reversed"]],
                    ["left": ["field": "amount"], "op": ">=", "right": ["value": 500]],
                ]],
            ]])
            let created = Self.transaction(officer.tenantId, amountMinor: 80_000)
            try await LedgerEventTests.publish(created, tenantId: officer.tenantId, on: sut)
            try await sut.deliver()
            try await LedgerEventTests.publish(
                TransactionStatusChanged(
                    transactionId: created.transactionId, tenantId: officer.tenantId, status: "reversed", previousStatus: "posted",
                    changedAtMillis: sut.clock.nowMillis()),
                tenantId: officer.tenantId, on: sut)
            try await sut.deliver()
            let decisions = try await Self.decisions(client, token: officer.accessToken, query: "&subjectId=\(created.transactionId)")
            #expect(decisions.map { $0["eventType"] as? String } == ["transactionStatus", "transaction"])
            #expect(decisions.map { $0["outcome"] as? String } == ["review", "approve"])
        }
    }

    @Test("payments are decided too: a customer's third payment within the hour hits a velocity rule on payments")
    func payments() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let officer = try await Fixtures.signUp(client, sut, tag: "officer")
            _ = try await Self.scenario(client, token: officer.accessToken, name: "Card testing", rules: [
                ["template": "velocity", "parameters": ["event": "payment", "by": "customer", "count": 3, "window": "1h"], "score": 60],
            ])
            let start = sut.clock.now()
            var ids: [String] = []
            for (index, customer) in ["cus_1", "cus_1", "cus_2", "cus_1"].enumerated() {
                let id = "pay_\(index)"
                ids.append(id)
                try await LedgerEventTests.publish(
                    PaymentProcessed(
                        paymentId: id, tenantId: officer.tenantId, status: "succeeded", amountMinor: 1_000, currency: "EUR", feeMinor: nil,
                        gateway: "stripe", gatewayReference: nil, customerId: customer, invoiceId: nil, processedAtMillis: sut.clock.nowMillis()),
                    tenantId: officer.tenantId, time: start.addingTimeInterval(Double(index) * 600), on: sut)
            }
            try await sut.deliver()
            let decisions = try await Self.decisions(client, token: officer.accessToken)
            let byPayment = Dictionary(uniqueKeysWithValues: decisions.compactMap { row in (row["subjectId"] as? String).map { ($0, row) } })
            #expect(ids.map { byPayment[$0]?["outcome"] as? String } == ["approve", "approve", "approve", "block_and_review"])
            #expect(decisions.allSatisfy { $0["eventType"] as? String == "payment" && $0["subjectType"] as? String == "payment" })
        }
    }

    @Test("bad scenarios and versions are named by path and store nothing; unknown ones are 404; the name is the tenant's once")
    func badInput() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let officer = try await Fixtures.signUp(client, sut, tag: "officer")
            let token = officer.accessToken
            let id = try await Self.scenario(client, token: token, name: "Main", rules: [["template": "velocity"]], publish: false)
            let again = try await client.send(.post, "/v1/compliance/scenarios", json: Self.json(["name": "Main"]), token: token)
            #expect(again.status == 409 && again.body["code"] as? String == "scenario-exists")
            let blank = try await client.send(.post, "/v1/compliance/scenarios", json: Self.json(["name": "   "]), token: token)
            #expect(blank.status == 400)
            let bad: [(body: [String: Any], field: String)] = [
                (["rules": [["name": "r", "score": 10, "condition": ["left": ["field": "amount"], "op": ">", "right": ["value": "x"]]]],
                  "thresholds": ["review": 1, "blockAndReview": 2, "decline": 3]], "rules[0].condition"),
                (["rules": [["template": "structuring", "parameters": ["window": "forever"]]],
                  "thresholds": ["review": 1, "blockAndReview": 2, "decline": 3]], "rules[0].parameters.window"),
                (["rules": [["template": "velocity"]], "thresholds": ["review": 5, "blockAndReview": 2, "decline": 3]], "thresholds"),
                (["trigger": ["left": ["field": "size"], "op": "=", "right": ["value": 1]], "rules": [["template": "velocity"]],
                  "thresholds": ["review": 1, "blockAndReview": 2, "decline": 3]], "trigger.left.field"),
            ]
            for (body, field) in bad {
                let response = try await client.send(.post, "/v1/compliance/scenarios/\(id)/versions", json: Self.json(body), token: token)
                #expect(response.status == 400, "\(response.body)")
                let fields = (response.body["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? []
                #expect(fields.contains(field), "\(response.body)")
            }
            #expect(try await ScreeningAPITests.count(sut, "scenario_versions") == 1)
            let missing = try await client.send(.post, "/v1/compliance/scenarios/\(id)/versions/7/publish", token: token)
            #expect(missing.status == 404)
            let unknown = try await client.send(.get, "/v1/compliance/scenarios/nope", token: token)
            #expect(unknown.status == 404)
            let backwards = try await client.send(
                .post, "/v1/compliance/scenarios/\(id)/versions/1/backtest",
                json: Self.json(["from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"]), token: token)
            #expect(backwards.status == 400)
            let templates = try await client.send(.get, "/v1/compliance/rule-templates", token: token)
            #expect((templates.body["items"] as? [[String: Any]])?.count == 8)
            // Another tenant sees none of it.
            let stranger = try await Fixtures.signUp(client, sut, tag: "stranger")
            #expect(try await client.send(.get, "/v1/compliance/scenarios/\(id)", token: stranger.accessToken).status == 404)
        }
    }
}
