import FinFlowCore
import Foundation
import HummingbirdTesting
import Testing

@Suite("accounting: ledger rules")
struct LedgerRulesTests {
    @Test("a new tenant gets the default chart; a balanced entry moves the running balances")
    func postsBalancedEntry() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut)
            let accounts = try await books.accounts()
            #expect(accounts.count >= 30)
            let bank = try #require(accounts["1020"]), capital = try #require(accounts["3000"])
            let posted = try await books.post(Books.entry(description: "Owner invests", lines: [(bank, "debit", 500_000), (capital, "credit", 500_000)]))
            #expect(posted.status == 201, "\(posted.body)")
            #expect(posted.body["status"] as? String == "posted")
            #expect(try await books.balance(bank) == 500_000)
            #expect(try await books.balance(capital) == 500_000)
            let trial = try await books.trialBalance()
            #expect(trial["USD"]?.debits == 500_000 && trial["USD"]?.credits == 500_000)
            // The journal lists it; the account statement shows a running balance.
            let list = try await client.send(.get, "/v1/accounting/journal-entries?accountId=\(bank)", token: books.token)
            #expect((list.body["items"] as? [[String: Any]])?.count == 1)
            let statement = try await client.send(.get, "/v1/accounting/accounts/\(bank)/statement", token: books.token)
            let lines = try #require(statement.body["lines"] as? [[String: Any]])
            #expect((lines.first?["runningBalance"] as? NSNumber)?.int64Value == 500_000)
        }
    }

    @Test("every invalid entry gets its 4xx and changes nothing")
    func rejectsBadEntries() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut)
            let accounts = try await books.accounts()
            let bank = accounts["1020"]!, capital = accounts["3000"]!, rent = accounts["6100"]!
            let archived = try await client.send(.patch, "/v1/accounting/accounts/\(accounts["6300"]!)", json: #"{"status":"archived"}"#, token: books.token)
            #expect(archived.status == 200)
            let euro = try await client.send(
                .post, "/v1/accounting/accounts", json: #"{"code":"1025","name":"Bank EUR","type":"asset","currency":"EUR","cashFlowTag":"cash"}"#,
                token: books.token)
            #expect(euro.status == 201, "\(euro.body)")
            let euroId = try #require(euro.body["id"] as? String)
            let id = UUID().uuidString.lowercased()
            #expect(try await books.post(Books.entry(id: id, lines: [(bank, "debit", 1000), (capital, "credit", 1000)])).status == 201)
            let cases: [(String, Int, String)] = [
                (Books.entry(lines: [(bank, "debit", 1000), (capital, "credit", 999)]), 400, "unbalanced"),
                (Books.entry(lines: [(bank, "debit", 0), (capital, "credit", 0)]), 400, "validation-failed"),
                (Books.entry(lines: [(bank, "debit", -5), (capital, "credit", -5)]), 400, "validation-failed"),
                (Books.entry(lines: [(bank, "debit", 5)]), 400, "validation-failed"),
                (Books.entry(lines: [(bank, "debit", 1_000_000_000_000_001), (capital, "credit", 1_000_000_000_000_001)]), 400, "validation-failed"),
                (Books.entry(date: "2026-02-30", lines: [(bank, "debit", 5), (capital, "credit", 5)]), 400, "validation-failed"),
                (Books.entry(description: "", lines: [(bank, "debit", 5), (capital, "credit", 5)]), 400, "validation-failed"),
                (Books.entry(lines: [(UUID().uuidString, "debit", 5), (capital, "credit", 5)]), 400, "unknown-account"),
                (Books.entry(lines: [("not-a-uuid", "debit", 5), (capital, "credit", 5)]), 400, "validation-failed"),
                (Books.entry(lines: [(accounts["6300"]!, "debit", 5), (bank, "credit", 5)]), 422, "account-archived"),
                (Books.entry(lines: [(euroId, "debit", 5), (capital, "credit", 5)]), 400, "unbalanced"),
                (Books.entry(lines: [(bank, "debit", 5), (rent, "credit", 5)], ).replacingOccurrences(of: #""amount":5,"#, with: #""amount":5,"currency":"EUR","#),
                 400, "currency-mismatch"),
                (Books.entry(id: id, lines: [(bank, "debit", 2000), (capital, "credit", 2000)]), 409, "id-reused"),
                (Books.entry(mode: "post", timeoutSeconds: 60, lines: [(bank, "debit", 5), (capital, "credit", 5)]), 400, "validation-failed"),
                (#"{"date":"2026-03-01","description":"x","lines":[],"extra":1}"#, 400, ""),
                (#"{"date":"2026-03-01","description":"x","lines":[{"accountId":"\#(bank)","side":"sideways","amount":5}]}"#, 400, ""),
                (#"{"date":"2026-03-01","description":"x","lines":[{"accountId":"\#(bank)","side":"debit","amount":1e30}]}"#, 400, ""),
                ("not json", 400, ""),
            ]
            for (json, status, code) in cases {
                let response = try await books.post(json)
                #expect(response.status == status, "\(json) → \(response.body)")
                if !code.isEmpty { #expect(response.body["code"] as? String == code, "\(json) → \(response.body)") }
            }
            let trial = try await books.trialBalance()
            #expect(trial["USD"]?.debits == 1000, "a rejected entry changed the books")
            #expect(try await books.balance(bank) == 1000)
            // The same id with the same content is a retry: the same entry, no second effect.
            let retry = try await books.post(Books.entry(id: id, lines: [(bank, "debit", 1000), (capital, "credit", 1000)]))
            #expect(retry.status == 201 && retry.body["id"] as? String == id)
            #expect(try await books.balance(bank) == 1000)
            // A batch with one bad entry posts nothing.
            let batch = try await client.send(
                .post, "/v1/accounting/journal-entries/batch",
                json: #"{"entries":[\#(Books.entry(lines: [(bank, "debit", 7), (capital, "credit", 7)])),\#(Books.entry(lines: [(bank, "debit", 7), (capital, "credit", 8)]))]}"#,
                token: books.token)
            #expect(batch.status == 400 && batch.body["code"] as? String == "unbalanced")
            #expect(try await books.balance(bank) == 1000)
            // Another tenant cannot post to these accounts or read them.
            let (other, _) = try await Books.open(client, sut, tag: "other")
            #expect(try await other.post(Books.entry(lines: [(bank, "debit", 5), (capital, "credit", 5)])).body["code"] as? String == "unknown-account")
            #expect(try await client.send(.get, "/v1/accounting/accounts/\(bank)", token: other.token).status == 404)
            #expect(try await client.send(.get, "/v1/accounting/journal-entries/\(id)", token: other.token).status == 404)
            let theirs = try await other.accounts()
            let taken = try await other.post(Books.entry(id: id, lines: [(theirs["1020"]!, "debit", 1000), (theirs["3000"]!, "credit", 1000)]))
            #expect(taken.status == 409 && taken.body["code"] as? String == "id-reused", "\(taken.body)")
            #expect(try await other.trialBalance().isEmpty)
        }
    }

    @Test("balance constraints reject a posting whole, TigerBeetle-style")
    func balanceConstraints() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut)
            let accounts = try await books.accounts()
            let wallet = try await client.send(
                .post, "/v1/accounting/accounts",
                json: #"{"code":"2410","name":"Customer wallet","type":"liability","balanceConstraint":"debits_must_not_exceed_credits"}"#,
                token: books.token)
            let walletId = try #require(wallet.body["id"] as? String)
            let bank = accounts["1020"]!
            #expect(try await books.post(Books.entry(lines: [(bank, "debit", 100), (walletId, "credit", 100)])).status == 201)
            let over = try await books.post(Books.entry(lines: [(walletId, "debit", 101), (bank, "credit", 101)]))
            #expect(over.status == 422 && over.body["code"] as? String == "insufficient-funds")
            #expect(try await books.post(Books.entry(lines: [(walletId, "debit", 100), (bank, "credit", 100)])).status == 201)
            #expect(try await books.balance(walletId) == 0)
            // A pending debit counts against the constraint too.
            #expect(try await books.post(Books.entry(lines: [(bank, "debit", 50), (walletId, "credit", 50)])).status == 201)
            #expect(try await books.post(Books.entry(mode: "pending", lines: [(walletId, "debit", 40), (bank, "credit", 40)])).status == 201)
            let second = try await books.post(Books.entry(lines: [(walletId, "debit", 20), (bank, "credit", 20)]))
            #expect(second.body["code"] as? String == "insufficient-funds")
            // A constraint the balance already breaks cannot be set.
            let cash = accounts["1010"]!
            #expect(try await books.post(Books.entry(lines: [(accounts["6100"]!, "debit", 10), (cash, "credit", 10)])).status == 201)
            let constrain = try await client.send(
                .patch, "/v1/accounting/accounts/\(cash)", json: #"{"balanceConstraint":"credits_must_not_exceed_debits"}"#, token: books.token)
            #expect(constrain.status == 409)
        }
    }

    @Test("a reversal is linked both ways, and a posted entry cannot be reversed twice")
    func reversal() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut)
            let accounts = try await books.accounts()
            let posted = try await books.post(Books.entry(lines: [(accounts["6100"]!, "debit", 1200), (accounts["1020"]!, "credit", 1200)]))
            let id = try #require(posted.body["id"] as? String)
            let reversal = try await client.send(.post, "/v1/accounting/journal-entries/\(id)/reverse", json: #"{"date":"2026-03-31"}"#, token: books.token)
            #expect(reversal.status == 201, "\(reversal.body)")
            #expect(reversal.body["reversesId"] as? String == id)
            let original = try await client.send(.get, "/v1/accounting/journal-entries/\(id)", token: books.token)
            #expect(original.body["reversedById"] as? String == reversal.body["id"] as? String)
            #expect(try await books.balance(accounts["6100"]!) == 0)
            let again = try await client.send(.post, "/v1/accounting/journal-entries/\(id)/reverse", token: books.token)
            #expect(again.status == 409 && again.body["code"] as? String == "already-reversed")
            #expect(try await client.send(.post, "/v1/accounting/journal-entries/\(UUID())/reverse", token: books.token).status == 404)
            // The database itself refuses to change a posted line.
            let database = try #require(sut.system.databases["accounting"])
            await #expect(throws: (any Error).self) {
                try await database.transaction { db in
                    try await db.raw("UPDATE journal_lines SET debit_minor = 1 WHERE entry_id = \(bind: id) AND line_no = 1").run()
                }
            }
            await #expect(throws: (any Error).self) {
                try await database.transaction { db in try await db.raw("DELETE FROM journal_entries WHERE id = \(bind: id)").run() }
            }
        }
    }
}
