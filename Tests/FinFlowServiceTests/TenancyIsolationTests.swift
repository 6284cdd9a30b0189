import FinFlowCore
import Foundation
import Hummingbird
import HummingbirdTesting
import SQLKit
import Testing

@Suite("multi-tenant-service")
struct TenancyIsolationTests {
    @Test("registration provisions a tenant; settings are validated field by field")
    func settings() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut)
            let tenant = try await client.send(.get, "/v1/tenants/current", token: user.accessToken)
            #expect(tenant.status == 200)
            #expect(tenant.body["id"] as? String == user.tenantId)
            let bad = try await client.send(
                .patch, "/v1/tenants/current",
                json: #"{"baseCurrency":"XAU","fiscalYearStartMonth":13,"timeZone":"Mars/Olympus","locale":"english"}"#,
                token: user.accessToken)
            #expect(bad.status == 400)
            let fields = Set(((bad.body["errors"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String })
            #expect(fields == ["baseCurrency", "fiscalYearStartMonth", "timeZone", "locale"])
            let unchanged = try await client.send(.get, "/v1/tenants/current", token: user.accessToken)
            #expect((unchanged.body["settings"] as? [String: Any])?["baseCurrency"] as? String == "USD")
            let good = try await client.send(
                .patch, "/v1/tenants/current",
                json: #"{"baseCurrency":"EUR","fiscalYearStartMonth":4,"timeZone":"Europe/Berlin","locale":"de-DE"}"#,
                token: user.accessToken)
            #expect(good.status == 200)
            #expect((good.body["settings"] as? [String: Any])?["fiscalYearStartMonth"] as? Int == 4)
        }
    }

    @Test("every tenancy route with another tenant's ids answers 404, never the data")
    func crossTenantIsolation() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let alice = try await Fixtures.signUp(client, sut, tag: "alice")
            let bob = try await Fixtures.signUp(client, sut, tag: "bob")
            #expect(alice.tenantId != bob.tenantId)
            let probes: [(HTTPRequest.Method, String, String?)] = [
                (.get, "/v1/tenants/current/members/\(bob.userId)", nil),
                (.patch, "/v1/tenants/current/members/\(bob.userId)", #"{"roles":["viewer"]}"#),
                (.delete, "/v1/tenants/current/members/\(bob.userId)", nil),
            ]
            for (method, path, body) in probes {
                let response = try await client.send(method, path, json: body, token: alice.accessToken)
                #expect(response.status == 404, "\(method) \(path) gave \(response.status)")
            }
            let bobSessions = try await client.send(.get, "/v1/auth/sessions", token: bob.accessToken)
            let bobSession = try #require(((bobSessions.body["items"] as? [[String: Any]]) ?? []).first?["id"] as? String)
            #expect(try await client.send(.delete, "/v1/auth/sessions/\(bobSession)", token: alice.accessToken).status == 404)
            #expect(try await client.send(.get, "/v1/auth/me", token: bob.accessToken).status == 200)
            let members = try await client.send(.get, "/v1/tenants/current/members", token: alice.accessToken)
            let ids = ((members.body["items"] as? [[String: Any]]) ?? []).compactMap { $0["userId"] as? String }
            #expect(ids == [alice.userId])
            let switched = try await client.send(
                .post, "/v1/auth/token/switch-tenant", json: #"{"tenantId":"\#(bob.tenantId)"}"#, token: alice.accessToken)
            #expect(switched.status == 403)
            let bobStill = try await client.send(.get, "/v1/tenants/current/members/\(bob.userId)", token: bob.accessToken)
            #expect(bobStill.status == 200)
        }
    }

    @Test("suspending a tenant blocks its tokens at once")
    func suspension() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut)
            #expect(try await client.send(.post, "/v1/tenants/current/suspend", token: user.accessToken).status == 200)
            let after = try await client.send(.get, "/v1/tenants/current", token: user.accessToken)
            #expect(after.status == 403)
            #expect(after.body["code"] as? String == "tenant-suspended")
            try await sut.deliver()
            let login = try await client.send(.post, "/v1/auth/login", json: #"{"email":"\#(user.email)","password":"\#(user.password)"}"#)
            #expect(login.status == 403)
        }
    }

    @Test("a platform operator reactivates a suspended tenant from the command line: audited, announced, and its users sign in again")
    func reactivation() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandLineTests.binary.path), "build the finflow executable first")
        let sut = try await TestSystem.make()
        let settings = sut.system.settings
        let storage = ["--data-directory", settings.dataDirectory] + (settings.databaseURL.map { ["--database-url", $0] } ?? [])
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut)
            let login = #"{"email":"\#(user.email)","password":"\#(user.password)"}"#
            #expect(try await client.send(.post, "/v1/tenants/current/suspend", token: user.accessToken).status == 200)
            try await sut.deliver()
            #expect(try await client.send(.post, "/v1/auth/login", json: login).status == 403)

            // Refused without a reason or with a malformed tenant, naming what is wrong; nothing changes.
            let noReason = try await CommandLineTests.run(["tenants", "reactivate", "--tenant", user.tenantId, "--operator", "ops", "--reason", ""] + storage)
            #expect(noReason.status != 0 && noReason.output.contains("reason"), "\(noReason.output)")
            let badTenant = try await CommandLineTests.run(["tenants", "reactivate", "--tenant", "acme", "--operator", "ops", "--reason", "x"] + storage)
            #expect(badTenant.status != 0 && badTenant.output.contains("tenant"), "\(badTenant.output)")
            try await sut.deliver()
            #expect(try await client.send(.post, "/v1/auth/login", json: login).status == 403)

            let done = try await CommandLineTests.run(
                ["tenants", "reactivate", "--tenant", user.tenantId, "--operator", "ops@example.com", "--reason", "contract renewed"] + storage)
            #expect(done.status == 0 && done.output.contains("active again"), "\(done.output)")
            // The running process learns it from the event the command left in the tenancy outbox.
            try await sut.deliver()
            let signedIn = try await client.send(.post, "/v1/auth/login", json: login)
            #expect(signedIn.status == 200, "\(signedIn.body)")
            let token = try #require((signedIn.body["tokens"] as? [String: Any])?["accessToken"] as? String)
            #expect(try await client.send(.get, "/v1/tenants/current", token: token).body["status"] as? String == "active")
            let again = try await CommandLineTests.run(
                ["tenants", "reactivate", "--tenant", user.tenantId, "--operator", "ops@example.com", "--reason", "twice"] + storage)
            #expect(again.status == 0 && again.output.contains("nothing changed"), "\(again.output)")

            struct Audit: Decodable { let actor_id: String?; let details: String }
            let database = try #require(sut.system.databases["tenancy"])
            let audit = try await database.read { db in
                try await db.raw("SELECT actor_id, details FROM audit_log WHERE action = 'tenancy.tenant.reactivated'").all(decoding: Audit.self)
            }
            #expect(audit.count == 1 && audit.first?.actor_id == "operator:ops@example.com" && audit.first?.details.contains("contract renewed") == true)
        }
    }

    @Test("on PostgreSQL, row-level security hides other tenants' rows from a tenant's transaction", .enabled(if: TestSystem.onPostgres))
    func rowLevelSecurity() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let alice = try await Fixtures.signUp(client, sut, tag: "alice")
            let bob = try await Fixtures.signUp(client, sut, tag: "bob")
            let database = try #require(sut.system.databases["tenancy"])
            try #require(database.kind == .postgres)
            struct Count: Decodable { let n: Int }
            let asAlice = try await database.tenantTransaction(tenantId: alice.tenantId) { db in
                try await db.raw("SELECT COUNT(*) AS n FROM memberships WHERE tenant_id = \(bind: bob.tenantId)").first(decoding: Count.self)
            }
            #expect(asAlice?.n == 0)
            let unscoped = try await database.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM memberships WHERE tenant_id = \(bind: bob.tenantId)").first(decoding: Count.self)
            }
            #expect(unscoped?.n == 1)
        }
    }
}
