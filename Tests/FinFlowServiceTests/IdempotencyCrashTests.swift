import FinFlowCore
import Foundation
import Testing

/// A process killed after a keyed request's effect committed and before its answer was stored: the retry with the same
/// key, once the running mark has gone stale, finds the effect instead of repeating it and answers as the first run
/// would have.
@Suite("idempotency: a crash between the effect and the stored answer")
struct IdempotencyCrashTests {
    /// Sends `json` to `path` under `key` on a process that dies before storing the answer; the request gets no answer.
    static func crashing(_ server: ServerProcess, _ path: String, _ json: String, token: String, key: String) async throws {
        let extra = path.hasSuffix("/import") ? [("content-type", "text/plain")] : []
        let answer = try? await server.send(.POST, path, json: json, token: token, headers: [("Idempotency-Key", key)] + extra)
        #expect(answer == nil, "the process answered \(answer?.status ?? 0) instead of dying before the stored answer")
        try await server.exited()
    }

    @Test("a journal entry, a transaction, an invoice payment and a journal import sent without ids take effect once, and the retry answers as the first would have")
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
        let requests = [("/v1/accounting/journal-entries", entry, "entry-key-1", 201), ("/v1/transactions", transaction, "transaction-key-1", 201),
                        ("/v1/accounting/invoices/\(invoiceId)/payments", payment, "payment-key-1", 200),
                        ("/v1/accounting/journal/import", journal, "import-key-1", 201)]
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
        survivor.stop()
        try await survivor.exited()
    }
}
