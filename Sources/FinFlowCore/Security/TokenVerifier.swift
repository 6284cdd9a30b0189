import Foundation
import JWTKit
import Synchronization

/// Verifies access tokens against a set of public keys (a JWKS), with issuer, audience and expiry checks against
/// the injected clock. Holds public keys only, so any service in any process can verify without calling auth.
public final class TokenVerifier: Sendable {
    private let keys: Mutex<JWTKeyCollection>
    private let issuer: String
    private let audience: String
    private let clock: any FinFlowClock
    private let revocations: RevocationList
    /// Tokens whose signature has been checked, so a busy client's token is verified once, not per request.
    /// Expiry, revocation and suspension are still checked on every request.
    private let verified = Mutex<[String: AccessClaims]>([:])
    /// The most verified tokens remembered; the memory is cleared when it fills.
    public static let verifiedTokensMax = 10_000
    /// Seconds of clock skew tolerated on `exp`.
    public static let leewaySeconds: TimeInterval = 30

    /// A verifier expecting tokens from `issuer` for `audience`.
    public init(issuer: String, audience: String, clock: any FinFlowClock, revocations: RevocationList) {
        self.keys = Mutex(JWTKeyCollection())
        self.issuer = issuer
        self.audience = audience
        self.clock = clock
        self.revocations = revocations
    }

    /// The keys trusted now.
    func keyCollection() -> JWTKeyCollection { self.keys.withLock { $0 } }
    /// The issuer tokens must name.
    var expectedIssuer: String { self.issuer }
    /// The injected clock's now.
    func now() -> Date { self.clock.now() }

    /// Replaces the trusted keys with those of a JWKS document.
    public func trust(jwks: JWKS) async throws {
        let collection = JWTKeyCollection()
        try await collection.add(jwks: jwks)
        self.keys.withLock { $0 = collection }
        // A key may have gone: tokens must be checked again against the new set.
        self.verified.withLock { $0.removeAll() }
    }

    /// The principal of a valid token; a 401 problem for any failure, without saying which check failed.
    public func verify(_ token: String) async throws -> Principal {
        let claims: AccessClaims
        if let known = self.verified.withLock({ $0[token] }) {
            claims = known
        } else {
            let collection = self.keys.withLock { $0 }
            do {
                claims = try await collection.verify(token, as: AccessClaims.self)
            } catch {
                throw AppError.unauthenticated(code: "invalid-token", "the access token is invalid")
            }
            if claims.iss.value == self.issuer, claims.aud.value.contains(self.audience) {
                self.verified.withLock { cache in
                    if cache.count >= Self.verifiedTokensMax { cache.removeAll(keepingCapacity: true) }
                    cache[token] = claims
                }
            }
        }
        let now = self.clock.now()
        guard claims.iss.value == self.issuer, claims.aud.value.contains(self.audience),
            claims.exp.value.addingTimeInterval(Self.leewaySeconds) > now,
            claims.iat.value <= now.addingTimeInterval(Self.leewaySeconds)
        else {
            throw AppError.unauthenticated(code: "invalid-token", "the access token is invalid or expired")
        }
        if self.revocations.isTenantSuspended(claims.tid) {
            throw AppError.forbidden(code: "tenant-suspended", "the tenant of this token is suspended")
        }
        if let sessionId = claims.sid, self.revocations.isSessionRevoked(sessionId, at: now) {
            throw AppError.unauthenticated(code: "session-revoked", "the session of this token has ended")
        }
        return claims.principal
    }
}

/// Sessions ended and tenants suspended, learnt from events, so tokens already issued stop working at once in
/// every process instead of at their expiry.
public final class RevocationList: Sendable {
    private struct State {
        var revokedSessions: [String: Date] = [:]
        var suspendedTenants: Set<String> = []
    }

    private let state = Mutex(State())
    /// How long a revoked session is remembered: longer than any access token lives.
    public let sessionMemorySeconds: TimeInterval
    /// Upper bound on remembered sessions; the oldest are forgotten first.
    public static let revokedSessionsMax = 100_000

    /// A list that remembers revoked sessions for `sessionMemorySeconds`.
    public init(sessionMemorySeconds: TimeInterval) {
        self.sessionMemorySeconds = sessionMemorySeconds
    }

    /// Records that `sessionId` ended at `at`.
    public func revokeSession(_ sessionId: String, at: Date) {
        self.state.withLock { state in
            state.revokedSessions[sessionId] = at.addingTimeInterval(self.sessionMemorySeconds)
            if state.revokedSessions.count > Self.revokedSessionsMax {
                let cutoff = state.revokedSessions.values.sorted()[state.revokedSessions.count / 2]
                state.revokedSessions = state.revokedSessions.filter { $0.value > cutoff }
            }
        }
    }

    /// Whether `sessionId` was revoked (and is still remembered) at `now`.
    public func isSessionRevoked(_ sessionId: String, at now: Date) -> Bool {
        self.state.withLock { state in
            guard let until = state.revokedSessions[sessionId] else { return false }
            if until < now {
                state.revokedSessions[sessionId] = nil
                return false
            }
            return true
        }
    }

    /// Marks a tenant suspended or active.
    public func setTenant(_ tenantId: String, suspended: Bool) {
        self.state.withLock { state in
            if suspended { state.suspendedTenants.insert(tenantId) } else { state.suspendedTenants.remove(tenantId) }
        }
    }

    /// Whether the tenant is suspended.
    public func isTenantSuspended(_ tenantId: String) -> Bool {
        self.state.withLock { $0.suspendedTenants.contains(tenantId) }
    }
}

/// The access token a response that outlives its request (a live feed) was opened with, checked again while it goes
/// on: once the token expires, its session ends or its tenant is suspended, the response ends as a new request with
/// the token would be refused.
public struct TokenWatch: Sendable {
    let verifier: TokenVerifier
    let token: String

    public init(verifier: TokenVerifier, token: String) {
        self.verifier = verifier
        self.token = token
    }

    /// Nil while the token holds; otherwise the refusal a request with it would get now.
    public func lapse() async -> AppError? {
        do {
            _ = try await self.verifier.verify(self.token)
            return nil
        } catch let error as AppError {
            return error
        } catch {
            return AppError.unauthenticated(code: "invalid-token", "the access token is invalid")
        }
    }
}
