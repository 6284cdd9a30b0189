import FinFlowCore
import Foundation
import HummingbirdTesting
import Testing

@Suite("accounting: vendor bills and payables")
struct BillTests {
    /// A bill's JSON body.
    static func bill(
        vendor: String = "paperco", reference: String? = nil, billDate: String = "2026-06-01", terms: Int? = 30, post: Bool = true,
        currency: String? = nil, lines: String
    ) -> String {
        var fields = [#""vendorId":"\#(vendor)""#, #""vendorName":"Vendor \#(vendor)""#, #""billDate":"\#(billDate)""#, #""post":\#(post)"#, #""lines":[\#(lines)]"#]
        if let reference { fields.append(#""vendorReference":"\#(reference)""#) }
        if let terms { fields.append(#""paymentTermsDays":\#(terms)"#) }
        if let currency { fields.append(#""currency":"\#(currency)""#) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func line(_ description: String = "Item", quantity: String = "1", price: Int64, rate: String = "0", tax: Int64? = nil, recoverable: Bool? = nil, account: String) -> String {
        var fields = [#""description":"\#(description)""#, #""quantity":"\#(quantity)""#, #""unitPrice":\#(price)"#, #""taxRate":"\#(rate)""#, #""expenseAccountId":"\#(account)""#]
        if let tax { fields.append(#""tax":\#(tax)"#) }
        if let recoverable { fields.append(#""taxRecoverable":\#(recoverable)"#) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    @Test("post with input tax by line, pay partly, take a vendor credit, pay the rest; aging by days past due; BillPosted and BillSettled")
    func lifecycle() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut, tag: "bills")
            let a = try await books.accounts()
            let lines = [
                Self.line("Paper", quantity: "10", price: 1_250, rate: "19", account: a["6300"]!),
                Self.line("Client dinner", price: 8_000, rate: "7.5", recoverable: false, account: a["6600"]!),
                Self.line("Electricity", price: 10_001, rate: "19", tax: 1_901, account: a["6200"]!),
            ].joined(separator: ",")
            let created = try await client.send(.post, "/v1/accounting/bills", json: Self.bill(reference: "PC-1001", lines: lines), token: books.token)
            #expect(created.status == 201, "\(created.body)")
            #expect(StatementTests.amount(created.body["subtotal"]) == 30_501 && StatementTests.amount(created.body["tax"]) == 4_876)
            #expect(StatementTests.amount(created.body["recoverableTax"]) == 4_276 && StatementTests.amount(created.body["total"]) == 35_377)
            #expect(created.body["status"] as? String == "open" && created.body["number"] as? String == "BILL-000001")
            #expect(created.body["dueDate"] as? String == "2026-07-01" && created.body["vendorReference"] as? String == "PC-1001")
            let id = try #require(created.body["id"] as? String)
            #expect(try await books.balance(a["2010"]!) == 35_377)
            #expect(try await books.balance(a["1350"]!) == 4_276)
            #expect(try await books.balance(a["6300"]!) == 12_500)
            #expect(try await books.balance(a["6600"]!) == 8_600, "the tax that cannot be reclaimed is part of the expense")
            #expect(try await books.balance(a["6200"]!) == 10_001)

            let paid = try await client.send(.post, "/v1/accounting/bills/\(id)/payments", json: #"{"amount":10000,"date":"2026-06-15","cashAccountId":"\#(a["1020"]!)"}"#, token: books.token)
            #expect(paid.status == 200 && paid.body["status"] as? String == "partially_paid" && StatementTests.amount(paid.body["open"]) == 25_377, "\(paid.body)")
            let over = try await client.send(.post, "/v1/accounting/bills/\(id)/payments", json: #"{"amount":30000,"date":"2026-06-16","cashAccountId":"\#(a["1020"]!)"}"#, token: books.token)
            #expect(over.status == 422 && over.body["code"] as? String == "overpayment")
            let credit = try await client.send(
                .post, "/v1/accounting/bills/\(id)/credit-notes",
                json: #"{"billDate":"2026-06-20","vendorReference":"PC-CN-7","lines":[\#(Self.line("Returned paper", quantity: "2", price: 1_250, rate: "19", account: a["6300"]!))]}"#,
                token: books.token)
            #expect(credit.status == 201 && credit.body["kind"] as? String == "vendor_credit" && credit.body["status"] as? String == "applied", "\(credit.body)")
            #expect(StatementTests.amount(credit.body["total"]) == 2_975 && credit.body["number"] as? String == "VCN-000001")
            let afterCredit = try await client.send(.get, "/v1/accounting/bills/\(id)", token: books.token)
            #expect(StatementTests.amount(afterCredit.body["open"]) == 22_402 && StatementTests.amount(afterCredit.body["credited"]) == 2_975)
            #expect(try await books.balance(a["2010"]!) == 22_402)
            #expect(try await books.balance(a["1350"]!) == 3_801)
            #expect(try await books.balance(a["6300"]!) == 10_000)

            // Aging at 2026-08-15: the bill is 45 days past due; before the payment and the credit it was all current.
            let aging = try await client.send(.get, "/v1/accounting/statements/payables-aging?asOf=2026-08-15", token: books.token)
            let usd = try #require((aging.body["currencies"] as? [[String: Any]])?.first)
            #expect((usd["totals"] as? [NSNumber])?.map(\.int64Value) == [0, 0, 22_402, 0, 0])
            #expect((usd["rows"] as? [[String: Any]])?.first?["vendorId"] as? String == "paperco")
            let earlier = try await client.send(.get, "/v1/accounting/statements/payables-aging?asOf=2026-06-10", token: books.token)
            #expect(((earlier.body["currencies"] as? [[String: Any]])?.first?["totals"] as? [NSNumber])?.map(\.int64Value) == [35_377, 0, 0, 0, 0])
            let csv = try await client.execute(uri: "/v1/accounting/statements/payables-aging?asOf=2026-08-15&format=csv", method: .get,
                                               headers: [.authorization: "Bearer \(books.token)"]) { String(buffer: $0.body) }
            #expect(csv.hasPrefix("currency,vendor_id,vendor,current,") && csv.contains("paperco,Vendor paperco,0.00,0.00,224.02,0.00,0.00,224.02"), "\(csv)")

            let rest = try await client.send(.post, "/v1/accounting/bills/\(id)/payments", json: #"{"amount":22402,"date":"2026-07-10","cashAccountId":"\#(a["1020"]!)"}"#, token: books.token)
            #expect(rest.body["status"] as? String == "paid" && StatementTests.amount(rest.body["open"]) == 0, "\(rest.body)")
            #expect(try await books.balance(a["2010"]!) == 0)
            #expect(try await client.send(.post, "/v1/accounting/bills/\(id)/void", token: books.token).status == 409)
            let posted = try await LedgerEventTests.outbox(BillPosted.self, sut)
            #expect(posted.map(\.kind) == ["bill", "vendor_credit"] && posted.map(\.recoverableTaxMinor) == [4_276, 475])
            #expect(posted.last?.creditedBillId == id && posted.first?.vendorReference == "PC-1001")
            let settled = try await LedgerEventTests.outbox(BillSettled.self, sut)
            #expect(settled.count == 1 && settled.first?.billId == id && settled.first?.settledDate == "2026-07-10" && settled.first?.settledBy == "payment")
            _ = try await books.trialBalance()
        }
    }

    @Test("above the tenant's threshold a bill waits for a second person; drafts change nothing until posted")
    func approval() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let owner = try await Fixtures.signUp(client, sut, tag: "bills-owner")
            try await sut.deliver()
            let books = Books(client: client, token: owner.accessToken)
            let a = try await books.accounts()
            #expect(try await client.send(.patch, "/v1/accounting/settings", json: #"{"approvalThreshold":50000}"#, token: books.token).status == 200)
            let small = try await client.send(.post, "/v1/accounting/bills", json: Self.bill(lines: Self.line(price: 50_000, account: a["6100"]!)), token: books.token)
            #expect(small.body["status"] as? String == "open", "\(small.body)")
            let large = try await client.send(.post, "/v1/accounting/bills", json: Self.bill(lines: Self.line(price: 50_001, account: a["6100"]!)), token: books.token)
            #expect(large.status == 201 && large.body["status"] as? String == "awaiting_approval", "\(large.body)")
            let largeId = try #require(large.body["id"] as? String)
            #expect(try await books.balance(a["2010"]!) == 50_000)
            let paidEarly = try await client.send(.post, "/v1/accounting/bills/\(largeId)/payments", json: #"{"amount":1,"date":"2026-06-15","cashAccountId":"\#(a["1020"]!)"}"#, token: books.token)
            #expect(paidEarly.status == 409, "a bill waiting for approval takes no payment")
            let own = try await client.send(.post, "/v1/accounting/bills/\(largeId)/approve", token: books.token)
            #expect(own.status == 403 && own.body["code"] as? String == "four-eyes")
            let accountant = try await Fixtures.member(of: owner, roles: ["accountant"], client, sut, tag: "bills-accountant")
            #expect(try await client.send(.post, "/v1/accounting/bills/\(largeId)/approve", token: accountant).status == 403)
            let approver = try await Fixtures.member(of: owner, roles: ["approver"], client, sut, tag: "bills-approver")
            let approved = try await client.send(.post, "/v1/accounting/bills/\(largeId)/approve", token: approver)
            #expect(approved.status == 200 && approved.body["status"] as? String == "open" && approved.body["approvedBy"] as? String != nil, "\(approved.body)")
            #expect(try await books.balance(a["2010"]!) == 100_001)
            #expect(try await client.send(.post, "/v1/accounting/bills/\(largeId)/approve", token: approver).status == 409)

            // A draft posts nothing; posted above the threshold it waits, and voided it never reaches the books.
            let draft = try await client.send(.post, "/v1/accounting/bills", json: Self.bill(post: false, lines: Self.line(price: 70_000, account: a["6100"]!)), token: books.token)
            #expect(draft.body["status"] as? String == "draft")
            let draftId = try #require(draft.body["id"] as? String)
            #expect(try await client.send(.post, "/v1/accounting/bills/\(draftId)/post", token: books.token).body["status"] as? String == "awaiting_approval")
            #expect(try await client.send(.post, "/v1/accounting/bills/\(draftId)/post", token: books.token).status == 409)
            let voided = try await client.send(.post, "/v1/accounting/bills/\(draftId)/void", token: books.token)
            #expect(voided.body["status"] as? String == "void" && voided.body["voidEntryId"] == nil)
            #expect(try await books.balance(a["2010"]!) == 100_001)
            let waiting = try await client.send(.get, "/v1/accounting/bills?status=awaiting_approval", token: books.token)
            #expect((waiting.body["items"] as? [[String: Any]])?.isEmpty == true)
            _ = try await books.trialBalance()
        }
    }

    @Test("a vendor's document is recorded once; void reverses an unpaid bill; bad bills are refused and change nothing")
    func duplicatesVoidsAndRefusals() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut, tag: "bills-refusals")
            let a = try await books.accounts()
            let line = Self.line(price: 12_000, rate: "20", account: a["6100"]!)
            let first = try await client.send(.post, "/v1/accounting/bills", json: Self.bill(vendor: "landlord", reference: "R-2026-06", lines: line), token: books.token)
            #expect(first.status == 201, "\(first.body)")
            let firstId = try #require(first.body["id"] as? String)
            let again = try await client.send(.post, "/v1/accounting/bills", json: Self.bill(vendor: "landlord", reference: "R-2026-06", lines: line), token: books.token)
            #expect(again.status == 409 && again.body["code"] as? String == "duplicate-bill", "\(again.body)")
            let otherVendor = try await client.send(.post, "/v1/accounting/bills", json: Self.bill(vendor: "cleaner", reference: "R-2026-06", lines: line), token: books.token)
            #expect(otherVendor.status == 201)
            #expect(try await books.balance(a["2010"]!) == 28_800)
            let voided = try await client.send(.post, "/v1/accounting/bills/\(firstId)/void", token: books.token)
            #expect(voided.body["status"] as? String == "void" && voided.body["voidEntryId"] as? String != nil, "\(voided.body)")
            #expect(try await books.balance(a["2010"]!) == 14_400)
            #expect(try await books.balance(a["1350"]!) == 2_400)
            let reentered = try await client.send(.post, "/v1/accounting/bills", json: Self.bill(vendor: "landlord", reference: "R-2026-06", lines: line), token: books.token)
            #expect(reentered.status == 201, "a voided bill's number can be entered again")

            // Without a due date or terms, a bill (and an invoice) is due on its date.
            let noTerms = try await client.send(.post, "/v1/accounting/bills", json: Self.bill(terms: nil, lines: line), token: books.token)
            #expect(noTerms.status == 201 && noTerms.body["dueDate"] as? String == "2026-06-01", "\(noTerms.body)")
            let invoice = try await client.send(
                .post, "/v1/accounting/invoices",
                json: #"{"customerId":"c","customerName":"C","issueDate":"2026-06-01","lines":[{"description":"x","quantity":"1","unitPrice":100}]}"#, token: books.token)
            #expect(invoice.status == 201 && invoice.body["dueDate"] as? String == "2026-06-01", "\(invoice.body)")

            let before = try await books.balance(a["2010"]!)
            for bad in [
                Self.bill(lines: Self.line(quantity: "0", price: 100, account: a["6100"]!)),
                Self.bill(lines: Self.line(quantity: "1.1234567", price: 100, account: a["6100"]!)),
                Self.bill(lines: Self.line(price: -5, account: a["6100"]!)),
                Self.bill(lines: Self.line(price: 100, rate: "101", account: a["6100"]!)),
                Self.bill(lines: Self.line(price: 100, tax: -1, account: a["6100"]!)),
                Self.bill(lines: Self.line(price: 0, account: a["6100"]!)),
                Self.bill(lines: Self.line(price: 100, account: UUID().uuidString)),
                Self.bill(lines: Self.line(price: 100, account: "not-a-uuid")),
                Self.bill(vendor: "", lines: Self.line(price: 100, account: a["6100"]!)),
                Self.bill(reference: "", lines: Self.line(price: 100, account: a["6100"]!)),
                Self.bill(billDate: "2026-02-31", lines: Self.line(price: 100, account: a["6100"]!)),
                Self.bill(terms: -1, lines: Self.line(price: 100, account: a["6100"]!)),
                Self.bill(currency: "EUR", lines: Self.line(price: 100, account: a["6100"]!)),
                Self.bill(lines: ""),
                #"{"vendorId":"v","vendorName":"V","billDate":"2026-06-01","lines":[{"description":"x","quantity":"1","unitPrice":100}]}"#,
            ] {
                let response = try await client.send(.post, "/v1/accounting/bills", json: bad, token: books.token)
                #expect((400..<500).contains(response.status) && response.headers[.contentType] == "application/problem+json", "\(bad) → \(response.body)")
            }
            #expect(try await books.balance(a["2010"]!) == before)
            let unknown = try await client.send(.post, "/v1/accounting/bills/\(UUID())/payments", json: #"{"amount":1,"date":"2026-06-15","cashAccountId":"\#(a["1020"]!)"}"#, token: books.token)
            #expect(unknown.status == 404)
            let vendorBills = try await client.send(.get, "/v1/accounting/bills?vendorId=landlord", token: books.token)
            #expect((vendorBills.body["items"] as? [[String: Any]])?.count == 2)
            _ = try await books.trialBalance()
        }
    }
}
