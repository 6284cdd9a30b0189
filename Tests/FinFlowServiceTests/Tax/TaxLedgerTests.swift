import FinFlowCore
import Foundation
import HummingbirdTesting
import NIOCore
import Testing

/// The tax service and the ledger together: invoices and bills take their tax from committed calculations and post it
/// per jurisdiction; the VAT return is reconciled against those accounts, shows a hand-made difference, and once
/// filed closes its period and is settled in the ledger.
@Suite("tax and the ledger: tax from calculations, returns reconciled, filed and settled")
struct TaxLedgerTests {
    static func calculation(code: String, type: String, seller: String, buyer: String, business: Bool, lines: [(Int64, String)], date: String = "2026-03-02") -> String {
        TaxAPITests.json([
            "code": code, "type": type, "date": date, "currency": "USD", "eurRate": "0.9", "commit": true,
            "seller": ["address": ["country": seller], "business": true], "buyer": ["address": ["country": buyer], "business": business],
            "lines": lines.map { ["amount": $0.0, "productCode": $0.1] },
        ])
    }

    static func invoice(calculation: String, nets: [Int64], account: String? = nil) -> String {
        TaxAPITests.json([
            "customerId": "c-1", "customerName": "Kunde GmbH", "issueDate": "2026-03-02", "issue": true, "taxCalculationId": calculation,
            "lines": nets.map { ["description": "Item", "quantity": "1", "unitPrice": $0] },
        ])
    }

    @Test("invoice and bills post each jurisdiction's tax; the VAT return shows a hand-made difference, then reconciles, files and settles")
    func vatReturn() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut, tag: "vat-return")
            let token = books.token
            let a = try await books.accounts()
            func commit(_ body: String) async throws -> String {
                let response = try await client.send(.post, "/v1/tax/calculations", json: body, token: token)
                try #require(response.status == 201, "\(response.body)")
                return try #require(response.body["id"] as? String)
            }
            // A domestic sale at 19 % and 7 %, an acquisition of goods from France, a domestic purchase.
            let sale = try await commit(Self.calculation(code: "INV-1", type: "sales-invoice", seller: "DE", buyer: "DE", business: false,
                                                        lines: [(10_000, "goods"), (2_000, "food")]))
            let acquisition = try await commit(Self.calculation(code: "FR-88", type: "purchase-invoice", seller: "FR", buyer: "DE", business: true,
                                                               lines: [(5_000, "goods")]))
            let purchase = try await commit(Self.calculation(code: "DE-12", type: "purchase-invoice", seller: "DE", buyer: "DE", business: true,
                                                            lines: [(1_000, "goods")]))

            // The ledger knows a calculation once its commit has reached it.
            let early = try await client.send(.post, "/v1/accounting/invoices", json: Self.invoice(calculation: sale, nets: [10_000, 2_000]), token: token)
            #expect(early.status == 409 && early.body["code"] as? String == "tax-calculation-unknown", "\(early.body)")
            try await sut.deliver()
            let mismatch = try await client.send(.post, "/v1/accounting/invoices", json: Self.invoice(calculation: sale, nets: [12_000]), token: token)
            #expect(mismatch.status == 409 && mismatch.body["code"] as? String == "tax-calculation-mismatch", "\(mismatch.body)")
            let typed = try await client.send(
                .post, "/v1/accounting/invoices",
                json: #"{"customerId":"c","customerName":"C","issueDate":"2026-03-02","taxCalculationId":"\#(sale)","lines":[{"description":"x","quantity":"1","unitPrice":100,"taxRate":"19"}]}"#,
                token: token)
            #expect(typed.status == 400, "a typed rate and a calculation together are refused: \(typed.body)")
            let invoice = try await client.send(.post, "/v1/accounting/invoices", json: Self.invoice(calculation: sale, nets: [10_000, 2_000]), token: token)
            try #require(invoice.status == 201, "\(invoice.body)")
            #expect(StatementTests.amount(invoice.body["tax"]) == 2_040 && StatementTests.amount(invoice.body["total"]) == 14_040)
            #expect(invoice.body["taxCalculationId"] as? String == sale)
            #expect((invoice.body["lines"] as? [[String: Any]])?.map { $0["taxRate"] as? String } == ["19", "7"])
            let again = try await client.send(.post, "/v1/accounting/invoices", json: Self.invoice(calculation: sale, nets: [10_000, 2_000]), token: token)
            #expect(again.status == 409 && again.body["code"] as? String == "tax-calculation-used", "\(again.body)")

            func bill(_ calculation: String, net: Int64, reference: String) -> String {
                TaxAPITests.json([
                    "vendorId": "v-\(reference)", "vendorName": "Vendor", "vendorReference": reference, "billDate": "2026-03-02", "post": true,
                    "taxCalculationId": calculation, "lines": [["description": "Goods", "quantity": "1", "unitPrice": net, "expenseAccountId": a["6300"]!]],
                ])
            }
            let acquired = try await client.send(.post, "/v1/accounting/bills", json: bill(acquisition, net: 5_000, reference: "FR-88"), token: token)
            try #require(acquired.status == 201, "\(acquired.body)")
            #expect(StatementTests.amount(acquired.body["total"]) == 5_000, "self-assessed tax is not owed to the vendor")
            let bought = try await client.send(.post, "/v1/accounting/bills", json: bill(purchase, net: 1_000, reference: "DE-12"), token: token)
            try #require(bought.status == 201, "\(bought.body)")
            #expect(StatementTests.amount(bought.body["total"]) == 1_190)

            // Germany's output and input tax accounts were made under 2200 and 1350 and hold the documents' tax.
            let chart = try await books.accounts()
            let output = try #require(chart["2200-DE"]), input = try #require(chart["1350-DE"])
            #expect(try await books.balance(output) == 2_990)
            #expect(try await books.balance(input) == 1_140)
            #expect(try await books.balance(a["6300"]!) == 6_000)

            // A hand-made entry moves 10 out of output tax: the return shows it as a difference.
            let manual = try await books.post(Books.entry(date: "2026-03-20", description: "Adjust", lines: [(output, "debit", 10), (a["4000"]!, "credit", 10)]))
            try #require(manual.status == 201, "\(manual.body)")
            try await sut.deliver()
            let preview = "/v1/tax/returns/preview?kind=vat&jurisdiction=DE&periodStart=2026-03-01&periodEnd=2026-03-31&currency=USD"
            let vat = try await client.send(.get, preview, token: token)
            try #require(vat.status == 200, "\(vat.body)")
            #expect(StatementTests.amount(vat.body["outputTaxMinor"]) == 2_990 && StatementTests.amount(vat.body["inputTaxMinor"]) == 1_140)
            #expect(StatementTests.amount(vat.body["netMinor"]) == 1_850 && vat.body["documents"] as? Int == 3)
            let rows = try #require(vat.body["rows"] as? [[String: Any]]).map {
                "\($0["section"]!) \($0["rate"]!) \(StatementTests.amount($0["taxableMinor"])) \(StatementTests.amount($0["taxMinor"]))"
            }
            #expect(rows == ["intra-community-acquisitions 19 5000 950", "purchases 19 1000 190", "supplies 7 2000 140", "supplies 19 10000 1900"], "\(rows)")
            var reconciliation = try #require(vat.body["reconciliation"] as? [String: Any])
            #expect(reconciliation["reconciled"] as? Bool == false)
            let check = try #require((reconciliation["accounts"] as? [[String: Any]])?.first)
            #expect(check["account"] as? String == "DE" && StatementTests.amount(check["ledgerOutputTaxMinor"]) == 2_980)
            #expect(StatementTests.amount(check["outputDifferenceMinor"]) == -10 && StatementTests.amount(check["inputDifferenceMinor"]) == 0)
            let unexplained = try #require(reconciliation["unexplainedEntries"] as? [[String: Any]])
            #expect(unexplained.map { $0["reason"] as? String } == ["no-calculation"] && unexplained.first?["entryId"] as? String == manual.body["id"] as? String)
            let csv = try await client.execute(uri: preview + "&format=csv", method: .get, headers: [.authorization: "Bearer \(token)"]) { String(buffer: $0.body) }
            #expect(csv.hasPrefix("section,jurisdiction,rate,treatment,taxable_minor,tax_minor,documents\r\n"), "\(csv)")
            #expect(csv.contains("supplies,DE,19,domestic,10000,1900,1\r\n") && csv.contains("difference,DE,,output-tax,,-10,\r\n"), "\(csv)")

            // Reversed, the ledger agrees with the documents again.
            let reversed = try await client.send(.post, "/v1/accounting/journal-entries/\(manual.body["id"] as! String)/reverse", json: "{}", token: token)
            try #require(reversed.status == 201, "\(reversed.body)")
            try await sut.deliver()
            reconciliation = try #require(try await client.send(.get, preview, token: token).body["reconciliation"] as? [String: Any])
            #expect(reconciliation["reconciled"] as? Bool == true, "\(reconciliation)")

            // Filed: the period is closed to the jurisdiction's documents, and the ledger settles it.
            let filed = try await client.send(
                .post, "/v1/tax/returns", json: #"{"kind":"vat","jurisdiction":"DE","periodStart":"2026-03-01","periodEnd":"2026-03-31","currency":"USD"}"#,
                token: token)
            try #require(filed.status == 201, "\(filed.body)")
            #expect(StatementTests.amount((filed.body["return"] as? [String: Any])?["netMinor"]) == 1_850)
            let overlap = try await client.send(
                .post, "/v1/tax/returns", json: #"{"kind":"vat","jurisdiction":"DE","periodStart":"2026-03-15","periodEnd":"2026-04-15","currency":"USD"}"#,
                token: token)
            #expect(overlap.status == 409 && overlap.body["code"] as? String == "period-filed")
            let late = try await client.send(
                .post, "/v1/tax/calculations",
                json: Self.calculation(code: "INV-2", type: "sales-invoice", seller: "DE", buyer: "DE", business: false, lines: [(500, "goods")], date: "2026-03-30"),
                token: token)
            #expect(late.status == 409 && late.body["code"] as? String == "period-filed", "\(late.body)")
            let void = try await client.send(.post, "/v1/tax/calculations/\(sale)/void", json: #"{"reason":"wrong"}"#, token: token)
            #expect(void.status == 409 && void.body["code"] as? String == "period-filed", "\(void.body)")
            let april = try await client.send(
                .post, "/v1/tax/calculations",
                json: Self.calculation(code: "INV-3", type: "sales-invoice", seller: "DE", buyer: "DE", business: false, lines: [(500, "goods")], date: "2026-04-01"),
                token: token)
            #expect(april.status == 201, "the next period is open: \(april.body)")

            try await sut.deliver()
            let cleared = (try await books.balance(output), try await books.balance(input))
            #expect(cleared == (0, 0), "the settlement clears the period's accounts")
            #expect(try await books.balance(a["2200"]!) == 1_850, "what is owed to the authority")
            let settled = try await client.send(.get, preview, token: token)
            #expect((settled.body["reconciliation"] as? [String: Any])?["reconciled"] as? Bool == true, "the settlement is not a difference")
            let list = try await client.send(.get, "/v1/tax/returns", token: token)
            #expect((list.body["items"] as? [[String: Any]])?.count == 1)
            let id = try #require(filed.body["id"] as? String)
            let kept = try await client.execute(uri: "/v1/tax/returns/\(id)?format=csv", method: .get, headers: [.authorization: "Bearer \(token)"]) { String(buffer: $0.body) }
            #expect(kept.contains("total,DE,,net,,1850,3"), "\(kept)")
        }
    }

    @Test("One-Stop Shop: an invoice and its credit note post France's tax to its OSS account; the quarter's return nets them and reconciles")
    func ossReturn() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut, tag: "oss-return")
            let token = books.token
            let profile = try await client.send(.put, "/v1/tax/profile", json: #"{"ossDestinationAlways":true}"#, token: token)
            try #require(profile.status == 200, "\(profile.body)")
            let sale = try await client.send(
                .post, "/v1/tax/calculations",
                json: Self.calculation(code: "INV-9", type: "sales-invoice", seller: "DE", buyer: "FR", business: false, lines: [(10_000, "goods")]),
                token: token)
            try #require(sale.status == 201, "\(sale.body)")
            let refund = try await client.send(
                .post, "/v1/tax/calculations",
                json: Self.calculation(code: "CN-9", type: "credit-note", seller: "DE", buyer: "FR", business: false, lines: [(2_000, "goods")],
                                       date: "2026-03-20"),
                token: token)
            try #require(refund.status == 201, "\(refund.body)")
            try await sut.deliver()
            let invoice = try await client.send(
                .post, "/v1/accounting/invoices", json: Self.invoice(calculation: sale.body["id"] as! String, nets: [10_000]), token: token)
            try #require(invoice.status == 201, "\(invoice.body)")
            #expect(StatementTests.amount(invoice.body["tax"]) == 2_000)
            let note = try await client.send(
                .post, "/v1/accounting/invoices/\(invoice.body["id"] as! String)/credit-notes",
                json: TaxAPITests.json([
                    "issueDate": "2026-03-20", "taxCalculationId": refund.body["id"] as! String,
                    "lines": [["description": "Returned", "quantity": "1", "unitPrice": 2_000]],
                ]),
                token: token)
            try #require(note.status == 201, "\(note.body)")
            #expect(StatementTests.amount(note.body["tax"]) == 400)
            let oss = try #require(try await books.accounts()["2200-OSS-FR"])
            #expect(try await books.balance(oss) == 1_600)
            try await sut.deliver()

            let preview = try await client.send(
                .get, "/v1/tax/returns/preview?kind=oss&periodStart=2026-01-01&periodEnd=2026-03-31&currency=USD", token: token)
            try #require(preview.status == 200, "\(preview.body)")
            let rows = try #require(preview.body["rows"] as? [[String: Any]])
            #expect(rows.count == 1 && rows.first?["section"] as? String == "oss-supplies" && rows.first?["jurisdiction"] as? String == "FR")
            #expect(StatementTests.amount(rows.first?["taxableMinor"]) == 8_000 && StatementTests.amount(rows.first?["taxMinor"]) == 1_600)
            #expect(StatementTests.amount(preview.body["outputTaxMinor"]) == 1_600 && preview.body["jurisdiction"] as? String == "OSS")
            let reconciliation = try #require(preview.body["reconciliation"] as? [String: Any])
            #expect(reconciliation["reconciled"] as? Bool == true, "\(reconciliation)")
            #expect((reconciliation["accounts"] as? [[String: Any]])?.map { $0["account"] as? String } == ["OSS-FR"])
            // Germany's own VAT return does not hold the One-Stop Shop's sales.
            let germany = try await client.send(
                .get, "/v1/tax/returns/preview?kind=vat&jurisdiction=DE&periodStart=2026-01-01&periodEnd=2026-03-31&currency=USD", token: token)
            #expect(germany.status == 200 && StatementTests.amount(germany.body["outputTaxMinor"]) == 0 && (germany.body["rows"] as? [Any])?.isEmpty == true)
            // In EUR the return holds none of these USD documents, and says so.
            let euro = try await client.send(.get, "/v1/tax/returns/preview?kind=oss&periodStart=2026-01-01&periodEnd=2026-03-31", token: token)
            #expect((euro.body["messages"] as? [String])?.first?.contains("2 committed documents") == true, "\(euro.body)")
        }
    }

    @Test("a Californian sale posts state and county tax to the state's account; the state's summary reconciles")
    func usSalesReturn() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut, tag: "us-return")
            let token = books.token
            let csv = "state,level,name,zip_from,zip_to,rate,from,to\nCA,county,Los Angeles,90001,91899,0.25,2021-07-01,\n"
            let loaded = try await client.execute(
                uri: "/v1/tax/local-rates", method: .post, headers: [.authorization: "Bearer \(token)", .contentType: "text/csv"],
                body: ByteBuffer(string: csv)) { $0 }
            #expect(loaded.status == .created)
            #expect(try await client.send(.put, "/v1/tax/profile", json: #"{"usPhysicalPresence":["CA"]}"#, token: token).status == 200)
            let place: [String: Any] = ["country": "US", "region": "CA", "postalCode": "90012"]
            let body = TaxAPITests.json([
                "code": "US-7", "type": "sales-invoice", "date": "2026-03-02", "currency": "USD", "commit": true,
                "seller": ["address": place, "business": true], "buyer": ["address": place, "business": false],
                "lines": [["amount": 10_000, "productCode": "goods"], ["amount": 5_000, "productCode": "food"]],
            ])
            let sale = try await client.send(.post, "/v1/tax/calculations", json: body, token: token)
            try #require(sale.status == 201, "\(sale.body)")
            // 10,000 × (7.25 % + 0.25 %) = 750; groceries are exempt in California.
            #expect(StatementTests.amount(sale.body["tax"]) == 750)
            try await sut.deliver()
            let invoice = try await client.send(
                .post, "/v1/accounting/invoices", json: Self.invoice(calculation: sale.body["id"] as! String, nets: [10_000, 5_000]), token: token)
            try #require(invoice.status == 201, "\(invoice.body)")
            #expect((invoice.body["lines"] as? [[String: Any]])?.map { $0["taxRate"] as? String } == ["7.5", "0"])
            let account = try #require(try await books.accounts()["2200-US-CA"])
            #expect(try await books.balance(account) == 750)
            try await sut.deliver()
            let summary = try await client.send(
                .get, "/v1/tax/returns/preview?kind=us-sales&jurisdiction=US-CA&periodStart=2026-01-01&periodEnd=2026-03-31", token: token)
            try #require(summary.status == 200, "\(summary.body)")
            let rows = try #require(summary.body["rows"] as? [[String: Any]]).map {
                "\($0["section"]!) \($0["jurisdiction"]!) \($0["rate"]!) \(StatementTests.amount($0["taxMinor"]))"
            }
            #expect(rows == ["exempt-sales US-CA 0 0", "taxable-sales US-CA 7.25 725", "taxable-sales US-CA/county/Los Angeles 0.25 25"], "\(rows)")
            #expect(StatementTests.amount(summary.body["outputTaxMinor"]) == 750)
            #expect((summary.body["reconciliation"] as? [String: Any])?["reconciled"] as? Bool == true, "\(summary.body)")
        }
    }

    @Test("a return asked for wrongly is refused with the field named", arguments: [
        ("kind=gst&jurisdiction=DE&periodStart=2026-01-01&periodEnd=2026-03-31", "gst"),
        ("kind=vat&jurisdiction=US-CA&periodStart=2026-01-01&periodEnd=2026-03-31", "jurisdiction"),
        ("kind=vat&jurisdiction=ZZ&periodStart=2026-01-01&periodEnd=2026-03-31", "jurisdiction"),
        ("kind=us-sales&jurisdiction=DE&periodStart=2026-01-01&periodEnd=2026-03-31", "jurisdiction"),
        ("kind=oss&periodStart=2026-01-01&periodEnd=2026-02-28", "periodStart"),
        ("kind=vat&jurisdiction=DE&periodStart=2026-03-31&periodEnd=2026-03-01", "periodEnd"),
        ("kind=vat&jurisdiction=DE&periodStart=2025-01-01&periodEnd=2026-03-31", "periodEnd"),
        ("kind=vat&jurisdiction=DE&periodStart=2026-02-30&periodEnd=2026-03-31", "periodStart"),
        ("kind=vat&jurisdiction=DE&periodStart=2026-01-01&periodEnd=2026-03-31&currency=XXX", "currency"),
    ])
    func badReturn(query: String, field: String) async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut, tag: "bad-return")
            let response = try await client.send(.get, "/v1/tax/returns/preview?" + query, token: user.accessToken)
            #expect(response.status == 400, "\(query): \(response.body)")
            let fields = (response.body["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? []
            #expect(fields.contains(field) || (response.body["detail"] as? String)?.contains(field) == true, "\(query): \(response.body)")
            let filings = try await client.send(.get, "/v1/tax/returns", token: user.accessToken)
            #expect((filings.body["items"] as? [Any])?.isEmpty == true)
        }
    }
}

