import FinFlowAccounting
import FinFlowCore
import Foundation
import HummingbirdTesting
import Testing

@Suite("transactions: the saga through the ledger")
struct TransactionSagaTests {
    @Test("a transaction is pending, then posted by the ledger, shows in its statements, and is reversed on request")
    func postedThenReversed() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let desk = try await Desk.open(client, sut)
            let created = try await desk.create(desk.body(4_500, reference: "INV-77"))
            #expect(created.status == 201, "\(created.body)")
            #expect(created.body["status"] as? String == "pending")
            let id = try #require(created.body["id"] as? String)
            #expect(try await desk.events(TransactionCreated.self).map(\.transactionId) == [id])
            #expect(try await desk.balance("6200") == 0, "nothing is posted before the event travels")

            try await sut.deliver()
            let posted = try await desk.transaction(id)
            #expect(posted["status"] as? String == "posted")
            let entryId = try #require(posted["entryId"] as? String)
            #expect((posted["history"] as? [[String: Any]])?.map { $0["status"] as! String } == ["pending", "posted"])
            #expect(try await desk.balance("6200") == 4_500)
            #expect(try await desk.balance("1020") == -4_500)
            let entry = try await client.send(.get, "/v1/accounting/journal-entries/\(entryId)", token: desk.token)
            #expect(entry.body["sourceId"] as? String == id && entry.body["reference"] as? String == "INV-77")
            let trial = try await Books(client: client, token: desk.token).trialBalance()
            #expect(trial["USD"]?.debits == 4_500)

            // Only a posted transaction can be reversed, and only once.
            let reversing = try await client.send(.post, "/v1/transactions/\(id)/reverse", json: #"{"reason":"entered twice"}"#, token: desk.token)
            #expect(reversing.status == 202, "\(reversing.body)")
            #expect(reversing.body["status"] as? String == "reversal-requested")
            let again = try await client.send(.post, "/v1/transactions/\(id)/reverse", token: desk.token)
            #expect(again.status == 409 && again.body["code"] as? String == "invalid-state")
            try await sut.deliver()
            let reversed = try await desk.transaction(id)
            #expect(reversed["status"] as? String == "reversed")
            #expect(reversed["reversalEntryId"] as? String != nil)
            #expect(try await desk.balance("6200") == 0)
            let statuses = try await desk.events(TransactionStatusChanged.self).filter { $0.transactionId == id }.map(\.status)
            #expect(statuses == ["posted", "reversal-requested", "reversed"])
        }
    }

    @Test("the ledger's refusals reject a transaction with its code; a refused reversal leaves it posted")
    func rejected() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let desk = try await Desk.open(client, sut)
            #expect(try await client.send(.post, "/v1/accounting/periods/2026-01/close", token: desk.token).status == 200)
            let closed = try #require(try await desk.create(desk.body(100, date: "2026-01-15")).body["id"] as? String)
            // A balance constraint: the bank account may not go below zero.
            let constrained = try await client.send(
                .patch, "/v1/accounting/accounts/\(desk.accounts["1010"]!)", json: #"{"balanceConstraint":"credits_must_not_exceed_debits"}"#,
                token: desk.token)
            #expect(constrained.status == 200, "\(constrained.body)")
            let overdrawn = try #require(try await desk.create(desk.body(700, from: "1010", counterparty: "Kiosk")).body["id"] as? String)
            let fine = try #require(try await desk.create(desk.body(300, date: "2026-02-02", counterparty: "Grid Co")).body["id"] as? String)
            try await sut.deliver()
            let first = try await desk.transaction(closed)
            #expect(first["status"] as? String == "rejected")
            #expect(first["statusCode"] as? String == "period-closed")
            #expect((first["statusReason"] as? String)?.contains("2026-01") == true)
            #expect(["balance-constraint", "insufficient-funds"].contains(try await desk.transaction(overdrawn)["statusCode"] as? String ?? ""))
            #expect(try await desk.transaction(fine)["status"] as? String == "posted")
            #expect(try await desk.list("status=rejected").count == 2)

            // Reversing into the closed period is refused by the ledger: the transaction is posted again, with the reason.
            let reversing = try await client.send(.post, "/v1/transactions/\(fine)/reverse", json: #"{"date":"2026-01-31"}"#, token: desk.token)
            #expect(reversing.status == 202)
            try await sut.deliver()
            let refused = try await desk.transaction(fine)
            #expect(refused["status"] as? String == "posted")
            #expect(refused["statusCode"] as? String == "period-closed")
            #expect(try await desk.balance("6200") == 300)
            // A rejected transaction cannot be reversed.
            let rejectedReversal = try await client.send(.post, "/v1/transactions/\(closed)/reverse", token: desk.token)
            #expect(rejectedReversal.status == 409)
        }
    }

    @Test("an accountant's reversal of the entry in the ledger reverses the transaction too")
    func reversedInTheLedger() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let desk = try await Desk.open(client, sut)
            let id = try #require(try await desk.create(desk.body(2_000)).body["id"] as? String)
            try await sut.deliver()
            let entryId = try #require(try await desk.transaction(id)["entryId"] as? String)
            let reversal = try await client.send(.post, "/v1/accounting/journal-entries/\(entryId)/reverse", json: "{}", token: desk.token)
            #expect(reversal.status == 201, "\(reversal.body)")
            try await sut.deliver()
            let reversed = try await desk.transaction(id)
            #expect(reversed["status"] as? String == "reversed")
            #expect(reversed["reversalEntryId"] as? String == reversal.body["id"] as? String)
        }
    }

    @Test("the read model follows the ledger's accounts: a newer change wins, an older one is ignored, archived accounts refuse")
    func readModel() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let desk = try await Desk.open(client, sut)
            let archived = try await client.send(
                .patch, "/v1/accounting/accounts/\(desk.accounts["6300"]!)", json: #"{"status":"archived"}"#, token: desk.token)
            #expect(archived.status == 200, "\(archived.body)")
            try await sut.deliver()
            let refused = try await desk.create(desk.body(100, to: "6300"))
            #expect(refused.status == 422 && refused.body["code"] as? String == "account-archived", "\(refused.body)")
            // An announcement older than the one applied changes nothing.
            let stale = LedgerAccountChanged(
                accountId: desk.accounts["6300"]!, tenantId: desk.user.tenantId, code: "6300", name: "Office supplies", type: "expense",
                currency: "USD", status: "active", changedAtMillis: 1)
            try await LedgerEventTests.publish(stale, tenantId: desk.user.tenantId, on: sut)
            #expect(try await desk.create(desk.body(100, to: "6300")).body["code"] as? String == "account-archived")
            // A new account opened in the ledger can be used at once after its event.
            let opened = try await client.send(
                .post, "/v1/accounting/accounts", json: #"{"code":"6700","name":"Software","type":"expense"}"#, token: desk.token)
            #expect(opened.status == 201, "\(opened.body)")
            try await sut.deliver()
            let newId = try #require(opened.body["id"] as? String)
            #expect(try await desk.create(desk.body(100, to: newId)).status == 201)
            // A read model that missed the announcements (the service added to books kept before) learns the chart again
            // from the operator's re-announcement.
            let readModel = try #require(sut.system.databases["transactions"])
            try await readModel.transaction { db in try await db.raw("DELETE FROM ledger_accounts").run() }
            #expect(try await desk.create(desk.body(100, counterparty: "After the loss")).body["code"] as? String == "unknown-account")
            let announced = try await AccountingService.announceAccounts(
                database: try #require(sut.system.databases["accounting"]), settings: Settings(), tenantId: desk.user.tenantId)
            #expect(announced == desk.accounts.count + 1)
            try await sut.deliver()
            #expect(try await desk.create(desk.body(100, counterparty: "After the loss")).status == 201)
        }
    }
}
