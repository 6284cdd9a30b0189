import FinFlowCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SQLKit
import Testing

@Suite("compliance: sanctions screening, lists and alerts over HTTP")
struct ScreeningAPITests {
    static func json(_ object: Any) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// Rows of `table` in the compliance database.
    static func count(_ sut: TestSystem, _ table: String) async throws -> Int {
        struct Count: Decodable { let n: Int }
        let database = try #require(sut.system.databases["compliance"])
        return try await database.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first(decoding: Count.self)?.n ?? 0
        }
    }

    /// The compliance outbox's events of `type`, decoded.
    static func outbox<Contract: EventContract>(_ contract: Contract.Type, _ sut: TestSystem) async throws -> [Contract] {
        let database = try #require(sut.system.databases["compliance"])
        let rows = try await database.read { db in
            try await db.raw("SELECT payload FROM outbox WHERE topic = \(bind: Contract.topic) ORDER BY created_at_ms, id").all(decoding: PayloadRow.self)
        }
        return try rows.map { try CloudEvent<Contract>.decoder.decode(CloudEvent<Contract>.self, from: Data($0.payload.utf8)).data }
    }

    /// Sends a CSV body.
    static func csv(_ client: any TestClientProtocol, _ path: String, _ text: String, token: String) async throws -> (status: Int, body: [String: Any]) {
        try await client.execute(
            uri: path, method: .post, headers: [.contentType: "text/csv", .authorization: "Bearer \(token)"], body: ByteBuffer(string: text)
        ) { response in
            (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:])
        }
    }

    @Test("a listed name in Arabic script is a hit, explained and alerted; a replay answers it; an invented name is clear")
    func screenHitAndClear() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let officer = try await Fixtures.signUp(client, sut, tag: "officer")
            let id = UUID().uuidString.lowercased()
            let body = Self.json(["id": id, "subjectType": "customer", "subjectRef": "cust-77", "names": ["محمد يونس أحمد"], "kind": "individual"])
            let hit = try await client.send(.post, "/v1/compliance/screenings", json: body, token: officer.accessToken)
            try #require(hit.status == 201, "\(hit.body)")
            #expect(hit.body["status"] as? String == "hit")
            let matches = try #require(hit.body["matches"] as? [[String: Any]])
            let top = try #require(matches.first { $0["reference"] as? String == "IQi.080" }, "\(matches.map { $0["reference"] ?? "" })")
            #expect(top["listName"] as? String == "un-security-council" && (top["entryNames"] as? [String])?.contains("MUHAMMAD YUNIS AHMAD") == true)
            #expect((top["score"] as? Double ?? 0) >= 0.7)
            let pairs = try #require(top["pairs"] as? [[String: Any]])
            #expect(pairs.count >= 2 && pairs.allSatisfy { ($0["measure"] as? String) != nil })
            let lists = try #require(hit.body["lists"] as? [[String: Any]])
            #expect(lists.map { $0["name"] as? String } == ["un-security-council"])
            let alertId = try #require(hit.body["alertId"] as? String)
            let alerts = try await Self.outbox(ComplianceAlert.self, sut)
            #expect(alerts.map(\.alertId) == [alertId] && alerts[0].kind == "sanctions" && alerts[0].action == "review")
            #expect(alerts[0].subjectType == "customer" && alerts[0].subjectId == "cust-77")

            // The same id and content: the stored screening; other content: refused.
            let again = try await client.send(.post, "/v1/compliance/screenings", json: body, token: officer.accessToken)
            #expect(again.status == 200 && again.body["alertId"] as? String == alertId)
            let other = try await client.send(
                .post, "/v1/compliance/screenings", json: Self.json(["id": id, "subjectType": "customer", "names": ["Somebody Else"]]),
                token: officer.accessToken)
            #expect(other.status == 409 && other.body["code"] as? String == "id-reused")
            #expect(try await Self.count(sut, "compliance_alerts") == 1)

            let clear = try await client.send(
                .post, "/v1/compliance/screenings", json: Self.json(["subjectType": "person", "names": ["Emma Schneider"]]), token: officer.accessToken)
            #expect(clear.status == 201 && clear.body["status"] as? String == "clear" && clear.body["alertId"] == nil)
            #expect((clear.body["matches"] as? [Any])?.isEmpty == true)

            let fetched = try await client.send(.get, "/v1/compliance/screenings/\(id)", token: officer.accessToken)
            #expect(fetched.status == 200 && (fetched.body["matches"] as? [Any])?.count == matches.count)
            let hits = try await client.send(.get, "/v1/compliance/screenings?status=hit", token: officer.accessToken)
            #expect((hits.body["items"] as? [[String: Any]])?.map { $0["id"] as? String } == [id])
            let listed = try await client.send(.get, "/v1/compliance/lists", token: officer.accessToken)
            let list = try #require((listed.body["items"] as? [[String: Any]])?.first)
            #expect(list["entries"] as? Int == 1018 && list["owner"] as? String == "platform" && list["version"] as? Int == 1)

            // Another tenant sees the platform list, not this tenant's screening.
            let stranger = try await Fixtures.signUp(client, sut, tag: "stranger")
            #expect(try await client.send(.get, "/v1/compliance/screenings/\(id)", token: stranger.accessToken).status == 404)
            #expect(try await client.send(.get, "/v1/compliance/alerts/\(alertId)", token: stranger.accessToken).status == 404)
        }
    }

    @Test("bad screenings are named field by field and store nothing")
    func badInput() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let officer = try await Fixtures.signUp(client, sut, tag: "officer")
            let long = String(repeating: "a", count: 301)
            let cases: [([String: Any], String)] = [
                (["subjectType": "person", "names": []], "names"),
                (["subjectType": "person", "names": [long]], "names[0]"),
                (["subjectType": "person", "names": ["---"]], "names[0]"),
                (["subjectType": "person", "names": ["Ann Lee"], "birthDate": "1990-13-01"], "birthDate"),
                (["subjectType": "person", "names": ["Ann Lee"], "birthDate": "1990-02-30"], "birthDate"),
                (["subjectType": "person", "names": ["Ann Lee"], "country": "us"], "country"),
                (["subjectType": "person", "names": ["Ann Lee"], "threshold": 0.2], "threshold"),
                (["subjectType": "person", "names": ["Ann Lee"], "monitor": true], "monitor"),
                (["subjectType": "person", "names": ["Ann Lee"], "id": "not-a-uuid"], "id"),
                (["subjectType": "person", "names": ["Ann Lee"], "subjectRef": String(repeating: "r", count: 201)], "subjectRef"),
            ]
            for (body, field) in cases {
                let response = try await client.send(.post, "/v1/compliance/screenings", json: Self.json(body), token: officer.accessToken)
                #expect(response.status == 400, "\(body)")
                let fields = (response.body["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? []
                #expect(fields.contains(field), "\(body): \(response.body)")
            }
            for raw in [#"{"subjectType":"alien","names":["Ann"]}"#, #"{"names":["Ann"]}"#, #"{"subjectType":"person","names":["Ann"],"extra":1}"#, "[1,2"] {
                #expect(try await client.send(.post, "/v1/compliance/screenings", json: raw, token: officer.accessToken).status == 400, "\(raw)")
            }
            #expect(try await Self.count(sut, "screenings") == 0)
            // A member without the permission is refused.
            let viewer = try await client.send(.get, "/v1/compliance/settings")
            #expect(viewer.status == 401)
        }
    }

    @Test("a tenant's list, loaded as CSV, is screened against the subjects it monitors; a new version supersedes it")
    func tenantListAndRescreen() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let officer = try await Fixtures.signUp(client, sut, tag: "officer")
            let token = officer.accessToken
            // Known customers, clear today.
            for (ref, name) in [("c-1", "Jonathan Quixley"), ("c-2", "Maria Fernandes"), ("c-3", "Gorgon Industries Ltd")] {
                let screened = try await client.send(
                    .post, "/v1/compliance/screenings", json: Self.json(["subjectType": "customer", "subjectRef": ref, "names": [name]]), token: token)
                #expect(screened.body["status"] as? String == "clear", "\(name)")
            }
            #expect(try await Self.count(sut, "monitored_subjects") == 3)
            // Refused lists name their line and store nothing.
            for (text, detail) in [
                ("id,kind,name,colour\n1,individual,Ann,blue\n", "unknown column"),
                ("id,kind,name\n1,individual,Ann\n2,company,Gorgon\n", "line 3: kind"),
                ("id,kind,name\n1,individual,\"Ann\n", "not closed"),
                ("id,kind,name,birth_date\n1,individual,Ann,1990-02-30\n", "line 2: birth_date"),
                ("id,kind,name\n1,individual,Ann\n1,individual,Bob\n", "used twice"),
                ("id,kind,name\n", "no entries"),
            ] {
                let refused = try await Self.csv(client, "/v1/compliance/lists?name=internal-watch", text, token: token)
                #expect(refused.status == 400 && refused.body["code"] as? String == "list-invalid", "\(text)")
                #expect((refused.body["detail"] as? String)?.contains(detail) == true, "\(refused.body)")
            }
            #expect(try await Self.csv(client, "/v1/compliance/lists?name=Bad_Name", "id,kind,name\n1,individual,Ann\n", token: token).status == 400)
            #expect(try await Self.csv(client, "/v1/compliance/lists?name=un-security-council", "id,kind,name\n1,individual,Ann\n", token: token).status == 400)
            #expect(try await Self.count(sut, "list_entries") == 1018)  // the platform's list only

            let first = try await Self.csv(
                client, "/v1/compliance/lists?name=internal-watch&source=fraud%20team",
                "id,kind,name,aliases,country\nw-1,individual,Peter Smallwood,P. Smallwood;Pete Smallwood,GB\n", token: token)
            try #require(first.status == 201, "\(first.body)")
            #expect(first.body["rescreened"] as? Int == 3 && first.body["hits"] as? Int == 0)
            let second = try await Self.csv(
                client, "/v1/compliance/lists?name=internal-watch",
                "id,kind,name,aliases\nw-1,individual,Peter Smallwood,\nw-2,entity,Gorgon Industries Limited,Gorgon Ind\n", token: token)
            try #require(second.status == 201, "\(second.body)")
            #expect(second.body["rescreened"] as? Int == 3 && second.body["hits"] as? Int == 1)
            let list = try #require(second.body["list"] as? [String: Any])
            #expect(list["version"] as? Int == 2 && list["owner"] as? String == "tenant" && list["format"] as? String == "csv")
            let lists = try #require(try await client.send(.get, "/v1/compliance/lists", token: token).body["items"] as? [[String: Any]])
            let own = lists.filter { $0["name"] as? String == "internal-watch" }
            #expect(own.map { $0["status"] as? String } == ["active", "superseded"])

            let rescreened = try await client.send(.get, "/v1/compliance/screenings?subjectRef=c-3", token: token)
            let items = try #require(rescreened.body["items"] as? [[String: Any]])
            #expect(items.map { $0["origin"] as? String } == ["rescreen", "request"])
            #expect(items.first?["status"] as? String == "hit")
            let alerts = try #require(try await client.send(.get, "/v1/compliance/alerts?status=open", token: token).body["items"] as? [[String: Any]])
            #expect(alerts.count == 1 && alerts.first?["subjectRef"] as? String == "c-3")

            // JSON works the same way; a screening with the tenant's list names it.
            let json = try await client.send(
                .post, "/v1/compliance/lists?name=pep-local",
                json: Self.json(["entries": [["id": "p-1", "kind": "individual", "names": ["Hortensia Villanueva"], "birthDate": "1961", "program": "PEP"]]]),
                token: token)
            #expect(json.status == 201 && (json.body["list"] as? [String: Any])?["format"] as? String == "json", "\(json.body)")
            let pep = try await client.send(
                .post, "/v1/compliance/screenings", json: Self.json(["subjectType": "person", "names": ["Villanueva Hortensia"], "birthDate": "1961-04-02"]),
                token: token)
            #expect((pep.body["matches"] as? [[String: Any]])?.first?["program"] as? String == "PEP")
        }
    }

    @Test("alerts close with an outcome, once; the tenant's threshold decides what is a match")
    func alertsAndSettings() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let officer = try await Fixtures.signUp(client, sut, tag: "officer")
            let token = officer.accessToken
            let misspelt = Self.json(["subjectType": "person", "names": ["Kamal Mustapha Abdalla"]])
            let hit = try await client.send(.post, "/v1/compliance/screenings", json: misspelt, token: token)
            let alertId = try #require(hit.body["alertId"] as? String, "\(hit.body)")
            #expect(try await client.send(.post, "/v1/compliance/alerts/\(alertId)/close", json: #"{"outcome":"maybe"}"#, token: token).status == 400)
            let closed = try await client.send(
                .post, "/v1/compliance/alerts/\(alertId)/close", json: #"{"outcome":"false_positive","note":"different person"}"#, token: token)
            #expect(closed.status == 200 && closed.body["status"] as? String == "closed" && closed.body["closedBy"] as? String == officer.userId)
            let same = try await client.send(
                .post, "/v1/compliance/alerts/\(alertId)/close", json: #"{"outcome":"false_positive","note":"different person"}"#, token: token)
            #expect(same.status == 200)
            let changed = try await client.send(.post, "/v1/compliance/alerts/\(alertId)/close", json: #"{"outcome":"confirmed_risk"}"#, token: token)
            #expect(changed.status == 409 && changed.body["code"] as? String == "alert-closed")
            #expect(try await client.send(.post, "/v1/compliance/alerts/nope/close", json: #"{"outcome":"false_positive"}"#, token: token).status == 404)

            #expect(try await client.send(.get, "/v1/compliance/settings", token: token).body["screeningThreshold"] as? Double == 0.7)
            #expect(try await client.send(.put, "/v1/compliance/settings", json: #"{"screeningThreshold":0.3}"#, token: token).status == 400)
            #expect(try await client.send(.put, "/v1/compliance/settings", json: #"{"screeningThreshold":0.99}"#, token: token).status == 200)
            let strict = try await client.send(.post, "/v1/compliance/screenings", json: misspelt, token: token)
            #expect(strict.body["status"] as? String == "clear" && strict.body["threshold"] as? Double == 0.99)
            let exact = try await client.send(
                .post, "/v1/compliance/screenings", json: Self.json(["subjectType": "person", "names": ["KAMAL MUSTAFA ABDALLAH"]]), token: token)
            #expect(exact.body["status"] as? String == "hit")
        }
    }

    @Test("a transaction's new counterparty is screened once, then monitored")
    func counterparties() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let officer = try await Fixtures.signUp(client, sut, tag: "officer")
            func transaction(_ counterparty: String?) -> TransactionCreated {
                TransactionCreated(
                    transactionId: UUID().uuidString.lowercased(), tenantId: officer.tenantId, kind: "payment", amountMinor: 12_000,
                    currency: "USD", valueDate: "2026-03-03", sourceAccountId: UUID().uuidString.lowercased(),
                    destinationAccountId: UUID().uuidString.lowercased(), counterparty: counterparty)
            }
            let event = UUID().uuidString
            try await LedgerEventTests.publish(transaction("Kamal Mustafa Abdallah"), tenantId: officer.tenantId, id: event, on: sut)
            try await LedgerEventTests.publish(transaction("Kamal Mustafa Abdallah"), tenantId: officer.tenantId, id: event, on: sut)
            try await LedgerEventTests.publish(transaction("KAMAL  mustafa abdallah"), tenantId: officer.tenantId, on: sut)
            try await LedgerEventTests.publish(transaction("Acme Office Supplies"), tenantId: officer.tenantId, on: sut)
            try await LedgerEventTests.publish(transaction(nil), tenantId: officer.tenantId, on: sut)
            try await sut.deliver()
            let screenings = try #require(
                try await client.send(.get, "/v1/compliance/screenings?subjectType=counterparty", token: officer.accessToken).body["items"] as? [[String: Any]])
            #expect(screenings.count == 2)
            #expect(Set(screenings.compactMap { $0["subjectRef"] as? String }) == ["kamal mustafa abdallah", "acme office supplies"])
            #expect(screenings.allSatisfy { $0["origin"] as? String == "transaction" })
            #expect(screenings.filter { $0["status"] as? String == "hit" }.count == 1)
            #expect(try await Self.outbox(ComplianceAlert.self, sut).count == 1)
        }
    }

    @Test("bulk screening stores one screening per subject as if each came alone; a fault is named by index and nothing is screened")
    func bulk() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let officer = try await Fixtures.signUp(client, sut, tag: "officer")
            let bad = try await client.send(
                .post, "/v1/compliance/screenings/bulk",
                json: Self.json(["subjects": [["subjectType": "person", "names": ["Emma Schneider"]], ["subjectType": "person", "names": ["!!"]]]]),
                token: officer.accessToken)
            #expect(bad.status == 400)
            #expect((bad.body["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } == ["subjects[1].names[0]"])
            #expect(try await Self.count(sut, "screenings") == 0)
            let subjects: [[String: Any]] = [
                ["subjectType": "customer", "subjectRef": "cust-1", "names": ["محمد يونس أحمد"], "kind": "individual"],
                ["subjectType": "person", "names": ["Emma Schneider"]],
                // The listed individual's name, asked about organisations only: no match of the other kind.
                ["subjectType": "counterparty", "names": ["MUHAMMAD YUNIS AHMAD"], "kind": "entity"],
            ]
            let response = try await client.send(.post, "/v1/compliance/screenings/bulk", json: Self.json(["subjects": subjects]), token: officer.accessToken)
            try #require(response.status == 200, "\(response.body)")
            let items = try #require(response.body["items"] as? [[String: Any]])
            #expect(items.map { $0["index"] as? Int } == [0, 1, 2])
            #expect(items.map { $0["status"] as? String } == ["hit", "clear", "clear"])
            #expect(items[0]["alertId"] != nil && items[1]["alertId"] == nil)
            let stored = try await client.send(.get, "/v1/compliance/screenings/\(try #require(items[0]["id"] as? String))", token: officer.accessToken)
            #expect(stored.status == 200 && stored.body["origin"] as? String == "bulk")
            #expect(try await Self.count(sut, "screenings") == 3)
            #expect(try await Self.count(sut, "monitored_subjects") == 1)
        }
    }
}
