@testable import FinFlowAccounting
import FinFlowCore
import Foundation
import HummingbirdTesting
import Testing

@Suite("accounting: hledger as an oracle")
struct HledgerOracleTests {
    static let hledger = ["/usr/bin/hledger", "/usr/local/bin/hledger"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Parses an hledger CSV amount cell (`1,234.50 USD, -3.00 EUR`) into minor units per currency.
    static func amounts(_ cell: String) throws -> [String: Int64] {
        var result: [String: Int64] = [:]
        for part in cell.components(separatedBy: ", ") where part.contains(where: \.isLetter) {
            let (minor, currency) = try HledgerParser.amount(part.trimmingCharacters(in: .whitespaces), line: 0)
            result[currency, default: 0] += minor
        }
        return result
    }

    /// The rows of hledger's CSV output as (first column, amounts of the second).
    static func rows(_ csv: String) throws -> [(String, [String: Int64])] {
        try csv.split(separator: "\n").compactMap { line -> (String, [String: Int64])? in
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard cells.count >= 2 else { return nil }
            let name = cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            let value = cells[1...].joined(separator: ",").trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            guard value.contains(where: \.isNumber) else { return (name, [:]) }
            return (name, try Self.amounts(value))
        }
    }

    @Test("a journal of 1,200 entries exported to hledger gives the same trial balance, balance sheet and income statement")
    func oracle() async throws {
        let hledger = try #require(Self.hledger, "hledger is not installed (apt-get install hledger); scripts/test.sh installs it")
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut, tag: "oracle")
            var a = try await books.accounts()
            for (code, name, type) in [("1040", "Bank EUR", "asset"), ("4200", "Export sales EUR", "revenue"), ("2450", "EUR supplier", "liability")] {
                let created = try await client.send(
                    .post, "/v1/accounting/accounts", json: #"{"code":"\#(code)","name":"\#(name)","type":"\#(type)","currency":"EUR"}"#,
                    token: books.token)
                a[code] = try #require(created.body["id"] as? String)
            }
            var random = SeededRandom(seed: 2026)
            let usd = ["1010", "1020", "1100", "1200", "1300", "1510", "1590", "2010", "2100", "2200", "2500", "3000", "3100", "4000",
                       "4100", "4500", "5000", "6000", "6100", "6200", "6400", "6500"].map { a[$0]! }
            let eur = ["1040", "4200", "2450"].map { a[$0]! }
            var posted: [String] = []
            for batch in 0..<3 {
                var entries: [String] = []
                for index in 0..<400 {
                    let pool = (index % 10 == 0) ? eur : usd
                    let month = Int.random(in: 1...22, using: &random)
                    let date = String(format: "%04d-%02d-%02d", 2025 + (month - 1) / 12, (month - 1) % 12 + 1, Int.random(in: 1...28, using: &random))
                    let count = Int.random(in: 2...4, using: &random)
                    var lines: [(String, String, Int64)] = []
                    var total: Int64 = 0
                    for _ in 0..<(count - 1) {
                        let amount = Int64.random(in: 1...2_500_000, using: &random)
                        lines.append((pool.randomElement(using: &random)!, "debit", amount))
                        total += amount
                    }
                    lines.append((pool.randomElement(using: &random)!, "credit", total))
                    entries.append(Books.entry(date: date, description: "Generated \(batch)-\(index): a \"quoted\"; odd: description", lines: lines))
                }
                let response = try await client.send(
                    .post, "/v1/accounting/journal-entries/batch", json: #"{"entries":[\#(entries.joined(separator: ","))]}"#, token: books.token)
                try #require(response.status == 201, "\(response.body)")
                posted += (response.body["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            }
            for id in posted.prefix(40) {
                #expect(try await client.send(.post, "/v1/accounting/journal-entries/\(id)/reverse", json: #"{"date":"2026-10-30"}"#, token: books.token).status == 201)
            }
            let exported = try await client.execute(
                uri: "/v1/accounting/journal/export?format=hledger", method: .get, headers: [.authorization: "Bearer \(books.token)"]
            ) { String(buffer: $0.body) }
            let file = NSTemporaryDirectory() + "finflow-oracle-\(UUID().uuidString).journal"
            try exported.write(toFile: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: file) }

            // Trial balance: every account's balance.
            let balances = try await ChildProcess.run(hledger, ["-f", file, "bal", "-N", "-O", "csv"], keepErrors: false)
            try #require(balances.status == 0, "hledger could not read the export")
            var theirs: [String: [String: Int64]] = [:]
            for (name, amounts) in try Self.rows(balances.output) where name != "account" {
                let code = String(name.split(separator: ":").last!.split(separator: " ").first!)
                theirs[code] = amounts
            }
            let trial = try await client.send(.get, "/v1/accounting/statements/trial-balance?to=2999-12-31", token: books.token)
            var compared = 0
            for currency in trial.body["currencies"] as? [[String: Any]] ?? [] {
                for row in currency["rows"] as? [[String: Any]] ?? [] {
                    let closing = StatementTests.amount(row["closing"])
                    let code = row["code"] as! String
                    #expect((theirs[code]?[currency["currency"] as! String] ?? 0) == closing, "account \(code)")
                    compared += 1
                }
            }
            #expect(compared >= 20)

            // Balance sheet and income statement totals.
            func totals(_ report: String) async throws -> [String: [String: Int64]] {
                let output = try await ChildProcess.run(hledger, ["-f", file, report, "-O", "csv"], keepErrors: false)
                var section = ""
                var result: [String: [String: Int64]] = [:]
                for (name, amounts) in try Self.rows(output.output) {
                    if ["Assets", "Liabilities", "Equity", "Revenues", "Expenses"].contains(name) { section = name }
                    if name == "total" { result[section] = amounts }
                    if name == "Net:" { result["Net"] = amounts }
                }
                return result
            }
            let hledgerSheet = try await totals("bse")
            let hledgerIncome = try await totals("is")
            let sheet = try await client.send(.get, "/v1/accounting/statements/balance-sheet?asOf=2999-12-31", token: books.token)
            let income = try await client.send(.get, "/v1/accounting/statements/income-statement?from=1900-01-01&to=2999-12-31", token: books.token)
            for currency in ["USD", "EUR"] {
                #expect(StatementTests.amount(StatementTests.section(sheet.body, "assets", currency: currency)["total"]) == hledgerSheet["Assets"]?[currency] ?? 0)
                #expect(StatementTests.amount(StatementTests.section(sheet.body, "liabilities", currency: currency)["total"]) == hledgerSheet["Liabilities"]?[currency] ?? 0)
                let equity = StatementTests.section(sheet.body, "equity", currency: currency)
                let earnings = (equity["items"] as? [[String: Any]] ?? []).filter { $0["accountId"] == nil }.reduce(Int64(0)) { $0 + StatementTests.amount($1["amount"]) }
                #expect(StatementTests.amount(equity["total"]) - earnings == hledgerSheet["Equity"]?[currency] ?? 0)
                #expect(earnings == hledgerSheet["Net"]?[currency] ?? 0)
                #expect(StatementTests.amount(StatementTests.section(income.body, "revenue", currency: currency)["total"]) == hledgerIncome["Revenues"]?[currency] ?? 0)
                #expect(StatementTests.amount(StatementTests.section(income.body, "expenses", currency: currency)["total"]) == hledgerIncome["Expenses"]?[currency] ?? 0)
                let result = (income.body["currencies"] as? [[String: Any]] ?? []).first { $0["currency"] as? String == currency }?["result"]
                #expect(StatementTests.amount(result) == hledgerIncome["Net"]?[currency] ?? 0)
            }

            // The export imports into an empty tenant and gives the same trial balance.
            let (copy, _) = try await Books.open(client, sut, tag: "copy")
            let imported = try await client.execute(
                uri: "/v1/accounting/journal/import", method: .post,
                headers: [.authorization: "Bearer \(copy.token)", .contentType: "text/plain"], body: .init(string: exported)
            ) { ($0.status.code, String(buffer: $0.body)) }
            #expect(imported.0 == 201, "\(imported.1)")
            let original = try await books.trialBalance(query: "?to=2999-12-31")
            let copied = try await copy.trialBalance(query: "?to=2999-12-31")
            for (currency, totals) in original {
                #expect(copied[currency]?.debits == totals.debits && copied[currency]?.rows == totals.rows, "\(currency)")
            }
        }
    }
}
