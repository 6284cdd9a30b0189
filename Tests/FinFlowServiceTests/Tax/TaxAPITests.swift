import FinFlowCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SQLKit
import Testing

@Suite("tax: calculate, commit, void, thresholds and rules over HTTP")
struct TaxAPITests {
    static func json(_ object: Any) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// A one-line sales invoice body.
    static func invoice(
        code: String, date: String = "2026-03-02", seller: [String: Any] = ["address": ["country": "DE"]],
        buyer: [String: Any] = ["address": ["country": "FR"], "business": false], amount: Int64 = 10_000, product: String = "goods",
        commit: Bool = false, id: String? = nil, type: String = "sales-invoice"
    ) -> String {
        var body: [String: Any] = [
            "code": code, "type": type, "date": date, "currency": "EUR", "seller": seller, "buyer": buyer,
            "lines": [["amount": amount, "productCode": product]], "commit": commit,
        ]
        if let id { body["id"] = id }
        return Self.json(body)
    }

    /// The tax outbox's events of `type`, decoded.
    static func outbox<Contract: EventContract>(_ contract: Contract.Type, _ sut: TestSystem) async throws -> [Contract] {
        let database = try #require(sut.system.databases["tax"])
        let rows = try await database.read { db in
            try await db.raw("SELECT payload FROM outbox WHERE topic = \(bind: Contract.topic) ORDER BY created_at_ms, id").all(decoding: PayloadRow.self)
        }
        return try rows.map { try CloudEvent<Contract>.decoder.decode(CloudEvent<Contract>.self, from: Data($0.payload.utf8)).data }
    }

    @Test("the EUR 10,000 threshold is counted from committed documents: crossed mid-year, taken back by a void")
    func threshold() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut, tag: "seller")
            // EUR 9,950.00 of cross-border sales to consumers, committed: taxed in Germany at 19 %.
            let first = try await client.send(.post, "/v1/tax/calculations", json: Self.invoice(code: "INV-1", amount: 995_000, commit: true), token: user.accessToken)
            try #require(first.status == 201, "\(first.body)")
            #expect(first.body["status"] as? String == "committed")
            #expect(first.body["tax"] as? Int == 189_050)
            let line = try #require((first.body["lines"] as? [[String: Any]])?.first)
            #expect(line["treatment"] as? String == "origin-below-threshold")
            #expect(line["placeOfSupply"] as? String == "DE")

            // A calculation (not committed) counts nothing.
            let quote = try await client.send(.post, "/v1/tax/calculations", json: Self.invoice(code: "Q-1", amount: 500_000), token: user.accessToken)
            #expect(quote.status == 201)
            let before = try await client.send(.get, "/v1/tax/thresholds?date=2026-03-02", token: user.accessToken)
            #expect((before.body["oss"] as? [String: Any])?["currentYearEUR"] as? Int == 995_000)

            // EUR 100.00 more passes EUR 10,000: this one is taxed in France at 20 %.
            let second = try await client.send(.post, "/v1/tax/calculations", json: Self.invoice(code: "INV-2", commit: true), token: user.accessToken)
            try #require(second.status == 201, "\(second.body)")
            #expect(second.body["tax"] as? Int == 2_000)
            #expect(((second.body["lines"] as? [[String: Any]])?.first?["placeOfSupply"]) as? String == "FR")
            #expect((second.body["messages"] as? [String])?.contains { $0.contains("EUR 10,000") } == true)
            let after = try await client.send(.get, "/v1/tax/thresholds?date=2026-03-02", token: user.accessToken)
            let oss = try #require(after.body["oss"] as? [String: Any])
            #expect(oss["currentYearEUR"] as? Int == 1_005_000)
            #expect(oss["destination"] as? Bool == true)
            let committed = try await Self.outbox(TaxCommitted.self, sut)
            #expect(committed.map(\.code) == ["INV-1", "INV-2"])
            #expect(committed.last?.amounts == [.init(jurisdiction: "FR", taxType: "vat", rate: "20", treatment: "destination-oss", taxableMinor: 10_000, taxMinor: 2_000,
                                                   selfAssessed: false, recoverable: true, account: "OSS-FR")])
            #expect(committed.last?.lines == [.init(number: 1, amountMinor: 10_000, taxMinor: 2_000, selfAssessedTaxMinor: 0, rate: "20", recoverable: true)])

            // A committed code cannot be calculated again; voiding takes its sales back out.
            let again = try await client.send(.post, "/v1/tax/calculations", json: Self.invoice(code: "INV-2"), token: user.accessToken)
            #expect(again.status == 409)
            #expect(again.body["code"] as? String == "document-committed")
            let id = try #require(second.body["id"] as? String)
            let voided = try await client.send(.post, "/v1/tax/calculations/\(id)/void", json: #"{"reason":"issued in error"}"#, token: user.accessToken)
            #expect(voided.status == 200)
            #expect(voided.body["status"] as? String == "voided")
            let undone = try await client.send(.get, "/v1/tax/thresholds?date=2026-03-02", token: user.accessToken)
            #expect((undone.body["oss"] as? [String: Any])?["currentYearEUR"] as? Int == 995_000)
            #expect(try await Self.outbox(TaxVoided.self, sut).map(\.code) == ["INV-2"])
            let twice = try await client.send(.post, "/v1/tax/calculations/\(id)/void", json: #"{"reason":"again"}"#, token: user.accessToken)
            #expect(twice.status == 409)

            // Committing the kept quote now counts it; committing twice answers the same.
            let quoteId = try #require(quote.body["id"] as? String)
            let commit = try await client.send(.post, "/v1/tax/calculations/\(quoteId)/commit", token: user.accessToken)
            #expect(commit.status == 200)
            #expect(commit.body["status"] as? String == "committed")
            let recommit = try await client.send(.post, "/v1/tax/calculations/\(quoteId)/commit", token: user.accessToken)
            #expect(recommit.body["committedAt"] as? String == commit.body["committedAt"] as? String)
            let listed = try await client.send(.get, "/v1/tax/calculations?status=committed", token: user.accessToken)
            #expect((listed.body["items"] as? [[String: Any]])?.count == 2)
        }
    }

    @Test("a client id replays its calculation; reused with other content it is refused")
    func replay() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut, tag: "replay")
            let id = UUID().uuidString.lowercased()
            let first = try await client.send(.post, "/v1/tax/calculations", json: Self.invoice(code: "A-1", commit: true, id: id), token: user.accessToken)
            #expect(first.status == 201)
            let again = try await client.send(.post, "/v1/tax/calculations", json: Self.invoice(code: "A-1", commit: true, id: id), token: user.accessToken)
            #expect(again.status == 200)
            #expect(again.body["id"] as? String == id)
            let other = try await client.send(.post, "/v1/tax/calculations", json: Self.invoice(code: "A-2", commit: true, id: id), token: user.accessToken)
            #expect(other.status == 409)
            let figures = try await client.send(.get, "/v1/tax/thresholds?date=2026-03-02", token: user.accessToken)
            #expect((figures.body["oss"] as? [String: Any])?["currentYearEUR"] as? Int == 10_000)
        }
    }

    @Test("a tenant rule overrides a shipped rate from its date, is versioned and audited, and retiring it restores the shipped one")
    func tenantRules() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut, tag: "rules")
            let domestic: [String: Any] = ["address": ["country": "DE"], "business": false]
            let rule = try await client.send(.post, "/v1/tax/rules", json: Self.json([
                "kind": "rate", "jurisdiction": "DE", "category": "standard", "rate": "20", "from": "2026-03-01", "note": "what-if",
            ]), token: user.accessToken)
            try #require(rule.status == 201, "\(rule.body)")
            let before = try await client.send(.post, "/v1/tax/calculations", json: Self.invoice(code: "R-1", date: "2026-02-28", buyer: domestic), token: user.accessToken)
            #expect(before.body["tax"] as? Int == 1_900)
            let after = try await client.send(.post, "/v1/tax/calculations", json: Self.invoice(code: "R-2", buyer: domestic), token: user.accessToken)
            #expect(after.body["tax"] as? Int == 2_000)
            #expect(after.body["ruleSetVersion"] as? Int == 1)
            let listed = try await client.send(.get, "/v1/tax/rules?jurisdiction=DE&date=2026-03-02", token: user.accessToken)
            let inForce = (listed.body["items"] as? [[String: Any]] ?? []).filter { $0["inForce"] as? Bool == true && $0["category"] as? String == "standard" && $0["kind"] as? String == "rate" }
            #expect(inForce.map { $0["origin"] as? String } == ["tenant"])
            let ruleId = try #require(rule.body["id"] as? String)
            #expect(try await client.send(.delete, "/v1/tax/rules/\(ruleId)", token: user.accessToken).status == 204)
            let restored = try await client.send(.post, "/v1/tax/calculations", json: Self.invoice(code: "R-3", buyer: domestic), token: user.accessToken)
            #expect(restored.body["tax"] as? Int == 1_900)
            #expect(restored.body["ruleSetVersion"] as? Int == 2)
            let versions = try await client.send(.get, "/v1/tax/rule-sets", token: user.accessToken)
            #expect((versions.body["items"] as? [[String: Any]])?.map { $0["version"] as? Int } == [2, 1])
            // Bad rules are refused and change nothing.
            for bad in [
                ["kind": "rate", "jurisdiction": "ZZ", "category": "standard", "rate": "20", "from": "2026-03-01"],
                ["kind": "rate", "jurisdiction": "DE", "category": "standard", "rate": "120", "from": "2026-03-01"],
                ["kind": "rate", "jurisdiction": "DE", "category": "zero", "rate": "0", "from": "2026-03-01"],
                ["kind": "product", "jurisdiction": "DE", "category": "reduced", "from": "2026-03-01"],
                ["kind": "rate", "jurisdiction": "DE", "category": "standard", "rate": "20", "from": "2026-03-01", "to": "2026-02-01"],
                ["kind": "rate", "jurisdiction": "DE", "category": "standard", "rate": "20", "from": "2019-01-01"],
            ] {
                let refused = try await client.send(.post, "/v1/tax/rules", json: Self.json(bad), token: user.accessToken)
                #expect(refused.status == 400, "\(bad)")
            }
            #expect((try await client.send(.get, "/v1/tax/rule-sets", token: user.accessToken).body["items"] as? [[String: Any]])?.count == 2)
        }
    }

    @Test("US: local rates from CSV at the origin of an intrastate sale, nexus from committed sales, certificates")
    func unitedStates() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut, tag: "us")
            let csv = """
                state,level,name,zip_from,zip_to,rate,from,to
                CA,county,Los Angeles,90001,91899,0.25,2021-07-01,
                CA,district,Los Angeles County districts,90001,91899,2.25,2021-07-01,
                """
            let loaded = try await client.execute(
                uri: "/v1/tax/local-rates", method: .post,
                headers: [.authorization: "Bearer \(user.accessToken)", .contentType: "text/csv"], body: ByteBuffer(string: csv)) { $0 }
            #expect(loaded.status == .created)
            let bad = try await client.execute(
                uri: "/v1/tax/local-rates", method: .post, headers: [.authorization: "Bearer \(user.accessToken)", .contentType: "text/csv"],
                body: ByteBuffer(string: "state,level,name,zip_from,zip_to,rate,from,to\nCA,county,X,9000,91899,0.25,2021-07-01,\n")) { $0 }
            #expect(bad.status == .badRequest)
            #expect(String(buffer: bad.body).contains("line 2"))
            let profile = try await client.send(.put, "/v1/tax/profile", json: #"{"usPhysicalPresence":["CA"]}"#, token: user.accessToken)
            #expect(profile.status == 200)
            let seller: [String: Any] = ["address": ["country": "US", "region": "CA", "postalCode": "90012"]]
            let sale = try await client.send(.post, "/v1/tax/calculations", json: Self.invoice(
                code: "US-1", seller: seller, buyer: ["address": ["country": "US", "region": "CA", "postalCode": "94105"], "business": false]),
                token: user.accessToken)
            try #require(sale.status == 201, "\(sale.body)")
            #expect(sale.body["tax"] as? Int == 975)
            // Texas: no nexus until USD 500,000 of sales are committed there.
            let texan: [String: Any] = ["address": ["country": "US", "region": "TX", "postalCode": "73301"], "business": true, "customerId": "acme"]
            let none = try await client.send(.post, "/v1/tax/calculations", json: Self.invoice(code: "TX-1", seller: seller, buyer: texan, amount: 50_000_000, commit: true), token: user.accessToken)
            #expect(none.body["tax"] as? Int == 0)
            #expect(((none.body["lines"] as? [[String: Any]])?.first?["treatment"]) as? String == "no-nexus")
            let taxed = try await client.send(.post, "/v1/tax/calculations", json: Self.invoice(code: "TX-2", seller: seller, buyer: texan), token: user.accessToken)
            #expect(taxed.body["tax"] as? Int == 625)
            let certificate = try await client.send(.post, "/v1/tax/exemption-certificates", json: Self.json([
                "customerId": "acme", "number": "TX-RESALE-9", "jurisdictions": ["US-TX"], "reason": "resale", "validFrom": "2026-01-01",
                "expiresOn": "2026-12-31",
            ]), token: user.accessToken)
            #expect(certificate.status == 201)
            let exempt = try await client.send(.post, "/v1/tax/calculations", json: Self.invoice(code: "TX-3", seller: seller, buyer: texan), token: user.accessToken)
            #expect(exempt.body["tax"] as? Int == 0)
            #expect(((exempt.body["lines"] as? [[String: Any]])?.first?["note"] as? String)?.contains("TX-RESALE-9") == true)
            let figures = try await client.send(.get, "/v1/tax/thresholds?date=2026-03-02", token: user.accessToken)
            let texas = (figures.body["states"] as? [[String: Any]])?.first { $0["state"] as? String == "TX" }
            #expect(texas?["nexus"] as? Bool == true)
            #expect(texas?["currentYearSales"] as? Int == 50_000_000)
        }
    }

    @Test("bad calculations are refused with the fields named, and keep nothing", arguments: [
        #"{"code":"B","type":"sales-invoice","date":"2026-02-30","currency":"EUR","seller":{"address":{"country":"DE"}},"buyer":{"address":{"country":"DE"}},"lines":[{"amount":1,"productCode":"goods"}]}"#,
        #"{"code":"B","type":"sales-invoice","date":"2026-03-02","currency":"XXX","seller":{"address":{"country":"DE"}},"buyer":{"address":{"country":"DE"}},"lines":[{"amount":1,"productCode":"goods"}]}"#,
        #"{"code":"B","type":"sales-invoice","date":"2026-03-02","currency":"EUR","seller":{"address":{"country":"D1"}},"buyer":{"address":{"country":"DE"}},"lines":[{"amount":1,"productCode":"goods"}]}"#,
        #"{"code":"B","type":"sales-invoice","date":"2026-03-02","currency":"EUR","seller":{"address":{"country":"DE"}},"buyer":{"address":{"country":"US"}},"lines":[{"amount":1,"productCode":"goods"}]}"#,
        #"{"code":"B","type":"sales-invoice","date":"2026-03-02","currency":"EUR","seller":{"address":{"country":"DE"}},"buyer":{"address":{"country":"DE"}},"lines":[]}"#,
        #"{"code":"B","type":"sales-invoice","date":"2026-03-02","currency":"EUR","seller":{"address":{"country":"DE"}},"buyer":{"address":{"country":"DE"}},"lines":[{"amount":-5,"productCode":"goods"}]}"#,
        #"{"code":"B","type":"sales-invoice","date":"2026-03-02","currency":"EUR","seller":{"address":{"country":"DE"}},"buyer":{"address":{"country":"DE"},"vatNumber":"DE 13€"},"lines":[{"amount":1,"productCode":"goods"}]}"#,
        #"{"code":"","type":"sales-invoice","date":"2026-03-02","currency":"EUR","seller":{"address":{"country":"DE"}},"buyer":{"address":{"country":"DE"}},"lines":[{"amount":1,"productCode":"goods"}]}"#,
        #"{"code":"B","type":"sales-invoice","date":"2020-03-02","currency":"EUR","seller":{"address":{"country":"DE"}},"buyer":{"address":{"country":"DE"}},"lines":[{"amount":1,"productCode":"goods"}]}"#,
        #"{"code":"B","type":"sales-invoice","date":"2026-03-02","currency":"USD","seller":{"address":{"country":"DE"}},"buyer":{"address":{"country":"FR"},"business":false},"lines":[{"amount":1,"productCode":"goods"}]}"#,
        #"{"code":"B","type":"sales-invoice","date":"2026-03-02","currency":"EUR","seller":{"address":{"country":"DE"}},"buyer":{"address":{"country":"DE"}},"lines":[{"amount":9223372036854775807,"productCode":"goods"},{"amount":9223372036854775807,"productCode":"goods"}]}"#,
    ])
    func refused(body: String) async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut, tag: "bad")
            let answer = try await client.send(.post, "/v1/tax/calculations", json: body, token: user.accessToken)
            #expect((400..<500).contains(answer.status), "\(answer.status) \(answer.body)")
            #expect(answer.body["code"] is String)
            let listed = try await client.send(.get, "/v1/tax/calculations", token: user.accessToken)
            #expect((listed.body["items"] as? [[String: Any]])?.isEmpty == true)
        }
    }
}
