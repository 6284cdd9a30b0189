import FinFlowCore
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("compliance: cases over alerts, and the suspicious-activity report as JSON and goAML XML")
struct CaseTests {
    static let json = ScreeningAPITests.json

    /// Sends a JSON body and answers the status and the raw body text.
    static func raw(_ client: any TestClientProtocol, _ path: String, json: String, token: String) async throws -> (status: Int, text: String, type: String) {
        try await client.execute(
            uri: path, method: .post, headers: [.contentType: "application/json", .authorization: "Bearer \(token)"], body: ByteBuffer(string: json)
        ) { response in
            (Int(response.status.code), String(buffer: response.body), response.headers[.contentType] ?? "")
        }
    }

    /// A tenant with two declined transactions (one in EUR) and a sanctions hit: their alert ids.
    static func alerts(_ client: any TestClientProtocol, _ sut: TestSystem, _ officer: SignedIn) async throws -> (transactions: [String], alerts: [String]) {
        _ = try await MonitoringAPITests.scenario(client, token: officer.accessToken, name: "Risky countries", rules: [
            ["template": "high-risk-country", "parameters": ["countries": ["NG"]], "score": 100],
        ])
        var transactions: [String] = []
        for (amount, currency) in [(250_000 as Int64, "USD"), (90_000, "EUR")] {
            let event = TransactionCreated(
                transactionId: UUID().uuidString.lowercased(), tenantId: officer.tenantId, kind: "payment", amountMinor: amount, currency: currency,
                valueDate: "2026-03-03", sourceAccountId: "acc-ops", destinationAccountId: "acc-out", counterparty: "Lagos Trading & Sons",
                counterpartyCountry: "NG")
            transactions.append(event.transactionId)
            try await LedgerEventTests.publish(event, tenantId: officer.tenantId, on: sut)
        }
        try await sut.deliver()
        let screening = try await client.send(
            .post, "/v1/compliance/screenings", json: Self.json(["subjectType": "customer", "subjectRef": "cust-9", "names": ["محمد يونس أحمد"]]),
            token: officer.accessToken)
        try #require(screening.status == 201 && screening.body["alertId"] != nil, "\(screening.body)")
        let listed = try await client.send(.get, "/v1/compliance/alerts?status=open", token: officer.accessToken)
        let ids = try #require(listed.body["items"] as? [[String: Any]]).compactMap { $0["id"] as? String }
        try #require(ids.count == 3, "\(listed.body)")
        return (transactions, ids)
    }

    @Test("a case groups alerts, moves through investigation with notes and attachments, reports as JSON and goAML, and closes its alerts")
    func caseLifecycle() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let officer = try await Fixtures.signUp(client, sut, tag: "officer")
            let token = officer.accessToken
            let (transactions, alertIds) = try await Self.alerts(client, sut, officer)
            let opened = try await client.send(
                .post, "/v1/compliance/cases", json: Self.json(["title": "Lagos Trading", "alertIds": alertIds, "dueDate": "2026-12-31"]), token: token)
            try #require(opened.status == 201, "\(opened.body)")
            let caseId = try #require(opened.body["id"] as? String)
            #expect(opened.body["status"] as? String == "pending" && (opened.body["alerts"] as? [Any])?.count == 3)

            let moved = try await client.send(
                .patch, "/v1/compliance/cases/\(caseId)", json: Self.json(["status": "investigating", "assignee": "analyst@example.com"]), token: token)
            #expect(moved.status == 200 && moved.body["status"] as? String == "investigating" && moved.body["assignee"] as? String == "analyst@example.com")
            let noted = try await client.send(.post, "/v1/compliance/cases/\(caseId)/notes", json: Self.json(["text": "Called the bank."]), token: token)
            #expect(noted.status == 200)
            let digest = String(repeating: "ab", count: 32)
            let attached = try await client.send(
                .post, "/v1/compliance/cases/\(caseId)/attachments", json: Self.json(["reference": "dms://kyc/cust-9.pdf", "sha256": digest]), token: token)
            #expect(attached.status == 200)

            let request: [String: Any] = [
                "format": "json", "narrative": "Payments to a counterparty in a high-risk country, and a customer resembling a listed person.",
                "filer": ["name": "Ada Lovelace", "email": "ada@example.com", "role": "MLRO"], "reportingEntityId": "RE-0042",
            ]
            let report = try await client.send(.post, "/v1/compliance/cases/\(caseId)/report", json: Self.json(request), token: token)
            try #require(report.status == 200, "\(report.body)")
            #expect(report.body["caseId"] as? String == caseId && report.body["reportCode"] as? String == "STR")
            let reported = try #require(report.body["transactions"] as? [[String: Any]])
            #expect(Set(reported.compactMap { $0["id"] as? String }) == Set(transactions))
            #expect(Set(reported.compactMap { $0["amount"] as? String }) == ["2500.00", "900.00"])
            #expect(reported.allSatisfy { ($0["decisions"] as? [[String: Any]])?.first?["rulesHit"] as? [String] == ["high-risk-country"] })
            #expect(reported.allSatisfy { $0["counterparty"] as? String == "Lagos Trading & Sons" && $0["counterpartyCountry"] as? String == "NG" })
            let screenings = try #require(report.body["screenings"] as? [[String: Any]])
            #expect(screenings.count == 1 && (screenings[0]["matches"] as? [[String: Any]])?.contains { $0["reference"] as? String == "IQi.080" } == true)
            let subjects = try #require(report.body["subjects"] as? [[String: Any]])
            #expect(Set(subjects.compactMap { $0["type"] as? String }) == ["counterparty", "customer"])
            #expect((report.body["filer"] as? [String: Any])?["role"] as? String == "MLRO")

            // goAML: amounts in one local currency, so the EUR transaction needs its rate.
            var xmlRequest = request
            xmlRequest["format"] = "goaml"
            xmlRequest["localCurrency"] = "USD"
            let missingRate = try await client.send(.post, "/v1/compliance/cases/\(caseId)/report", json: Self.json(xmlRequest), token: token)
            #expect(missingRate.status == 400)
            #expect((missingRate.body["errors"] as? [[String: Any]])?.first?["field"] as? String == "exchangeRates")
            xmlRequest["exchangeRates"] = ["EUR": "1.10"]
            let xml = try await Self.raw(client, "/v1/compliance/cases/\(caseId)/report", json: Self.json(xmlRequest), token: token)
            try #require(xml.status == 200, "\(xml.text)")
            #expect(xml.type.hasPrefix("application/xml"))
            let document = try XMLDocument(xmlString: xml.text)
            let root = try #require(document.rootElement())
            #expect(root.name == "report")
            let order = (root.children ?? []).compactMap(\.name)
            let expected = ["rentity_id", "submission_code", "report_code", "entity_reference", "submission_date", "currency_code_local",
                            "reporting_person", "reason", "action", "transaction", "transaction", "report_indicators"]
            #expect(order == expected)
            #expect(root.elements(forName: "rentity_id").first?.stringValue == "RE-0042")
            #expect(root.elements(forName: "currency_code_local").first?.stringValue == "USD")
            let amounts = root.elements(forName: "transaction").compactMap { $0.elements(forName: "amount_local").first?.stringValue }
            #expect(Set(amounts) == ["2500", "990"])
            let foreign = try root.nodes(forXPath: "transaction/t_from_my_client/from_foreign_currency/foreign_currency_code").compactMap(\.stringValue)
            #expect(foreign == ["EUR"])
            let counterparty = try root.nodes(forXPath: "transaction/t_to/to_entity/name").compactMap(\.stringValue)
            #expect(counterparty == ["Lagos Trading & Sons", "Lagos Trading & Sons"])
            let indicators = try root.nodes(forXPath: "report_indicators/indicator").compactMap(\.stringValue)
            #expect(indicators == ["high-risk-country", "sanctions-list-match"])
            #expect(try root.nodes(forXPath: "reporting_person/email").first?.stringValue == "ada@example.com")

            let closed = try await client.send(
                .post, "/v1/compliance/cases/\(caseId)/close", json: Self.json(["outcome": "confirmed_risk", "note": "Reported."]), token: token)
            #expect(closed.status == 200 && closed.body["status"] as? String == "closed" && closed.body["outcome"] as? String == "confirmed_risk")
            let closedAlerts = try #require(closed.body["alerts"] as? [[String: Any]])
            #expect(closedAlerts.allSatisfy { $0["status"] as? String == "closed" && $0["outcome"] as? String == "confirmed_risk" })
            let timeline = try #require(closed.body["timeline"] as? [[String: Any]]).compactMap { $0["kind"] as? String }
            #expect(timeline == ["created", "alerts-added", "status", "assigned", "note", "attachment", "report", "report", "closed"])
            let again = try await client.send(.post, "/v1/compliance/cases/\(caseId)/close", json: Self.json(["outcome": "confirmed_risk"]), token: token)
            #expect(again.status == 200)
            let otherwise = try await client.send(.post, "/v1/compliance/cases/\(caseId)/close", json: Self.json(["outcome": "false_positive"]), token: token)
            #expect(otherwise.status == 409)
            let late = try await client.send(.post, "/v1/compliance/cases/\(caseId)/notes", json: Self.json(["text": "more"]), token: token)
            #expect(late.status == 409 && late.body["code"] as? String == "case-closed")
            let listed = try await client.send(.get, "/v1/compliance/cases?status=closed", token: token)
            #expect((listed.body["items"] as? [[String: Any]])?.map { $0["id"] as? String } == [caseId])
            let stranger = try await Fixtures.signUp(client, sut, tag: "stranger")
            #expect(try await client.send(.get, "/v1/compliance/cases/\(caseId)", token: stranger.accessToken).status == 404)
        }
    }

    @Test("a case refuses unknown, closed and taken alerts and bad fields, storing nothing")
    func badCases() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let officer = try await Fixtures.signUp(client, sut, tag: "officer")
            let token = officer.accessToken
            let (_, alertIds) = try await Self.alerts(client, sut, officer)
            let unknown = try await client.send(.post, "/v1/compliance/cases", json: Self.json(["title": "x", "alertIds": ["nope"]]), token: token)
            #expect(unknown.status == 400 && (unknown.body["errors"] as? [[String: Any]])?.first?["field"] as? String == "alertIds[0]")
            let badDate = try await client.send(
                .post, "/v1/compliance/cases", json: Self.json(["title": "x", "alertIds": [alertIds[0]], "dueDate": "2026-02-30"]), token: token)
            #expect(badDate.status == 400)
            let repeated = try await client.send(
                .post, "/v1/compliance/cases", json: Self.json(["title": "x", "alertIds": [alertIds[0], alertIds[0]]]), token: token)
            #expect(repeated.status == 400)
            #expect(try await ScreeningAPITests.count(sut, "compliance_cases") == 0)
            let first = try await client.send(.post, "/v1/compliance/cases", json: Self.json(["title": "first", "alertIds": [alertIds[0]]]), token: token)
            #expect(first.status == 201)
            let taken = try await client.send(.post, "/v1/compliance/cases", json: Self.json(["title": "second", "alertIds": [alertIds[0], alertIds[1]]]), token: token)
            #expect(taken.status == 409 && taken.body["code"] as? String == "alert-in-case")
            let closedAlert = try await client.send(
                .post, "/v1/compliance/alerts/\(alertIds[2])/close", json: Self.json(["outcome": "false_positive"]), token: token)
            #expect(closedAlert.status == 200)
            let stale = try await client.send(.post, "/v1/compliance/cases", json: Self.json(["title": "third", "alertIds": [alertIds[2]]]), token: token)
            #expect(stale.status == 400)
            #expect(try await ScreeningAPITests.count(sut, "compliance_cases") == 1)
            #expect(try await ScreeningAPITests.count(sut, "case_alerts") == 1)
            let firstId = try #require(first.body["id"] as? String)
            let noReport = try await client.send(
                .post, "/v1/compliance/cases/\(firstId)/report",
                json: Self.json(["format": "goaml", "narrative": "n", "filer": ["name": "A", "email": "a@example.com"]]), token: token)
            #expect(noReport.status == 400 && (noReport.body["errors"] as? [[String: Any]])?.first?["field"] as? String == "reportingEntityId")
        }
    }
}
