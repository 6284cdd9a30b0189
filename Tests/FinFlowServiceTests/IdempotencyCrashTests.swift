import FinFlowCore
import Foundation
import Testing

/// A process killed after a keyed request's effect committed and before its answer was stored: the retry with the same
/// key, once the running mark has gone stale, finds the effect instead of repeating it and answers as the first run
/// would have.
@Suite("idempotency: a crash between the effect and the stored answer")
struct IdempotencyCrashTests {
    /// Sends `json` to `path` under `key` on a process that dies before storing the answer; the request gets no answer.
    static func crashing(_ server: ServerProcess, _ path: String, _ json: String?, token: String, key: String) async throws {
        let extra = path.hasSuffix("/import") ? [("content-type", "text/plain")] : []
        let answer = try? await server.send(.POST, path, json: json, token: token, headers: [("Idempotency-Key", key)] + extra)
        #expect(answer == nil, "the process answered \(answer?.status ?? 0) instead of dying before the stored answer")
        try await server.exited()
    }

    @Test("a journal entry, a transaction, an invoice payment, a journal import and a bill sent without ids take effect once, a void and a bill's posting change state once, and each retry answers as the first would have")
    func crashBeforeAnswer() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandLineTests.binary.path), "build the finflow executable first")
        let sut = try await TestSystem.make()
        let demo = try await sut.system.createDemo()
        let settings = sut.system.settings
        try await sut.system.shutdown()
        let login = #"{"email":"\#(demo.email)","password":"\#(demo.password)"}"#
        let timeout = ["FINFLOW_IDEMPOTENCY_RUNNING_TIMEOUT_SECONDS": "1"]
        func signIn(_ server: ServerProcess) async throws -> String {
            try await server.ready()
            let tokens = try #require(try await server.send(.POST, "/v1/auth/login", json: login).body["tokens"] as? [String: Any])
            return try #require(tokens["accessToken"] as? String)
        }
        func codes(_ server: ServerProcess, _ path: String, token: String) async throws -> [String: String] {
            let items = try await server.send(.GET, path, token: token).body["items"] as? [[String: Any]] ?? []
            return Dictionary(uniqueKeysWithValues: items.map { ($0["code"] as! String, $0["id"] as! String) })
        }

        // Learn the accounts on a healthy process.
        let healthy = try ServerProcess(settings: settings, environment: timeout)
        var token = try await signIn(healthy)
        let ledgerAccounts = try await codes(healthy, "/v1/accounting/accounts", token: token)
        let bookAccounts = try await codes(healthy, "/v1/transactions/accounts", token: token)
        let issued = try await healthy.send(.POST, "/v1/accounting/invoices", json: InvoiceTests.invoice(
            issueDate: LedgerDateText.today, lines: #"{"description":"Audit","quantity":"1","unitPrice":50000,"taxRate":"0"}"#), token: token)
        let invoiceId = try #require(issued.body["id"] as? String, "\(issued.body)")
        let doomedInvoice = try await healthy.send(.POST, "/v1/accounting/invoices", json: InvoiceTests.invoice(
            issueDate: LedgerDateText.today, lines: #"{"description":"Void me","quantity":"1","unitPrice":7000,"taxRate":"0"}"#), token: token)
        let doomedInvoiceId = try #require(doomedInvoice.body["id"] as? String, "\(doomedInvoice.body)")
        let draftBill = try await healthy.send(.POST, "/v1/accounting/bills", json: BillTests.bill(
            vendor: "keyed-draft", billDate: LedgerDateText.today, post: false, lines: BillTests.line(price: 3_300, account: ledgerAccounts["6300"]!)), token: token)
        let draftBillId = try #require(draftBill.body["id"] as? String, "\(draftBill.body)")
        func payables(_ server: ServerProcess) async throws -> Int64 {
            let account = try await server.send(.GET, "/v1/accounting/accounts/\(ledgerAccounts["2010"]!)", token: token)
            return try #require((account.body["balances"] as? [String: Any])?["balance"] as? NSNumber).int64Value
        }
        let owedBefore = try await payables(healthy)
        healthy.kill()
        try await healthy.exited()
        let entry = Books.entry(date: LedgerDateText.today, description: "Keyed rent", id: nil,
                                lines: [(ledgerAccounts["6100"]!, "debit", 125_000), (ledgerAccounts["1020"]!, "credit", 125_000)])
        let transaction = Desk.json([
            "kind": "expense", "amount": 4_321, "currency": "USD", "valueDate": LedgerDateText.today, "description": "Keyed power bill",
            "sourceAccountId": bookAccounts["1020"]!, "destinationAccountId": bookAccounts["6200"]!, "counterparty": ["name": "City Power"],
        ] as [String: Any])
        let payment = #"{"amount":12000,"date":"\#(LedgerDateText.today)","cashAccountId":"\#(ledgerAccounts["1020"]!)"}"#
        let journal = "\(LedgerDateText.today) Keyed import\n    expenses:keyed  USD 7.00\n    assets:keyed\n"
        let bill = BillTests.bill(vendor: "keyed-vendor", billDate: LedgerDateText.today, lines: BillTests.line(price: 9_900, rate: "10", account: ledgerAccounts["6300"]!))
        let requests: [(String, String?, String, Int)] = [
            ("/v1/accounting/journal-entries", entry, "entry-key-1", 201), ("/v1/transactions", transaction, "transaction-key-1", 201),
            ("/v1/accounting/invoices/\(invoiceId)/payments", payment, "payment-key-1", 200),
            ("/v1/accounting/journal/import", journal, "import-key-1", 201), ("/v1/accounting/bills", bill, "bill-key-1", 201),
            ("/v1/accounting/invoices/\(doomedInvoiceId)/void", nil, "void-key-1", 200),
            ("/v1/accounting/bills/\(draftBillId)/post", nil, "bill-post-key-1", 200),
        ]
        func headers(_ path: String, _ key: String) -> [(String, String)] {
            [("Idempotency-Key", key)] + (path.hasSuffix("/import") ? [("content-type", "text/plain")] : [])
        }

        // Each request kills its process after its commit, before the answer is stored.
        for (path, json, key, _) in requests {
            let doomed = try ServerProcess(settings: settings, environment: timeout.merging(["FINFLOW_FAULT_INJECTION": "crash-before-idempotent-answer"]) { $1 })
            token = try await signIn(doomed)
            try await Self.crashing(doomed, path, json, token: token, key: key)
        }

        let survivor = try ServerProcess(settings: settings, environment: timeout)
        token = try await signIn(survivor)
        try await Task.sleep(for: .milliseconds(1_500))
        for (path, json, key, status) in requests {
            let retry = try await survivor.send(.POST, path, json: json, token: token, headers: headers(path, key))
            #expect(retry.status == status, "\(path): \(retry.status) \(retry.body)")
            let again = try await survivor.send(.POST, path, json: json, token: token, headers: headers(path, key))
            #expect(again.status == status && again.body["id"] as? String == retry.body["id"] as? String, "\(path): the replay differs")
        }
        let invoice = try await survivor.send(.GET, "/v1/accounting/invoices/\(invoiceId)", token: token)
        #expect(StatementTests.amount(invoice.body["open"]) == 38_000, "the keyed payment was applied more than once: \(invoice.body)")
        let entries = try await survivor.send(.GET, "/v1/accounting/journal-entries?limit=200&from=\(LedgerDateText.today)&to=\(LedgerDateText.today)", token: token).body["items"] as? [[String: Any]] ?? []
        #expect(entries.filter { $0["description"] as? String == "Keyed rent" }.count == 1, "the keyed entry was posted more than once")
        #expect(entries.filter { $0["description"] as? String == "Keyed import" }.count == 1, "the keyed import was posted more than once")
        let transactions = try await survivor.send(.GET, "/v1/transactions?limit=200&from=\(LedgerDateText.today)&to=\(LedgerDateText.today)", token: token).body["items"] as? [[String: Any]] ?? []
        #expect(transactions.filter { $0["description"] as? String == "Keyed power bill" }.count == 1, "the keyed transaction was created more than once")
        let voided = try await survivor.send(.GET, "/v1/accounting/invoices/\(doomedInvoiceId)", token: token)
        #expect(voided.body["status"] as? String == "void" && voided.body["voidEntryId"] as? String != nil, "\(voided.body)")
        let bills = try await survivor.send(.GET, "/v1/accounting/bills?vendorId=keyed-vendor", token: token).body["items"] as? [[String: Any]] ?? []
        #expect(bills.count == 1 && bills.first?["status"] as? String == "open", "the keyed bill was recorded \(bills.count) times")
        let posted = try await survivor.send(.GET, "/v1/accounting/bills/\(draftBillId)", token: token)
        #expect(posted.body["status"] as? String == "open", "\(posted.body)")
        let owed = try await payables(survivor) - owedBefore
        #expect(owed == 10_890 + 3_300, "payables grew by \(owed): a bill was posted more or less than once")
        survivor.stop()
        try await survivor.exited()
    }
}
