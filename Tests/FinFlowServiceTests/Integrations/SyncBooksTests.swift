import FinFlowCore
import Foundation
import HummingbirdTesting
import Testing

@testable import FinFlowIntegrations

/// Synced documents in FinFlow's ledger: accounts opened under their document ids, each document's double entry
/// posted once, a change reversed and posted again, a deletion reversed, what cannot be read or posted shown on its
/// record; running the sync again (incremental or full) posts nothing twice.
@Suite("integrations sync into the ledger: each document posted once, changes reversed and posted again, refusals shown")
struct SyncBooksTests {
    static func entries(_ client: any TestClientProtocol, _ desk: Desk) async throws -> [[String: Any]] {
        let page = try await client.send(.get, "/v1/accounting/journal-entries?source=sync&limit=200", token: desk.token)
        try #require(page.status == 200, "\(page.body)")
        return page.body["items"] as? [[String: Any]] ?? []
    }

    static func balance(_ client: any TestClientProtocol, _ desk: Desk, _ accountId: String) async throws -> (debits: Int, credits: Int) {
        let answer = try await client.send(.get, "/v1/accounting/accounts/\(accountId)/balance", token: desk.token)
        try #require(answer.status == 200, "\(answer.body)")
        return (answer.body["debits"] as? Int ?? -1, answer.body["credits"] as? Int ?? -1)
    }

    @Test("QuickBooks documents reach the ledger once; an edit is reversed and posted again, a deletion reversed, a refusal shown")
    func quickBooks() async throws {
        let sandbox = ProviderSandbox(.quickbooks)
        let checking = sandbox.put("Account", ["Name": "Checking", "AccountType": "Bank", "Classification": "Asset", "Active": true])
        let sales = sandbox.put("Account", ["Name": "Sales", "AcctNum": "QB-4000", "AccountType": "Income", "Classification": "Revenue", "Active": true])
        let rent = sandbox.put("Account", ["Name": "Rent", "AccountType": "Expense", "Classification": "Expense", "Active": true])
        let customer = sandbox.put("Customer", ["DisplayName": "Amy's Bird Sanctuary", "Active": true])
        let invoice = sandbox.put("Invoice", SyncTests.quickbooksInvoice("1001", amount: 100, tax: 10, customer: customer))
        let bill = sandbox.put("Bill", ["DocNumber": "B-7", "TxnDate": "2026-11-03", "TotalAmt": 200.0, "VendorRef": ["value": "9", "name": "Books by Bessie"],
                                        "Line": [["DetailType": "AccountBasedExpenseLineDetail", "Amount": 200.0,
                                                  "AccountBasedExpenseLineDetail": ["AccountRef": ["value": rent]]]]])
        sandbox.put("Payment", ["TxnDate": "2026-11-04", "TotalAmt": 110.0, "DepositToAccountRef": ["value": checking]])
        sandbox.put("BillPayment", ["TxnDate": "2026-11-05", "TotalAmt": 200.0, "PayType": "Check", "CheckPayment": ["BankAccountRef": ["value": checking]]])
        sandbox.put("JournalEntry", ["DocNumber": "JE-1", "TxnDate": "2026-11-06", "Line": [
            ["DetailType": "JournalEntryLineDetail", "Amount": 10.0, "JournalEntryLineDetail": ["PostingType": "Debit", "AccountRef": ["value": rent]]],
            ["DetailType": "JournalEntryLineDetail", "Amount": 10.0, "JournalEntryLineDetail": ["PostingType": "Credit", "AccountRef": ["value": checking]]],
        ]])
        // Lines that do not come to the stated total: not read into an entry, and said so.
        var wrong = SyncTests.quickbooksInvoice("1002", amount: 50, customer: customer)
        wrong["TotalAmt"] = 55.0
        let unreadable = sandbox.put("Invoice", wrong)
        // A line to an account QuickBooks never listed: the ledger refuses it, and the record shows the refusal.
        var stray = SyncTests.quickbooksInvoice("1003", amount: 20, customer: customer)
        stray["Line"] = [["DetailType": "SalesItemLineDetail", "Amount": 20.0, "SalesItemLineDetail": ["ItemAccountRef": ["value": "999"]]]]
        let refused = sandbox.put("Invoice", stray)

        try await StandIn.serving(sandbox.router) { base in
            let sut = try await TestSystem.make {
                $0.quickbooks = sandbox.app(base: base)
                $0.accessTokenTTLSeconds = 60 * 86_400
            }
            try await sut.test { client in
                let desk = try await Desk.open(client, sut, tag: "qbo-books")
                let connected = try await ConnectionTests.connect(client, desk, sandbox, provider: "quickbooks")
                let id = try #require(connected.body["id"] as? String)
                func account(_ external: String) -> String { BooksPosting.documentId(connectionId: id, entity: .account, externalId: external) }
                func settle() async throws {
                    try await sut.system.deliverEvents()
                    try await sut.system.deliverEvents()  // the ledger's refusals back to the records
                }

                let first = try await SyncTests.sync(client, sut, desk, id)
                #expect(first["status"] as? String == "succeeded", "\(first)")
                #expect(SyncTests.counts(first, "invoice")["failed"] == 1, "\(first)")
                try await settle()

                // The chart holds QuickBooks' accounts under their document ids, with its code where it has one.
                let opened = try await client.send(.get, "/v1/accounting/accounts/\(account(sales))", token: desk.token)
                #expect(opened.status == 200 && opened.body["name"] as? String == "Sales" && opened.body["code"] as? String == "QB-4000", "\(opened.body)")
                #expect(opened.body["type"] as? String == "revenue")
                // Five documents posted; the unreadable and the refused one not.
                var entries = try await Self.entries(client, desk)
                #expect(entries.count == 5, "\(entries.map { $0["description"] ?? "" })")
                #expect(try await Self.balance(client, desk, account(checking)) == (11_000, 21_000))
                #expect(try await Self.balance(client, desk, account(sales)) == (0, 10_000))
                #expect(try await Self.balance(client, desk, account(rent)) == (21_000, 0))
                var records = try await SyncTests.records(client, desk, id)
                func record(_ entity: String, _ external: String) -> [String: Any]? {
                    records.first { $0["entity"] as? String == entity && $0["externalId"] as? String == external }
                }
                #expect(record("invoice", invoice)?["books"] as? String == "sent")
                #expect(record("customer", customer)?["books"] == nil)
                #expect(record("invoice", unreadable)?["books"] as? String == "unreadable")
                #expect((record("invoice", unreadable)?["booksProblem"] as? String)?.contains("total is 55") == true, "\(records)")
                #expect(record("invoice", refused)?["books"] as? String == "refused")
                #expect((record("invoice", refused)?["booksProblem"] as? String)?.contains("unknown-account") == true, "\(String(describing: record("invoice", refused)))")

                // Again, incrementally and in full: nothing posted twice.
                _ = try await SyncTests.sync(client, sut, desk, id)
                _ = try await SyncTests.sync(client, sut, desk, id, full: true)
                try await settle()
                #expect(try await Self.entries(client, desk).count == 5)
                #expect(try await Self.balance(client, desk, account(checking)) == (11_000, 21_000))

                // The invoice's amount edited at QuickBooks: its entry reversed and the new one posted. Its memo edited
                // (a new SyncToken, the same postings): nothing moves.
                sandbox.put("Invoice", id: invoice, SyncTests.quickbooksInvoice("1001", amount: 120, tax: 12, customer: customer))
                _ = try await SyncTests.sync(client, sut, desk, id)
                try await settle()
                #expect(try await Self.balance(client, desk, account(sales)) == (10_000, 22_000))
                var memo = SyncTests.quickbooksInvoice("1001", amount: 120, tax: 12, customer: customer)
                memo["PrivateMemo"] = "thanks"
                sandbox.put("Invoice", id: invoice, memo)
                sandbox.delete("Bill", id: bill)
                sandbox.put("Account", id: rent, ["Name": "Rent and rates", "AccountType": "Expense", "Classification": "Expense", "Active": true])
                let later = try await SyncTests.sync(client, sut, desk, id)
                #expect(SyncTests.counts(later, "invoice")["updated"] == 1 && SyncTests.counts(later, "bill")["deleted"] == 1, "\(later)")
                try await settle()
                entries = try await Self.entries(client, desk)
                // 5 first, then the invoice's reversal and new entry, then the bill's reversal.
                #expect(entries.count == 8, "\(entries.map { $0["description"] ?? "" })")
                #expect(try await Self.balance(client, desk, account(sales)) == (10_000, 22_000))
                #expect(try await Self.balance(client, desk, account(rent)) == (21_000, 20_000))
                let renamed = try await client.send(.get, "/v1/accounting/accounts/\(account(rent))", token: desk.token)
                #expect(renamed.body["name"] as? String == "Rent and rates", "\(renamed.body)")
                records = try await SyncTests.records(client, desk, id)
                #expect(record("invoice", refused)?["books"] as? String == "refused")
            }
        }
    }

    @Test("Xero documents reach the ledger once: accounts named by code, tax exclusive and inclusive, drafts not posted, a void reversed")
    func xero() async throws {
        let sandbox = ProviderSandbox(.xero, organisations: [("6f3b1e0e-0c8f-4b8e-9a55-2d8a1c9e0002", "Demo Company (US)")])
        let bank = sandbox.put("Accounts", ["Code": "090", "Name": "Business Bank Account", "Type": "BANK", "Class": "ASSET", "Status": "ACTIVE",
                                            "CurrencyCode": "USD"])
        let sales = sandbox.put("Accounts", ["Code": "200", "Name": "Sales", "Type": "REVENUE", "Class": "REVENUE", "Status": "ACTIVE"])
        let advertising = sandbox.put("Accounts", ["Code": "400", "Name": "Advertising", "Type": "EXPENSE", "Status": "ACTIVE"])
        let sale = sandbox.put("Invoices", SyncTests.xeroInvoice("ACCREC", "INV-0001", amount: 100, tax: 20, account: "200"))
        sandbox.put("Invoices", SyncTests.xeroInvoice("ACCPAY", "SUP-9", amount: 48, tax: 8, account: "400", inclusive: true))
        let draft = sandbox.put("Invoices", SyncTests.xeroInvoice("ACCREC", "INV-0002", amount: 999, account: "200", status: "DRAFT"))
        sandbox.put("Payments", ["PaymentType": "ACCRECPAYMENT", "Amount": 120.0, "Status": "AUTHORISED", "DateString": "2026-11-12T00:00:00",
                                 "Account": ["AccountID": bank], "Invoice": ["InvoiceNumber": "INV-0001", "Contact": ["Name": "Ridgeway University"]]])
        sandbox.put("ManualJournals", ["Narration": "Accruals", "Status": "POSTED", "DateString": "2026-11-30T00:00:00", "JournalLines": [
            ["LineAmount": 25.0, "AccountCode": "400"], ["LineAmount": -25.0, "AccountCode": "090"],
        ]])

        try await StandIn.serving(sandbox.router) { base in
            let sut = try await TestSystem.make {
                $0.xero = sandbox.app(base: base)
                $0.accessTokenTTLSeconds = 86_400
            }
            try await sut.test { client in
                let desk = try await Desk.open(client, sut, tag: "xero-books")
                let connected = try await ConnectionTests.connect(client, desk, sandbox, provider: "xero")
                let id = try #require(connected.body["id"] as? String)
                func account(_ external: String) -> String { BooksPosting.documentId(connectionId: id, entity: .account, externalId: external) }
                sandbox.advance(seconds: 3_600)
                sut.clock.advance(seconds: 3_600)
                let first = try await SyncTests.sync(client, sut, desk, id)
                #expect(first["status"] as? String == "succeeded" && first["errorCount"] as? Int == 0, "\(first)")
                try await sut.system.deliverEvents()

                // The invoice (tax exclusive), the bill (tax inclusive), the payment and the journal; not the draft.
                #expect(try await Self.entries(client, desk).count == 4)
                #expect(try await Self.balance(client, desk, account(sales)) == (0, 10_000))
                #expect(try await Self.balance(client, desk, account(advertising)) == (6_500, 0))
                #expect(try await Self.balance(client, desk, account(bank)) == (12_000, 2_500))
                let chart = try await client.send(.get, "/v1/accounting/accounts/\(account(advertising))", token: desk.token)
                #expect(chart.body["code"] as? String == "400" && chart.body["type"] as? String == "expense", "\(chart.body)")

                // Voided at Xero: its entry reversed. The draft approved: posted. Nothing else moves.
                sandbox.advance(seconds: 60)
                sandbox.put("Invoices", id: sale, SyncTests.xeroInvoice("ACCREC", "INV-0001", amount: 100, tax: 20, account: "200", status: "VOIDED"))
                sandbox.put("Invoices", id: draft, SyncTests.xeroInvoice("ACCREC", "INV-0002", amount: 999, account: "200"))
                sut.clock.advance(seconds: 600)
                let again = try await SyncTests.sync(client, sut, desk, id)
                #expect(SyncTests.counts(again, "invoice")["updated"] == 2, "\(again)")
                try await sut.system.deliverEvents()
                #expect(try await Self.entries(client, desk).count == 6)
                #expect(try await Self.balance(client, desk, account(sales)) == (10_000, 109_900))
                #expect(try await Self.balance(client, desk, account(bank)) == (12_000, 2_500))
            }
        }
    }

    @Test("a serving FinFlow killed mid-sync: the run resumes where it stopped, keeping and posting every document once")
    func killedMidRun() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandLineTests.binary.path), "build the finflow executable first")
        let sandbox = ProviderSandbox(.quickbooks)
        let sales = sandbox.put("Account", ["Name": "Sales", "AccountType": "Income", "Classification": "Revenue", "Active": true])
        let customer = sandbox.put("Customer", ["DisplayName": "Amy's Bird Sanctuary", "Active": true])
        let invoices = 2_500
        for number in 0..<invoices {
            var invoice = SyncTests.quickbooksInvoice("\(10_000 + number)", amount: 10, customer: customer)
            invoice["Line"] = [["DetailType": "SalesItemLineDetail", "Amount": 10.0, "SalesItemLineDetail": ["ItemAccountRef": ["value": sales]]]]
            sandbox.put("Invoice", invoice)
        }
        try await StandIn.serving(sandbox.router) { base in
            let app = sandbox.app(base: base)
            let sut = try await TestSystem.make {
                $0.quickbooks = app
                $0.accessTokenTTLSeconds = 86_400
            }
            try await sut.test { client in
                let desk = try await Desk.open(client, sut, tag: "qbo-killed")
                let connected = try await ConnectionTests.connect(client, desk, sandbox, provider: "quickbooks")
                let id = try #require(connected.body["id"] as? String)
                let started = try await client.send(.post, "/v1/integrations/connections/\(id)/syncs", token: desk.token)
                let runId = try #require(started.body["id"] as? String)

                // A real FinFlow carries the run, each provider call slowed, and is killed once it has applied a page of
                // invoices and before it has read them all.
                sandbox.slowCalls(millis: 400)
                let server = try ServerProcess(settings: sut.system.settings, environment: sandbox.serverEnvironment(base: base))
                try await server.ready()
                var invoicesBefore = 0
                for _ in 0..<600 {
                    let run = try await client.send(.get, "/v1/integrations/syncs/\(runId)", token: desk.token).body
                    invoicesBefore = SyncTests.counts(run, "invoice")["created"] ?? 0
                    if invoicesBefore > 0 { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                server.kill()
                try await server.exited()
                #expect(invoicesBefore > 0 && invoicesBefore < invoices, "killed after \(invoicesBefore) invoices")
                let stopped = try await client.send(.get, "/v1/integrations/syncs/\(runId)", token: desk.token).body
                #expect(stopped["status"] as? String == "running", "\(stopped)")

                // Its claim lapses; this process resumes it at the first page not applied.
                sandbox.slowCalls(millis: 0)
                sut.clock.advance(seconds: 180)
                _ = try await sut.system.runScheduledWork()
                let run = try await client.send(.get, "/v1/integrations/syncs/\(runId)", token: desk.token).body
                #expect(run["status"] as? String == "succeeded", "\(run)")
                #expect(SyncTests.counts(run, "invoice")["created"] == invoices, "\(run)")
                let records = try await SyncTests.records(client, desk, id).filter { $0["entity"] as? String == "invoice" }
                #expect(records.count == invoices && Set(records.compactMap { $0["finflowId"] as? String }).count == invoices)

                // Every invoice posted once: the events of the pages applied before the kill and after it.
                try await sut.system.deliverEvents()
                let salesId = BooksPosting.documentId(connectionId: id, entity: .account, externalId: sales)
                #expect(try await Self.balance(client, desk, salesId) == (0, invoices * 1_000))
            }
        }
    }
}
