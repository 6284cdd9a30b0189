import FinFlowCore
import Foundation
import HummingbirdTesting
import SQLKit
import Synchronization
import Testing

/// Connections to QuickBooks Online and Xero through the API, against test servers written to the providers' OAuth
/// references: the authorisation both ways, tokens sealed at rest, refresh tokens that rotate, lost answers and crashes
/// between a refresh and its save, revoked grants, organisations chosen, disconnecting.
@Suite("integrations connections: authorised once, tokens rotated and never lost, revocation seen")
struct ConnectionTests {
    static let redirect = "https://books.example.com/integrations/callback"

    /// Starts an authorisation, consents at the sandbox and completes it; answers the completion.
    static func connect(
        _ client: any TestClientProtocol, _ desk: Desk, _ sandbox: ProviderSandbox, provider: String
    ) async throws -> (status: Int, body: [String: Any]) {
        let started = try await client.send(
            .post, "/v1/integrations/connections", json: TaxAPITests.json(["provider": provider, "redirectUri": Self.redirect]), token: desk.token)
        try #require(started.status == 201, "\(started.body)")
        let consent = try sandbox.consent(to: try #require(started.body["authorisationUrl"] as? String))
        var callback = ["state": consent.state, "code": consent.code]
        if let realm = consent.realmId { callback["realmId"] = realm }
        let done = try await client.send(.post, "/v1/integrations/connections/authorised", json: TaxAPITests.json(callback), token: desk.token)
        return (done.status, done.body)
    }

    static func topics(_ sut: TestSystem) async throws -> [(topic: String, payload: String)] {
        struct Row: Decodable { let topic: String; let payload: String }
        return try await WebhookTests.rows(sut, "SELECT topic, payload FROM outbox ORDER BY created_at_ms, id", as: Row.self).map { ($0.topic, $0.payload) }
    }

    @Test("QuickBooks: state checked once, tokens sealed, the rotated refresh token kept, a revoked grant marked with an event and mended by authorising again")
    func quickBooksLifecycle() async throws {
        let sandbox = ProviderSandbox(.quickbooks)
        try await StandIn.serving(sandbox.router) { base in
            let sut = try await TestSystem.make {
                $0.quickbooks = sandbox.app(base: base)
                $0.accessTokenTTLSeconds = 30 * 86_400
            }
            try await sut.test { client in
                let desk = try await Desk.open(client, sut, tag: "qbo-connect")
                let body = { (provider: String, redirect: String) in TaxAPITests.json(["provider": provider, "redirectUri": redirect]) }

                // Xero has no app registered here; a redirect must be https; an unknown provider is refused.
                let unregistered = try await client.send(.post, "/v1/integrations/connections", json: body("xero", Self.redirect), token: desk.token)
                #expect(unregistered.status == 409 && unregistered.body["code"] as? String == "provider-not-configured", "\(unregistered.body)")
                for bad in ["http://books.example.com/cb", "https://user:pw@books.example.com/cb", "https://books.example.com/cb#x", "books"] {
                    let refused = try await client.send(.post, "/v1/integrations/connections", json: body("quickbooks", bad), token: desk.token)
                    #expect(refused.status == 400, "\(bad): \(refused.body)")
                }
                #expect(try await client.send(.post, "/v1/integrations/connections", json: body("sage", Self.redirect), token: desk.token).status == 400)

                let started = try await client.send(.post, "/v1/integrations/connections", json: body("quickbooks", Self.redirect), token: desk.token)
                try #require(started.status == 201, "\(started.body)")
                let url = try #require(started.body["authorisationUrl"] as? String)
                #expect(url.hasPrefix(base + "/connect/oauth2?") && !url.contains("code_challenge"))
                let consent = try sandbox.consent(to: url)
                func complete(_ fields: [String: String]) async throws -> (status: Int, body: [String: Any]) {
                    let answer = try await client.send(.post, "/v1/integrations/connections/authorised", json: TaxAPITests.json(fields), token: desk.token)
                    return (answer.status, answer.body)
                }
                // A foreign state, a missing realm and a realm that is not digits change nothing: the state still waits.
                #expect(try await complete(["state": "forged", "code": consent.code, "realmId": "1"]).body["code"] as? String == "unknown-authorisation")
                #expect(try await complete(["state": consent.state, "code": consent.code]).status == 400)
                #expect(try await complete(["state": consent.state, "code": consent.code, "realmId": "12x"]).status == 400)
                let done = try await complete(["state": consent.state, "code": consent.code, "realmId": consent.realmId!])
                try #require(done.status == 201, "\(done.body)")
                #expect(done.body["status"] as? String == "connected" && done.body["externalId"] as? String == consent.realmId)
                let id = try #require(done.body["id"] as? String)
                // The state is used up.
                #expect(try await complete(["state": consent.state, "code": consent.code, "realmId": consent.realmId!]).status == 404)

                // Sealed at rest: no token the provider issued is in the database as text.
                struct Sealed: Decodable { let access_sealed: String?; let refresh_sealed: String? }
                let stored = try await WebhookTests.rows(sut, "SELECT access_sealed, refresh_sealed FROM integration_connections", as: Sealed.self)
                let live = sandbox.liveRefreshTokens
                #expect(live.count == 1 && stored.count == 1)
                #expect(!live.contains { stored[0].refresh_sealed?.contains($0) == true } && stored[0].access_sealed?.contains("access-") == false)

                // Refreshed, rotating: a day and more later only the newest refresh token works, and it is the one kept.
                let first = try await client.send(.post, "/v1/integrations/connections/\(id)/refresh", token: desk.token)
                #expect(first.status == 200 && sandbox.refreshCalls == 1, "\(first.body)")
                sandbox.advance(seconds: 25 * 3_600)
                sut.clock.advance(seconds: 25 * 3_600)
                let second = try await client.send(.post, "/v1/integrations/connections/\(id)/refresh", token: desk.token)
                #expect(second.status == 200 && sandbox.refreshCalls == 2, "the rotated token was kept: \(second.body)")
                // Lifetimes beyond reason are held within sense, not turned into overflowing timestamps.
                sandbox.state.withLock { $0.lifetime = Int64.max }
                let huge = try await client.send(.post, "/v1/integrations/connections/\(id)/refresh", token: desk.token)
                #expect(huge.status == 200, "\(huge.body)")
                let expiry = try #require(ISO8601DateFormatter().date(from: huge.body["accessExpiresAt"] as? String ?? ""))
                #expect(expiry.timeIntervalSince(sut.clock.now()) <= 86_400)
                sandbox.state.withLock { $0.lifetime = nil }

                // Revoked at QuickBooks: the next refresh marks the connection, with an event, and refuses.
                sandbox.revokeAll()
                let refused = try await client.send(.post, "/v1/integrations/connections/\(id)/refresh", token: desk.token)
                #expect(refused.status == 409 && refused.body["code"] as? String == "connection-needs-authorisation", "\(refused.body)")
                let marked = try await client.send(.get, "/v1/integrations/connections/\(id)", token: desk.token)
                #expect(marked.body["status"] as? String == "needs-authorisation" && (marked.body["lastError"] as? String)?.contains("QuickBooks") == true)
                let changes = try await Self.topics(sut).filter { $0.topic == IntegrationConnectionChanged.topic }.map(\.payload)
                #expect(changes.count == 2 && changes.last?.contains(#""status":"needs-authorisation""#) == true, "\(changes)")

                // Authorised again: the same connection comes back, not a second one.
                let mended = try await Self.connect(client, desk, sandbox, provider: "quickbooks")
                #expect(mended.status == 201 && mended.body["id"] as? String == id && mended.body["status"] as? String == "connected", "\(mended.body)")
                let list = try await client.send(.get, "/v1/integrations/connections", token: desk.token)
                #expect((list.body["items"] as? [[String: Any]])?.count == 1)

                // Disconnected: revoked at QuickBooks, tokens forgotten, refresh refused.
                #expect(try await client.send(.delete, "/v1/integrations/connections/\(id)", token: desk.token).status == 204)
                #expect(sandbox.revocations == 1 && sandbox.liveRefreshTokens.isEmpty)
                let gone = try await client.send(.post, "/v1/integrations/connections/\(id)/refresh", token: desk.token)
                #expect(gone.status == 409 && gone.body["code"] as? String == "connection-disconnected", "\(gone.body)")
                let cleared = try await WebhookTests.rows(sut, "SELECT access_sealed, refresh_sealed FROM integration_connections", as: Sealed.self)
                #expect(cleared.allSatisfy { $0.access_sealed == nil && $0.refresh_sealed == nil })
            }
        }
    }

    @Test("Xero: PKCE checked, the organisation chosen among several, a lost refresh answer recovered within the grace window, a 503 retried")
    func xeroLifecycle() async throws {
        let sandbox = ProviderSandbox(.xero, organisations: [("0d1b6c3e-aaaa-4b8e-9a55-000000000001", "Demo UK"), ("0d1b6c3e-bbbb-4b8e-9a55-000000000002", "Demo NZ")])
        try await StandIn.serving(sandbox.router) { base in
            let sut = try await TestSystem.make { $0.xero = sandbox.app(base: base) }
            try await sut.test { client in
                let desk = try await Desk.open(client, sut, tag: "xero-connect")
                let started = try await client.send(
                    .post, "/v1/integrations/connections", json: TaxAPITests.json(["provider": "xero", "redirectUri": Self.redirect]), token: desk.token)
                try #require(started.status == 201, "\(started.body)")
                let url = try #require(started.body["authorisationUrl"] as? String)
                #expect(url.contains("code_challenge_method=S256") && url.contains("offline_access"))
                let consent = try sandbox.consent(to: url)
                let done = try await client.send(
                    .post, "/v1/integrations/connections/authorised", json: TaxAPITests.json(["state": consent.state, "code": consent.code]), token: desk.token)
                try #require(done.status == 201, "\(done.body)")
                #expect(done.body["status"] as? String == "choosing-organisation" && (done.body["organisations"] as? [Any])?.count == 2)
                let id = try #require(done.body["id"] as? String)
                let early = try await client.send(.post, "/v1/integrations/connections/\(id)/refresh", token: desk.token)
                #expect(early.status == 409 && early.body["code"] as? String == "organisation-not-chosen")
                let wrong = try await client.send(
                    .patch, "/v1/integrations/connections/\(id)", json: #"{"organisationId":"not-mine"}"#, token: desk.token)
                #expect(wrong.status == 400)
                let chosen = try await client.send(
                    .patch, "/v1/integrations/connections/\(id)", json: #"{"organisationId":"0d1b6c3e-bbbb-4b8e-9a55-000000000002"}"#, token: desk.token)
                #expect(chosen.status == 200 && chosen.body["externalName"] as? String == "Demo NZ" && chosen.body["status"] as? String == "connected")

                // Xero carries out a refresh and the answer is lost: the same refresh token, sent again within 30 minutes, recovers.
                sandbox.state.withLock { $0.loseNext = 1 }
                let recovered = try await client.send(.post, "/v1/integrations/connections/\(id)/refresh", token: desk.token)
                #expect(recovered.status == 200 && sandbox.refreshCalls == 2, "\(recovered.body)")
                // A 503 is tried again.
                sandbox.state.withLock { $0.failNext = 1 }
                let retried = try await client.send(.post, "/v1/integrations/connections/\(id)/refresh", token: desk.token)
                #expect(retried.status == 200 && sandbox.refreshCalls == 3, "\(retried.body)")
                // Past the grace window only the newest token works: the kept one.
                sandbox.advance(seconds: 31 * 60)
                let late = try await client.send(.post, "/v1/integrations/connections/\(id)/refresh", token: desk.token)
                #expect(late.status == 200 && sandbox.refreshCalls == 4, "\(late.body)")
            }
        }
    }

    @Test("a process killed after QuickBooks answered a refresh and before the new tokens were saved loses no connection")
    func crashBetweenRefreshAndSave() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandLineTests.binary.path), "build the finflow executable first")
        let sandbox = ProviderSandbox(.quickbooks)
        try await StandIn.serving(sandbox.router) { base in
            let app = sandbox.app(base: base)
            let sut = try await TestSystem.make { $0.quickbooks = app }
            let made = Mutex((id: "", login: ""))
            try await sut.test { client in
                let desk = try await Desk.open(client, sut, tag: "qbo-crash")
                let done = try await Self.connect(client, desk, sandbox, provider: "quickbooks")
                try #require(done.status == 201, "\(done.body)")
                let id = try #require(done.body["id"] as? String)
                made.withLock { $0 = (id, #"{"email":"\#(desk.user.email)","password":"\#(desk.user.password)"}"#) }
            }
            let (connectionId, login) = made.withLock { $0 }
            let settings = sut.system.settings
            let environment = sandbox.serverEnvironment(base: base)
            func signIn(_ server: ServerProcess) async throws -> String {
                try await server.ready()
                let tokens = try #require(try await server.send(.POST, "/v1/auth/login", json: login).body["tokens"] as? [String: Any])
                return try #require(tokens["accessToken"] as? String)
            }
            let path = "/v1/integrations/connections/\(connectionId)/refresh"

            // QuickBooks rotates the refresh token and answers; the process dies before saving what it got.
            let doomed = try ServerProcess(settings: settings, environment: environment.merging(["FINFLOW_FAULT_INJECTION": "crash-after-token-refresh"]) { $1 })
            let doomedToken = try await signIn(doomed)
            let answer = try? await doomed.send(.POST, path, token: doomedToken)
            if let answer {
                Issue.record("the process answered \(answer.status) \(answer.body) instead of dying before the save")
                doomed.kill()
            }
            for _ in 0..<100 where !doomed.hasExited { try await Task.sleep(for: .milliseconds(100)) }
            if !doomed.hasExited {
                Issue.record("the process neither answered nor died")
                doomed.kill()
            }
            try await doomed.exited()
            #expect(sandbox.refreshCalls == 1 && sandbox.liveRefreshTokens.count == 2, "the provider issued a new token that was never saved")

            // The next process refreshes with the token it kept (honoured in QuickBooks' grace), and keeps the new one.
            let healthy = try ServerProcess(settings: settings, environment: environment)
            let token = try await signIn(healthy)
            let recovered = try await healthy.send(.POST, path, token: token)
            #expect(recovered.status == 200 && recovered.body["status"] as? String == "connected", "\(recovered.body)")
            sandbox.advance(seconds: 25 * 3_600)
            let later = try await healthy.send(.POST, path, token: token)
            #expect(later.status == 200 && sandbox.refreshCalls == 3, "the newest token was saved: \(later.body)")
            healthy.kill()
            try await healthy.exited()
        }
    }

    @Test("the providers' app settings are read whole or refused with the setting named")
    func providerSettings() throws {
        let read = try Settings.load(flags: [:], environment: [
            "FINFLOW_QUICKBOOKS_CLIENT_ID": "id", "FINFLOW_QUICKBOOKS_CLIENT_SECRET": "secret",
            "FINFLOW_QUICKBOOKS_URLS": "api=https://sandbox-quickbooks.api.intuit.com, token=http://127.0.0.1:9/token",
            "FINFLOW_QUICKBOOKS_WEBHOOK_VERIFIER": "verifier", "FINFLOW_XERO_WEBHOOK_KEY": "",
        ])
        #expect(read.quickbooks.clientId == "id" && read.quickbooks.clientSecret == "secret" && read.xero.clientId == nil)
        #expect(read.quickbooks.webhookKey == "verifier" && read.xero.webhookKey == nil)
        #expect(read.quickbooks.urls == ["api": "https://sandbox-quickbooks.api.intuit.com", "token": "http://127.0.0.1:9/token"])
        for (environment, named) in [
            (["FINFLOW_XERO_CLIENT_ID": "id"], "xero-client-id"),
            (["FINFLOW_XERO_URLS": "login=https://x.example"], "xero-urls"),
            (["FINFLOW_QUICKBOOKS_URLS": "api=ftp://x.example"], "quickbooks-urls"),
        ] {
            #expect { try Settings.load(flags: [:], environment: environment) } throws: { "\($0)".contains(named) }
        }
    }
}
