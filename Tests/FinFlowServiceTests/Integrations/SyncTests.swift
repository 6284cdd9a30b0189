import Crypto
import FinFlowCore
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

@testable import FinFlowIntegrations

/// Sync runs against the sandbox's QuickBooks and Xero books: documents kept against their ids and versions at the
/// provider (nothing twice, updates finding their match, deletions seen), QuickBooks' change data capture and its
/// 30-day edge and 1,000-object cap, Xero's pages and `If-Modified-Since`, 429s waited out, runs resumed where they
/// stopped, and the providers' limits kept.
@Suite("integrations sync: incremental both providers, nothing twice, deletions, limits, resumable runs")
struct SyncTests {
    /// Starts a sync run of `id` and carries it through; answers the finished run.
    static func sync(
        _ client: any TestClientProtocol, _ sut: TestSystem, _ desk: Desk, _ id: String, full: Bool = false
    ) async throws -> [String: Any] {
        let started = try await client.send(
            .post, "/v1/integrations/connections/\(id)/syncs", json: TaxAPITests.json(["mode": full ? "full" : "incremental"]), token: desk.token)
        try #require(started.status == 202, "\(started.body)")
        let runId = try #require(started.body["id"] as? String)
        _ = try await sut.system.runScheduledWork()
        return try await client.send(.get, "/v1/integrations/syncs/\(runId)", token: desk.token).body
    }

    static func counts(_ run: [String: Any], _ entity: String) -> [String: Int] {
        ((run["counts"] as? [String: Any])?[entity] as? [String: Any])?.compactMapValues { $0 as? Int } ?? [:]
    }

    /// Every record of the connection, page after page.
    static func records(_ client: any TestClientProtocol, _ desk: Desk, _ id: String) async throws -> [[String: Any]] {
        try await Self.everyPage(client, desk, "/v1/integrations/connections/\(id)/records?limit=200")
    }

    /// Every item of a cursor-paged list at `path` (which carries its query), page after page.
    static func everyPage(_ client: any TestClientProtocol, _ desk: Desk, _ path: String) async throws -> [[String: Any]] {
        var all: [[String: Any]] = [], cursor: String?
        repeat {
            let page = try await client.send(.get, path + (cursor.map { "&cursor=\($0)" } ?? ""), token: desk.token)
            try #require(page.status == 200, "\(page.body)")
            all += page.body["items"] as? [[String: Any]] ?? []
            cursor = page.body["nextCursor"] as? String
        } while cursor != nil
        return all
    }

    /// A QuickBooks invoice of one sales line to the account "2" (Sales), as its API writes one.
    static func quickbooksInvoice(_ number: String, amount: Double, tax: Double = 0, customer: String, date: String = "2026-11-02") -> [String: Any] {
        ["DocNumber": number, "TxnDate": date, "TotalAmt": amount + tax, "CustomerRef": ["value": customer, "name": "Amy's Bird Sanctuary"],
         "TxnTaxDetail": ["TotalTax": tax],
         "Line": [
            ["DetailType": "SalesItemLineDetail", "Amount": amount, "Description": "Services",
             "SalesItemLineDetail": ["ItemRef": ["value": "1"], "ItemAccountRef": ["value": "2", "name": "Sales"]]],
            ["DetailType": "SubTotalLineDetail", "Amount": amount],
         ]]
    }

    /// A Xero invoice (`ACCREC`) or bill (`ACCPAY`) of one line, tax exclusive, as its API writes one.
    static func xeroInvoice(
        _ type: String, _ number: String, amount: Double, tax: Double = 0, account: String, status: String = "AUTHORISED",
        inclusive: Bool = false
    ) -> [String: Any] {
        ["Type": type, "InvoiceNumber": number, "Status": status, "DateString": "2026-11-02T00:00:00", "Date": "/Date(1793577600000+0000)/",
         "CurrencyCode": "USD", "LineAmountTypes": inclusive ? "Inclusive" : "Exclusive", "Contact": ["Name": "Ridgeway University"],
         "LineItems": [["Description": "Consulting", "LineAmount": amount, "TaxAmount": tax, "AccountCode": account]],
         "SubTotal": inclusive ? amount - tax : amount, "TotalTax": tax, "Total": inclusive ? amount : amount + tax]
    }

    @Test("QuickBooks: a first full listing, then change data capture creating nothing twice; updates, deletes, the 30-day edge, the 1,000 cap, a 429")
    func quickBooks() async throws {
        let sandbox = ProviderSandbox(.quickbooks)
        for (index, name) in ["Checking", "Sales", "Rent"].enumerated() {
            sandbox.put("Account", ["Name": name, "AccountType": ["Bank", "Income", "Expense"][index], "Active": true])
        }
        let customer = sandbox.put("Customer", ["DisplayName": "Amy's Bird Sanctuary", "Active": true])
        sandbox.put("Customer", ["DisplayName": "Bill's Windsurf Shop", "Active": true])
        sandbox.put("Vendor", ["DisplayName": "Books by Bessie", "Active": true])
        let invoice = sandbox.put("Invoice", Self.quickbooksInvoice("1001", amount: 150, customer: customer))
        sandbox.put("Invoice", Self.quickbooksInvoice("1002", amount: 75.5, customer: customer))
        sandbox.put("Bill", ["DocNumber": "B-7", "TxnDate": "2026-11-03", "TotalAmt": 200.0, "Line": [
            ["DetailType": "AccountBasedExpenseLineDetail", "Amount": 200.0, "AccountBasedExpenseLineDetail": ["AccountRef": ["value": "3"]]],
        ]])
        sandbox.put("Payment", ["TxnDate": "2026-11-04", "TotalAmt": 150.0, "DepositToAccountRef": ["value": "1"]])
        sandbox.put("BillPayment", ["TxnDate": "2026-11-05", "TotalAmt": 200.0, "PayType": "Check", "CheckPayment": ["BankAccountRef": ["value": "1"]]])
        sandbox.put("JournalEntry", ["DocNumber": "JE-1", "TxnDate": "2026-11-06", "Line": [
            ["DetailType": "JournalEntryLineDetail", "Amount": 10.0, "JournalEntryLineDetail": ["PostingType": "Debit", "AccountRef": ["value": "3"]]],
            ["DetailType": "JournalEntryLineDetail", "Amount": 10.0, "JournalEntryLineDetail": ["PostingType": "Credit", "AccountRef": ["value": "1"]]],
        ]])
        // Larger than FinFlow keeps: reported as the run's problem, the rest goes on.
        let oversized = sandbox.put("Customer", ["DisplayName": "Notes galore", "Notes": String(repeating: "x", count: 300_000)])

        try await StandIn.serving(sandbox.router) { base in
            let sut = try await TestSystem.make {
                $0.quickbooks = sandbox.app(base: base)
                $0.accessTokenTTLSeconds = 200 * 86_400
            }
            try await sut.test { client in
                let desk = try await Desk.open(client, sut, tag: "qbo-sync")
                let connected = try await ConnectionTests.connect(client, desk, sandbox, provider: "quickbooks")
                let id = try #require(connected.body["id"] as? String)

                // One run at a time; bad input changes nothing.
                #expect(try await client.send(.post, "/v1/integrations/connections/\(id)/syncs", json: #"{"mode":"sideways"}"#, token: desk.token).status == 400)
                #expect(try await client.send(.post, "/v1/integrations/connections/nope/syncs", token: desk.token).status == 404)
                let first = try await client.send(.post, "/v1/integrations/connections/\(id)/syncs", token: desk.token)
                #expect(first.status == 202 && first.body["status"] as? String == "queued", "\(first.body)")
                let twice = try await client.send(.post, "/v1/integrations/connections/\(id)/syncs", token: desk.token)
                #expect(twice.status == 409 && twice.body["code"] as? String == "sync-running", "\(twice.body)")
                sandbox.throttle(next: 1, retryAfter: 1)
                _ = try await sut.system.runScheduledWork()
                let run = try await client.send(.get, "/v1/integrations/syncs/\(try #require(first.body["id"] as? String))", token: desk.token).body
                #expect(run["status"] as? String == "succeeded", "\(run)")
                // No cursor yet: every entity listed (the first call answered 429 and was tried again after its Retry-After).
                #expect(sandbox.bookCalls.filter { $0 == "query" }.count == 9 && !sandbox.bookCalls.contains("cdc"), "\(sandbox.bookCalls)")
                #expect(Self.counts(run, "account")["created"] == 3 && Self.counts(run, "customer")["created"] == 2)
                #expect(Self.counts(run, "customer")["failed"] == 1 && run["errorCount"] as? Int == 1)
                let problems = try await client.send(.get, "/v1/integrations/syncs/\(run["id"] as! String)/problems", token: desk.token).body
                let problem = try #require((problems["items"] as? [[String: Any]])?.first)
                #expect(problem["externalId"] as? String == oversized && (problem["message"] as? String)?.contains("bytes") == true)
                var records = try await Self.records(client, desk, id)
                #expect(records.count == 12)
                let invoiceRecord = try #require(records.first { $0["entity"] as? String == "invoice" && $0["externalId"] as? String == invoice })
                let customerId = try #require(records.first { $0["externalId"] as? String == customer && $0["entity"] as? String == "customer" })["finflowId"]

                // Again: change data capture since the first run; nothing created twice.
                let again = try await Self.sync(client, sut, desk, id)
                #expect(again["status"] as? String == "succeeded" && sandbox.bookCalls.last == "cdc", "\(again)")
                for entity in ["account", "customer", "invoice"] { #expect((Self.counts(again, entity)["created"] ?? 0) == 0, "\(entity): \(again)") }
                #expect(try await Self.records(client, desk, id).count == 12)

                // Changed, deleted and new at QuickBooks: each finds its match.
                sandbox.put("Customer", id: customer, ["DisplayName": "Amy's Bird Sanctuary Ltd", "Active": true])
                sandbox.delete("Invoice", id: invoice)
                sandbox.put("Vendor", ["DisplayName": "Cal Telephone", "Active": true])
                let changed = try await Self.sync(client, sut, desk, id)
                #expect(Self.counts(changed, "customer")["updated"] == 1 && Self.counts(changed, "invoice")["deleted"] == 1, "\(changed)")
                #expect(Self.counts(changed, "vendor")["created"] == 1)
                records = try await Self.records(client, desk, id)
                let renamed = try #require(records.first { $0["externalId"] as? String == customer && $0["entity"] as? String == "customer" })
                #expect(renamed["finflowId"] as? String == customerId as? String && renamed["label"] as? String == "Amy's Bird Sanctuary Ltd")
                #expect(renamed["version"] as? String == "1")
                let deleted = try #require(records.first { $0["externalId"] as? String == invoice && $0["entity"] as? String == "invoice" })
                #expect(deleted["status"] as? String == "deleted" && deleted["finflowId"] as? String == invoiceRecord["finflowId"] as? String)

                // Past the 30 days change data capture reaches back: everything is listed again; an account deleted
                // meanwhile (no longer listed) is found gone, and still nothing is created twice.
                sandbox.advance(seconds: 31 * 86_400)
                sut.clock.advance(seconds: 31 * 86_400)
                sandbox.delete("Account", id: "1")
                let callsBefore = sandbox.bookCalls.count
                let late = try await Self.sync(client, sut, desk, id)
                #expect(late["status"] as? String == "succeeded", "\(late)")
                #expect(!sandbox.bookCalls.dropFirst(callsBefore).contains("cdc"), "CDC asked past its 30 days")
                #expect(Self.counts(late, "account")["deleted"] == 1 && (Self.counts(late, "account")["created"] ?? 0) == 0, "\(late)")
                #expect(Self.counts(late, "customer")["unchanged"] == 2)

                // More than 1,000 changes of one entity: the capture is cut, so that entity is listed in full, a page
                // of 1,000 at a time.
                for number in 0..<1_005 { sandbox.put("Customer", ["DisplayName": "Customer \(number)", "Active": true]) }
                let before = sandbox.bookCalls.count
                let bulk = try await Self.sync(client, sut, desk, id)
                #expect(bulk["status"] as? String == "succeeded", "\(bulk)")
                #expect(Array(sandbox.bookCalls.dropFirst(before)) == ["cdc", "query", "query"], "\(sandbox.bookCalls.dropFirst(before))")
                #expect(Self.counts(bulk, "customer")["created"] == 1_005, "\(bulk)")
                #expect(try await Self.records(client, desk, id).filter { $0["entity"] as? String == "customer" }.count == 1_007)
                #expect(sandbox.peakInFlight <= 10)

                // Runs that ended 90 days before one that succeeds go, with their problems; the newer stay.
                struct Count: Decodable, Sendable { let n: Int }
                let problemsOfFirst = "SELECT COUNT(*) AS n FROM integration_sync_errors WHERE run_id = '\(run["id"] as! String)'"
                #expect(try await WebhookTests.rows(sut, problemsOfFirst, as: Count.self).first?.n == 1)
                sandbox.advance(seconds: 91 * 86_400)
                sut.clock.advance(seconds: 91 * 86_400)
                let pruning = try await Self.sync(client, sut, desk, id)
                #expect(pruning["status"] as? String == "succeeded", "\(pruning)")
                #expect(try await client.send(.get, "/v1/integrations/syncs/\(run["id"] as! String)", token: desk.token).status == 404)
                #expect(try await client.send(.get, "/v1/integrations/syncs/\(run["id"] as! String)/problems", token: desk.token).status == 404)
                #expect(try await WebhookTests.rows(sut, problemsOfFirst, as: Count.self).first?.n == 0)
                let kept = try await client.send(.get, "/v1/integrations/connections/\(id)/syncs", token: desk.token).body["items"] as? [[String: Any]]
                #expect(kept?.map { $0["id"] as? String } == [pruning["id"] as? String], "\(String(describing: kept))")
            }
        }
    }

    @Test("Xero: collections read a page at a time with If-Modified-Since; a run stopped by the provider resumes at its page, counting nothing twice")
    func xero() async throws {
        let organisation = "6f3b1e0e-0c8f-4b8e-9a55-2d8a1c9e0001"
        let sandbox = ProviderSandbox(.xero, organisations: [(organisation, "Demo Company (UK)")])
        sandbox.put("Accounts", ["Code": "200", "Name": "Sales", "Type": "REVENUE", "Status": "ACTIVE"])
        sandbox.put("Accounts", ["Code": "400", "Name": "Advertising", "Type": "EXPENSE", "Status": "ACTIVE"])
        for number in 0..<230 {
            sandbox.put("Contacts", ["Name": "Contact \(number)", "IsCustomer": number % 3 != 0, "IsSupplier": number % 3 == 0 || number % 5 == 0])
        }
        let sale = sandbox.put("Invoices", Self.xeroInvoice("ACCREC", "INV-0001", amount: 100, account: "200"))
        sandbox.put("Invoices", Self.xeroInvoice("ACCPAY", "SUP-9", amount: 40, account: "400"))
        sandbox.put("Payments", ["PaymentType": "ACCRECPAYMENT", "Amount": 100.0, "Status": "AUTHORISED", "DateString": "2026-11-10T00:00:00",
                                 "Account": ["Code": "200"]])
        sandbox.put("Payments", ["PaymentType": "ACCPAYPAYMENT", "Amount": 40.0, "Status": "AUTHORISED", "DateString": "2026-11-10T00:00:00",
                                 "Account": ["Code": "400"]])
        sandbox.put("ManualJournals", ["Narration": "Accruals", "Status": "POSTED", "DateString": "2026-11-30T00:00:00", "JournalLines": [
            ["LineAmount": 25.0, "AccountCode": "400"], ["LineAmount": -25.0, "AccountCode": "200"],
        ]])

        try await StandIn.serving(sandbox.router) { base in
            let sut = try await TestSystem.make {
                $0.xero = sandbox.app(base: base)
                $0.accessTokenTTLSeconds = 86_400
            }
            try await sut.test { client in
                let desk = try await Desk.open(client, sut, tag: "xero-sync")
                let connected = try await ConnectionTests.connect(client, desk, sandbox, provider: "xero")
                let id = try #require(connected.body["id"] as? String)

                // An hour on, so the documents are older than the first run's cursor (its start, less the overlap).
                sandbox.advance(seconds: 3_600)
                sut.clock.advance(seconds: 3_600)
                // The second page of contacts is refused with a Retry-After longer than a run waits: the run stops
                // there and is resumed by a later pass, from that page.
                sandbox.throttle(next: 1, retryAfter: 600, after: 2)
                let started = try await client.send(.post, "/v1/integrations/connections/\(id)/syncs", token: desk.token)
                let runId = try #require(started.body["id"] as? String)
                _ = try await sut.system.runScheduledWork()
                let paused = try await client.send(.get, "/v1/integrations/syncs/\(runId)", token: desk.token).body
                #expect(paused["status"] as? String == "running" && paused["attempts"] as? Int == 1, "\(paused)")
                #expect((paused["lastError"] as? String)?.contains("600") == true)
                #expect((paused["progress"] as? [String: Any])?["current"] as? String == "Contacts")
                sut.clock.advance(seconds: 61)
                _ = try await sut.system.runScheduledWork()
                let run = try await client.send(.get, "/v1/integrations/syncs/\(runId)", token: desk.token).body
                #expect(run["status"] as? String == "succeeded", "\(run)")
                let customers = (0..<230).filter { $0 % 3 != 0 || !($0 % 3 == 0 || $0 % 5 == 0) }.count
                let vendors = (0..<230).filter { $0 % 3 == 0 || $0 % 5 == 0 }.count
                #expect(Self.counts(run, "customer") == ["created": customers, "updated": 0, "deleted": 0, "unchanged": 0, "failed": 0], "\(run)")
                #expect(Self.counts(run, "vendor")["created"] == vendors)
                #expect(Self.counts(run, "invoice")["created"] == 1 && Self.counts(run, "bill")["created"] == 1)
                #expect(Self.counts(run, "payment")["created"] == 1 && Self.counts(run, "bill_payment")["created"] == 1)
                #expect(Self.counts(run, "journal_entry")["created"] == 1 && Self.counts(run, "account")["created"] == 2)
                // Contacts: pages 1, 2 (refused), 2 again, 3.
                #expect(sandbox.bookCalls.filter { $0 == "Contacts" }.count == 4, "\(sandbox.bookCalls)")
                #expect(sandbox.peakInFlight <= 5)

                // Later: only what changed since (less the overlap) is read; a deleted invoice is seen as deleted.
                sandbox.advance(seconds: 3_600)
                sut.clock.advance(seconds: 3_600)
                sandbox.delete("Invoices", id: sale)
                let callsBefore = sandbox.bookCalls.count
                let again = try await Self.sync(client, sut, desk, id)
                #expect(again["status"] as? String == "succeeded", "\(again)")
                #expect(Self.counts(again, "invoice") == ["created": 0, "updated": 0, "deleted": 1, "unchanged": 0, "failed": 0], "\(again)")
                #expect(Self.counts(again, "customer").isEmpty, "contacts unchanged since are not read again: \(again)")
                #expect(sandbox.bookCalls.dropFirst(callsBefore).filter { $0 == "Contacts" }.count == 1)
                let records = try await Self.records(client, desk, id)
                #expect(records.count == 2 + customers + vendors + 5)
                #expect(records.first { $0["externalId"] as? String == sale }?["status"] as? String == "deleted")
            }
        }
    }

    /// A provider's notification, signed with `key` as the provider signs it.
    static func notify(
        _ client: any TestClientProtocol, _ provider: String, _ body: String, key: String
    ) async throws -> (status: Int, body: [String: Any]) {
        let signature = Data(HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: SymmetricKey(data: Data(key.utf8)))).base64EncodedString()
        let header = provider == "xero" ? "x-xero-signature" : "intuit-signature"
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[.init(header)!] = signature
        let answer = try await client.execute(
            uri: "/v1/integrations/providers/\(provider)/notifications", method: .post, headers: headers, body: ByteBuffer(string: body))
        let json = (try? JSONSerialization.jsonObject(with: Data(buffer: answer.body)) as? [String: Any]) ?? [:]
        return (Int(answer.status.code), json)
    }

    @Test("webhooks in: forged notifications refused and kept nowhere, genuine ones kept once and answered by one sync of the company named")
    func notifications() async throws {
        let sandbox = ProviderSandbox(.quickbooks)
        let customer = sandbox.put("Customer", ["DisplayName": "Amy's Bird Sanctuary", "Active": true])
        let xero = ProviderSandbox(.xero)
        try await StandIn.serving(sandbox.router) { base in
            let sut = try await TestSystem.make {
                $0.quickbooks = sandbox.app(base: base)
                $0.quickbooks.webhookKey = "intuit-verifier-token"
                $0.xero = xero.app(base: base)
                $0.xero.webhookKey = "xero-webhook-key"
            }
            try await sut.test { client in
                let desk = try await Desk.open(client, sut, tag: "qbo-notify")
                let connected = try await ConnectionTests.connect(client, desk, sandbox, provider: "quickbooks")
                let id = try #require(connected.body["id"] as? String)
                let realm = try #require(connected.body["externalId"] as? String)
                #expect(try await Self.sync(client, sut, desk, id)["status"] as? String == "succeeded")

                sandbox.put("Customer", id: customer, ["DisplayName": "Amy's Bird Sanctuary Ltd", "Active": true])
                let body = """
                    {"eventNotifications":[{"realmId":"\(realm)","dataChangeEvent":{"entities":[{"name":"Customer","id":"\(customer)",\
                    "operation":"Update","lastUpdated":"2026-12-07T08:00:00.000Z"}]}}]}
                    """
                // Forged: another key, no signature, a signature of another body.
                #expect(try await Self.notify(client, "quickbooks", body, key: "guess").status == 401)
                let unsigned = try await client.execute(
                    uri: "/v1/integrations/providers/quickbooks/notifications", method: .post, headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: body))
                #expect(unsigned.status == .unauthorized)
                #expect(try await Self.notify(client, "quickbooks", "not json", key: "intuit-verifier-token").status == 400)
                struct Count: Decodable { let n: Int }
                let kept = { try await WebhookTests.rows(sut, "SELECT COUNT(*) AS n FROM integration_notifications", as: Count.self).first?.n ?? -1 }
                #expect(try await kept() == 0)
                // Genuine, and delivered twice: kept once, one run.
                #expect(try await Self.notify(client, "quickbooks", body, key: "intuit-verifier-token").status == 200)
                #expect(try await Self.notify(client, "quickbooks", body, key: "intuit-verifier-token").status == 200)
                #expect(try await kept() == 1)
                _ = try await sut.system.runScheduledWork()
                let runs = try await client.send(.get, "/v1/integrations/connections/\(id)/syncs", token: desk.token)
                let items = try #require(runs.body["items"] as? [[String: Any]])
                #expect(items.count == 2 && items.first?["requestedBy"] as? String == "provider-notification", "\(items)")
                #expect(items.first?["status"] as? String == "succeeded" && Self.counts(items.first ?? [:], "customer")["updated"] == 1)
                // Applied once: another pass queues nothing.
                _ = try await sut.system.runScheduledWork()
                let after = try await client.send(.get, "/v1/integrations/connections/\(id)/syncs", token: desk.token)
                #expect((after.body["items"] as? [Any])?.count == 2)

                // Xero's intent-to-receive: a signed delivery with no events is 200, a wrongly signed one 401.
                let intent = #"{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"XJRBQZJCUVKVHOFXVTQC"}"#
                #expect(try await Self.notify(client, "xero", intent, key: "xero-webhook-key").status == 200)
                #expect(try await Self.notify(client, "xero", intent, key: "not-the-key").status == 401)
                #expect(try await kept() == 1)

                // A week on, applied notifications make way for new ones.
                sut.clock.advance(seconds: 8 * 86_400)
                let later = body.replacingOccurrences(of: "2026-12-07T08:00:00.000Z", with: "2026-12-15T08:00:00.000Z")
                #expect(try await Self.notify(client, "quickbooks", later, key: "intuit-verifier-token").status == 200)
                _ = try await sut.system.runScheduledWork()
                #expect(try await kept() == 1)
            }
        }
    }

    @Test("finflow integrations sync --follow queues a run, a serving FinFlow carries it, and the bar follows it to its end")
    func commandLine() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandLineTests.binary.path), "build the finflow executable first")
        let sandbox = ProviderSandbox(.quickbooks)
        for name in ["Checking", "Sales", "Rent"] { sandbox.put("Account", ["Name": name, "Active": true]) }
        sandbox.put("Customer", ["DisplayName": "Amy's Bird Sanctuary", "Active": true])
        try await StandIn.serving(sandbox.router) { base in
            let app = sandbox.app(base: base)
            let sut = try await TestSystem.make { $0.quickbooks = app }
            let made = Mutex((tenant: "", connection: ""))
            try await sut.test { client in
                let desk = try await Desk.open(client, sut, tag: "qbo-cli")
                let done = try await ConnectionTests.connect(client, desk, sandbox, provider: "quickbooks")
                made.withLock { $0 = (desk.user.tenantId, done.body["id"] as? String ?? "") }
            }
            let (tenant, connection) = made.withLock { $0 }
            let settings = sut.system.settings
            var storage = ["--data-directory", settings.dataDirectory]
            if let url = settings.databaseURL { storage += ["--database-url", url] }

            let refused = try await CommandLineTests.run(["integrations", "sync", "--tenant", tenant] + storage)
            #expect(refused.status != 0 && refused.output.contains("--connection"), "\(refused.output)")
            let unknown = try await CommandLineTests.run(["integrations", "sync", "--tenant", tenant, "--connection", "nope"] + storage)
            #expect(unknown.status != 0 && unknown.output.contains("not found"), "\(unknown.output)")

            let server = try ServerProcess(settings: settings, environment: sandbox.serverEnvironment(base: base))
            try await server.ready()
            let followed = try await CommandLineTests.run(
                ["integrations", "sync", "--tenant", tenant, "--connection", connection, "--follow"] + storage)
            server.kill()
            try await server.exited()
            #expect(followed.status == 0, "\(followed.output)")
            #expect(followed.output.contains("queued") && followed.output.contains("created 4") && followed.output.contains("succeeded"), "\(followed.output)")
            #expect(followed.output.contains("[####################] 8/8"), "\(followed.output)")
        }
    }

    @Test("provider times read as QuickBooks and Xero write them")
    func providerTimes() {
        #expect(ProviderDocuments.isoMillis("2026-12-01T10:00:00-08:00") == 1_796_148_000_000)
        #expect(ProviderDocuments.isoMillis("2026-12-01T18:00:00.250Z") == 1_796_148_000_250)
        #expect(ProviderDocuments.isoMillis("yesterday") == nil)
        #expect(ProviderDocuments.xeroMillis("/Date(1573755038314+0000)/") == 1_573_755_038_314)
        #expect(ProviderDocuments.isoText(millis: 1_796_148_000_250) == "2026-12-01T18:00:00Z")
    }

    @Test("a connection's limiter keeps calls within the window and the concurrency asked, and waits out a pause")
    func limiter() async throws {
        let limiter = ProviderLimiter(limits: ProviderLimits(perWindow: 4, windowSeconds: 1, perDay: 6, concurrent: 2))
        let times = try await withThrowingTaskGroup(of: ContinuousClock.Instant.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    try await limiter.start()
                    let started = ContinuousClock.now
                    try await Task.sleep(for: .milliseconds(20))
                    await limiter.finish()
                    return started
                }
            }
            var times: [ContinuousClock.Instant] = []
            for try await started in group { times.append(started) }
            return times.sorted()
        }
        #expect(await limiter.peakInFlight == 2)
        // No window of a second holds more than four starts.
        for (index, start) in times.enumerated() where index + 4 < times.count {
            #expect(times[index + 4] - start >= .seconds(1))
        }
        // The day's six are spent: the seventh is refused, not queued for a day.
        var refused = false
        do { try await limiter.start() } catch is AppError { refused = true }
        #expect(refused)
        // A pause asked for holds the next start.
        let paused = ProviderLimiter(limits: ProviderLimits(perWindow: 10, perDay: nil, concurrent: 1))
        await paused.pause(seconds: 1)
        let before = ContinuousClock.now
        try await paused.start()
        #expect(ContinuousClock.now - before >= .milliseconds(900))
    }
}
