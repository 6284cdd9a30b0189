import Foundation
import JWTKit

/// Strong customer authentication (PSD2 article 97, the RTS of Delegated Regulation (EU) 2018/389): the proof that a
/// payer passed a second factor for one payment. The auth service checks the factor and signs these claims with its
/// token keys; the payments service verifies them with the same public keys (`TokenVerifier`), so neither imports the
/// other. The code is bound to the amount, the currency and the payee (dynamic linking, RTS article 5): changing any of
/// them makes it worthless. Its `jti` is spent when used, so it authorises one payment.
public struct AuthenticationCodeClaims: JWTPayload, Sendable, Equatable {
    /// What the code authorises.
    public enum Purpose: String, Codable, Sendable, CaseIterable {
        /// One payment of `amt` `cur` to `payee` through the payments service.
        case payment
        /// A PSD2 payment initiation (one-off or a standing order) of `amt` `cur` to the creditor IBAN `payee`, which a
        /// third-party provider submitted: a code of its own, so one authentication is never spent in two services.
        case paymentInitiation = "payment-initiation"
        /// Adding `payee` to the payer's trusted beneficiaries (RTS article 13 asks for authentication to change the list).
        case trustedBeneficiary = "trusted-beneficiary"
        /// Authorising the account-information consent whose id is `payee` (RTS article 10: access to account data is
        /// authenticated).
        case accountAccess = "account-access"

        /// Whether the purpose is a payment, bound to an amount and currency.
        public var isPayment: Bool { self == .payment || self == .paymentInitiation }
    }

    /// The audience of authentication codes: never the API's, so a code is not an access token and an access token is
    /// not a code.
    public static let audience = "urn:finflow:sca"
    /// How long a code stays usable after the factor was checked.
    public static let lifetimeSeconds: TimeInterval = 300

    public var iss: IssuerClaim
    public var aud: AudienceClaim
    /// The payer: the user who passed the factor.
    public var sub: SubjectClaim
    public var exp: ExpirationClaim
    public var iat: IssuedAtClaim
    /// Spent on use.
    public var jti: IDClaim
    /// The payer's tenant.
    public var tid: String
    public var purpose: Purpose
    /// The amount in minor units (payments only).
    public var amt: Int64?
    /// The ISO 4217 currency (payments only).
    public var cur: String?
    /// The payee as `Payee.key` normalises it.
    public var payee: String
    /// The factor checked: `totp`.
    public var factor: String

    public init(
        issuer: String, subject: String, tenantId: String, purpose: Purpose, amountMinor: Int64?, currency: String?, payee: String,
        factor: String, issuedAt: Date, tokenId: String
    ) {
        self.iss = IssuerClaim(value: issuer)
        self.aud = AudienceClaim(value: [Self.audience])
        self.sub = SubjectClaim(value: subject)
        self.exp = ExpirationClaim(value: issuedAt.addingTimeInterval(Self.lifetimeSeconds))
        self.iat = IssuedAtClaim(value: issuedAt)
        self.jti = IDClaim(value: tokenId)
        self.tid = tenantId
        self.purpose = purpose
        self.amt = amountMinor
        self.cur = currency
        self.payee = payee
        self.factor = factor
    }

    /// The code's id, spent on use.
    public var codeId: String { self.jti.value }
    /// The user who passed the factor.
    public var payer: String { self.sub.value }
    /// When the code stops being usable.
    public var expiresAt: Date { self.exp.value }

    /// Throws `sca-code-mismatch` unless the code authorises `principal`'s `purpose` for exactly this amount, currency
    /// and payee (amount and currency nil for purposes that are not payments).
    public func requireAuthorises(_ principal: Principal, purpose: Purpose, amountMinor: Int64?, currency: String?, payee: String) throws {
        guard self.payer == principal.subject, self.tid == principal.tenantId else {
            throw AppError.forbidden(code: "sca-code-mismatch", "the authentication code was issued to another user")
        }
        guard self.purpose == purpose else {
            throw AppError.forbidden(code: "sca-code-mismatch", "the authentication code is for a \(self.purpose.rawValue), not a \(purpose.rawValue)")
        }
        guard self.amt == amountMinor, self.cur == currency, self.payee == payee else {
            let what = self.amt.map { "\($0) \(self.cur ?? "") minor units to \(self.payee)" } ?? self.payee
            throw AppError.forbidden(code: "sca-code-mismatch", "the authentication code is for another amount or payee: it authorises \(what)")
        }
    }

    /// Claim checks need the clock and so happen in `TokenVerifier.verifyAuthenticationCode`.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Who a payment goes to, as the authentication code and the exemption lists compare it.
public enum Payee {
    /// The longest payee identifier accepted.
    public static let lengthMax = 140

    /// An IBAN in its compact capital form; any other identifier trimmed, inner whitespace collapsed, in capitals. Nil
    /// when empty, too long or holding control characters.
    public static func key(_ text: String) -> String? {
        if let iban = IBAN.normalized(text) { return iban }
        let words = text.split(whereSeparator: { $0.isWhitespace })
        let key = words.joined(separator: " ").uppercased()
        guard (1...Self.lengthMax).contains(key.count), !key.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { return nil }
        return key
    }
}

extension TokenVerifier {
    /// The longest authentication code read.
    public static let authenticationCodeLengthMax = 4_096

    /// The claims of the authentication code in an `SCA-Authentication-Code` header, nil when none was sent.
    public func verifyAuthenticationCode(header: String?) async throws -> AuthenticationCodeClaims? {
        guard let header else { return nil }
        return try await self.verifyAuthenticationCode(header)
    }

    /// The claims of a valid authentication code; a 403 problem when it is not one (too long, bad signature, another
    /// issuer or audience, expired).
    public func verifyAuthenticationCode(_ code: String) async throws -> AuthenticationCodeClaims {
        guard code.utf8.count <= Self.authenticationCodeLengthMax else {
            throw AppError.forbidden(code: "sca-code-invalid", "the authentication code is invalid")
        }
        let claims: AuthenticationCodeClaims
        do {
            claims = try await self.keyCollection().verify(code, as: AuthenticationCodeClaims.self)
        } catch {
            throw AppError.forbidden(code: "sca-code-invalid", "the authentication code is invalid")
        }
        let now = self.now()
        guard claims.iss.value == self.expectedIssuer, claims.aud.value.contains(AuthenticationCodeClaims.audience),
            claims.exp.value > now, claims.iat.value <= now.addingTimeInterval(Self.leewaySeconds)
        else {
            throw AppError.forbidden(code: "sca-code-invalid", "the authentication code is invalid or expired")
        }
        return claims
    }
}
