import FinFlowCore
import Foundation
import HummingbirdTesting
import Testing

@Suite("accounting: year-end close")
struct YearEndTests {
    @Test("closing a year moves earnings into retained earnings once, closes its periods and carries the balances")
    func closeYear() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut)
            let a = try await books.accounts()
            for (date, lines) in [
                ("2025-01-10", [(a["1020"]!, "debit", Int64(500_000)), (a["3000"]!, "credit", Int64(500_000))]),
                ("2025-06-10", [(a["1100"]!, "debit", 200_000), (a["4000"]!, "credit", 200_000)]),
                ("2025-07-10", [(a["6000"]!, "debit", 80_000), (a["1020"]!, "credit", 80_000)]),
                ("2026-02-10", [(a["1100"]!, "debit", 10_000), (a["4000"]!, "credit", 10_000)]),
            ] {
                #expect(try await books.post(Books.entry(date: date, lines: lines)).status == 201)
            }
            #expect(try await client.send(.post, "/v1/accounting/fiscal-years/2026/close", token: books.token).body["code"] as? String == "year-not-ended")
            let closed = try await client.send(.post, "/v1/accounting/fiscal-years/2025/close", token: books.token)
            #expect(closed.status == 200, "\(closed.body)")
            let closing = try #require(closed.body["closingEntry"] as? [String: Any])
            #expect(closing["source"] as? String == "close" && closing["date"] as? String == "2025-12-31")
            let opening = try #require(closed.body["openingBalances"] as? [[String: Any]])
            #expect(opening.first { $0["code"] as? String == "3200" }.map { StatementTests.amount($0["balance"]) } == 120_000)
            #expect(opening.first { $0["code"] as? String == "1020" }.map { StatementTests.amount($0["balance"]) } == 420_000)
            #expect(try await books.balance(a["4000"]!) == 10_000, "2026 revenue stays in revenue")
            #expect(try await books.balance(a["3200"]!) == 120_000)
            let again = try await client.send(.post, "/v1/accounting/fiscal-years/2025/close", token: books.token)
            #expect(again.status == 409 && again.body["code"] as? String == "year-closed")
            // The closed year's income statement still shows its earnings; its balance sheet shows them retained.
            let income = try await client.send(.get, "/v1/accounting/statements/income-statement?from=2025-01-01&to=2025-12-31", token: books.token)
            #expect(StatementTests.amount((income.body["currencies"] as? [[String: Any]])?.first?["result"]) == 120_000)
            let sheet = try await client.send(.get, "/v1/accounting/statements/balance-sheet?asOf=2026-03-31", token: books.token)
            let equity = StatementTests.section(sheet.body, "equity")
            let items = equity["items"] as? [[String: Any]] ?? []
            #expect(items.first { $0["code"] as? String == "3200" }.map { StatementTests.amount($0["amount"]) } == 120_000)
            #expect(items.first { $0["name"] as? String == "Current-year earnings" }.map { StatementTests.amount($0["amount"]) } == 10_000)
            #expect(items.first { $0["name"] as? String == "Retained earnings not yet closed" } == nil)
            let periods = try await client.send(.get, "/v1/accounting/periods?fiscalYear=2025", token: books.token)
            #expect((periods.body["items"] as? [[String: Any]])?.allSatisfy { $0["status"] as? String == "closed" } == true)
            // Reopening reverses the closing entry; the year can close again.
            let reopened = try await client.send(.post, "/v1/accounting/fiscal-years/2025/reopen", token: books.token)
            #expect(reopened.status == 200 && reopened.body["status"] as? String == "open")
            #expect(try await books.balance(a["3200"]!) == 0)
            #expect(try await client.send(.post, "/v1/accounting/fiscal-years/2025/close", token: books.token).status == 200)
            #expect(try await books.balance(a["3200"]!) == 120_000)
            _ = try await books.trialBalance()
        }
    }

    @Test("an earlier year with earnings must be closed first")
    func earlierYearFirst() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut)
            let a = try await books.accounts()
            #expect(try await books.post(Books.entry(date: "2024-05-01", lines: [(a["1100"]!, "debit", 100), (a["4000"]!, "credit", 100)])).status == 201)
            let refused = try await client.send(.post, "/v1/accounting/fiscal-years/2025/close", token: books.token)
            #expect(refused.status == 409 && refused.body["code"] as? String == "earlier-year-open")
            #expect(try await client.send(.post, "/v1/accounting/fiscal-years/2024/close", token: books.token).status == 200)
            #expect(try await client.send(.post, "/v1/accounting/fiscal-years/2025/close", token: books.token).status == 200)
            #expect(try await client.send(.post, "/v1/accounting/fiscal-years/2024/reopen", token: books.token).body["code"] as? String == "later-year-closed")
        }
    }
}
