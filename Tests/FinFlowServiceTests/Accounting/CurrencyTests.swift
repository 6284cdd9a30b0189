import FinFlowCore
import Foundation
import HummingbirdTesting
import Testing

@Suite("accounting: currencies, translation and revaluation")
struct CurrencyTests {
    @Test("conversions go through trading accounts; reports translate at closing and average rates; revaluation posts the gain")
    func foreignCurrency() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut)
            var a = try await books.accounts()
            for (code, name, type, tag) in [("1040", "Bank EUR", "asset", "cash"), ("4200", "Export sales", "revenue", "")] {
                let tagJSON = tag.isEmpty ? "" : #","cashFlowTag":"\#(tag)""#
                let created = try await client.send(
                    .post, "/v1/accounting/accounts", json: #"{"code":"\#(code)","name":"\#(name)","type":"\#(type)","currency":"EUR"\#(tagJSON)}"#,
                    token: books.token)
                a[code] = try #require(created.body["id"] as? String)
            }
            for bad in [#"{"rates":[{"currency":"XXY","date":"2026-01-01","rate":"1.1"}]}"#, #"{"rates":[{"currency":"EUR","date":"2026-01-01","rate":"0"}]}"#,
                        #"{"rates":[{"currency":"USD","date":"2026-01-01","rate":"1"}]}"#, #"{"rates":[{"currency":"EUR","date":"2026-01-01","rate":"1e3"}]}"#,
                        #"{"rates":[]}"#] {
                #expect(try await client.send(.put, "/v1/accounting/exchange-rates", json: bad, token: books.token).status == 400, "\(bad)")
            }
            let rates = #"{"rates":[{"currency":"EUR","date":"2026-01-01","rate":"1.10"},{"currency":"EUR","date":"2026-02-01","rate":"1.20"},{"currency":"EUR","date":"2026-03-31","rate":"1.25"}]}"#
            #expect(try await client.send(.put, "/v1/accounting/exchange-rates", json: rates, token: books.token).status == 200)
            #expect(try await books.post(Books.entry(date: "2026-01-02", lines: [(a["1020"]!, "debit", 500_000), (a["3000"]!, "credit", 500_000)])).status == 201)
            // A cross-currency entry that does not balance per currency is refused.
            let unbalanced = try await books.post(Books.entry(date: "2026-01-05", lines: [(a["1040"]!, "debit", 100_000), (a["1020"]!, "credit", 110_000)]))
            #expect(unbalanced.body["code"] as? String == "unbalanced")
            let conversion = try await client.send(
                .post, "/v1/accounting/conversions",
                json: #"{"date":"2026-01-05","fromAccountId":"\#(a["1020"]!)","fromAmount":110000,"toAccountId":"\#(a["1040"]!)","toAmount":100000}"#,
                token: books.token)
            #expect(conversion.status == 201 && (conversion.body["lines"] as? [[String: Any]])?.count == 4, "\(conversion.body)")
            #expect(try await books.post(Books.entry(date: "2026-02-10", lines: [(a["1040"]!, "debit", 50_000), (a["4200"]!, "credit", 50_000)])).status == 201)

            let sheet = try await client.send(.get, "/v1/accounting/statements/balance-sheet?asOf=2026-03-31&translate=true", token: books.token)
            #expect(sheet.status == 200, "\(sheet.body)")
            #expect((sheet.body["currencies"] as? [[String: Any]])?.count == 1)
            #expect(StatementTests.amount(StatementTests.section(sheet.body, "assets")["total"]) == 577_500)
            let equity = StatementTests.section(sheet.body, "equity")
            let items = equity["items"] as? [[String: Any]] ?? []
            #expect(items.first { $0["name"] as? String == "Current-year earnings" }.map { StatementTests.amount($0["amount"]) } == 59_167)
            #expect(items.first { $0["name"] as? String == "Currency translation adjustment" }.map { StatementTests.amount($0["amount"]) } == 3_333)
            #expect(StatementTests.amount(equity["total"]) == 577_500)

            let revaluation = try await client.send(.post, "/v1/accounting/revaluations", json: #"{"date":"2026-03-31"}"#, token: books.token)
            #expect(revaluation.status == 201 && revaluation.body["source"] as? String == "revaluation", "\(revaluation.body)")
            #expect(try await books.balance(a["6900"]!) == -15_000, "a 150.00 USD unrealized gain")
            #expect(try await client.send(.post, "/v1/accounting/revaluations", json: #"{"date":"2026-03-31"}"#, token: books.token).status == 204)
            let income = try await client.send(
                .get, "/v1/accounting/statements/income-statement?from=2026-01-01&to=2026-03-31&translate=true", token: books.token)
            #expect(StatementTests.amount((income.body["currencies"] as? [[String: Any]])?.first?["result"]) == 74_167)
            let after = try await client.send(.get, "/v1/accounting/statements/balance-sheet?asOf=2026-03-31&translate=true", token: books.token)
            let afterItems = StatementTests.section(after.body, "equity")["items"] as? [[String: Any]] ?? []
            #expect(afterItems.first { $0["name"] as? String == "Currency translation adjustment" }.map { StatementTests.amount($0["amount"]) } == 3_333)

            // Without a rate for the date, translation is refused rather than guessed.
            #expect(try await books.post(Books.entry(date: "2025-12-20", lines: [(a["1040"]!, "debit", 1_000), (a["4200"]!, "credit", 1_000)])).status == 201)
            let missing = try await client.send(.get, "/v1/accounting/statements/balance-sheet?asOf=2025-12-31&translate=true", token: books.token)
            #expect(missing.status == 422 && missing.body["code"] as? String == "missing-exchange-rate")
            let listed = try await client.send(.get, "/v1/accounting/exchange-rates?currency=EUR", token: books.token)
            #expect((listed.body["rates"] as? [[String: Any]])?.count == 3)
        }
    }
}
