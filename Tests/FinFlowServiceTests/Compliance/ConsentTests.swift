import FinFlowCore
import Foundation
import HummingbirdTesting
import Testing

/// Consents' life cycle and the records of processing.
@Suite("privacy: consents and records of processing")
struct ConsentTests {
    static let json = ScreeningAPITests.json

    @Test("a consent is given, superseded by a newer version, withdrawn, listed by subject and status, and every step is audited")
    func lifecycle() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let owner = try await Fixtures.signUp(client, sut, tag: "consent")
            let token = owner.accessToken
            let id = UUID().uuidString.lowercased()
            let first: [String: Any] = [
                "id": id, "subjectRef": "cust-ada", "purpose": "marketing-email", "textVersion": "2026-01", "method": "web-form",
                "evidence": "form-submission-881",
            ]
            let given = try await client.send(.post, "/v1/compliance/consents", json: Self.json(first), token: token)
            try #require(given.status == 201, "\(given.body)")
            #expect(given.body["status"] as? String == "given" && given.body["recordedBy"] as? String == owner.userId)
            #expect(try await client.send(.post, "/v1/compliance/consents", json: Self.json(first), token: token).status == 200)
            var changed = first
            changed["textVersion"] = "2026-02"
            #expect(try await client.send(.post, "/v1/compliance/consents", json: Self.json(changed), token: token).status == 409)

            changed["id"] = nil
            sut.clock.advance(seconds: 60)
            let newer = try await client.send(.post, "/v1/compliance/consents", json: Self.json(changed), token: token)
            try #require(newer.status == 201, "\(newer.body)")
            let newerId = try #require(newer.body["id"] as? String)
            let old = try await client.send(.get, "/v1/compliance/consents/\(id)", token: token)
            #expect(old.body["status"] as? String == "superseded" && old.body["supersededBy"] as? String == newerId)
            let refused = try await client.send(.post, "/v1/compliance/consents/\(id)/withdraw", json: #"{"method":"email"}"#, token: token)
            #expect(refused.status == 409 && refused.body["code"] as? String == "consent-superseded")

            let withdrawn = try await client.send(.post, "/v1/compliance/consents/\(newerId)/withdraw", json: #"{"method":"email"}"#, token: token)
            #expect(withdrawn.status == 200 && withdrawn.body["status"] as? String == "withdrawn" && withdrawn.body["withdrawalMethod"] as? String == "email")
            #expect(try await client.send(.post, "/v1/compliance/consents/\(newerId)/withdraw", json: #"{"method":"app"}"#, token: token).body["withdrawalMethod"] as? String == "email")

            let given2 = try await client.send(.post, "/v1/compliance/consents", json: Self.json(["subjectRef": "cust-bob", "purpose": "marketing-email", "textVersion": "2026-02", "method": "paper"]), token: token)
            #expect(given2.status == 201)
            let bySubject = try await client.send(.get, "/v1/compliance/consents?subjectRef=cust-ada", token: token)
            #expect((bySubject.body["items"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [newerId, id])
            let active = try await client.send(.get, "/v1/compliance/consents?purpose=marketing-email&status=given", token: token)
            #expect((active.body["items"] as? [[String: Any]])?.compactMap { $0["subjectRef"] as? String } == ["cust-bob"])

            for bad in [
                #"{"subjectRef":"x","purpose":"p","textVersion":"1","method":"carrier-pigeon"}"#,
                #"{"subjectRef":"  ","purpose":"p","textVersion":"1","method":"app"}"#,
                #"{"subjectRef":"x","purpose":"p","textVersion":"1","method":"app","givenAt":"2999-01-01T00:00:00Z"}"#,
                #"{"subjectRef":"x","purpose":"p","method":"app"}"#,
                #"{"subjectRef":"\#(String(repeating: "x", count: 201))","purpose":"p","textVersion":"1","method":"app"}"#,
            ] {
                let answer = try await client.send(.post, "/v1/compliance/consents", json: bad, token: token)
                #expect(answer.status == 400, "\(bad): \(answer.body)")
            }
            #expect(try await client.send(.get, "/v1/compliance/consents/nope", token: token).status == 404)

            try await sut.system.shipAudit()
            let trail = try await client.send(.get, "/v1/compliance/audit-trail?service=compliance", token: token)
            let actions = (trail.body["items"] as? [[String: Any]] ?? []).compactMap { $0["action"] as? String }
            #expect(actions.filter { $0 == "compliance.consent.given" }.count == 3 && actions.contains("compliance.consent.withdrawn"), "\(actions)")
        }
    }

    @Test("the records of processing list the tenant's activities beside every service's declared personal data")
    func processingRecords() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let owner = try await Fixtures.signUp(client, sut, tag: "ropa")
            let token = owner.accessToken
            let activity: [String: Any] = [
                "name": "Customer billing", "purpose": "Invoice customers and collect payment", "lawfulBasis": "contract",
                "dataCategories": ["name", "billing address", "payment history"], "subjectCategories": ["customers"], "recipients": ["payment processor"],
                "retention": [["category": "invoices", "service": "accounting", "period": "P10Y"]],
            ]
            let recorded = try await client.send(.post, "/v1/compliance/processing-records", json: Self.json(activity), token: token)
            try #require(recorded.status == 201, "\(recorded.body)")
            let activityId = try #require(recorded.body["id"] as? String)
            #expect(try await client.send(.post, "/v1/compliance/processing-records", json: Self.json(activity), token: token).body["code"] as? String == "activity-name-taken")
            var changed = activity
            changed["lawfulBasis"] = "legal-obligation"
            let put = try await client.send(.put, "/v1/compliance/processing-records/\(activityId)", json: Self.json(changed), token: token)
            #expect(put.status == 200 && put.body["lawfulBasis"] as? String == "legal-obligation")
            var bad = activity
            bad["lawfulBasis"] = "because"
            #expect(try await client.send(.post, "/v1/compliance/processing-records", json: Self.json(bad), token: token).status == 400)
            bad = activity
            bad["retention"] = [[String: Any]]()
            #expect(try await client.send(.post, "/v1/compliance/processing-records", json: Self.json(bad), token: token).status == 400)
            bad = activity
            bad["subjectCategories"] = [String(repeating: "0", count: 201)]
            let long = try await client.send(.post, "/v1/compliance/processing-records", json: Self.json(bad), token: token)
            #expect(long.status == 400 && "\(long.body)".contains("subjectCategories[0]"), "\(long.body)")

            let records = try await client.send(.get, "/v1/compliance/processing-records", token: token)
            try #require(records.status == 200, "\(records.body)")
            #expect((records.body["activities"] as? [[String: Any]])?.first?["name"] as? String == "Customer billing")
            let platform = records.body["platform"] as? [[String: Any]] ?? []
            #expect(Set(platform.compactMap { $0["service"] as? String }) == Set(DataSubjectRequestOpened.answeringServices))
            let sessions = try #require(platform.first { $0["table"] as? String == "sessions" })
            #expect(sessions["deletedAfterDays"] as? Int == 90)
            let stranger = try await Fixtures.signUp(client, sut, tag: "ropa-other")
            #expect((try await client.send(.get, "/v1/compliance/processing-records", token: stranger.accessToken).body["activities"] as? [Any])?.isEmpty == true)
        }
    }
}
