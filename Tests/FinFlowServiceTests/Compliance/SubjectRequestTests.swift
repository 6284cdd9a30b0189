import FinFlowCore
import FinFlowServer
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Data subject access requests: every service that keeps personal data answers through events, and the compliance
/// service assembles one archive that is given once.
@Suite("compliance: data subject access requests across every service")
struct SubjectRequestTests {
    static let json = ScreeningAPITests.json

    static func download(_ client: any TestClientProtocol, _ id: String, token: String) async throws -> (status: Int, bytes: [UInt8], body: [String: Any]) {
        try await client.execute(uri: "/v1/compliance/data-subject-requests/\(id)/archive", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
            let bytes = Array(response.body.readableBytesView)
            let body = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
            return (Int(response.status.code), bytes, body)
        }
    }

    @Test("all eight services answer, the archive holds each part with its hash in the manifest, and it is given once")
    func accessRequest() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let desk = try await Desk.open(client, sut, tag: "dsr")
            var token = desk.token
            for amount in [1_200, 3_400, 5_600] as [Int64] {
                #expect(try await desk.create(desk.body(amount, counterparty: "Ada Lovelace")).status == 201)
            }
            #expect(try await desk.create(desk.body(999, counterparty: "City Power")).status == 201)
            let lines = #"{"description":"Analytical engine notes","quantity":"1","unitPrice":5000,"taxRate":"0"}"#
            let invoice = try await client.send(.post, "/v1/accounting/invoices", json: InvoiceTests.invoice(customer: "cust-ada", lines: lines), token: token)
            try #require(invoice.status == 201, "\(invoice.body)")
            let screening = try await client.send(
                .post, "/v1/compliance/screenings", json: Self.json(["subjectType": "customer", "subjectRef": "cust-ada", "names": ["Ada Lovelace"]]),
                token: token)
            try #require(screening.status == 201, "\(screening.body)")
            try await sut.system.shipAudit()

            let id = UUID().uuidString.lowercased()
            let subject: [String: Any] = ["id": id, "userId": desk.user.userId, "customerId": "cust-ada", "email": desk.user.email, "names": ["Ada Lovelace"]]
            let opened = try await client.send(.post, "/v1/compliance/data-subject-requests", json: Self.json(subject), token: token)
            try #require(opened.status == 201, "\(opened.body)")
            #expect(opened.body["status"] as? String == "open" && opened.body["overdue"] as? Bool == false)
            let waiting = (opened.body["services"] as? [[String: Any]] ?? []).filter { $0["status"] as? String == "waiting" }
            #expect(waiting.count == DataSubjectRequestOpened.answeringServices.count)
            #expect(try await Self.download(client, id, token: token).body["code"] as? String == "archive-not-ready")
            // A retry with the same id answers the same request; the id with another subject is refused.
            #expect(try await client.send(.post, "/v1/compliance/data-subject-requests", json: Self.json(subject), token: token).status == 200)
            var other = subject
            other["names"] = ["Someone Else"]
            #expect(try await client.send(.post, "/v1/compliance/data-subject-requests", json: Self.json(other), token: token).status == 409)

            // A month passes before the services answer: the request shows overdue, each service still awaited.
            sut.clock.advance(seconds: 32 * 86_400)
            let login = try await client.send(.post, "/v1/auth/login", json: Self.json(["email": desk.user.email, "password": desk.user.password]))
            token = try #require((login.body["tokens"] as? [String: Any])?["accessToken"] as? String, "\(login.body)")
            let late = try await client.send(.get, "/v1/compliance/data-subject-requests/\(id)", token: token)
            #expect(late.body["overdue"] as? Bool == true, "\(late.body)")
            try await sut.deliver()

            let ready = try await client.send(.get, "/v1/compliance/data-subject-requests/\(id)", token: token)
            try #require(ready.body["status"] as? String == "ready", "\(ready.body)")
            let services = Dictionary(uniqueKeysWithValues: (ready.body["services"] as? [[String: Any]] ?? []).map { ($0["service"] as! String, $0) })
            #expect(Set(services.keys) == Set(DataSubjectRequestOpened.answeringServices))
            #expect(services.values.allSatisfy { $0["status"] as? String == "answered" })
            #expect(services["transactions"]?["records"] as? Int == 3)
            #expect(services["payments"]?["outcome"] as? String == "nothing-held" && services["credit"]?["outcome"] as? String == "nothing-held")
            #expect(services["insights"]?["status"] as? String == "answered")
            for service in ["auth", "tenancy", "accounting", "compliance"] {
                #expect(services[service]?["outcome"] as? String == "data", "\(service): \(services[service] ?? [:])")
            }

            let archive = try await Self.download(client, id, token: token)
            try #require(archive.status == 200)
            let files = Dictionary(uniqueKeysWithValues: TarArchive.files(archive.bytes).map { ($0.name, $0.data) })
            #expect(Set(files.keys) == Set(["manifest.json"] + DataSubjectRequestOpened.answeringServices.map { "\($0).json" }))
            let manifest = try #require(try JSONSerialization.jsonObject(with: Data(files["manifest.json"] ?? [])) as? [String: Any])
            for part in manifest["parts"] as? [[String: Any]] ?? [] {
                let file = try #require(files[part["file"] as? String ?? ""])
                #expect(Digest.sha256Hex(file) == part["sha256"] as? String, "\(part)")
            }
            let transactions = try #require(try JSONSerialization.jsonObject(with: Data(files["transactions.json"] ?? [])) as? [String: Any])
            let records = ((transactions["categories"] as? [[String: Any]])?.first?["records"] as? [[String: Any]]) ?? []
            #expect(records.count == 3 && records.allSatisfy { $0["counterparty"] as? String == "Ada Lovelace" })
            #expect(Set(records.compactMap { $0["amount_minor"] as? Int }) == [1_200, 3_400, 5_600])
            let auth = String(decoding: files["auth.json"] ?? [], as: UTF8.self)
            #expect(auth.contains(desk.user.email) && !auth.contains("password_hash") && !auth.contains("$2b$") && !auth.contains("totp_secret"))
            let compliance = String(decoding: files["compliance.json"] ?? [], as: UTF8.self)
            #expect(compliance.contains("sanctions-screenings") && compliance.contains("audit-trail"))

            #expect(try await Self.download(client, id, token: token).body["code"] as? String == "archive-downloaded")
            let done = try await client.send(.get, "/v1/compliance/data-subject-requests/\(id)", token: token)
            #expect(done.body["status"] as? String == "downloaded" && done.body["downloadedAt"] != nil)
            let listed = try await client.send(.get, "/v1/compliance/data-subject-requests", token: token)
            #expect((listed.body["items"] as? [[String: Any]])?.first?["id"] as? String == id)

            let stranger = try await Fixtures.signUp(client, sut, tag: "dsr-stranger")
            #expect(try await client.send(.get, "/v1/compliance/data-subject-requests/\(id)", token: stranger.accessToken).status == 404)
            for bad in ["{}", #"{"email":"not-an-email"}"#, #"{"names":["  "]}"#, #"{"userId":""}"#, #"{"id":"nope","userId":"u"}"#, #"{"kind":"forget","userId":"u"}"#] {
                let refused = try await client.send(.post, "/v1/compliance/data-subject-requests", json: bad, token: token)
                #expect(refused.status == 400, "\(bad): \(refused.status) \(refused.body)")
            }
        }
    }

    @Test("an archive nobody downloads is deleted by the retention sweep once its 7 days are up, audited, and then refused")
    func archiveExpiry() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut, tag: "dsr-expiry")
            let id = UUID().uuidString.lowercased()
            let opened = try await client.send(
                .post, "/v1/compliance/data-subject-requests", json: Self.json(["id": id, "userId": user.userId, "email": user.email]),
                token: user.accessToken)
            try #require(opened.status == 201, "\(opened.body)")
            try await sut.deliver()
            let compliance = try #require(sut.system.databases["compliance"])
            func pieces() async throws -> Int { try await RetentionTests.count(compliance, "SELECT COUNT(*) AS n FROM dsr_chunks WHERE request_id = \(bind: id)") }
            let held = try await pieces()
            try #require(held > 0)
            sut.clock.advance(seconds: 6 * 86_400)
            #expect(try await sut.system.sweepRetention()["dsr_chunks"] == nil, "not due within its 7 days")
            #expect(try await pieces() == held)
            sut.clock.advance(seconds: 86_400 + 1)
            #expect(try await sut.system.sweepRetention()["dsr_chunks"] == held)
            #expect(try await pieces() == 0)
            let login = try await client.send(.post, "/v1/auth/login", json: Self.json(["email": user.email, "password": user.password]))
            let token = try #require((login.body["tokens"] as? [String: Any])?["accessToken"] as? String, "\(login.body)")
            #expect(try await client.send(.get, "/v1/compliance/data-subject-requests/\(id)", token: token).body["status"] as? String == "expired")
            #expect(try await Self.download(client, id, token: token).body["code"] as? String == "archive-expired")
            #expect(try await RetentionTests.count(compliance, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'privacy.retention.deleted' AND target = 'dsr_chunks'") == 1)
        }
    }

    @Test("the services asked are exactly those that declare personal data")
    func answeringServices() {
        let declaring = ServiceCatalog.all.filter { !$0.personalData.isEmpty }.map(\.name).sorted()
        #expect(DataSubjectRequestOpened.answeringServices == declaring)
    }

    @Test("erasure pseudonymises the names the books must keep, deletes what may go, reports the rule and date of what stays, and leaves the trial balance as it was")
    func erasure() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let desk = try await Desk.open(client, sut, tag: "erase")
            let token = desk.token
            for amount in [1_200, 3_400] as [Int64] {
                #expect(try await desk.create(desk.body(amount, counterparty: "Ada Lovelace")).status == 201)
            }
            #expect(try await desk.create(desk.body(700, counterparty: "City Power", extra: ["description": "Power for ADA LOVELACE's lab"])).status == 201)
            #expect(try await desk.create(desk.body(999, counterparty: "City Power")).status == 201)
            let invoice = #"{"customerId":"cust-ada","customerName":"Ada Lovelace","issueDate":"2026-06-01","paymentTermsDays":30,"issue":true,"memo":"Notes for Ada Lovelace","lines":[{"description":"Lecture notes for Ada Lovelace","quantity":"1","unitPrice":5000,"taxRate":"0"}]}"#
            let issued = try await client.send(.post, "/v1/accounting/invoices", json: invoice, token: token)
            try #require(issued.status == 201, "\(issued.body)")
            try await sut.deliver()
            let trialBefore = try await client.send(.get, "/v1/accounting/statements/trial-balance?to=2999-12-31", token: token)
            try #require(trialBefore.status == 200)

            let opened = try await client.send(
                .post, "/v1/compliance/data-subject-requests", json: Self.json(["kind": "erasure", "customerId": "cust-ada", "names": ["Ada Lovelace"]]),
                token: token)
            try #require(opened.status == 201, "\(opened.body)")
            let id = try #require(opened.body["id"] as? String)
            #expect(opened.body["kind"] as? String == "erasure")
            try await sut.deliver()
            let done = try await client.send(.get, "/v1/compliance/data-subject-requests/\(id)", token: token)
            try #require(done.body["status"] as? String == "ready", "\(done.body)")
            let outcomes = Dictionary(uniqueKeysWithValues: (done.body["services"] as? [[String: Any]] ?? []).map { ($0["service"] as! String, $0["outcome"] as? String ?? "") })
            #expect(outcomes["transactions"] == "erased" && outcomes["accounting"] == "erased" && outcomes["compliance"] == "nothing-held", "\(outcomes)")

            // The books are as they were: only names in text changed.
            let trialAfter = try await client.send(.get, "/v1/accounting/statements/trial-balance?to=2999-12-31", token: token)
            #expect(ScreeningAPITests.json(trialAfter.body) == ScreeningAPITests.json(trialBefore.body))

            let report = try await Self.download(client, id, token: token)
            try #require(report.status == 200)
            let files = Dictionary(uniqueKeysWithValues: TarArchive.files(report.bytes).map { ($0.name, $0.data) })
            let transactions = try #require(try JSONSerialization.jsonObject(with: Data(files["transactions.json"] ?? [])) as? [String: Any])
            let pseudonym = try #require(transactions["pseudonym"] as? String)
            let line = try #require((transactions["categories"] as? [[String: Any]])?.first)
            #expect(line["action"] as? String == "pseudonymised" && line["records"] as? Int == 3 && line["keptUntil"] as? String == "2036-12-31")
            #expect((line["rule"] as? String)?.contains("anti-money-laundering") == true)

            let listed = try await desk.list()
            let names = listed.compactMap { ($0["counterparty"] as? [String: Any])?["name"] as? String }
            #expect(names.filter { $0 == pseudonym }.count == 2 && names.filter { $0 == "City Power" }.count == 2, "\(names)")
            #expect(listed.compactMap { $0["description"] as? String }.contains("Power for \(pseudonym)'s lab"))

            // Asked again by name, nobody holds anything readable about the subject.
            let again = try await client.send(
                .post, "/v1/compliance/data-subject-requests", json: Self.json(["names": ["Ada Lovelace"]]), token: token)
            let againId = try #require(again.body["id"] as? String)
            try await sut.deliver()
            let archive = try await Self.download(client, againId, token: token)
            try #require(archive.status == 200)
            for (name, data) in TarArchive.files(archive.bytes) where name != "manifest.json" {
                #expect(!String(decoding: data, as: UTF8.self).lowercased().contains("ada lovelace"), "\(name) still names the subject")
            }
            // And in the books' own tables no text names the subject any more.
            let ledger = try #require(sut.system.databases["accounting"])
            struct Count: Decodable { let n: Int }
            for (table, column) in [("invoices", "customer_name"), ("invoices", "memo"), ("invoice_lines", "description"),
                                    ("journal_entries", "description"), ("journal_lines", "memo")] {
                let left = try await ledger.read { db in
                    try await db.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table) WHERE lower(\(unsafeRaw: column)) LIKE '%ada lovelace%'")
                        .first(decoding: Count.self)?.n ?? -1
                }
                #expect(left == 0, "\(table).\(column) still names the subject")
            }
            // Without a mark the ledger's guard still refuses any change to a posted entry.
            await #expect(throws: (any Error).self) {
                try await ledger.read { db in try await db.raw("UPDATE journal_entries SET description = 'x' WHERE status = 'posted'").run() }
            }
        }
    }
}
