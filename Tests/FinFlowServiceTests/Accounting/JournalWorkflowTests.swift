import FinFlowCore
import Foundation
import HummingbirdTesting
import Testing

@Suite("accounting: drafts, approval, two-phase entries, periods")
struct JournalWorkflowTests {
    @Test("a draft changes nothing until posted; above the threshold a second person must approve")
    func makerChecker() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, owner) = try await Books.open(client, sut, tag: "maker")
            let accounts = try await books.accounts()
            let rent = accounts["6100"]!, bank = accounts["1020"]!
            let draft = try await books.post(Books.entry(mode: "draft", lines: [(rent, "debit", 900), (bank, "credit", 900)]))
            #expect(draft.status == 201 && draft.body["status"] as? String == "draft")
            #expect(try await books.balance(rent) == 0)
            let draftId = try #require(draft.body["id"] as? String)
            let posted = try await client.send(.post, "/v1/accounting/journal-entries/\(draftId)/post", token: books.token)
            #expect(posted.status == 200 && posted.body["status"] as? String == "posted", "\(posted.body)")
            #expect(try await books.balance(rent) == 900)
            #expect(try await client.send(.post, "/v1/accounting/journal-entries/\(draftId)/post", token: books.token).status == 409)

            let settings = try await client.send(.patch, "/v1/accounting/settings", json: #"{"approvalThreshold":100000}"#, token: books.token)
            #expect(settings.status == 200 && (settings.body["approvalThreshold"] as? NSNumber)?.int64Value == 100_000)
            #expect(try await client.send(.patch, "/v1/accounting/settings", json: #"{"approvalThreshold":-1}"#, token: books.token).status == 400)
            #expect(try await client.send(.patch, "/v1/accounting/settings", json: #"{"baseCurrency":"EUR"}"#, token: books.token).status == 409)
            let small = try await books.post(Books.entry(lines: [(rent, "debit", 100_000), (bank, "credit", 100_000)]))
            #expect(small.body["status"] as? String == "posted")
            let large = try await books.post(Books.entry(lines: [(rent, "debit", 100_001), (bank, "credit", 100_001)]))
            #expect(large.status == 201 && large.body["status"] as? String == "awaiting_approval")
            let largeId = try #require(large.body["id"] as? String)
            #expect(try await books.balance(rent) == 100_900)
            let own = try await client.send(.post, "/v1/accounting/journal-entries/\(largeId)/approve", token: books.token)
            #expect(own.status == 403 && own.body["code"] as? String == "four-eyes")
            let accountant = try await Fixtures.member(of: owner, roles: ["accountant"], client, sut, tag: "accountant")
            #expect(try await client.send(.post, "/v1/accounting/journal-entries/\(largeId)/approve", token: accountant).status == 403)
            let approver = try await Fixtures.member(of: owner, roles: ["approver"], client, sut, tag: "approver")
            let approved = try await client.send(.post, "/v1/accounting/journal-entries/\(largeId)/approve", token: approver)
            #expect(approved.status == 200 && approved.body["status"] as? String == "posted", "\(approved.body)")
            #expect(approved.body["approvedBy"] as? String != nil)
            #expect(try await books.balance(rent) == 200_901)
            // An approver cannot post entries, and a discarded draft can no longer be posted.
            #expect(try await books.post(Books.entry(lines: [(rent, "debit", 1), (bank, "credit", 1)]), token: approver).status == 403)
            let other = try await books.post(Books.entry(mode: "draft", lines: [(rent, "debit", 5), (bank, "credit", 5)]))
            let otherId = try #require(other.body["id"] as? String)
            #expect(try await client.send(.post, "/v1/accounting/journal-entries/\(otherId)/discard", token: books.token).status == 200)
            #expect(try await client.send(.post, "/v1/accounting/journal-entries/\(otherId)/post", token: books.token).status == 409)
        }
    }

    @Test("a pending entry reserves, then posts fully or partly, voids or expires, exactly once")
    func twoPhase() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut)
            let accounts = try await books.accounts()
            let receivable = accounts["1100"]!, revenue = accounts["4000"]!
            let pending = try await books.post(Books.entry(mode: "pending", timeoutSeconds: 3600, lines: [(receivable, "debit", 1000), (revenue, "credit", 1000)]))
            #expect(pending.status == 201 && pending.body["status"] as? String == "pending")
            let pendingId = try #require(pending.body["id"] as? String)
            let reserved = try #require(try await books.account(receivable)["balances"] as? [String: Any])
            #expect((reserved["pendingDebits"] as? NSNumber)?.int64Value == 1000)
            #expect((reserved["balance"] as? NSNumber)?.int64Value == 0)
            let bad = try await client.send(.post, "/v1/accounting/journal-entries/\(pendingId)/post", json: #"{"amounts":{"1":1500,"2":1500}}"#, token: books.token)
            #expect(bad.status == 400)
            let unbalanced = try await client.send(.post, "/v1/accounting/journal-entries/\(pendingId)/post", json: #"{"amounts":{"1":600}}"#, token: books.token)
            #expect(unbalanced.status == 400 && unbalanced.body["code"] as? String == "unbalanced")
            let partial = try await client.send(.post, "/v1/accounting/journal-entries/\(pendingId)/post", json: #"{"amounts":{"1":600,"2":600}}"#, token: books.token)
            #expect(partial.status == 200 && partial.body["pendingId"] as? String == pendingId, "\(partial.body)")
            let after = try #require(try await books.account(receivable)["balances"] as? [String: Any])
            #expect((after["pendingDebits"] as? NSNumber)?.int64Value == 0)
            #expect((after["balance"] as? NSNumber)?.int64Value == 600)
            let twice = try await client.send(.post, "/v1/accounting/journal-entries/\(pendingId)/post", token: books.token)
            #expect(twice.status == 409)
            #expect(try await client.send(.post, "/v1/accounting/journal-entries/\(pendingId)/void", token: books.token).status == 409)
            let resolved = try await client.send(.get, "/v1/accounting/journal-entries/\(pendingId)", token: books.token)
            #expect(resolved.body["status"] as? String == "resolved" && resolved.body["resolvedById"] as? String == partial.body["id"] as? String)

            let toVoid = try await books.post(Books.entry(mode: "pending", lines: [(receivable, "debit", 70), (revenue, "credit", 70)]))
            let voidId = try #require(toVoid.body["id"] as? String)
            #expect(try await client.send(.post, "/v1/accounting/journal-entries/\(voidId)/void", token: books.token).body["status"] as? String == "voided")
            #expect(try await client.send(.post, "/v1/accounting/journal-entries/\(voidId)/post", token: books.token).status == 409)

            let expiring = try await books.post(Books.entry(mode: "pending", timeoutSeconds: 60, lines: [(receivable, "debit", 30), (revenue, "credit", 30)]))
            let expiringId = try #require(expiring.body["id"] as? String)
            sut.clock.advance(seconds: 61)
            let late = try await client.send(.post, "/v1/accounting/journal-entries/\(expiringId)/post", token: books.token)
            #expect(late.status == 409 && late.body["code"] as? String == "pending-expired", "\(late.body)")
            let expired = try await client.send(.get, "/v1/accounting/journal-entries/\(expiringId)", token: books.token)
            #expect(expired.body["status"] as? String == "expired")
            let final = try #require(try await books.account(receivable)["balances"] as? [String: Any])
            #expect((final["pendingDebits"] as? NSNumber)?.int64Value == 0)
            #expect((final["balance"] as? NSNumber)?.int64Value == 600)
        }
    }

    @Test("a closed period refuses postings except from a holder of periods:reopen, audited; a locked one refuses all")
    func periods() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, owner) = try await Books.open(client, sut, tag: "closer")
            let accounts = try await books.accounts()
            let rent = accounts["6100"]!, bank = accounts["1020"]!
            let accountant = try await Fixtures.member(of: owner, roles: ["accountant"], client, sut, tag: "acct")
            let periods = try await client.send(.get, "/v1/accounting/periods?fiscalYear=2026", token: books.token)
            #expect((periods.body["items"] as? [[String: Any]])?.count == 12)
            #expect(try await client.send(.post, "/v1/accounting/periods/2026-13/close", token: accountant).status == 400)
            #expect(try await client.send(.post, "/v1/accounting/periods/2026-02/close", token: accountant).body["status"] as? String == "closed")
            let refused = try await books.post(Books.entry(date: "2026-02-15", lines: [(rent, "debit", 10), (bank, "credit", 10)]), token: accountant)
            #expect(refused.status == 422 && refused.body["code"] as? String == "period-closed")
            #expect(try await client.send(.post, "/v1/accounting/periods/2026-02/reopen", token: accountant).status == 403)
            let byOwner = try await books.post(Books.entry(date: "2026-02-15", lines: [(rent, "debit", 10), (bank, "credit", 10)]))
            #expect(byOwner.status == 201)
            let database = try #require(sut.system.databases["accounting"])
            struct Row: Decodable { let action: String; let target: String? }
            let rows = try await database.read { db in
                try await db.raw("SELECT action, target FROM audit_log WHERE tenant_id = \(bind: owner.tenantId) ORDER BY seq").all(decoding: Row.self)
            }
            #expect(rows.contains { $0.action == "accounting.closed-period.posted" && $0.target == "2026-02" })
            #expect(rows.contains { $0.action == "accounting.period.closed" && $0.target == "2026-02" })
            // Reversing into the closed period is refused too; into an open one it works.
            let entryId = try #require(byOwner.body["id"] as? String)
            let reverse = try await client.send(.post, "/v1/accounting/journal-entries/\(entryId)/reverse", token: accountant)
            #expect(reverse.body["code"] as? String == "period-closed")
            #expect(try await client.send(.post, "/v1/accounting/journal-entries/\(entryId)/reverse", json: #"{"date":"2026-03-01"}"#, token: accountant).status == 201)
            #expect(try await client.send(.post, "/v1/accounting/periods/2026-02/lock", token: books.token).body["status"] as? String == "locked")
            let locked = try await books.post(Books.entry(date: "2026-02-20", lines: [(rent, "debit", 10), (bank, "credit", 10)]))
            #expect(locked.status == 422 && locked.body["code"] as? String == "period-locked")
            #expect(try await client.send(.post, "/v1/accounting/periods/2026-02/reopen", token: books.token).status == 409)
            // A period with pending entries cannot close.
            let pending = try await books.post(Books.entry(date: "2026-04-03", mode: "pending", lines: [(rent, "debit", 10), (bank, "credit", 10)]))
            #expect(pending.status == 201)
            #expect(try await client.send(.post, "/v1/accounting/periods/2026-04/close", token: books.token).status == 409)
        }
    }
}
