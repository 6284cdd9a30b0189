import FinFlowCore
import FinFlowServer
import Foundation
import HummingbirdTesting
import Testing

@Suite("accounting: the demo tenant")
struct DemoTests {
    @Test("the demo owner signs in and sees a balanced year: statements, aging, a closed prior year, foreign currency")
    func demo() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let demo = try await sut.system.createDemo()
            #expect(demo.entries > 300)
            let login = try await client.send(.post, "/v1/auth/login", json: #"{"email":"\#(demo.email)","password":"\#(demo.password)"}"#)
            #expect(login.status == 200, "\(login.body)")
            let tokens = try #require(login.body["tokens"] as? [String: Any])
            #expect(tokens["tenantId"] as? String == demo.tenantId)
            let books = Books(client: client, token: try #require(tokens["accessToken"] as? String))
            let trial = try await books.trialBalance()
            #expect(trial["USD"] != nil && trial["EUR"] != nil)
            // The last weeks' bank activity came in through the transaction service and the ledger posted all of it.
            let transactions = try await client.send(.get, "/v1/transactions", token: books.token)
            let items = transactions.body["items"] as? [[String: Any]] ?? []
            #expect(items.count == 7 && items.allSatisfy { $0["status"] as? String == "posted" }, "\(transactions.body)")
            let sheet = try await client.send(.get, "/v1/accounting/statements/balance-sheet?translate=true", token: books.token)
            #expect(sheet.status == 200 && StatementTests.amount((sheet.body["currencies"] as? [[String: Any]])?.first?["result"]) == 0, "\(sheet.body)")
            let assets = StatementTests.section(sheet.body, "assets")["items"] as? [[String: Any]] ?? []
            #expect(assets.first { $0["code"] as? String == "1200" }.map { StatementTests.amount($0["amount"]) }.map { $0 > 0 } == true, "inventory stays positive")
            let flow = try await client.send(.get, "/v1/accounting/statements/cash-flow?from=2000-01-01", token: books.token)
            #expect(flow.status == 200)
            let aging = try await client.send(.get, "/v1/accounting/statements/receivables-aging", token: books.token)
            let totals = ((aging.body["currencies"] as? [[String: Any]])?.first?["totals"] as? [NSNumber])?.map(\.int64Value) ?? []
            #expect(totals.dropFirst().contains { $0 > 0 }, "the slow customer makes some receivables overdue")
            // The wholesaler's bills: eleven paid, last month's open, the input tax they carried in the books.
            let paidBills = try await client.send(.get, "/v1/accounting/bills?vendorId=northwind&status=paid", token: books.token)
            #expect(((paidBills.body["items"] as? [[String: Any]]) ?? []).count == 11, "\(paidBills.body)")
            let payables = try await client.send(.get, "/v1/accounting/statements/payables-aging", token: books.token)
            let owed = ((payables.body["currencies"] as? [[String: Any]])?.first?["totals"] as? [NSNumber])?.map(\.int64Value) ?? []
            #expect(owed.reduce(0, +) > 0, "last month's bill is open: \(payables.body)")
            #expect(assets.first { $0["code"] as? String == "1350" }.map { StatementTests.amount($0["amount"]) }.map { $0 > 0 } == true, "input tax recoverable")
            let invoices = try await client.send(.get, "/v1/accounting/invoices?status=paid", token: books.token)
            #expect(((invoices.body["items"] as? [[String: Any]]) ?? []).count > 10)
            let closes = try await client.send(.get, "/v1/accounting/journal-entries?source=close", token: books.token)
            #expect(((closes.body["items"] as? [[String: Any]]) ?? []).count == 1)
        }
    }
}
