import FinFlowCore
import Foundation
import HummingbirdTesting
import SQLKit
import Testing

@testable import FinFlowIntegrations

/// FinFlow's invoices, bills and their payments pushed as the providers' own documents: on the customer or vendor of
/// the same name (found, else made once), QuickBooks' invoice lines on an item per revenue account, payments applied to
/// the documents they pay, a void voided there, tax as lines on the accounts the ledger posted it to; read back without
/// posting again.
@Suite("integrations push: invoices, bills and payments as the providers' own documents, made once, read back without double posting")
struct DocumentPushTests {
    /// What FinFlow did, for the assertions.
    struct Done {
        var paidInvoice = "", voidedInvoice = "", taxedInvoice = "", bill = ""
    }

    static func invoiceLines(_ lines: [(String, String, Int, String)], account: String) -> String {
        lines.map { #"{"description":"\#($0.0)","quantity":"\#($0.1)","unitPrice":\#($0.2),"taxRate":"\#($0.3)","revenueAccountId":"\#(account)"}"# }
            .joined(separator: ",")
    }

    /// The business FinFlow does once pushing is on: an untaxed invoice to a customer the provider knows, paid in part;
    /// one to a new customer, voided; a taxed one; a taxed bill from a new vendor (part of its tax reclaimed, part borne
    /// by the expense), paid in full; another bill, voided; and a manual entry, which goes as a journal.
    static func business(_ client: any TestClientProtocol, _ desk: Desk) async throws -> Done {
        let accounts = try await Books(client: client, token: desk.token).accounts()
        var done = Done()
        func send(_ path: String, _ json: String) async throws -> [String: Any] {
            let answer = try await client.send(.post, path, json: json, token: desk.token)
            try #require([200, 201].contains(answer.status), "\(path): \(answer.body)")
            return answer.body
        }
        let lines = Self.invoiceLines([("Widget", "3", 1_999, "0"), ("Service hour", "1.5", 1_001, "0")], account: accounts["4000"]!)
        done.paidInvoice = try #require(try await send("/v1/accounting/invoices", InvoiceTests.invoice(customer: "acme", issueDate: "2026-11-02", lines: lines))["id"] as? String)
        _ = try await send("/v1/accounting/invoices/\(done.paidInvoice)/payments", #"{"amount":5000,"date":"2026-11-10","cashAccountId":"\#(accounts["1020"]!)"}"#)
        let second = Self.invoiceLines([("Consulting", "2", 25_000, "0")], account: accounts["4000"]!)
        done.voidedInvoice = try #require(try await send("/v1/accounting/invoices", InvoiceTests.invoice(customer: "newco", issueDate: "2026-11-03", lines: second))["id"] as? String)
        _ = try await send("/v1/accounting/invoices/\(done.voidedInvoice)/void", "{}")
        let taxed = Self.invoiceLines([("Widget", "1", 10_000, "19")], account: accounts["4000"]!)
        done.taxedInvoice = try #require(try await send("/v1/accounting/invoices", InvoiceTests.invoice(customer: "acme", issueDate: "2026-11-04", lines: taxed))["id"] as? String)
        let billLines = [BillTests.line("Paper", quantity: "10", price: 1_250, rate: "19", account: accounts["6300"]!),
                         BillTests.line("Client dinner", price: 8_000, rate: "7.5", recoverable: false, account: accounts["6300"]!)].joined(separator: ",")
        done.bill = try #require(try await send("/v1/accounting/bills", BillTests.bill(reference: "PC-77", billDate: "2026-11-05", lines: billLines))["id"] as? String)
        _ = try await send("/v1/accounting/bills/\(done.bill)/payments", #"{"amount":23475,"date":"2026-11-20","cashAccountId":"\#(accounts["1020"]!)"}"#)
        let wrong = BillTests.line("Toner", price: 4_000, account: accounts["6300"]!)
        let voided = try #require(try await send("/v1/accounting/bills", BillTests.bill(reference: "PC-78", billDate: "2026-11-06", lines: wrong))["id"] as? String)
        _ = try await send("/v1/accounting/bills/\(voided)/void", "{}")
        _ = try await PushTests.entry(client, desk, [("6300", "debit", 1_000), ("1020", "credit", 1_000)], description: "Stamps")
        return done
    }

    static func made(_ pushes: [[String: Any]]) -> [String: Int] {
        var counts: [String: Int] = [:]
        for push in pushes where push["status"] as? String == "pushed" { counts[push["made"] as? String ?? "?", default: 0] += 1 }
        return counts
    }

    @Test("QuickBooks: invoices, bills, payments and a void as QuickBooks documents on found or made customers, vendors and items, once")
    func quickBooks() async throws {
        let sandbox = ProviderSandbox(.quickbooks)
        let bank = sandbox.put("Account", ["Name": "Checking", "AcctNum": "1020", "AccountType": "Bank", "Classification": "Asset", "Active": true])
        sandbox.put("Account", ["Name": "Accounts Receivable (A/R)", "AcctNum": "1100", "AccountType": "Accounts Receivable", "Classification": "Asset", "Active": true])
        let payable = sandbox.put("Account", ["Name": "Accounts Payable (A/P)", "AcctNum": "2010", "AccountType": "Accounts Payable", "Classification": "Liability", "Active": true])
        let salesTax = sandbox.put("Account", ["Name": "Sales Tax Payable", "AcctNum": "2200", "AccountType": "Other Current Liability", "Classification": "Liability", "Active": true])
        let inputTax = sandbox.put("Account", ["Name": "Input tax", "AcctNum": "1350", "AccountType": "Other Current Asset", "Classification": "Asset", "Active": true])
        let sales = sandbox.put("Account", ["Name": "Sales of Product Income", "AcctNum": "4000", "AccountType": "Income", "Classification": "Revenue", "Active": true])
        let supplies = sandbox.put("Account", ["Name": "Supplies", "AcctNum": "6300", "AccountType": "Expense", "Classification": "Expense", "Active": true])
        // A customer QuickBooks already has, by the name FinFlow's invoice gives.
        let acme = sandbox.put("Customer", ["DisplayName": "Customer acme", "Active": true])
        try await StandIn.serving(sandbox.router) { base in
            let sut = try await TestSystem.make {
                $0.quickbooks = sandbox.app(base: base)
                $0.accessTokenTTLSeconds = 60 * 86_400
            }
            try await sut.test { client in
                let desk = try await Desk.open(client, sut, tag: "qbo-docs")
                let id = try #require(try await ConnectionTests.connect(client, desk, sandbox, provider: "quickbooks").body["id"] as? String)
                _ = try await SyncTests.sync(client, sut, desk, id)
                try await sut.system.deliverEvents()
                try await PushTests.push(client, desk, id)
                _ = try await Self.business(client, desk)
                try await PushTests.settle(sut)

                let pushes = try await PushTests.pushes(client, desk, id)
                #expect(pushes.allSatisfy { $0["status"] as? String == "pushed" }, "\(pushes)")
                // Three invoices, a payment and the void (which names the invoice it voided), two bills, a payment and a
                // void, and the manual entry as a journal.
                #expect(Self.made(pushes) == ["invoice": 4, "payment": 1, "bill": 3, "bill_payment": 1, "journal_entry": 1], "\(pushes)")

                // The known customer found by name; the new one and the vendor made once; an item for the revenue account
                // and one for the sales tax account.
                let customers = sandbox.documents("Customer")
                #expect(customers.count == 2 && customers.values.contains { $0.object["DisplayName"] as? String == "Customer newco" }, "\(customers)")
                let vendors = sandbox.documents("Vendor")
                #expect(vendors.count == 1 && vendors.first?.value.object["DisplayName"] as? String == "Vendor paperco", "\(vendors)")
                let items = sandbox.documents("Item")
                let incomes = Set(items.values.compactMap { ($0.object["IncomeAccountRef"] as? [String: Any])?["value"] as? String })
                #expect(items.count == 2 && incomes == [sales, salesTax], "\(items)")

                // The paid invoice: on the known customer, its lines as FinFlow priced them (1.5 × 10.01 rounds, so one
                // at its amount), 24.99 of 74.99 still owed.
                let invoices = sandbox.documents("Invoice")
                #expect(invoices.count == 3, "\(invoices)")
                let paid = try #require(invoices.values.first { $0.object["DocNumber"] as? String == "INV-000001" })
                #expect((paid.object["CustomerRef"] as? [String: Any])?["value"] as? String == acme)
                let lines = paid.object["Line"] as? [[String: Any]] ?? []
                let details = lines.compactMap { $0["SalesItemLineDetail"] as? [String: Any] }
                #expect(details.map { ($0["Qty"] as? NSNumber)?.doubleValue } == [3, 1], "\(lines)")
                #expect(lines.map { ($0["Amount"] as? NSNumber)?.doubleValue } == [59.97, 15.02], "\(lines)")
                #expect((paid.object["TotalAmt"] as? NSNumber)?.doubleValue == 74.99 && (paid.object["Balance"] as? NSNumber)?.doubleValue == 24.99, "\(paid.object)")
                #expect(paid.object["ARAccountRef"] == nil, "a QuickBooks invoice takes no receivable account")
                #expect((paid.object["PrivateNote"] as? String)?.contains("FinFlow entry ") == true && paid.object["DocNumber"] as? String == "INV-000001")
                #expect(paid.version == 1, "the payment applied to it gave it a new SyncToken")
                let payments = sandbox.documents("Payment")
                let payment = try #require(payments.first?.value.object)
                #expect(payments.count == 1 && (payment["DepositToAccountRef"] as? [String: Any])?["value"] as? String == bank, "\(payment)")
                #expect(((payment["Line"] as? [[String: Any]])?.first?["LinkedTxn"] as? [[String: Any]])?.first?["TxnId"] as? String
                    == invoices.first { $0.value.object["DocNumber"] as? String == "INV-000001" }?.key)
                // The voided one: kept by QuickBooks with every amount zero.
                let voided = try #require(invoices.values.first { $0.object["DocNumber"] as? String == "INV-000002" })
                #expect((voided.object["TotalAmt"] as? NSNumber)?.doubleValue == 0 && (voided.object["PrivateNote"] as? String)?.hasPrefix("Voided") == true)

                // The taxed invoice: its tax a line on the sales tax account, the total FinFlow's.
                let taxed = try #require(invoices.values.first { $0.object["DocNumber"] as? String == "INV-000003" })
                let taxedLines = (taxed.object["Line"] as? [[String: Any]] ?? []).map {
                    (($0["Amount"] as? NSNumber)?.doubleValue ?? 0, (($0["SalesItemLineDetail"] as? [String: Any])?["ItemAccountRef"] as? String))
                }
                #expect(taxedLines.map(\.0) == [100, 19] && (taxed.object["TotalAmt"] as? NSNumber)?.doubleValue == 119, "\(taxed.object)")
                // The bill on the expense account, its reclaimed tax on input tax and the tax it bears on the expense, paid
                // from the bank, nothing owed.
                // The voided bill deleted (QuickBooks has no bill void), the paid one kept.
                let bills = sandbox.documents("Bill")
                #expect(bills.count == 1 && sandbox.bookCalls.contains("bill"), "\(bills)")
                let bill = try #require(bills.first?.value.object)
                #expect(bill["DocNumber"] as? String == "PC-77" && (bill["Balance"] as? NSNumber)?.doubleValue == 0, "\(bill)")
                #expect((bill["TotalAmt"] as? NSNumber)?.doubleValue == 234.75, "\(bill)")
                #expect((bill["APAccountRef"] as? [String: Any])?["value"] as? String == payable)
                let billAccounts = (bill["Line"] as? [[String: Any]] ?? []).map {
                    ((($0["AccountBasedExpenseLineDetail"] as? [String: Any])?["AccountRef"] as? [String: Any])?["value"] as? String ?? "",
                     ($0["Amount"] as? NSNumber)?.doubleValue ?? 0)
                }
                #expect(billAccounts.map(\.0) == [supplies, supplies, inputTax, supplies] && billAccounts.map(\.1) == [125, 80, 23.75, 6], "\(billAccounts)")
                let billPayment = try #require(sandbox.documents("BillPayment").first?.value.object)
                #expect(((billPayment["CheckPayment"] as? [String: Any])?["BankAccountRef"] as? [String: Any])?["value"] as? String == bank)
                #expect(sandbox.documents("JournalEntry").count == 1)

                // Pushed again after a lost answer: QuickBooks answers each requestid as before and makes nothing twice.
                let integrations = try #require(sut.system.databases["integrations"])
                try await integrations.tenantTransaction(tenantId: desk.user.tenantId) { db in
                    try await db.raw("UPDATE integration_pushes SET status = 'queued', next_attempt_at_ms = 0, external_id = NULL").run()
                }
                try await PushTests.settle(sut)
                #expect(sandbox.documents("Invoice").count == 3 && sandbox.documents("Payment").count == 1 && sandbox.documents("Customer").count == 2)
                #expect(sandbox.documents("Bill").count == 1 && sandbox.documents("BillPayment").count == 1 && sandbox.documents("Item").count == 2)
                #expect(sandbox.documents("JournalEntry").count == 1)
                #expect(Self.made(try await PushTests.pushes(client, desk, id)).values.reduce(0, +) == 10)

                // Read back, incrementally and whole: FinFlow's own documents, posted nothing, in conflict with nothing.
                _ = try await SyncTests.sync(client, sut, desk, id)
                _ = try await SyncTests.sync(client, sut, desk, id, full: true)
                try await sut.system.deliverEvents()
                #expect(try await SyncBooksTests.entries(client, desk).isEmpty)
                let records = try await SyncTests.records(client, desk, id)
                let ours = records.filter { ["invoice", "bill", "payment", "bill_payment"].contains($0["entity"] as? String ?? "") }
                #expect(ours.count == 7 && ours.allSatisfy { $0["origin"] as? String == "finflow" && $0["books"] as? String == "pushed" }, "\(ours)")
                #expect(ours.filter { $0["status"] as? String == "deleted" }.count == 1, "\(ours)")
                #expect(!records.contains { $0["books"] as? String == "conflict" }, "\(records)")
                // A conflict on a document is resolved at the provider or by keeping its side; FinFlow writes back journals only.
                let invoiceRecord = try #require(ours.first { $0["entity"] as? String == "invoice" })
                let resolve = "/v1/integrations/connections/\(id)/records/invoice/\(invoiceRecord["externalId"] as? String ?? "")/resolution"
                #expect(try await client.send(.post, resolve, json: #"{"keep":"finflow"}"#, token: desk.token).status == 409)
            }
        }
    }

    @Test("Xero: invoices, bills, payments and a void as Xero invoices and payments on found or made contacts, read back without posting")
    func xero() async throws {
        let sandbox = ProviderSandbox(.xero, organisations: [("6f3b1e0e-0c8f-4b8e-9a55-2d8a1c9e0004", "Demo Company (UK)")])
        for (code, name, type, kind) in [("1020", "Business Bank Account", "BANK", "ASSET"), ("1100", "Accounts Receivable", "CURRENT", "ASSET"),
                                          ("1350", "Input tax", "CURRENT", "ASSET"),
                                          ("2010", "Accounts Payable", "CURRLIAB", "LIABILITY"), ("2200", "Sales Tax", "CURRLIAB", "LIABILITY"),
                                          ("4000", "Sales", "REVENUE", "REVENUE"), ("6300", "Office Expenses", "OVERHEADS", "EXPENSE")] {
            sandbox.put("Accounts", ["Code": code, "Name": name, "Type": type, "Class": kind, "Status": "ACTIVE"])
        }
        try await StandIn.serving(sandbox.router) { base in
            let sut = try await TestSystem.make {
                $0.xero = sandbox.app(base: base)
                $0.accessTokenTTLSeconds = 60 * 86_400
            }
            try await sut.test { client in
                let desk = try await Desk.open(client, sut, tag: "xero-docs")
                let id = try #require(try await ConnectionTests.connect(client, desk, sandbox, provider: "xero").body["id"] as? String)
                _ = try await SyncTests.sync(client, sut, desk, id)
                try await sut.system.deliverEvents()
                // A contact Xero has that the sync has not read yet: found by name at Xero, not made twice.
                let acme = sandbox.put("Contacts", ["Name": "Customer acme", "ContactStatus": "ACTIVE"])
                sandbox.advance(seconds: 60)
                try await PushTests.push(client, desk, id)
                _ = try await Self.business(client, desk)
                try await PushTests.settle(sut)

                let pushes = try await PushTests.pushes(client, desk, id)
                #expect(Self.made(pushes) == ["invoice": 4, "payment": 1, "bill": 3, "bill_payment": 1, "journal_entry": 1], "\(pushes)")
                let contacts = sandbox.documents("Contacts")
                #expect(contacts.count == 3, "acme found, newco and paperco made: \(contacts.map { $0.value.object["Name"] ?? "" })")
                let invoices = sandbox.documents("Invoices")
                #expect(invoices.count == 5, "\(invoices)")
                #expect(invoices.values.first { $0.object["InvoiceNumber"] as? String == "PC-78" }?.object["Status"] as? String == "VOIDED")
                let taxed = (invoices.values.first { $0.object["InvoiceNumber"] as? String == "INV-000003" }?.object["LineItems"] as? [[String: Any]] ?? [])
                #expect(taxed.map { $0["AccountCode"] as? String } == ["4000", "2200"] && taxed.map { ($0["LineAmount"] as? NSNumber)?.doubleValue } == [100, 19], "\(taxed)")
                let paid = try #require(invoices.values.first { $0.object["InvoiceNumber"] as? String == "INV-000001" }?.object)
                #expect((paid["Contact"] as? [String: Any])?["ContactID"] as? String == acme && paid["Type"] as? String == "ACCREC")
                #expect((paid["AmountDue"] as? NSNumber)?.doubleValue == 24.99 && paid["Status"] as? String == "AUTHORISED", "\(paid)")
                let codes = (paid["LineItems"] as? [[String: Any]] ?? []).map { $0["AccountCode"] as? String }
                #expect(codes == ["4000", "4000"], "\(paid)")
                #expect(invoices.values.first { $0.object["InvoiceNumber"] as? String == "INV-000002" }?.object["Status"] as? String == "VOIDED")
                let bill = try #require(invoices.values.first { $0.object["InvoiceNumber"] as? String == "PC-77" }?.object)
                #expect(bill["Type"] as? String == "ACCPAY")
                #expect(bill["Status"] as? String == "PAID" && bill["InvoiceNumber"] as? String == "PC-77", "\(bill)")
                let payments = sandbox.documents("Payments")
                #expect(payments.count == 2 && payments.values.allSatisfy { ($0.object["Account"] as? [String: Any])?["Code"] as? String == "1020" })
                #expect(sandbox.documents("ManualJournals").count == 1)

                // Read back: nothing posted, nothing in conflict.
                sandbox.advance(seconds: 60)
                _ = try await SyncTests.sync(client, sut, desk, id)
                _ = try await SyncTests.sync(client, sut, desk, id, full: true)
                try await sut.system.deliverEvents()
                #expect(try await SyncBooksTests.entries(client, desk).isEmpty)
                let records = try await SyncTests.records(client, desk, id)
                #expect(!records.contains { $0["books"] as? String == "conflict" }, "\(records)")
                let ours = records.filter { ["invoice", "bill", "payment", "bill_payment"].contains($0["entity"] as? String ?? "") }
                #expect(ours.count == 7 && ours.allSatisfy { $0["origin"] as? String == "finflow" }, "\(ours)")
            }
        }
    }
}
