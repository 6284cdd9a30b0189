import Crypto
import FinFlowCore
import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// A test server for QuickBooks Online and Xero, written to their published references: the OAuth 2.0 side here, the
/// accounting API in `ProviderSandbox+Books.swift`.
///
/// - token endpoint (`/oauth2/v1/tokens/bearer` at Intuit, `/connect/token` at Xero): HTTP Basic client authentication,
///   a form body with `grant_type` `authorization_code` (`code`, `redirect_uri`, and at Xero the PKCE `code_verifier`
///   checked against the S256 challenge the authorisation carried) or `refresh_token`; errors `{"error":"invalid_grant"}`
///   (400) and `{"error":"invalid_client"}` (401). Access tokens live 3,600 s at Intuit (with
///   `x_refresh_token_expires_in`), 1,800 s at Xero.
/// - refresh tokens rotate on every use; a used one is still honoured for a grace window (Xero documents 30 minutes;
///   Intuit keeps a replaced token for a day), after which it is `invalid_grant`, as is any token of a revoked grant.
/// - revocation (`/v2/oauth2/tokens/revoke` with a JSON `{"token"}` at Intuit, `/connect/revocation` with a form `token`
///   at Xero) ends the whole grant.
/// - Xero's `GET /connections` lists the organisations a bearer token reaches.
///
/// Consent is what a user does in a browser: `consent(to:)` stands for it, taking the authorisation URL FinFlow made
/// and answering the code (and realm) the provider would send back to the redirect URI.
final class ProviderSandbox: Sendable {
    enum Kind: Sendable { case quickbooks, xero }

    static let clientId = "finflow-sandbox-app"
    static let clientSecret = "finflow-sandbox-secret"

    struct Grant {
        var realmId: String
        var organisations: [(id: String, name: String)]
        var revoked = false
    }

    struct Code {
        let grant: Int
        let redirectURI: String
        let challenge: String?
        let expires: Date
    }

    struct RefreshToken {
        let grant: Int
        /// When it stops being honoured: its lifetime, or the end of the grace window once used.
        var validUntil: Date
        var used = false
    }

    struct State {
        var grants: [Grant] = []
        var codes: [String: Code] = [:]
        var refreshTokens: [String: RefreshToken] = [:]
        var accessTokens: [String: (grant: Int, expires: Date)] = [:]
        var offset: TimeInterval = 0
        var refreshCalls = 0
        var tokenCalls: [String] = []
        var revocations = 0
        /// Answer the next this many token calls 503, as a provider having a bad minute does.
        var failNext = 0
        /// Carry out the next this many token calls but answer them 503, as if the answer were lost on the way.
        var loseNext = 0
        /// Answer this as every token lifetime (a provider's answer FinFlow must survive whatever it says).
        var lifetime: Int64?
    }

    let kind: Kind
    let state = Mutex(State())
    /// The company's or organisation's documents, served by the API routes (`ProviderSandbox+Books.swift`).
    let books = Mutex(SandboxBooks())
    /// The organisations each Xero grant reaches.
    let organisations: [(id: String, name: String)]

    init(_ kind: Kind, organisations: [(id: String, name: String)] = [("6f3b1e0e-0c8f-4b8e-9a55-2d8a1c9e0001", "Demo Company (UK)")]) {
        self.kind = kind
        self.organisations = organisations
    }

    var graceSeconds: TimeInterval { self.kind == .xero ? 30 * 60 : 24 * 3_600 }
    var accessSeconds: Int { self.kind == .xero ? 1_800 : 3_600 }
    var tokenPath: String { self.kind == .xero ? "/connect/token" : "/oauth2/v1/tokens/bearer" }
    var revokePath: String { self.kind == .xero ? "/connect/revocation" : "/v2/oauth2/tokens/revoke" }

    var now: Date { Date().addingTimeInterval(self.state.withLock { $0.offset }) }
    func advance(seconds: TimeInterval) { self.state.withLock { $0.offset += seconds } }
    var refreshCalls: Int { self.state.withLock { $0.refreshCalls } }
    var revocations: Int { self.state.withLock { $0.revocations } }

    /// The settings that point FinFlow's app at this server.
    func app(base: String) -> ProviderApp {
        var app = ProviderApp()
        app.clientId = Self.clientId
        app.clientSecret = Self.clientSecret
        app.urls = self.kind == .xero
            ? ["authorize": base + "/identity/connect/authorize", "token": base + self.tokenPath, "revoke": base + self.revokePath, "api": base]
            : ["authorize": base + "/connect/oauth2", "token": base + self.tokenPath, "revoke": base + self.revokePath, "api": base]
        return app
    }

    /// The environment that points a `finflow serve` process's QuickBooks app at this server (at `base`).
    func serverEnvironment(base: String) -> [String: String] {
        let app = self.app(base: base)
        return [
            "FINFLOW_QUICKBOOKS_CLIENT_ID": Self.clientId, "FINFLOW_QUICKBOOKS_CLIENT_SECRET": Self.clientSecret,
            "FINFLOW_QUICKBOOKS_URLS": app.urls.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: ","),
        ]
    }

    /// The refresh tokens the provider would still honour now.
    var liveRefreshTokens: Set<String> {
        let now = self.now
        return self.state.withLock { state in
            Set(state.refreshTokens.filter { $0.value.validUntil > now && !state.grants[$0.value.grant].revoked }.keys)
        }
    }

    /// Revokes every grant, as a user disconnecting the app in the provider's own settings does.
    func revokeAll() { self.state.withLock { state in for index in state.grants.indices { state.grants[index].revoked = true } } }

    /// The user consents on the page `authorisationURL` opens: the answer is what the provider sends back to the
    /// redirect URI. Checks what that page would: this app, the code flow, the scope, and the PKCE challenge at Xero.
    func consent(to authorisationURL: String, realmId: String = "9130357992181146") throws -> (code: String, state: String, realmId: String?) {
        let items = URLComponents(string: authorisationURL)?.queryItems ?? []
        func item(_ name: String) -> String? { items.first { $0.name == name }?.value }
        guard item("client_id") == Self.clientId, item("response_type") == "code", let redirect = item("redirect_uri"), let state = item("state")
        else { throw StandIn.Failure(status: .badRequest, body: "bad authorisation request") }
        let scope = item("scope") ?? ""
        let challenge = item("code_challenge")
        switch self.kind {
        case .quickbooks:
            guard scope.split(separator: " ").contains("com.intuit.quickbooks.accounting") else { throw StandIn.Failure(status: .badRequest, body: "scope") }
        case .xero:
            guard scope.split(separator: " ").contains("offline_access"), challenge != nil, item("code_challenge_method") == "S256" else {
                throw StandIn.Failure(status: .badRequest, body: "Xero asks for offline_access and a S256 challenge")
            }
        }
        let code = "code-" + UUID().uuidString
        let expires = self.now.addingTimeInterval(600)
        self.state.withLock { s in
            s.grants.append(Grant(realmId: realmId, organisations: self.organisations))
            s.codes[code] = Code(grant: s.grants.count - 1, redirectURI: redirect, challenge: challenge, expires: expires)
        }
        return (code, state, self.kind == .quickbooks ? realmId : nil)
    }

    var router: Router<BasicRequestContext> {
        let router = Router()
        router.post(RouterPath(self.tokenPath)) { request, _ in
            let body = try await request.body.collect(upTo: 1 << 16)
            return self.token(authorization: request.headers[.authorization], form: String(buffer: body))
        }
        router.post(RouterPath(self.revokePath)) { request, _ in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 16))
            let token: String?
            if self.kind == .quickbooks {
                token = (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: String])?["token"]
            } else {
                token = Self.form(body)["token"]
            }
            guard self.authenticated(request.headers[.authorization]), let token else { return StandIn.response(.badRequest, #"{"error":"invalid_request"}"#) }
            self.state.withLock { s in
                if let grant = s.refreshTokens[token]?.grant ?? s.accessTokens[token]?.grant { s.grants[grant].revoked = true }
                s.revocations += 1
            }
            return StandIn.response(.ok, "{}")
        }
        router.get("/connections") { request, _ in
            let now = self.now
            let bearer = request.headers[.authorization].map { String($0.dropFirst("Bearer ".count)) } ?? ""
            guard let grant: Grant = self.state.withLock({ s in
                guard let access = s.accessTokens[bearer], access.expires > now, !s.grants[access.grant].revoked else { return nil }
                return s.grants[access.grant]
            }) else { return StandIn.response(.unauthorized, #"{"Type":null,"Title":"Unauthorized","Status":401,"Detail":"TokenExpired"}"#) }
            let list = grant.organisations.map { org in
                [
                    "id": UUID().uuidString.lowercased(), "authEventId": UUID().uuidString.lowercased(), "tenantId": org.id,
                    "tenantType": "ORGANISATION", "tenantName": org.name, "createdDateUtc": "2026-12-01T10:00:00.0000000",
                    "updatedDateUtc": "2026-12-01T10:00:00.0000000",
                ]
            }
            return StandIn.response(.ok, String(decoding: try JSONSerialization.data(withJSONObject: list), as: UTF8.self))
        }
        self.addBookRoutes(to: router)
        return router
    }

    private func authenticated(_ header: String?) -> Bool {
        header == "Basic " + Data("\(Self.clientId):\(Self.clientSecret)".utf8).base64EncodedString()
    }

    static func form(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        return fields
    }

    private func token(authorization: String?, form text: String) -> Response {
        let form = Self.form(text)
        let now = self.now
        return self.state.withLock { s -> Response in
            s.tokenCalls.append(form["grant_type"] ?? "")
            if s.failNext > 0 {
                s.failNext -= 1
                return StandIn.response(.serviceUnavailable, #"{"error":"temporarily_unavailable"}"#)
            }
            guard self.authenticated(authorization) else { return StandIn.response(.unauthorized, #"{"error":"invalid_client"}"#) }
            let refused = StandIn.response(.badRequest, #"{"error":"invalid_grant"}"#)
            let grant: Int
            switch form["grant_type"] {
            case "authorization_code":
                guard let code = form["code"], let issued = s.codes.removeValue(forKey: code), issued.expires > now,
                    issued.redirectURI == form["redirect_uri"], !s.grants[issued.grant].revoked
                else { return refused }
                if let challenge = issued.challenge {
                    let verifier = form["code_verifier"] ?? ""
                    let digest = Data(SHA256.hash(data: Data(verifier.utf8))).base64EncodedString()
                        .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
                    guard digest == challenge else { return refused }
                }
                grant = issued.grant
            case "refresh_token":
                s.refreshCalls += 1
                guard let presented = form["refresh_token"], let stored = s.refreshTokens[presented], stored.validUntil > now,
                    !s.grants[stored.grant].revoked
                else { return refused }
                // Used: honoured for the grace window from now on (or its own end, if sooner).
                if !stored.used {
                    s.refreshTokens[presented]?.used = true
                    s.refreshTokens[presented]?.validUntil = min(stored.validUntil, now.addingTimeInterval(self.graceSeconds))
                }
                grant = stored.grant
            default:
                return StandIn.response(.badRequest, #"{"error":"unsupported_grant_type"}"#)
            }
            let access = "access-" + UUID().uuidString, refresh = "refresh-" + UUID().uuidString
            s.accessTokens[access] = (grant, now.addingTimeInterval(TimeInterval(self.accessSeconds)))
            s.refreshTokens[refresh] = RefreshToken(grant: grant, validUntil: now.addingTimeInterval(self.kind == .xero ? 60 * 86_400 : 101 * 86_400))
            var answer: [String: Any] = ["access_token": access, "refresh_token": refresh, "expires_in": s.lifetime ?? Int64(self.accessSeconds)]
            if self.kind == .quickbooks {
                answer["token_type"] = "bearer"
                answer["x_refresh_token_expires_in"] = s.lifetime ?? 8_726_400
            } else {
                answer["token_type"] = "Bearer"
                answer["scope"] = "offline_access accounting.transactions accounting.contacts accounting.settings"
            }
            if s.loseNext > 0 {
                s.loseNext -= 1
                return StandIn.response(.serviceUnavailable, #"{"error":"temporarily_unavailable"}"#)
            }
            return StandIn.response(.ok, String(decoding: try! JSONSerialization.data(withJSONObject: answer), as: UTF8.self))
        }
    }
}
