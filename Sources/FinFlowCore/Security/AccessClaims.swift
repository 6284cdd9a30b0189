import Foundation
import JWTKit

/// The claims of a FinFlow access token. Services verify them with the auth service's public keys only.
public struct AccessClaims: JWTPayload, Sendable {
    public var iss: IssuerClaim
    public var aud: AudienceClaim
    public var sub: SubjectClaim
    public var exp: ExpirationClaim
    public var iat: IssuedAtClaim
    public var jti: IDClaim
    /// Tenant id.
    public var tid: String
    /// Role names.
    public var roles: [String]
    /// Permissions, `resource:action`.
    public var perms: [String]
    /// Session id (absent for machine clients).
    public var sid: String?

    /// Claims for a new token.
    public init(
        issuer: String, audience: String, subject: String, expiresAt: Date, issuedAt: Date, tokenId: String,
        tenantId: String, roles: [String], permissions: [String], sessionId: String?
    ) {
        self.iss = IssuerClaim(value: issuer)
        self.aud = AudienceClaim(value: [audience])
        self.sub = SubjectClaim(value: subject)
        self.exp = ExpirationClaim(value: expiresAt)
        self.iat = IssuedAtClaim(value: issuedAt)
        self.jti = IDClaim(value: tokenId)
        self.tid = tenantId
        self.roles = roles
        self.perms = permissions
        self.sid = sessionId
    }

    /// Signature checks are done by the key collection; claim checks need the clock and so happen in `TokenVerifier`.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}

    /// The principal these claims describe.
    public var principal: Principal {
        Principal(
            subject: self.sub.value, tenantId: self.tid, roles: self.roles, permissions: Set(self.perms),
            sessionId: self.sid)
    }
}
