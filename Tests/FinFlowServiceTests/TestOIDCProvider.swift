import Crypto
import FinFlowCore
import Foundation
import Hummingbird
import HummingbirdTesting
import JWTKit
import Synchronization

/// An OpenID Connect provider written to OpenID Connect Core 1.0, Discovery 1.0 and RFC 7636 (PKCE), with its own
/// ES256 key, for testing FinFlow's relying party: discovery, /authorize (consent is automatic for the person
/// the test names), /token (client authentication, single-use codes, redirect URI and PKCE checks) and /jwks.
final class TestOIDCProvider: Sendable {
    struct Person: Sendable {
        var subject: String
        var email: String
        var emailVerified: Bool
    }

    struct Grant: Sendable {
        let clientId: String
        let redirectURI: String
        let nonce: String
        let challenge: String
        let person: Person
    }

    let clientId = "finflow-test-client"
    let clientSecret = "test-secret-0123456789"
    let redirectURI = "https://app.example.com/oidc/callback"
    let key: ES256PrivateKey
    let rogueKey: ES256PrivateKey
    let kid = "test-key-1"
    private let state = Mutex<(person: Person?, grants: [String: Grant], signWithRogueKey: Bool, overrideNonce: String?)>(
        (nil, [:], false, nil))
    /// Whether its /jwks answers 503, as during an outage.
    private let keysDown = Mutex(false)

    /// The time its ID tokens are issued at: the relying party's own clock, which a test may hold still.
    private let clock = Mutex<any FinFlowClock>(SystemClock())

    init() throws {
        self.key = ES256PrivateKey()
        self.rogueKey = ES256PrivateKey()
    }

    /// Issues ID tokens at `clock`'s time, so a relying party on a manual clock never sees them issued in its future.
    func issue(at clock: any FinFlowClock) { self.clock.withLock { $0 = clock } }
    /// Who consents at the next /authorize.
    func signInNext(_ person: Person) { self.state.withLock { $0.person = person } }
    /// Makes the next ID tokens carry a bad signature or another nonce.
    func misbehave(rogueKey: Bool = false, nonce: String? = nil) {
        self.state.withLock { $0.signWithRogueKey = rogueKey; $0.overrideNonce = nonce }
    }

    /// Takes its signing keys offline (or back online).
    func keysOffline(_ offline: Bool) { self.keysDown.withLock { $0 = offline } }

    func router(issuer: @escaping @Sendable () -> String) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/.well-known/openid-configuration") { _, _ -> Response in
            let base = issuer()
            return Self.json([
                "issuer": base, "authorization_endpoint": base + "/authorize", "token_endpoint": base + "/token",
                "jwks_uri": base + "/jwks", "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"], "code_challenge_methods_supported": ["S256"],
            ])
        }
        router.get("/jwks") { _, _ -> Response in
            if self.keysDown.withLock({ $0 }) { return Response(status: .serviceUnavailable) }
            guard let parameters = self.key.publicKey.parameters else { return Response(status: .internalServerError) }
            return Self.json(["keys": [[
                "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid, "x": parameters.x, "y": parameters.y,
            ]]])
        }
        router.get("/authorize") { request, _ -> Response in
            let query = request.uri.queryParameters
            guard query["response_type"] == "code", let clientId = query["client_id"].map(String.init), clientId == self.clientId,
                let redirect = query["redirect_uri"].map(String.init), redirect == self.redirectURI,
                let state = query["state"], let nonce = query["nonce"].map(String.init),
                let challenge = query["code_challenge"].map(String.init), query["code_challenge_method"] == "S256",
                (query["scope"] ?? "").split(separator: " ").contains("openid"),
                let person = self.state.withLock({ $0.person })
            else { return Response(status: .badRequest) }
            let code = Digest.randomToken()
            self.state.withLock { $0.grants[code] = Grant(clientId: clientId, redirectURI: redirect, nonce: nonce, challenge: challenge, person: person) }
            return Response(status: .found, headers: [.location: "\(redirect)?code=\(code)&state=\(state)"])
        }
        router.post("/token") { request, context -> Response in
            let body = try await request.body.collect(upTo: 65_536)
            var form: [String: String] = [:]
            for pair in String(buffer: body).split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
                if parts.count == 2 { form[parts[0]] = parts[1] }
            }
            // RFC 6749 §2.3.1: Basic credentials whose parts are form-encoded.
            guard let header = request.headers[.authorization], header.hasPrefix("Basic "),
                let decoded = Data(base64Encoded: String(header.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) }),
                let colon = decoded.firstIndex(of: ":"),
                decoded[..<colon].removingPercentEncoding == self.clientId,
                decoded[decoded.index(after: colon)...].removingPercentEncoding == self.clientSecret
            else { return Self.error("invalid_client", status: .unauthorized) }
            guard form["grant_type"] == "authorization_code", let code = form["code"],
                let grant = self.state.withLock({ $0.grants.removeValue(forKey: code) })
            else { return Self.error("invalid_grant") }
            guard form["redirect_uri"] == grant.redirectURI, let verifier = form["code_verifier"],
                Digest.base64URL(Data(SHA256.hash(data: Data(verifier.utf8)))) == grant.challenge
            else { return Self.error("invalid_grant") }
            let (rogue, nonce) = self.state.withLock { ($0.signWithRogueKey, $0.overrideNonce) }
            let now = self.clock.withLock { $0.now() }
            let claims = IDTokenClaims(
                iss: IssuerClaim(value: issuer()), sub: SubjectClaim(value: grant.person.subject),
                aud: AudienceClaim(value: [grant.clientId]), exp: ExpirationClaim(value: now.addingTimeInterval(300)),
                iat: IssuedAtClaim(value: now), nonce: nonce ?? grant.nonce, email: grant.person.email,
                email_verified: grant.person.emailVerified)
            let keys = JWTKeyCollection()
            await keys.add(ecdsa: rogue ? self.rogueKey : self.key, kid: JWKIdentifier(string: self.kid))
            let idToken = try await keys.sign(claims, kid: JWKIdentifier(string: self.kid))
            return Self.json(["access_token": Digest.randomToken(), "token_type": "Bearer", "expires_in": 300, "id_token": idToken])
        }
        return router
    }

    struct IDTokenClaims: JWTPayload {
        let iss: IssuerClaim
        let sub: SubjectClaim
        let aud: AudienceClaim
        let exp: ExpirationClaim
        let iat: IssuedAtClaim
        let nonce: String
        let email: String
        let email_verified: Bool
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static func json(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(_ code: String, status: HTTPResponse.Status = .badRequest) -> Response {
        json(["error": code], status: status)
    }
}
