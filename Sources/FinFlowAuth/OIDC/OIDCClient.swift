import AsyncHTTPClient
import Crypto
import FinFlowCore
import Foundation
import JWTKit
import NIOCore
import NIOHTTP1

/// The relying-party side of OpenID Connect Core 1.0 for one provider: discovery, the authorization URL with
/// PKCE (RFC 7636, S256), the code exchange, and ID-token checks against the provider's JWKS.
actor OIDCClient {
    struct Configuration: Sendable {
        let issuer: String
        let clientId: String
        let clientSecret: String?
        let redirectURI: String
    }

    struct Discovery: Decodable, Sendable {
        let issuer: String
        let authorization_endpoint: String
        let token_endpoint: String
        let jwks_uri: String
    }

    /// The claims FinFlow reads from an ID token.
    struct IDToken: JWTPayload, Sendable {
        let iss: IssuerClaim
        let sub: SubjectClaim
        let aud: AudienceClaim
        let exp: ExpirationClaim
        let iat: IssuedAtClaim
        let nonce: String?
        let email: String?
        let emailVerified: Bool

        enum CodingKeys: String, CodingKey {
            case iss, sub, aud, exp, iat, nonce, email
            case emailVerified = "email_verified"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.iss = try container.decode(IssuerClaim.self, forKey: .iss)
            self.sub = try container.decode(SubjectClaim.self, forKey: .sub)
            self.aud = try container.decode(AudienceClaim.self, forKey: .aud)
            self.exp = try container.decode(ExpirationClaim.self, forKey: .exp)
            self.iat = try container.decode(IssuedAtClaim.self, forKey: .iat)
            self.nonce = try container.decodeIfPresent(String.self, forKey: .nonce)
            self.email = try container.decodeIfPresent(String.self, forKey: .email)
            // Some providers send the flag as a string.
            if let flag = try? container.decode(Bool.self, forKey: .emailVerified) {
                self.emailVerified = flag
            } else {
                self.emailVerified = (try? container.decode(String.self, forKey: .emailVerified)) == "true"
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.iss, forKey: .iss)
            try container.encode(self.sub, forKey: .sub)
        }

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    let configuration: Configuration
    let clock: any FinFlowClock
    private var discovery: Discovery?
    private var keys: JWTKeyCollection?
    /// Largest provider response read, in bytes.
    static let responseBytesMax = 1 << 20
    static let timeout = TimeAmount.seconds(10)

    init(configuration: Configuration, clock: any FinFlowClock) {
        self.configuration = configuration
        self.clock = clock
    }

    static func unavailable(_ what: String) -> AppError {
        AppError(.unavailable, code: "oidc-unavailable", "the sign-in provider could not be reached (\(what))", retryAfterSeconds: 5)
    }

    /// The provider's metadata, fetched once and checked to name the configured issuer.
    func metadata() async throws -> Discovery {
        if let discovery { return discovery }
        let base = self.configuration.issuer.hasSuffix("/") ? String(self.configuration.issuer.dropLast()) : self.configuration.issuer
        let data = try await Self.get(base + "/.well-known/openid-configuration")
        guard let found = try? JSONDecoder().decode(Discovery.self, from: data) else { throw Self.unavailable("bad discovery document") }
        guard found.issuer == self.configuration.issuer else { throw Self.unavailable("discovery names another issuer") }
        self.discovery = found
        return found
    }

    /// The authorization URL for a request with `state`, `nonce` and the PKCE `verifier`.
    func authorizationURL(state: String, nonce: String, verifier: String) async throws -> String {
        let metadata = try await self.metadata()
        var components = URLComponents(string: metadata.authorization_endpoint)
        let existing = components?.queryItems ?? []
        components?.queryItems = existing + [
            URLQueryItem(name: "response_type", value: "code"),
            URLQueryItem(name: "client_id", value: self.configuration.clientId),
            URLQueryItem(name: "redirect_uri", value: self.configuration.redirectURI),
            URLQueryItem(name: "scope", value: "openid email profile"),
            URLQueryItem(name: "state", value: state),
            URLQueryItem(name: "nonce", value: nonce),
            URLQueryItem(name: "code_challenge", value: Self.challenge(for: verifier)),
            URLQueryItem(name: "code_challenge_method", value: "S256"),
        ]
        guard let url = components?.string else { throw Self.unavailable("bad authorization endpoint") }
        return url
    }

    /// The S256 code challenge of a verifier.
    static func challenge(for verifier: String) -> String {
        Digest.base64URL(Data(SHA256.hash(data: Data(verifier.utf8))))
    }

    /// Exchanges the code and returns the verified ID token's claims.
    func exchange(code: String, verifier: String, nonce: String) async throws -> IDToken {
        let metadata = try await self.metadata()
        var form = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", self.configuration.redirectURI), ("code_verifier", verifier),
        ]
        var request = HTTPClientRequest(url: metadata.token_endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        if let secret = self.configuration.clientSecret {
            // RFC 6749 §2.3.1: each part form-encoded before the Basic encoding.
            let credentials = Data("\(FormEncoding.escape(self.configuration.clientId)):\(FormEncoding.escape(secret))".utf8).base64EncodedString()
            request.headers.add(name: "Authorization", value: "Basic \(credentials)")
        } else {
            form.append(("client_id", self.configuration.clientId))
        }
        request.body = .bytes(ByteBuffer(string: FormEncoding.encode(form)))
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: Self.timeout)
        } catch {
            throw Self.unavailable("token endpoint: \(error)")
        }
        let data = Data(try await response.body.collect(upTo: Self.responseBytesMax).readableBytesView)
        guard response.status == .ok else {
            throw AppError.unauthenticated(code: "oidc-code-rejected", "the sign-in provider refused the code (HTTP \(response.status.code))")
        }
        struct TokenResponse: Decodable { let id_token: String }
        guard let tokens = try? JSONDecoder().decode(TokenResponse.self, from: data) else {
            throw AppError.unauthenticated(code: "oidc-invalid-token", "the sign-in provider sent no ID token")
        }
        return try await self.verify(idToken: tokens.id_token, nonce: nonce, metadata: metadata)
    }

    private func verify(idToken: String, nonce: String, metadata: Discovery) async throws -> IDToken {
        let invalid = AppError.unauthenticated(code: "oidc-invalid-token", "the ID token from the sign-in provider is not valid")
        var claims: IDToken
        do {
            claims = try await self.signingKeys(metadata: metadata, refresh: false).verify(idToken, as: IDToken.self)
        } catch {
            // The provider may have rotated its keys since they were fetched. Keys it cannot serve are its outage
            // (503, try again), not a bad token.
            let keys = try await self.signingKeys(metadata: metadata, refresh: true)
            do { claims = try await keys.verify(idToken, as: IDToken.self) } catch { throw invalid }
        }
        let now = self.clock.now()
        guard claims.iss.value == metadata.issuer, claims.aud.value.contains(self.configuration.clientId),
            claims.exp.value.addingTimeInterval(TokenVerifier.leewaySeconds) > now,
            claims.iat.value <= now.addingTimeInterval(TokenVerifier.leewaySeconds), claims.nonce == nonce
        else { throw invalid }
        return claims
    }

    private func signingKeys(metadata: Discovery, refresh: Bool) async throws -> JWTKeyCollection {
        if let keys, !refresh { return keys }
        let data = try await Self.get(metadata.jwks_uri)
        guard let jwks = try? JSONDecoder().decode(JWKS.self, from: data) else { throw Self.unavailable("bad JWKS") }
        let collection = JWTKeyCollection()
        do { try await collection.add(jwks: jwks) } catch { throw Self.unavailable("unusable JWKS: \(error)") }
        self.keys = collection
        return collection
    }

    static func get(_ url: String) async throws -> Data {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: Self.timeout)
            guard response.status == .ok else { throw Self.unavailable("HTTP \(response.status.code) from \(url)") }
            return Data(try await response.body.collect(upTo: Self.responseBytesMax).readableBytesView)
        } catch let error as AppError {
            throw error
        } catch {
            throw Self.unavailable("\(error)")
        }
    }
}
