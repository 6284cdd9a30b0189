import AsyncHTTPClient
import FinFlowCore
import Foundation
import NIOCore
import NIOHTTP1

/// What a provider's token endpoint hands back.
struct ProviderTokens: Sendable, Equatable {
    let accessToken: String
    let refreshToken: String
    /// Seconds the access token lives (QuickBooks 3,600, Xero 1,800).
    let accessExpiresIn: Int64
    /// Seconds the refresh token lives, where the provider says (QuickBooks' `x_refresh_token_expires_in`).
    let refreshExpiresIn: Int64?
}

/// A Xero organisation a grant reaches (`GET /connections`).
struct ProviderOrganisation: Sendable, Equatable, Codable {
    let id: String
    let name: String
}

/// Why a token call did not give tokens.
enum ProviderTokenFailure: Error, Sendable {
    /// The grant is gone: the code or refresh token was refused (`invalid_grant`: revoked, expired, used up). Only the
    /// user can mend it, by authorising again.
    case refused(String)
}

/// The OAuth 2.0 leg at a provider: codes and refresh tokens exchanged for tokens, grants revoked, and (Xero) the
/// organisations a grant reaches. Client authentication is HTTP Basic with the app's id and secret, as both providers
/// take it. A network failure, a 5xx or a 429 is tried again with backoff (at least the `Retry-After` asked, at most
/// 10 s), then reported as unavailable; the provider's refusal of the grant is `ProviderTokenFailure.refused`.
struct ProviderOAuth: Sendable {
    let registration: ProviderRegistration
    let client: HTTPClient
    var backoff = Backoff(baseMillis: 250, capMillis: 4_000, attemptsMax: 3)
    var timeout: TimeAmount = .seconds(15)

    /// Exchanges the code the provider sent to `redirectURI` (with the PKCE verifier, where one was sent).
    func exchange(code: String, redirectURI: String, verifier: String?) async throws -> ProviderTokens {
        var form = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI)]
        if let verifier { form.append(("code_verifier", verifier)) }
        return try await self.tokens(form)
    }

    /// Uses `refreshToken` for new tokens. Both providers may hand back a new refresh token: the caller stores it.
    func refresh(_ refreshToken: String) async throws -> ProviderTokens {
        try await self.tokens([("grant_type", "refresh_token"), ("refresh_token", refreshToken)])
    }

    /// Revokes the grant `refreshToken` belongs to (the user's consent is withdrawn at the provider).
    func revoke(_ refreshToken: String) async throws {
        var request = self.request(self.registration.revokeURL)
        switch self.registration.provider {
        case .quickbooks:
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(["token": refreshToken])))
        case .xero:
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: FormEncoding.encode([("token", refreshToken)])))
        }
        let (status, body) = try await self.send(request)
        guard (200..<300).contains(status) else {
            throw AppError(.unavailable, code: "provider-refused", "\(self.registration.provider.title) refused to revoke the grant: \(Self.excerpt(body))")
        }
    }

    /// The Xero organisations the access token reaches.
    func organisations(accessToken: String) async throws -> [ProviderOrganisation] {
        struct Connection: Decodable { let tenantId: String; let tenantName: String?; let tenantType: String? }
        var request = HTTPClientRequest(url: self.registration.apiURL + "/connections")
        request.headers.add(name: "Authorization", value: "Bearer \(accessToken)")
        request.headers.add(name: "Accept", value: "application/json")
        let (status, body) = try await self.send(request)
        guard (200..<300).contains(status) else {
            throw AppError(.unavailable, code: "provider-refused", "Xero did not list the organisations: HTTP \(status) \(Self.excerpt(body))")
        }
        guard let connections = try? JSONDecoder().decode([Connection].self, from: body) else {
            throw AppError(.unavailable, code: "provider-answer-unreadable", "Xero's list of organisations could not be read")
        }
        return connections.filter { ($0.tenantType ?? "ORGANISATION") == "ORGANISATION" }
            .map { ProviderOrganisation(id: $0.tenantId, name: $0.tenantName ?? $0.tenantId) }
    }

    private func tokens(_ form: [(String, String)]) async throws -> ProviderTokens {
        struct Answer: Decodable {
            let access_token: String
            let refresh_token: String?
            let expires_in: Int64?
            let x_refresh_token_expires_in: Int64?
        }
        struct Refusal: Decodable { let error: String; let error_description: String? }
        var request = self.request(self.registration.tokenURL)
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: FormEncoding.encode(form)))
        let (status, body) = try await self.send(request)
        let title = self.registration.provider.title
        if (200..<300).contains(status) {
            guard let answer = try? JSONDecoder().decode(Answer.self, from: body), !answer.access_token.isEmpty,
                let refresh = answer.refresh_token, !refresh.isEmpty
            else {
                throw AppError(.unavailable, code: "provider-answer-unreadable", "\(title)'s token answer could not be read (or held no refresh token)")
            }
            // Lifetimes are the provider's word, held within sense before they become timestamps: an answer of any
            // size never overflows the arithmetic that follows.
            return ProviderTokens(
                accessToken: answer.access_token, refreshToken: refresh, accessExpiresIn: min(max(60, answer.expires_in ?? 1_800), 86_400),
                refreshExpiresIn: answer.x_refresh_token_expires_in.map { min(max(0, $0), 10 * 366 * 86_400) })
        }
        let refusal = try? JSONDecoder().decode(Refusal.self, from: body)
        if status == 400, let refusal, refusal.error == "invalid_grant" {
            throw ProviderTokenFailure.refused("\(title) refused the grant: \(refusal.error_description ?? refusal.error)")
        }
        if status == 400 || status == 401, refusal?.error == "invalid_client" || status == 401 {
            throw AppError(
                .unavailable, code: "provider-app-refused",
                "\(title) refused FinFlow's app credentials (\(self.registration.provider.settingNames.clientId) and its secret)")
        }
        throw AppError(.unavailable, code: "provider-refused", "\(title)'s token endpoint answered HTTP \(status): \(Self.excerpt(body))")
    }

    private func request(_ url: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        let basic = Data("\(self.registration.clientId):\(self.registration.clientSecret)".utf8).base64EncodedString()
        request.headers.add(name: "Authorization", value: "Basic \(basic)")
        request.headers.add(name: "Accept", value: "application/json")
        return request
    }

    /// Sends `request`, again after a pause while the network fails or the provider answers 429 or 5xx.
    private func send(_ request: HTTPClientRequest) async throws -> (Int, Data) {
        var generator = SystemRandomNumberGenerator()
        var attempt = 1
        while true {
            var problem: String
            var retryAfterMillis = 0
            do {
                let response = try await self.client.execute(request, timeout: self.timeout)
                let body = Data(try await response.body.collect(upTo: 1 << 20).readableBytesView)
                let status = Int(response.status.code)
                guard status == 429 || status >= 500 else { return (status, body) }
                problem = "HTTP \(status)"
                retryAfterMillis = min(10, Int(response.headers.first(name: "Retry-After") ?? "") ?? 0) * 1_000
            } catch {
                problem = "\(error)"
            }
            guard attempt < self.backoff.attemptsMax else {
                throw AppError(
                    .unavailable, code: "provider-unavailable",
                    "\(self.registration.provider.title) could not be reached (\(problem)); try again shortly")
            }
            attempt += 1
            let pause = max(retryAfterMillis, self.backoff.pauseMillis(beforeAttempt: attempt, using: &generator))
            try await Task.sleep(for: .milliseconds(pause))
        }
    }

    static func excerpt(_ body: Data) -> String { String(decoding: body.prefix(300), as: UTF8.self) }
}
