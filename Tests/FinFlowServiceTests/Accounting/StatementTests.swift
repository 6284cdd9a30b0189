import FinFlowCore
import Foundation
import HummingbirdTesting
import Testing

@Suite("accounting: financial statements")
struct StatementTests {
    static func amount(_ value: Any?) -> Int64 { (value as? NSNumber)?.int64Value ?? .min }

    static func section(_ body: [String: Any], _ name: String, currency: String = "USD") -> [String: Any] {
        let currencies = body["currencies"] as? [[String: Any]] ?? []
        let report = currencies.first { $0["currency"] as? String == currency } ?? [:]
        return (report["sections"] as? [[String: Any]] ?? []).first { $0["name"] as? String == name } ?? [:]
    }

    @Test("trial balance, balance sheet and income statement agree, with comparatives and CSV")
    func statements() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut)
            let a = try await books.accounts()
            let entries: [(String, [(String, String, Int64)])] = [
                ("2025-12-15", [(a["1020"]!, "debit", 1_000_000), (a["3000"]!, "credit", 1_000_000)]),
                ("2025-12-20", [(a["1100"]!, "debit", 50_000), (a["4000"]!, "credit", 50_000)]),
                ("2026-01-05", [(a["6100"]!, "debit", 120_000), (a["1020"]!, "credit", 120_000)]),
                ("2026-01-20", [(a["1100"]!, "debit", 300_000), (a["4100"]!, "credit", 300_000)]),
                ("2026-02-01", [(a["1020"]!, "debit", 250_000), (a["1100"]!, "credit", 250_000)]),
                ("2026-02-10", [(a["1510"]!, "debit", 240_000), (a["1020"]!, "credit", 240_000)]),
                ("2026-02-28", [(a["6400"]!, "debit", 10_000), (a["1590"]!, "credit", 10_000)]),
                ("2026-03-01", [(a["1020"]!, "debit", 400_000), (a["2500"]!, "credit", 400_000)]),
            ]
            for (date, lines) in entries {
                #expect(try await books.post(Books.entry(date: date, lines: lines)).status == 201)
            }
            let trial = try await books.trialBalance(query: "?from=2026-01-01&to=2026-12-31")
            #expect(trial["USD"]?.debits == 1_320_000 && trial["USD"]?.credits == 1_320_000)
            let compared = try await client.send(
                .get, "/v1/accounting/statements/trial-balance?from=2026-01-01&to=2026-12-31&compareFrom=2025-01-01&compareTo=2025-12-31",
                token: books.token)
            let rows = ((compared.body["currencies"] as? [[String: Any]])?.first?["rows"] as? [[String: Any]]) ?? []
            let bankRow = rows.first { $0["code"] as? String == "1020" }
            #expect(bankRow.map { Self.amount($0["closing"]) } == 1_290_000 && bankRow.map { Self.amount($0["compareClosing"]) } == 1_000_000)
            let rentRow = rows.first { $0["code"] as? String == "6100" }
            #expect(rentRow.map { Self.amount($0["debits"]) } == 120_000 && rentRow.map { Self.amount($0["compareDebits"]) } == 0)
            #expect(rows.contains { $0["code"] as? String == "4000" && Self.amount($0["compareCredits"]) == 50_000 })

            let sheet = try await client.send(.get, "/v1/accounting/statements/balance-sheet?asOf=2026-03-31&compareAsOf=2025-12-31", token: books.token)
            #expect(sheet.status == 200, "\(sheet.body)")
            let assets = Self.section(sheet.body, "assets"), liabilities = Self.section(sheet.body, "liabilities")
            let equity = Self.section(sheet.body, "equity")
            // Cash 1,290,000 + receivables 100,000 + equipment 240,000 − depreciation 10,000.
            #expect(Self.amount(assets["total"]) == 1_620_000)
            #expect(Self.amount(liabilities["total"]) == 400_000)
            #expect(Self.amount(equity["total"]) == 1_220_000)
            #expect(Self.amount(assets["compareTotal"]) == 1_050_000)
            let equityItems = equity["items"] as? [[String: Any]] ?? []
            let current = equityItems.first { $0["name"] as? String == "Current-year earnings" }
            let prior = equityItems.first { $0["name"] as? String == "Retained earnings not yet closed" }
            #expect(Self.amount(current?["amount"]) == 170_000)
            #expect(Self.amount(prior?["amount"]) == 50_000)
            // Header accounts roll up their children.
            let assetItems = assets["items"] as? [[String: Any]] ?? []
            let fixed = assetItems.first { $0["code"] as? String == "1500" }
            #expect(Self.amount(fixed?["amount"]) == 230_000)
            #expect(assetItems.first { $0["code"] as? String == "1590" }?["level"] as? Int == 1)

            let income = try await client.send(
                .get, "/v1/accounting/statements/income-statement?from=2026-01-01&to=2026-12-31&compareFrom=2025-01-01&compareTo=2025-12-31",
                token: books.token)
            let report = (income.body["currencies"] as? [[String: Any]])?.first ?? [:]
            #expect(Self.amount(report["result"]) == 170_000)
            #expect(Self.amount(report["compareResult"]) == 50_000)
            #expect(Self.amount(Self.section(income.body, "revenue")["total"]) == 300_000)
            #expect(Self.amount(Self.section(income.body, "expenses")["total"]) == 130_000)

            let csv = try await client.execute(
                uri: "/v1/accounting/statements/balance-sheet?asOf=2026-03-31&format=csv", method: .get,
                headers: [.authorization: "Bearer \(books.token)"]) { response in
                (response.headers[.contentType], String(buffer: response.body))
            }
            #expect(csv.0?.hasPrefix("text/csv") == true)
            #expect(csv.1.hasPrefix("currency,section,code,name,level,amount,compare_amount\r\n"))
            #expect(csv.1.contains("USD,assets,,Total assets,,16200.00,"))
            for bad in ["?from=2026-13-01", "?from=2026-03-01&to=2026-02-01", "?format=xml", "?to=yesterday"] {
                #expect(try await client.send(.get, "/v1/accounting/statements/trial-balance\(bad)", token: books.token).status == 400)
            }
            // Historical balance from history; statement pages carry the running balance across pages.
            let past = try await client.send(.get, "/v1/accounting/accounts/\(a["1020"]!)/balance?asOf=2026-01-31", token: books.token)
            #expect(Self.amount(past.body["balance"]) == 880_000)
            var cursor: String? = nil
            var balances: [Int64] = []
            repeat {
                let page = try await client.send(
                    .get, "/v1/accounting/accounts/\(a["1020"]!)/statement?limit=2\(cursor.map { "&cursor=\($0)" } ?? "")", token: books.token)
                balances += (page.body["lines"] as? [[String: Any]] ?? []).map { Self.amount($0["runningBalance"]) }
                cursor = page.body["nextCursor"] as? String
            } while cursor != nil
            #expect(balances == [1_000_000, 880_000, 1_130_000, 890_000, 1_290_000])
            let ranged = try await client.send(.get, "/v1/accounting/accounts/\(a["1020"]!)/statement?from=2026-02-01", token: books.token)
            #expect(Self.amount(ranged.body["openingBalance"]) == 880_000)

            // Cash flow by the indirect method reconciles to the change in cash.
            let flow = try await client.send(
                .get, "/v1/accounting/statements/cash-flow?from=2026-01-01&to=2026-12-31&compareFrom=2025-01-01&compareTo=2025-12-31",
                token: books.token)
            #expect(flow.status == 200, "\(flow.body)")
            let operating = Self.section(flow.body, "operating")
            let operatingItems = operating["items"] as? [[String: Any]] ?? []
            #expect(operatingItems.first { $0["name"] as? String == "Net income" }.map { Self.amount($0["amount"]) } == 170_000)
            #expect(operatingItems.first { $0["code"] as? String == "1590" }.map { Self.amount($0["amount"]) } == 10_000)
            #expect(operatingItems.first { $0["code"] as? String == "1100" }.map { Self.amount($0["amount"]) } == -50_000)
            #expect(Self.amount(operating["total"]) == 130_000)
            #expect(Self.amount(Self.section(flow.body, "investing")["total"]) == -240_000)
            #expect(Self.amount(Self.section(flow.body, "financing")["total"]) == 400_000)
            #expect(Self.amount(Self.section(flow.body, "financing")["compareTotal"]) == 1_000_000)
            let cashItems = Self.section(flow.body, "cash")["items"] as? [[String: Any]] ?? []
            #expect(cashItems.map { Self.amount($0["amount"]) } == [1_000_000, 290_000, 1_290_000])
            #expect(Self.amount((flow.body["currencies"] as? [[String: Any]])?.first?["compareResult"]) == 1_000_000)

            // The general ledger of one account over a range.
            let ledger = try await client.send(
                .get, "/v1/accounting/statements/general-ledger?from=2026-01-01&to=2026-12-31&accountId=\(a["1020"]!)", token: books.token)
            let block = try #require((ledger.body["accounts"] as? [[String: Any]])?.first)
            #expect(Self.amount(block["opening"]) == 1_000_000 && Self.amount(block["closing"]) == 1_290_000)
            #expect((block["lines"] as? [[String: Any]])?.count == 4)
            let everything = try await client.send(.get, "/v1/accounting/statements/general-ledger?to=2026-12-31", token: books.token)
            #expect((everything.body["accounts"] as? [[String: Any]])?.count == 10)
            #expect(try await client.send(.get, "/v1/accounting/statements/general-ledger?accountId=nope", token: books.token).status == 400)
        }
    }
}
