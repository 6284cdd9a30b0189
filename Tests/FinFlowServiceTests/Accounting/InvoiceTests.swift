import FinFlowCore
import Foundation
import HummingbirdTesting
import Testing

@Suite("accounting: receivable invoices")
struct InvoiceTests {
    static func invoice(customer: String = "cust-1", issueDate: String = "2026-06-01", terms: Int = 30, issue: Bool = true, lines: String) -> String {
        #"{"customerId":"\#(customer)","customerName":"Customer \#(customer)","issueDate":"\#(issueDate)","paymentTermsDays":\#(terms),"issue":\#(issue),"lines":[\#(lines)]}"#
    }

    @Test("issue, pay partly, credit, pay the rest; lines round in minor units; aging buckets by days past due")
    func lifecycle() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, user) = try await Books.open(client, sut)
            let a = try await books.accounts()
            let lines = #"{"description":"Widget","quantity":"3","unitPrice":1999,"taxRate":"19"},{"description":"Service hour","quantity":"1.5","unitPrice":1001,"taxRate":"7.5"}"#
            let created = try await client.send(.post, "/v1/accounting/invoices", json: Self.invoice(lines: lines), token: books.token)
            #expect(created.status == 201, "\(created.body)")
            #expect(StatementTests.amount(created.body["subtotal"]) == 7_499 && StatementTests.amount(created.body["tax"]) == 1_252)
            #expect(StatementTests.amount(created.body["total"]) == 8_751 && created.body["status"] as? String == "issued")
            #expect(created.body["number"] as? String == "INV-000001" && created.body["dueDate"] as? String == "2026-07-01")
            let id = try #require(created.body["id"] as? String)
            #expect(try await books.balance(a["1100"]!) == 8_751)
            #expect(try await books.balance(a["4000"]!) == 7_499)
            #expect(try await books.balance(a["2200"]!) == 1_252)

            let paid = try await client.send(.post, "/v1/accounting/invoices/\(id)/payments", json: #"{"amount":3000,"date":"2026-06-15","cashAccountId":"\#(a["1020"]!)"}"#, token: books.token)
            #expect(paid.status == 200 && paid.body["status"] as? String == "partially_paid", "\(paid.body)")
            let over = try await client.send(.post, "/v1/accounting/invoices/\(id)/payments", json: #"{"amount":6000,"date":"2026-06-16","cashAccountId":"\#(a["1020"]!)"}"#, token: books.token)
            #expect(over.status == 422 && over.body["code"] as? String == "overpayment")
            let credit = try await client.send(
                .post, "/v1/accounting/invoices/\(id)/credit-notes",
                json: #"{"issueDate":"2026-06-20","lines":[{"description":"Damaged widget","quantity":"1","unitPrice":1999,"taxRate":"19"}]}"#, token: books.token)
            #expect(credit.status == 201 && credit.body["kind"] as? String == "credit_note" && StatementTests.amount(credit.body["total"]) == 2_379, "\(credit.body)")
            let afterCredit = try await client.send(.get, "/v1/accounting/invoices/\(id)", token: books.token)
            #expect(StatementTests.amount(afterCredit.body["open"]) == 3_372)
            #expect(try await books.balance(a["1100"]!) == 3_372)

            // Aging at 2026-08-15: the invoice is 45 days past due.
            let aging = try await client.send(.get, "/v1/accounting/statements/receivables-aging?asOf=2026-08-15", token: books.token)
            let usd = try #require((aging.body["currencies"] as? [[String: Any]])?.first)
            #expect((usd["totals"] as? [NSNumber])?.map(\.int64Value) == [0, 0, 3_372, 0, 0])
            // Before the payment and the credit it was all current.
            let earlier = try await client.send(.get, "/v1/accounting/statements/receivables-aging?asOf=2026-06-10", token: books.token)
            #expect(((earlier.body["currencies"] as? [[String: Any]])?.first?["totals"] as? [NSNumber])?.map(\.int64Value) == [8_751, 0, 0, 0, 0])

            // A gateway payment naming the invoice settles it.
            try await LedgerEventTests.publish(
                PaymentProcessed(paymentId: "pay-9", tenantId: user.tenantId, status: "succeeded", amountMinor: 3_372, currency: "USD", feeMinor: 100,
                                 gateway: "stripe", gatewayReference: "pi_9", customerId: "cust-1", invoiceId: id,
                                 processedAtMillis: Int64(Date().timeIntervalSince1970 * 1000)),
                tenantId: user.tenantId, on: sut)
            let settled = try await client.send(.get, "/v1/accounting/invoices/\(id)", token: books.token)
            #expect(settled.body["status"] as? String == "paid" && StatementTests.amount(settled.body["open"]) == 0, "\(settled.body)")
            #expect(try await books.balance(a["1100"]!) == 0)
            #expect(try await client.send(.post, "/v1/accounting/invoices/\(id)/void", token: books.token).status == 409)
            _ = try await books.trialBalance()
        }
    }

    @Test("drafts change nothing, void reverses an unpaid invoice, and bad invoices are refused")
    func draftsVoidsAndRefusals() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut)
            let a = try await books.accounts()
            let line = #"{"description":"Consulting","quantity":"2","unitPrice":50000,"taxRate":"0"}"#
            let draft = try await client.send(.post, "/v1/accounting/invoices", json: Self.invoice(issue: false, lines: line), token: books.token)
            #expect(draft.body["status"] as? String == "draft")
            #expect(try await books.balance(a["1100"]!) == 0)
            let draftId = try #require(draft.body["id"] as? String)
            #expect(try await client.send(.post, "/v1/accounting/invoices/\(draftId)/issue", token: books.token).body["status"] as? String == "issued")
            #expect(try await books.balance(a["1100"]!) == 100_000)
            let voided = try await client.send(.post, "/v1/accounting/invoices/\(draftId)/void", token: books.token)
            #expect(voided.body["status"] as? String == "void" && voided.body["voidEntryId"] as? String != nil)
            #expect(try await books.balance(a["1100"]!) == 0)
            for bad in [
                Self.invoice(lines: #"{"description":"x","quantity":"0","unitPrice":100}"#),
                Self.invoice(lines: #"{"description":"x","quantity":"1.1234567","unitPrice":100}"#),
                Self.invoice(lines: #"{"description":"x","quantity":"1","unitPrice":-5}"#),
                Self.invoice(lines: #"{"description":"x","quantity":"1","unitPrice":100,"taxRate":"101"}"#),
                Self.invoice(lines: #"{"description":"x","quantity":"abc","unitPrice":100}"#),
                Self.invoice(issueDate: "2026-02-31", lines: line),
                Self.invoice(terms: -1, lines: line),
                Self.invoice(lines: ""),
                Self.invoice(lines: #"{"description":"x","quantity":"1","unitPrice":100,"revenueAccountId":"\#(UUID())"}"#),
            ] {
                let response = try await client.send(.post, "/v1/accounting/invoices", json: bad, token: books.token)
                #expect((400..<500).contains(response.status), "\(bad) → \(response.body)")
            }
            #expect((try await client.send(.get, "/v1/accounting/invoices?status=issued", token: books.token).body["items"] as? [[String: Any]])?.isEmpty == true)
            let listed = try await client.send(.get, "/v1/accounting/invoices", token: books.token)
            #expect((listed.body["items"] as? [[String: Any]])?.count == 1)
        }
    }
}
