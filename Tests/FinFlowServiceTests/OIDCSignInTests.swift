import AsyncHTTPClient
import FinFlowCore
import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

@Suite("sign-in with an external OpenID Connect provider")
struct OIDCSignInTests {
    /// Runs `body` with the provider live on 127.0.0.1 and a FinFlow system configured for it, its outbox pumped.
    func withProvider(
        _ body: @escaping @Sendable (TestOIDCProvider, TestSystem, any TestClientProtocol) async throws -> Void
    ) async throws {
        let provider = try TestOIDCProvider()
        let issuer = Mutex("")
        let app = Application(router: provider.router(issuer: { issuer.withLock { $0 } }), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { providerClient in
            let port = try #require(providerClient.port)
            issuer.withLock { $0 = "http://127.0.0.1:\(port)" }
            let sut = try await TestSystem.make { settings in
                settings.oidcIssuer = "http://127.0.0.1:\(port)"
                settings.oidcClientId = provider.clientId
                settings.oidcClientSecret = provider.clientSecret
                settings.oidcRedirectURI = provider.redirectURI
            }
            // The system's clock stands still from its start; a real-time ID token would be "issued in the future" once
            // a slow run takes longer than the verifier's leeway.
            provider.issue(at: sut.clock)
            let pump = Task {
                while !Task.isCancelled {
                    try? await sut.deliver()
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
            defer { pump.cancel() }
            try await sut.test { client in try await body(provider, sut, client) }
        }
    }

    /// Drives the browser's part: start, follow /authorize at the provider, return code and state to FinFlow.
    static func signIn(_ client: any TestClientProtocol) async throws -> (status: Int, body: [String: Any]) {
        let start = try await client.send(.get, "/v1/auth/oidc/authorize")
        let url = try #require(start.body["authorizationUrl"] as? String)
        let location = try await Self.redirectLocation(url)
        let query = try #require(URLComponents(string: location)?.queryItems)
        let code = try #require(query.first { $0.name == "code" }?.value)
        let state = try #require(query.first { $0.name == "state" }?.value)
        #expect(state == start.body["state"] as? String)
        let done = try await client.send(.post, "/v1/auth/oidc/callback", json: #"{"code":"\#(code)","state":"\#(state)"}"#)
        return (done.status, done.body)
    }

    /// Signs a new person in. On a loaded machine (the whole suite runs at once) their tenant may take longer than the
    /// server waits; the answer says to retry, and a retry finds the account made, so it waits no longer: retry for a while.
    static func signInNewcomer(
        _ client: any TestClientProtocol, _ provider: TestOIDCProvider, _ person: TestOIDCProvider.Person
    ) async throws -> (status: Int, body: [String: Any]) {
        var retries = 0
        while true {
            provider.signInNext(person)
            let result = try await Self.signIn(client)
            guard result.status == 503, result.body["code"] as? String == "no-tenant", retries < 60 else { return result }
            retries += 1
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    /// Calls the provider's /authorize as a browser would and returns its redirect target, without following it.
    static func redirectLocation(_ url: String) async throws -> String {
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
        defer { _ = client.shutdown() }
        let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
        #expect(response.status == .found)
        return try #require(response.headers.first(name: "location"))
    }

    @Test("a new person gets an account and a tenant; the next sign-in finds the same account")
    func newAccount() async throws {
        try await self.withProvider { provider, _, client in
            let first = try await Self.signInNewcomer(
                client, provider, .init(subject: "sub-new-1", email: "Newcomer@Example.com", emailVerified: true))
            #expect(first.status == 200, "\(first.body)")
            let tokens = try #require(first.body["tokens"] as? [String: Any])
            let me = try await client.send(.get, "/v1/auth/me", token: try #require(tokens["accessToken"] as? String))
            #expect(me.body["email"] as? String == "newcomer@example.com")
            #expect(me.body["roles"] as? [String] == ["owner"])
            let second = try await Self.signIn(client)
            let again = try #require(second.body["tokens"] as? [String: Any])
            let meAgain = try await client.send(.get, "/v1/auth/me", token: try #require(again["accessToken"] as? String))
            #expect(meAgain.body["userId"] as? String == me.body["userId"] as? String)
        }
    }

    @Test("an existing account is linked by verified email only")
    func linking() async throws {
        try await self.withProvider { provider, sut, client in
            let user = try await Fixtures.signUp(client, sut)
            provider.signInNext(.init(subject: "sub-unverified", email: user.email, emailVerified: false))
            let refused = try await Self.signIn(client)
            #expect(refused.status == 403)
            #expect(refused.body["code"] as? String == "oidc-email-unverified")
            provider.signInNext(.init(subject: "sub-verified", email: user.email, emailVerified: true))
            let linked = try await Self.signIn(client)
            #expect(linked.status == 200)
            let tokens = try #require(linked.body["tokens"] as? [String: Any])
            let me = try await client.send(.get, "/v1/auth/me", token: try #require(tokens["accessToken"] as? String))
            #expect(me.body["userId"] as? String == user.userId)
        }
    }

    @Test("ID tokens with a foreign signature or another nonce are refused, unreachable keys are an outage, and a state works once")
    func badTokens() async throws {
        try await self.withProvider { provider, _, client in
            // Without the provider's keys no token can be judged: 503 to try again, not 401.
            provider.keysOffline(true)
            provider.signInNext(.init(subject: "sub-x", email: "x@example.com", emailVerified: true))
            let outage = try await Self.signIn(client)
            #expect(outage.status == 503)
            #expect(outage.body["code"] as? String == "oidc-unavailable")
            provider.keysOffline(false)
            provider.signInNext(.init(subject: "sub-x", email: "x@example.com", emailVerified: true))
            provider.misbehave(rogueKey: true)
            let forged = try await Self.signIn(client)
            #expect(forged.status == 401)
            #expect(forged.body["code"] as? String == "oidc-invalid-token")
            provider.misbehave(nonce: "someone-elses-nonce")
            let replayed = try await Self.signIn(client)
            #expect(replayed.status == 401)
            #expect(replayed.body["code"] as? String == "oidc-invalid-token")
            provider.misbehave()
            // The person's account and tenant are made first, so the callback below is decided by its state alone.
            let person = TestOIDCProvider.Person(subject: "sub-x", email: "x@example.com", emailVerified: true)
            let made = try await Self.signInNewcomer(client, provider, person)
            #expect(made.status == 200, "\(made.body)")
            provider.signInNext(person)
            let start = try await client.send(.get, "/v1/auth/oidc/authorize")
            let url = try #require(start.body["authorizationUrl"] as? String)
            let location = try await Self.redirectLocation(url)
            let query = try #require(URLComponents(string: location)?.queryItems)
            let code = try #require(query.first { $0.name == "code" }?.value)
            let state = try #require(query.first { $0.name == "state" }?.value)
            let body = #"{"code":"\#(code)","state":"\#(state)"}"#
            let accepted = try await client.send(.post, "/v1/auth/oidc/callback", json: body)
            if accepted.status != 200 { Issue.record("callback: \(accepted.body)") }
            let replay = try await client.send(.post, "/v1/auth/oidc/callback", json: body)
            #expect(replay.status == 401)
            #expect(replay.body["code"] as? String == "oidc-invalid-state")
        }
    }

    @Test("without a configured provider the OIDC routes say so")
    func notConfigured() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let response = try await client.send(.get, "/v1/auth/oidc/authorize")
            #expect(response.status == 404)
            #expect(response.body["code"] as? String == "oidc-not-configured")
        }
    }
}
