import FinFlowCore
import FinFlowServer
import Foundation
import Logging
import Synchronization
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The audit trail over every service: records shipped from each service's chain, queried as one, exported with the
/// chain data and checkpoints and verified away from the system.
@Suite("compliance: the audit trail across services, its query and its verifiable export")
struct AuditTrailAPITests {
    static func text(_ client: any TestClientProtocol, _ path: String, token: String) async throws -> (status: Int, text: String, type: String) {
        try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
            (Int(response.status.code), String(buffer: response.body), response.headers[.contentType] ?? "")
        }
    }

    static func items(_ body: [String: Any]) -> [[String: Any]] { body["items"] as? [[String: Any]] ?? [] }

    @Test("records of auth, tenancy and transactions are queried as one, filtered, paged, exported and verified; another tenant sees none")
    func trail() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let owner = try await Fixtures.signUp(client, sut, tag: "trail-owner")
            let other = try await Fixtures.signUp(client, sut, tag: "trail-other")
            let token = owner.accessToken
            let limits = try await client.send(.get, "/v1/transactions/limits", token: token)
            let put = try await client.send(.put, "/v1/transactions/limits", json: ScreeningAPITests.json(limits.body), token: token)
            try #require(put.status == 200, "\(put.body)")
            try await sut.system.shipAudit()

            let all = try await client.send(.get, "/v1/compliance/audit-trail", token: token)
            try #require(all.status == 200, "\(all.body)")
            let records = Self.items(all.body)
            let services = Set(records.compactMap { $0["service"] as? String })
            #expect(services.isSuperset(of: ["auth", "tenancy", "transactions"]), "\(services)")
            #expect(records.allSatisfy { $0["tenantId"] as? String == owner.tenantId })
            let times = records.compactMap { $0["occurredAt"] as? String }
            #expect(times == times.sorted(by: >), "newest first: \(times)")
            let limitsRecord = try #require(records.first { $0["action"] as? String == "transactions.limits.updated" })
            #expect(limitsRecord["actorId"] as? String == owner.userId && (limitsRecord["hash"] as? String)?.count == 64)
            #expect((limitsRecord["details"] as? [String: Any])?["limits"] != nil)

            let byService = Self.items(try await client.send(.get, "/v1/compliance/audit-trail?service=transactions", token: token).body)
            #expect(byService.count == 1 && byService.first?["action"] as? String == "transactions.limits.updated")
            let byAction = Self.items(try await client.send(.get, "/v1/compliance/audit-trail?action=auth.sign-in&actor=\(owner.userId)", token: token).body)
            #expect(!byAction.isEmpty && byAction.allSatisfy { $0["action"] as? String == "auth.sign-in" && $0["service"] as? String == "auth" })
            let future = Self.items(try await client.send(.get, "/v1/compliance/audit-trail?from=2999-01-01T00:00:00Z", token: token).body)
            #expect(future.isEmpty)

            // One record a page, following the cursor, reads the same records in the same order.
            var paged: [String] = []
            var cursor: String?
            repeat {
                let page = try await client.send(.get, "/v1/compliance/audit-trail?limit=1" + (cursor.map { "&cursor=\($0)" } ?? ""), token: token)
                paged += Self.items(page.body).compactMap { $0["recordId"] as? String }
                cursor = page.body["nextCursor"] as? String
            } while cursor != nil && paged.count < 50
            #expect(paged == records.compactMap { $0["recordId"] as? String })

            // The other tenant's trail holds its own records only.
            let theirs = Self.items(try await client.send(.get, "/v1/compliance/audit-trail", token: other.accessToken).body)
            #expect(!theirs.isEmpty && theirs.allSatisfy { $0["tenantId"] as? String == other.tenantId })

            for format in ["jsonl", "csv"] {
                let export = try await Self.text(client, "/v1/compliance/audit-trail/export?format=\(format)", token: token)
                try #require(export.status == 200, "\(export.text)")
                #expect(export.type.hasPrefix(format == "csv" ? "text/csv" : "application/jsonl"))
                let report = try AuditExportVerifier.verify(export.text)
                #expect(report.intact, "\(report.problems)")
                #expect(report.records == records.count && report.checkpoints >= 3 && report.gaps.isEmpty && report.beyondExport.isEmpty)
                let tampered = export.text.replacingOccurrences(of: "transactions.limits.updated", with: "transactions.limits.viewed")
                #expect(try AuditExportVerifier.verify(tampered).intact == false)
            }

            for bad in ["limit=0", "cursor=nope", "from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "service=", "format=xml"] {
                let path = bad.hasPrefix("format") ? "/v1/compliance/audit-trail/export?\(bad)" : "/v1/compliance/audit-trail?\(bad)"
                let refused = try await client.send(.get, path, token: token)
                #expect(refused.status == 400, "\(bad): \(refused.status) \(refused.body)")
            }
            #expect(try await client.send(.get, "/v1/compliance/audit-trail").status == 401)
        }
    }

    @Test("the command line verifies every service's chains, exports the trail and verifies the file, and names a tail cut with its checkpoint")
    func commandLine() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandLineTests.binary.path), "build the finflow executable first")
        let sut = try await TestSystem.make()
        let settings = sut.system.settings
        let owner = Mutex<String?>(nil)
        try await sut.test { client in
            let signedIn = try await Fixtures.signUp(client, sut, tag: "cli-owner")
            owner.withLock { $0 = signedIn.tenantId }
            try await sut.system.shipAudit()
        }
        let tenantId = try #require(owner.withLock { $0 })
        let storage = settings.databaseURL.map { ["--database-url", $0] } ?? ["--data-directory", settings.dataDirectory]
        let intact = try await CommandLineTests.run(["audit", "verify"] + storage)
        #expect(intact.status == 0, "\(intact.output)")
        #expect(intact.output.contains("auth: intact") && intact.output.contains("signed checkpoints"), "\(intact.output)")
        let file = NSTemporaryDirectory() + "finflow-trail-\(UUID().uuidString).csv"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let exported = try await CommandLineTests.run(["audit", "export", "--format", "csv", "--tenant", tenantId, "--output", file] + storage)
        #expect(exported.status == 0, "\(exported.output)")
        let checked = try await CommandLineTests.run(["audit", "verify", "--export", file])
        #expect(checked.status == 0 && checked.output.contains("intact"), "\(checked.output)")
        #expect(try await CommandLineTests.run(["audit", "verify", "--export", "/nonexistent/trail.csv"]).status != 0)

        // Someone with write access to the auth database drops the guards, cuts the tenant's newest record and the
        // service's checkpoints with it: the copies compliance keeps still name the head.
        let auth = try ServiceCatalog.select(["auth"])[0]
        let database = try await ServiceDatabases.open(auth, settings: settings, logger: Logger(label: "test"))
        try await database.read { db in
            if database.kind == .postgres {
                try await db.raw("DROP TRIGGER audit_log_no_change ON audit_log").run()
                try await db.raw("DROP TRIGGER audit_checkpoints_no_change ON audit_checkpoints").run()
            } else {
                try await db.raw("DROP TRIGGER audit_log_no_delete").run()
                try await db.raw("DROP TRIGGER audit_checkpoints_no_delete").run()
            }
            try await db.raw("""
                DELETE FROM audit_log WHERE tenant_id = \(bind: tenantId)
                AND seq = (SELECT MAX(seq) FROM audit_log WHERE tenant_id = \(bind: tenantId))
                """).run()
            try await db.raw("DELETE FROM audit_checkpoints WHERE tenant_id = \(bind: tenantId)").run()
        }
        try await database.shutdown()
        let cut = try await CommandLineTests.run(["audit", "verify"] + storage)
        #expect(cut.status == 1, "\(cut.output)")
        #expect(cut.output.contains("auth: BROKEN") && cut.output.contains("cut"), "\(cut.output)")
    }
}
