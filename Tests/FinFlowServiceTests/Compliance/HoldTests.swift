import FinFlowCore
import Foundation
import Testing

@Suite("compliance: transactions held until compliance decides, then posted or rejected")
struct HoldTests {
    static let json = ScreeningAPITests.json

    @Test("a held transaction reaches the ledger only once approved (by rules or an officer) and is rejected when declined; unheld ones post at once")
    func holdThenPost() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let desk = try await Desk.open(client, sut, tag: "hold")
            func status(_ id: String) async throws -> String? { try await desk.transaction(id)["status"] as? String }
            func created(_ amount: Int64, country: String = "DE") async throws -> String {
                let response = try await desk.create(desk.body(amount, counterparty: "Lagos Trading", country: country))
                try #require(response.status == 201, "\(response.body)")
                return try #require(response.body["id"] as? String)
            }

            // Without the setting nothing waits: the ledger posts on the creation itself.
            let unheld = try await created(1_000)
            #expect(try await status(unheld) == "pending")
            try await sut.deliver()
            #expect(try await status(unheld) == "posted")
            #expect(try await desk.events(TransactionCreated.self).map(\.postingHeldFor) == [nil])

            try await desk.setLimits { $0["holdForCompliance"] = true }
            let limits = try await client.send(.get, "/v1/transactions/limits", token: desk.token)
            #expect(limits.body["holdForCompliance"] as? Bool == true)

            // Held with no live scenario: the rules have nothing against it, so it is approved and posted.
            let early = try await created(3_000)
            #expect(try await status(early) == "held")
            try await sut.deliver()
            #expect(try await status(early) == "posted")
            #expect(try await desk.balance("6200") == 4_000)

            _ = try await MonitoringAPITests.scenario(client, token: desk.token, name: "Hold", rules: [
                ["template": "large-amount", "parameters": ["threshold": 1_000], "score": 60],
                ["template": "high-risk-country", "parameters": ["countries": ["NG"]], "score": 60],
            ])
            let small = try await created(2_000)
            let review = try await created(150_000)
            let declined = try await created(150_002, country: "NG")
            let refused = try await created(150_001)
            for id in [small, review, declined, refused] { #expect(try await status(id) == "held") }
            try await sut.deliver()
            #expect(try await status(small) == "posted")
            #expect(try await status(review) == "held")
            #expect(try await status(refused) == "held")
            let rejected = try await desk.transaction(declined)
            #expect(rejected["status"] as? String == "rejected" && rejected["statusCode"] as? String == "compliance-declined")
            #expect((rejected["statusReason"] as? String)?.contains("decline") == true, "\(rejected)")
            // Only what compliance let through reached the books.
            #expect(try await desk.balance("6200") == 6_000)

            let waiting = try await client.send(.get, "/v1/compliance/holds?status=in_review", token: desk.token)
            let items = try #require(waiting.body["items"] as? [[String: Any]])
            #expect(Set(items.compactMap { $0["transactionId"] as? String }) == [review, refused])
            #expect(items.allSatisfy { $0["outcome"] as? String == "block_and_review" && ($0["decisionIds"] as? [String])?.count == 1 })
            let rulesDeclined = try await client.send(.get, "/v1/compliance/holds/\(declined)", token: desk.token)
            #expect(rulesDeclined.body["status"] as? String == "declined" && rulesDeclined.body["decidedBy"] as? String == "rules")

            // Bad decisions are refused and change nothing.
            for (body, field) in [(["outcome": "approve", "reason": "  "], "reason"), (["outcome": "maybe", "reason": "x"], nil)] as [([String: String], String?)] {
                let bad = try await client.send(.post, "/v1/compliance/holds/\(review)/decide", json: Self.json(body), token: desk.token)
                #expect(bad.status == 400, "\(bad.body)")
                if let field { #expect("\(bad.body)".contains(field)) }
            }
            let unknown = try await client.send(
                .post, "/v1/compliance/holds/\(UUID().uuidString.lowercased())/decide", json: Self.json(["outcome": "approve", "reason": "ok"]),
                token: desk.token)
            #expect(unknown.status == 404)
            try await sut.deliver()
            #expect(try await status(review) == "held")

            // The officer releases one and declines the other.
            let approved = try await client.send(
                .post, "/v1/compliance/holds/\(review)/decide", json: Self.json(["outcome": "approve", "reason": "Invoice checked"]), token: desk.token)
            #expect(approved.status == 200 && approved.body["status"] as? String == "approved" && approved.body["decidedBy"] as? String == desk.user.userId,
                    "\(approved.body)")
            let again = try await client.send(
                .post, "/v1/compliance/holds/\(review)/decide", json: Self.json(["outcome": "decline", "reason": "Second thoughts"]), token: desk.token)
            #expect(again.status == 409 && again.body["code"] as? String == "hold-decided")
            let refusedByOfficer = try await client.send(
                .post, "/v1/compliance/holds/\(refused)/decide", json: Self.json(["outcome": "decline", "reason": "Unknown beneficiary"]), token: desk.token)
            #expect(refusedByOfficer.status == 200)
            try await sut.deliver()
            let released = try await desk.transaction(review)
            #expect(released["status"] as? String == "posted")
            let history = try #require(released["history"] as? [[String: Any]])
            #expect(history.map { $0["status"] as? String } == ["held", "pending", "posted"])
            #expect(history[1]["reason"] as? String == "Invoice checked")
            let officerRejected = try await desk.transaction(refused)
            #expect(officerRejected["status"] as? String == "rejected" && officerRejected["statusReason"] as? String == "Unknown beneficiary")
            #expect(try await desk.balance("6200") == 156_000)

            // Posting was asked once per release, and the creations said they were held.
            let requested = try await desk.events(TransactionPostingRequested.self).map(\.transactionId)
            #expect(requested.sorted() == [early, small, review].sorted())
            #expect(try await desk.events(TransactionCreated.self).filter { $0.postingHeldFor == "compliance" }.count == 5)
        }
    }
}
