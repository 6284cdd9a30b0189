import FinFlowCore
import Foundation
import HummingbirdTesting
import SQLKit
import Testing

@testable import FinFlowIntegrations

/// FinFlow's ledger pushed to the providers' books: each entry one journal, made once (a push retried after a lost
/// answer makes nothing twice), read back by the sync without being posted again, and a journal changed at the provider
/// a conflict that only a person resolves, guarded by QuickBooks' `SyncToken`.
@Suite("integrations push: ledger entries to QuickBooks and Xero once, read back without double posting, conflicts resolved by a person")
struct PushTests {
    static func push(_ client: any TestClientProtocol, _ desk: Desk, _ id: String, enabled: Bool = true, since: String? = nil) async throws {
        var body: [String: Any] = ["enabled": enabled]
        if let since { body["since"] = since }
        let answer = try await client.send(.put, "/v1/integrations/connections/\(id)/push", json: TaxAPITests.json(body), token: desk.token)
        try #require(answer.status == 200, "\(answer.body)")
        #expect((answer.body["push"] as? [String: Any])?["enabled"] as? Bool == enabled, "\(answer.body)")
    }

    /// Delivers the events (the ledger's shared entries to the queue) and runs the push passes until none is due.
    static func settle(_ sut: TestSystem) async throws {
        for _ in 0..<20 {
            try await sut.system.deliverEvents()
            guard try await sut.system.runScheduledWork() > 0 else { break }
        }
        try await sut.system.deliverEvents()
    }

    static func pushes(_ client: any TestClientProtocol, _ desk: Desk, _ id: String) async throws -> [[String: Any]] {
        try await SyncTests.everyPage(client, desk, "/v1/integrations/connections/\(id)/pushes?limit=200")
    }

    static func entry(_ client: any TestClientProtocol, _ desk: Desk, _ lines: [(String, String, Int)], description: String = "Office rent") async throws
        -> String
    {
        let accounts = try await Books(client: client, token: desk.token).accounts()
        let posted = try await Books(client: client, token: desk.token).post(Books.entry(
            date: "2026-11-20", description: description, lines: lines.map { (accounts[$0.0]!, $0.1, Int64($0.2)) }))
        try #require(posted.status == 201, "\(posted.body)")
        return try #require(posted.body["id"] as? String)
    }

    static func line(_ amount: Double, _ side: String, _ account: String) -> [String: Any] {
        ["DetailType": "JournalEntryLineDetail", "Amount": amount,
         "JournalEntryLineDetail": ["PostingType": side, "AccountRef": ["value": account]]]
    }

    @Test("QuickBooks: an entry pushed once with its accounts mapped by code, read back without posting, a SyncToken conflict resolved by a person")
    func quickBooks() async throws {
        let sandbox = ProviderSandbox(.quickbooks)
        let bank = sandbox.put("Account", ["Name": "Checking", "AcctNum": "1020", "AccountType": "Bank", "Classification": "Asset", "Active": true])
        let rent = sandbox.put("Account", ["Name": "Rent or Lease", "AcctNum": "6100", "AccountType": "Expense", "Classification": "Expense", "Active": true])
        try await StandIn.serving(sandbox.router) { base in
            let sut = try await TestSystem.make {
                $0.quickbooks = sandbox.app(base: base)
                $0.accessTokenTTLSeconds = 60 * 86_400
            }
            try await sut.test { client in
                let desk = try await Desk.open(client, sut, tag: "qbo-push")
                let id = try #require(try await ConnectionTests.connect(client, desk, sandbox, provider: "quickbooks").body["id"] as? String)
                _ = try await SyncTests.sync(client, sut, desk, id)
                try await sut.system.deliverEvents()

                // Nothing is pushed until asked; a bad date is refused.
                let entryBefore = try await Self.entry(client, desk, [("6100", "debit", 1_000), ("1020", "credit", 1_000)], description: "Before")
                try await Self.settle(sut)
                #expect(sandbox.documents("JournalEntry").isEmpty)
                // Turned on later: the entries posted since then go (a margin for clocks that disagree reaches five
                // minutes back), the one before not.
                sut.clock.advance(seconds: 600)
                sandbox.advance(seconds: 600)
                let bad = try await client.send(.put, "/v1/integrations/connections/\(id)/push", json: #"{"enabled":true,"since":"2026-13-01"}"#, token: desk.token)
                #expect(bad.status == 400, "\(bad.body)")
                try await Self.push(client, desk, id)

                // An entry posted: one QuickBooks journal on the accounts with the same numbers, its note naming the entry.
                let entryId = try await Self.entry(client, desk, [("6100", "debit", 50_000), ("1020", "credit", 50_000)])
                // One to an account QuickBooks has no match for: refused, with the reason.
                let stray = try await Self.entry(client, desk, [("6200", "debit", 7_000), ("1020", "credit", 7_000)], description: "Power")
                try await Self.settle(sut)
                var journals = sandbox.documents("JournalEntry")
                let queued = try await Self.pushes(client, desk, id)
                #expect(journals.count == 1, "\(journals) \(queued)")
                let (journalId, journal) = try #require(journals.first)
                #expect((journal.object["PrivateNote"] as? String)?.hasSuffix("FinFlow entry \(entryId)") == true, "\(journal.object)")
                let lines = journal.object["Line"] as? [[String: Any]] ?? []
                let refs = lines.compactMap { (($0["JournalEntryLineDetail"] as? [String: Any])?["AccountRef"] as? [String: Any])?["value"] as? String }
                #expect(Set(refs) == [bank, rent] && lines.allSatisfy { ($0["Amount"] as? NSNumber)?.doubleValue == 500 }, "\(lines)")
                var pushes = try await Self.pushes(client, desk, id)
                #expect(pushes.count == 2 && !pushes.contains { $0["entryId"] as? String == entryBefore }, "\(pushes)")
                let pushed = try #require(pushes.first { $0["entryId"] as? String == entryId })
                #expect(pushed["status"] as? String == "pushed" && pushed["externalId"] as? String == journalId, "\(pushed)")
                let refused = try #require(pushes.first { $0["entryId"] as? String == stray })
                #expect(refused["status"] as? String == "refused" && (refused["error"] as? String)?.contains("6200") == true, "\(refused)")

                // The answer lost after QuickBooks made the journal (a crash before the push was recorded): pushed again
                // under the same requestid, QuickBooks answers with the journal it made, and makes no second one.
                let integrations = try #require(sut.system.databases["integrations"])
                try await integrations.tenantTransaction(tenantId: desk.user.tenantId) { db in
                    try await db.raw("""
                        UPDATE integration_pushes SET status = 'queued', next_attempt_at_ms = 0, external_id = NULL
                        WHERE entry_id = \(bind: entryId)
                        """).run()
                }
                try await Self.settle(sut)
                #expect(sandbox.documents("JournalEntry").count == 1)
                pushes = try await Self.pushes(client, desk, id)
                #expect(pushes.first { $0["entryId"] as? String == entryId }?["status"] as? String == "pushed")

                // Read back by the sync (incremental and full): FinFlow's own journal, posted nothing.
                _ = try await SyncTests.sync(client, sut, desk, id)
                _ = try await SyncTests.sync(client, sut, desk, id, full: true)
                try await sut.system.deliverEvents()
                #expect(try await SyncBooksTests.entries(client, desk).isEmpty)
                func record() async throws -> [String: Any] {
                    try #require(try await SyncTests.records(client, desk, id).first { $0["entity"] as? String == "journal_entry" })
                }
                #expect(try await record()["origin"] as? String == "finflow")
                #expect(try await record()["books"] as? String == "pushed")
                #expect(try await record()["finflowId"] as? String == entryId)

                // A memo edited in QuickBooks changes nothing in the books: no conflict.
                var edited = journal.object
                edited["DocNumber"] = "RENT-NOV"
                sandbox.advance(seconds: 60)
                sandbox.put("JournalEntry", id: journalId, edited)
                _ = try await SyncTests.sync(client, sut, desk, id)
                #expect(try await record()["books"] as? String == "pushed")

                // An amount edited there: a conflict, shown, nothing posted, nothing overwritten.
                edited["Line"] = [Self.line(450, "Debit", rent), Self.line(450, "Credit", bank)]
                sandbox.advance(seconds: 60)
                sandbox.put("JournalEntry", id: journalId, edited)
                _ = try await SyncTests.sync(client, sut, desk, id)
                try await sut.system.deliverEvents()
                var conflict = try await record()
                #expect(conflict["books"] as? String == "conflict" && (conflict["booksProblem"] as? String)?.contains("changed in QuickBooks") == true, "\(conflict)")
                #expect(try await SyncBooksTests.entries(client, desk).isEmpty)

                // Changed again there before the person chose: FinFlow's version, sent with the SyncToken it last read, is
                // refused as stale (5010) and QuickBooks' document stays as it is.
                edited["Line"] = [Self.line(475, "Debit", rent), Self.line(475, "Credit", bank)]
                sandbox.advance(seconds: 60)
                sandbox.put("JournalEntry", id: journalId, edited)
                let resolve = "/v1/integrations/connections/\(id)/records/journal_entry/\(journalId)/resolution"
                let stale = try await client.send(.post, resolve, json: #"{"keep":"finflow"}"#, token: desk.token)
                #expect(stale.status == 409 && stale.body["code"] as? String == "provider-changed-again", "\(stale.body)")
                journals = sandbox.documents("JournalEntry")
                #expect(((journals[journalId]?.object["Line"] as? [[String: Any]])?.first?["Amount"] as? NSNumber)?.doubleValue == 475)

                // Synced, then chosen: FinFlow's entry written back over it with the current SyncToken.
                _ = try await SyncTests.sync(client, sut, desk, id)
                let version = try #require(sandbox.documents("JournalEntry")[journalId]?.version)
                let chosen = try await client.send(.post, resolve, json: #"{"keep":"finflow"}"#, token: desk.token)
                #expect(chosen.status == 200 && chosen.body["books"] as? String == "pushed", "\(chosen.body)")
                journals = sandbox.documents("JournalEntry")
                #expect(journals.count == 1 && journals[journalId]?.version == version + 1)
                #expect(((journals[journalId]?.object["Line"] as? [[String: Any]])?.first?["Amount"] as? NSNumber)?.doubleValue == 500)
                _ = try await SyncTests.sync(client, sut, desk, id)
                #expect(try await record()["books"] as? String == "pushed")

                // Deleted there: a conflict; the person keeps QuickBooks' side, knowingly. Not in conflict: refused.
                sandbox.advance(seconds: 60)
                sandbox.delete("JournalEntry", id: journalId)
                _ = try await SyncTests.sync(client, sut, desk, id)
                conflict = try await record()
                #expect(conflict["books"] as? String == "conflict" && (conflict["booksProblem"] as? String)?.contains("deleted") == true, "\(conflict)")
                let kept = try await client.send(.post, resolve, json: #"{"keep":"provider"}"#, token: desk.token)
                #expect(kept.status == 200 && kept.body["books"] as? String == "kept-provider", "\(kept.body)")
                let again = try await client.send(.post, resolve, json: #"{"keep":"finflow"}"#, token: desk.token)
                #expect(again.status == 409 && again.body["code"] as? String == "record-not-in-conflict", "\(again.body)")
                let junk = try await client.send(.post, resolve, json: #"{"keep":"both"}"#, token: desk.token)
                #expect(junk.status == 400, "\(junk.body)")
                #expect(try await SyncBooksTests.entries(client, desk).isEmpty)

                // The refused push mended: QuickBooks gains the account, the chart is synced, the refused push queued again
                // (audited) goes, and a second retry finds nothing to queue.
                let power = sandbox.put("Account", ["Name": "Utilities", "AcctNum": "6200", "AccountType": "Expense", "Classification": "Expense", "Active": true])
                _ = try await SyncTests.sync(client, sut, desk, id)
                let retried = try await client.send(.post, "/v1/integrations/connections/\(id)/pushes/retry", token: desk.token)
                #expect(retried.status == 200 && retried.body["requeued"] as? Int == 1, "\(retried.body)")
                try await Self.settle(sut)
                let mended = try #require(try await Self.pushes(client, desk, id).first { $0["entryId"] as? String == stray })
                #expect(mended["status"] as? String == "pushed" && mended["made"] as? String == "journal_entry", "\(mended)")
                let made = try #require(sandbox.documents("JournalEntry")[mended["externalId"] as? String ?? ""]?.object)
                #expect((made["Line"] as? [[String: Any]] ?? []).contains {
                    (($0["JournalEntryLineDetail"] as? [String: Any])?["AccountRef"] as? [String: Any])?["value"] as? String == power
                }, "\(made)")
                let none = try await client.send(.post, "/v1/integrations/connections/\(id)/pushes/retry", token: desk.token)
                #expect(none.status == 200 && none.body["requeued"] as? Int == 0, "\(none.body)")
            }
        }
    }

    @Test("Xero: an entry pushed as a manual journal by account code, read back without posting, a change there a conflict resolved by FinFlow's side")
    func xero() async throws {
        let sandbox = ProviderSandbox(.xero, organisations: [("6f3b1e0e-0c8f-4b8e-9a55-2d8a1c9e0003", "Demo Company (UK)")])
        sandbox.put("Accounts", ["Code": "1020", "Name": "Business Bank Account", "Type": "BANK", "Class": "ASSET", "Status": "ACTIVE"])
        sandbox.put("Accounts", ["Code": "6100", "Name": "Rent", "Type": "OVERHEADS", "Class": "EXPENSE", "Status": "ACTIVE"])
        try await StandIn.serving(sandbox.router) { base in
            let sut = try await TestSystem.make {
                $0.xero = sandbox.app(base: base)
                $0.accessTokenTTLSeconds = 60 * 86_400
            }
            try await sut.test { client in
                let desk = try await Desk.open(client, sut, tag: "xero-push")
                let id = try #require(try await ConnectionTests.connect(client, desk, sandbox, provider: "xero").body["id"] as? String)
                _ = try await SyncTests.sync(client, sut, desk, id)
                try await sut.system.deliverEvents()
                try await Self.push(client, desk, id)
                let entryId = try await Self.entry(client, desk, [("6100", "debit", 120_000), ("1020", "credit", 120_000)])
                try await Self.settle(sut)
                let journals = sandbox.documents("ManualJournals")
                let (journalId, journal) = try #require(journals.first)
                #expect(journals.count == 1 && (journal.object["Narration"] as? String)?.hasSuffix("FinFlow entry \(entryId)") == true, "\(journals)")
                let amounts = (journal.object["JournalLines"] as? [[String: Any]] ?? []).map { ($0["AccountCode"] as? String ?? "", ($0["LineAmount"] as? NSNumber)?.doubleValue ?? 0) }
                #expect(amounts.sorted { $0.0 < $1.0 }.map { "\($0.0):\($0.1)" } == ["1020:-1200.0", "6100:1200.0"], "\(amounts)")

                sandbox.advance(seconds: 60)
                _ = try await SyncTests.sync(client, sut, desk, id, full: true)
                try await sut.system.deliverEvents()
                #expect(try await SyncBooksTests.entries(client, desk).isEmpty)
                func record() async throws -> [String: Any] {
                    try #require(try await SyncTests.records(client, desk, id).first { $0["entity"] as? String == "journal_entry" })
                }
                let readBack = try await record()
                #expect(readBack["books"] as? String == "pushed" && readBack["origin"] as? String == "finflow", "\(readBack)")

                var edited = journal.object
                edited["JournalLines"] = [["LineAmount": 1000.0, "AccountCode": "6100"], ["LineAmount": -1000.0, "AccountCode": "1020"]]
                sandbox.advance(seconds: 60)
                sandbox.put("ManualJournals", id: journalId, edited)
                sandbox.advance(seconds: 60)
                _ = try await SyncTests.sync(client, sut, desk, id)
                let changed = try await record()
                #expect(changed["books"] as? String == "conflict", "\(changed)")
                let chosen = try await client.send(
                    .post, "/v1/integrations/connections/\(id)/records/journal_entry/\(journalId)/resolution", json: #"{"keep":"finflow"}"#,
                    token: desk.token)
                #expect(chosen.status == 200 && chosen.body["books"] as? String == "pushed", "\(chosen.body)")
                let restored = (sandbox.documents("ManualJournals")[journalId]?.object["JournalLines"] as? [[String: Any]] ?? [])
                    .map { ($0["LineAmount"] as? NSNumber)?.doubleValue ?? 0 }
                #expect(Set(restored) == [1200, -1200] && sandbox.documents("ManualJournals").count == 1, "\(restored)")
                #expect(try await SyncBooksTests.entries(client, desk).isEmpty)
            }
        }
    }

    /// Every posted entry of the desk's tenant, page after page.
    static func posted(_ client: any TestClientProtocol, _ desk: Desk) async throws -> [[String: Any]] {
        try await SyncTests.everyPage(client, desk, "/v1/accounting/journal-entries?status=posted&limit=200")
    }

    /// On SQLite only: its year of pushes and syncs is the run's longest integration test, and every query it makes is
    /// one the other push tests make on both databases.
    @Test("the demo tenant both ways with QuickBooks: its year pushed once, QuickBooks' own documents posted once, and again nothing made twice",
          .enabled(if: !TestSystem.onPostgres))
    func demoTwoWay() async throws {
        let sandbox = ProviderSandbox(.quickbooks)
        try await StandIn.serving(sandbox.router) { base in
            let sut = try await TestSystem.make {
                $0.quickbooks = sandbox.app(base: base)
                $0.accessTokenTTLSeconds = 60 * 86_400
            }
            try await sut.test { client in
                let demo = try await sut.system.createDemo()
                let login = try await client.send(.post, "/v1/auth/login", json: #"{"email":"\#(demo.email)","password":"\#(demo.password)"}"#)
                let token = try #require((login.body["tokens"] as? [String: Any])?["accessToken"] as? String, "\(login.body)")
                let desk = Desk(
                    client: client, sut: sut,
                    user: SignedIn(userId: "", email: demo.email, password: demo.password, accessToken: token, refreshToken: "", tenantId: demo.tenantId),
                    accounts: [:])

                // QuickBooks' chart numbered as FinFlow's (its accounts in their currencies), and documents of its own.
                let chart = try await client.send(.get, "/v1/accounting/accounts", token: token)
                let classes = ["asset": "Asset", "liability": "Liability", "equity": "Equity", "revenue": "Revenue", "expense": "Expense"]
                for account in chart.body["items"] as? [[String: Any]] ?? [] {
                    sandbox.put("Account", [
                        "Name": account["name"] as? String ?? "", "AcctNum": account["code"] as? String ?? "",
                        "Classification": classes[account["type"] as? String ?? ""] ?? "Asset", "Active": true,
                        "CurrencyRef": ["value": account["currency"] as? String ?? "USD"],
                    ])
                }
                let customer = sandbox.put("Customer", ["DisplayName": "Amy's Bird Sanctuary", "Active": true])
                sandbox.put("Invoice", SyncTests.quickbooksInvoice("Q-1", amount: 300, customer: customer))
                sandbox.put("Payment", ["TxnDate": "2026-11-04", "TotalAmt": 300.0, "DepositToAccountRef": ["value": "2"]])
                let native = 2

                let id = try #require(try await ConnectionTests.connect(client, desk, sandbox, provider: "quickbooks").body["id"] as? String)
                let first = try await SyncTests.sync(client, sut, desk, id, full: true)
                #expect(first["status"] as? String == "succeeded", "\(first)")
                try await sut.system.deliverEvents()
                #expect(try await SyncBooksTests.entries(client, desk).count == native)

                // The whole year pushed: every entry but those taken from QuickBooks and the year-end closing (which
                // QuickBooks makes itself); an entry in two currencies (a conversion) refused, saying why.
                let before = try await Self.posted(client, desk)
                let eligible = before.filter { !["sync", "close"].contains($0["source"] as? String ?? "") }
                #expect(eligible.count > 300)
                try await Self.push(client, desk, id, since: "2000-01-01")
                try await Self.settle(sut)
                var pushes = try await Self.pushes(client, desk, id)
                let pushed = pushes.filter { $0["status"] as? String == "pushed" }
                let refused = pushes.filter { $0["status"] as? String == "refused" }
                #expect(pushes.count == eligible.count && Set(pushes.compactMap { $0["entryId"] as? String }) == Set(eligible.compactMap { $0["id"] as? String }))
                #expect(refused.allSatisfy { ($0["error"] as? String)?.contains("one currency") == true }, "\(refused.prefix(3))")
                #expect(pushed.count > 300 && refused.count < 20, "pushed \(pushed.count), refused \(refused.count)")
                // Its invoices and bills as QuickBooks invoices and bills with their payments, the rest as journals: each
                // push made one document (QuickBooks' own invoice and payment are its, not FinFlow's).
                let made = DocumentPushTests.made(pushes)
                #expect((made["invoice"] ?? 0) > 20 && (made["bill"] ?? 0) > 5 && (made["payment"] ?? 0) > 10, "\(made)")
                func counts() -> [String: Int] {
                    ["journal_entry": sandbox.documents("JournalEntry").count, "invoice": sandbox.documents("Invoice").count - 1,
                     "payment": sandbox.documents("Payment").count - 1, "bill": sandbox.documents("Bill").count,
                     "bill_payment": sandbox.documents("BillPayment").count].filter { $0.value > 0 }
                }
                #expect(counts() == made, "\(counts()) \(made)")

                // Both ways again, in full and incrementally, pushing turned off and on with the same catch-up: nothing made
                // twice on either side.
                _ = try await SyncTests.sync(client, sut, desk, id, full: true)
                _ = try await SyncTests.sync(client, sut, desk, id)
                try await Self.push(client, desk, id, enabled: false)
                try await Self.push(client, desk, id, since: "2000-01-01")
                try await Self.settle(sut)
                #expect(counts() == made, "\(counts()) \(made)")
                pushes = try await Self.pushes(client, desk, id)
                #expect(pushes.count == eligible.count && pushes.filter { $0["status"] as? String == "pushed" }.count == pushed.count)
                #expect(try await SyncBooksTests.entries(client, desk).count == native)
                let records = try await SyncTests.records(client, desk, id).filter { $0["origin"] as? String == "finflow" }
                #expect(records.count == pushed.count && records.allSatisfy { $0["books"] as? String == "pushed" }, "\(records.count) \(pushed.count)")
                #expect(try await Self.posted(client, desk).count == before.count)
            }
        }
    }
}
