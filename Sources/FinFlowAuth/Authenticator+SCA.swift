import FinFlowCore
import Foundation
import SQLKit

/// What a payer asks to authenticate.
struct TransactionAuthenticationRequest: Sendable {
    let purpose: AuthenticationCodeClaims.Purpose
    let amountMinor: Int64?
    let currency: String?
    let payee: String
}

extension Authenticator {
    /// Strong customer authentication of one payment: checks a current TOTP code of the signed-in user (a recovery code
    /// is a fallback for signing in, not a factor bound to a payment) and signs an authentication code bound to the
    /// amount, currency and payee. A wrong code counts towards the account's lockout; a locked account is refused.
    func authenticateTransaction(principal: Principal, request: TransactionAuthenticationRequest, code: String) async throws
        -> (code: String, claims: AuthenticationCodeClaims)
    {
        // Machine clients have no second factor: only a person's session can authenticate a payment.
        guard principal.isSignedInUser,
            let user = try await self.database.read({ db in try await self.store.user(id: principal.subject, on: db) })
        else { throw AppError.forbidden(code: "sca-needs-a-user", "only a signed-in user can authenticate a payment") }
        guard user.mfaEnabled, let secret = user.totp_secret else {
            throw AppError.conflict(code: "mfa-not-enabled", "enrol TOTP first (POST /v1/auth/mfa/totp/enroll)")
        }
        let now = self.clock.nowMillis()
        if let lockedUntil = user.locked_until_ms, lockedUntil > now {
            throw AppError(.locked, code: "account-locked", "the account is locked after repeated failed attempts",
                           retryAfterSeconds: Int((lockedUntil - now + 999) / 1000))
        }
        var details = ["purpose": request.purpose.rawValue, "payee": request.payee]
        if let amount = request.amountMinor, let currency = request.currency {
            details["amount"] = String(amount)
            details["currency"] = currency
        }
        // A code is accepted once (RFC 6238 §5.2), here as at sign-in: its step must be newer than the last one used.
        var accepted = false
        if let step = self.totpStep(secret: secret, code: code) {
            accepted = try await self.database.transaction { db in
                try await db.raw("""
                    UPDATE users SET totp_last_step = \(bind: step) WHERE id = \(bind: user.id) AND totp_last_step < \(bind: step)
                    RETURNING id
                    """).first() != nil
            }
        }
        guard accepted else {
            try await self.registerFailure(user: user)
            try await self.recordAudit(tenantId: principal.tenantId, actor: user.id, action: "auth.sca", target: user.id,
                                       outcome: "failure", details: details)
            throw AppError.invalid(code: "invalid-mfa-code", "the code is wrong or was used already",
                                   fields: [.init(field: "code", message: "is wrong or was used already")])
        }
        let claims = AuthenticationCodeClaims(
            issuer: self.settings.tokenIssuer, subject: user.id, tenantId: principal.tenantId, purpose: request.purpose,
            amountMinor: request.amountMinor, currency: request.currency, payee: request.payee, factor: "totp",
            issuedAt: Date(unixMillis: now), tokenId: self.env.ids.nextString())
        details["codeId"] = claims.codeId
        try await self.recordAudit(tenantId: principal.tenantId, actor: user.id, action: "auth.sca", target: user.id, details: details)
        return (try await self.keys.sign(claims), claims)
    }
}
