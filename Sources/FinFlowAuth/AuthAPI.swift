import FinFlowCore
import Foundation
import OpenAPIRuntime

/// The auth service's HTTP contract (generated from `openapi.yaml`) implemented: decode, call a use case, map.
struct AuthAPI: APIProtocol {
    let auth: Authenticator

    func getJWKS(_ input: Operations.GetJWKS.Input) async throws -> Operations.GetJWKS.Output {
        let keys = await self.auth.keys.publicKeyList().map { key in
            Components.Schemas.Jwk(kty: "OKP", kid: key.kid, use: "sig", alg: "EdDSA", crv: "Ed25519", x: key.x)
        }
        return .ok(.init(body: .json(.init(keys: keys))))
    }

    func register(_ input: Operations.Register.Input) async throws -> Operations.Register.Output {
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let user = try await self.auth.register(
            email: body.email, password: body.password, displayName: body.displayName,
            organizationName: body.organizationName)
        // A taken email gets the same answer, with an id that names no account.
        let userId = user?.id ?? self.auth.env.ids.nextString()
        let email = user?.email ?? EmailAddress.normalized(body.email) ?? body.email
        return .created(.init(body: .json(.init(userId: userId, email: email, emailVerified: false))))
    }

    func verifyEmail(_ input: Operations.VerifyEmail.Input) async throws -> Operations.VerifyEmail.Output {
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        try await self.auth.verifyEmail(token: body.token)
        return .noContent(.init())
    }

    func login(_ input: Operations.Login.Input) async throws -> Operations.Login.Output {
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        if let tenantId = body.tenantId { try Self.requireUUID(tenantId, field: "tenantId") }
        let result = try await self.auth.signIn(email: body.email, password: body.password, tenantId: body.tenantId)
        return .ok(.init(body: .json(Self.loginResult(result))))
    }

    /// The wire form of a sign-in outcome.
    static func loginResult(_ result: SignInResult) -> Components.Schemas.LoginResult {
        switch result {
        case .authenticated(let tokens):
            .init(status: tokens.mfaEnrollmentRequired ? .mfaEnrollmentRequired : .authenticated, tokens: Self.pair(tokens))
        case .mfaRequired(let challenge):
            .init(status: .mfaRequired, mfaToken: challenge)
        }
    }

    func loginMfa(_ input: Operations.LoginMfa.Input) async throws -> Operations.LoginMfa.Output {
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let tokens = try await self.auth.completeMfa(challenge: body.mfaToken, code: body.code)
        return .ok(.init(body: .json(Self.pair(tokens))))
    }

    func refreshToken(_ input: Operations.RefreshToken.Input) async throws -> Operations.RefreshToken.Output {
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        return .ok(.init(body: .json(Self.pair(try await self.auth.refresh(token: body.refreshToken)))))
    }

    func switchTenant(_ input: Operations.SwitchTenant.Input) async throws -> Operations.SwitchTenant.Output {
        let principal = try RequestScope.authenticated()
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        try Self.requireUUID(body.tenantId, field: "tenantId")
        return .ok(.init(body: .json(Self.pair(try await self.auth.switchTenant(principal: principal, tenantId: body.tenantId)))))
    }

    func logout(_ input: Operations.Logout.Input) async throws -> Operations.Logout.Output {
        let principal = try RequestScope.authenticated()
        if let sessionId = principal.sessionId {
            try await self.auth.revoke(sessionId: sessionId, userId: principal.subject, reason: "logout")
        }
        return .noContent(.init())
    }

    func getMe(_ input: Operations.GetMe.Input) async throws -> Operations.GetMe.Output {
        let principal = try RequestScope.authenticated()
        guard let user = try await self.auth.profile(userId: principal.subject) else { throw AppError.unauthenticated() }
        return .ok(.init(body: .json(.init(
            userId: user.id, email: user.email, displayName: user.display_name,
            emailVerified: user.email_verified_at_ms != nil, mfaEnabled: user.mfaEnabled, tenantId: principal.tenantId,
            roles: principal.roles, permissions: principal.permissions.sorted(), sessionId: principal.sessionId ?? ""))))
    }

    func listSessions(_ input: Operations.ListSessions.Input) async throws -> Operations.ListSessions.Output {
        let principal = try RequestScope.authenticated()
        let sessions = try await self.auth.sessions(userId: principal.subject)
        return .ok(.init(body: .json(.init(items: sessions.map { session in
            .init(
                id: session.id, tenantId: session.tenant_id, createdAt: Date(unixMillis: session.created_at_ms),
                lastUsedAt: Date(unixMillis: session.last_used_at_ms), userAgent: session.user_agent,
                clientAddress: session.client_address, current: session.id == principal.sessionId)
        }))))
    }

    func revokeOtherSessions(_ input: Operations.RevokeOtherSessions.Input) async throws
        -> Operations.RevokeOtherSessions.Output
    {
        let principal = try RequestScope.authenticated()
        let count = try await self.auth.revokeAll(userId: principal.subject, except: principal.sessionId, reason: "revoked-by-user")
        return .ok(.init(body: .json(.init(revoked: count))))
    }

    func revokeSession(_ input: Operations.RevokeSession.Input) async throws -> Operations.RevokeSession.Output {
        let principal = try RequestScope.authenticated()
        try Self.requireUUID(input.path.sessionId, field: "sessionId")
        try await self.auth.revoke(sessionId: input.path.sessionId, userId: principal.subject, reason: "revoked-by-user")
        return .noContent(.init())
    }

    func changePassword(_ input: Operations.ChangePassword.Input) async throws -> Operations.ChangePassword.Output {
        let principal = try RequestScope.authenticated()
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        try await self.auth.changePassword(principal: principal, current: body.currentPassword, new: body.newPassword)
        return .noContent(.init())
    }

    func forgotPassword(_ input: Operations.ForgotPassword.Input) async throws -> Operations.ForgotPassword.Output {
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        try await self.auth.forgotPassword(email: body.email)
        return .accepted(.init())
    }

    func resetPassword(_ input: Operations.ResetPassword.Input) async throws -> Operations.ResetPassword.Output {
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        try await self.auth.resetPassword(token: body.token, new: body.newPassword)
        return .noContent(.init())
    }

    func enrollTotp(_ input: Operations.EnrollTotp.Input) async throws -> Operations.EnrollTotp.Output {
        let principal = try RequestScope.authenticated()
        let enrollment = try await self.auth.enrollTotp(principal: principal)
        return .ok(.init(body: .json(.init(secret: enrollment.secret, otpauthUri: enrollment.uri))))
    }

    func confirmTotp(_ input: Operations.ConfirmTotp.Input) async throws -> Operations.ConfirmTotp.Output {
        let principal = try RequestScope.authenticated()
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let codes = try await self.auth.confirmTotp(principal: principal, code: body.code)
        return .ok(.init(body: .json(.init(recoveryCodes: codes))))
    }

    func disableTotp(_ input: Operations.DisableTotp.Input) async throws -> Operations.DisableTotp.Output {
        let principal = try RequestScope.authenticated()
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        try await self.auth.disableTotp(principal: principal, password: body.password, code: body.code)
        return .noContent(.init())
    }

    func authenticateTransaction(_ input: Operations.AuthenticateTransaction.Input) async throws
        -> Operations.AuthenticateTransaction.Output
    {
        let principal = try RequestScope.authenticated()
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let purpose = AuthenticationCodeClaims.Purpose(rawValue: body.purpose.rawValue) ?? .payment
        let payee = Payee.key(body.payee)
        validator.check(payee != nil, "payee", "must be 1–\(Payee.lengthMax) characters without control characters")
        validator.check(body.code.count <= 16, "code", "must be at most 16 characters")
        var currency: String?
        switch purpose {
        case .payment, .paymentInitiation:
            validator.check(body.amount.map { $0 > 0 } ?? false, "amount", "must be a positive number of minor units")
            if let code = body.currency, let known = Currency(code: code.uppercased()), known.exponent != nil {
                currency = known.code
            } else {
                validator.fail("currency", "must be an ISO 4217 code with a minor unit")
            }
        case .trustedBeneficiary, .accountAccess:
            validator.check(body.amount == nil, "amount", "is for a payment, not a \(purpose.rawValue)")
            validator.check(body.currency == nil, "currency", "is for a payment, not a \(purpose.rawValue)")
        }
        try validator.throwIfInvalid()
        let (code, claims) = try await self.auth.authenticateTransaction(
            principal: principal,
            request: TransactionAuthenticationRequest(
                purpose: purpose, amountMinor: purpose.isPayment ? body.amount : nil, currency: currency, payee: payee!),
            code: body.code)
        return .created(.init(body: .json(.init(
            authenticationCode: code, purpose: .init(rawValue: claims.purpose.rawValue)!, amount: claims.amt, currency: claims.cur,
            payee: claims.payee, expiresAt: claims.expiresAt))))
    }

    func listRoles(_ input: Operations.ListRoles.Input) async throws -> Operations.ListRoles.Output {
        _ = try RequestScope.authenticated()
        return .ok(.init(body: .json(.init(items: Roles.builtIn.map {
            .init(name: $0.name, description: $0.description, permissions: $0.permissions)
        }))))
    }

    static func pair(_ tokens: IssuedTokens) -> Components.Schemas.TokenPair {
        .init(
            accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, tokenType: .bearer,
            expiresIn: tokens.expiresInSeconds, tenantId: tokens.tenantId, sessionId: tokens.sessionId)
    }

    static func requireUUID(_ value: String, field: String) throws {
        guard UUID(uuidString: value) != nil else {
            throw AppError.validation([.init(field: field, message: "is not a UUID")])
        }
    }
}

extension AuthAPI {
    func issueClientToken(_ input: Operations.IssueClientToken.Input) async throws -> Operations.IssueClientToken.Output {
        guard case .urlEncodedForm(let form) = input.body else { throw AppError.invalid("expected a form body") }
        var clientId = form.clientId
        var secret = form.clientSecret
        if clientId == nil, let basic = Self.basicCredentials() {
            (clientId, secret) = (basic.0, basic.1)
        }
        let issued = try await self.auth.clientToken(
            grantType: form.grantType, clientId: clientId, secret: secret, scope: form.scope)
        return .ok(.init(body: .json(.init(
            accessToken: issued.token, tokenType: .bearer, expiresIn: self.auth.settings.accessTokenTTLSeconds,
            scope: issued.scopes.joined(separator: " ")))))
    }

    /// HTTP Basic client credentials (RFC 6749 §2.3.1), from the request scope's Authorization header.
    static func basicCredentials() -> (String, String)? {
        guard let header = RequestScope.current?.authorization, header.lowercased().hasPrefix("basic "),
            let data = Data(base64Encoded: String(header.dropFirst(6))), let text = String(data: data, encoding: .utf8),
            let colon = text.firstIndex(of: ":")
        else { return nil }
        let decode = { (part: Substring) in String(part).removingPercentEncoding ?? String(part) }
        return (decode(text[..<colon]), decode(text[text.index(after: colon)...]))
    }

    func createClient(_ input: Operations.CreateClient.Input) async throws -> Operations.CreateClient.Output {
        let principal = try RequestScope.require("clients:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let created = try await self.auth.createClient(principal: principal, name: body.name, scopes: body.scopes)
        return .created(.init(body: .json(.init(
            clientId: created.client.id, clientSecret: created.secret, name: created.client.name,
            scopes: created.client.scopeList, createdAt: Date(unixMillis: created.client.created_at_ms)))))
    }

    func listClients(_ input: Operations.ListClients.Input) async throws -> Operations.ListClients.Output {
        let principal = try RequestScope.require("clients:manage")
        let clients = try await self.auth.clients(principal: principal)
        return .ok(.init(body: .json(.init(items: clients.map {
            .init(clientId: $0.id, name: $0.name, scopes: $0.scopeList, createdAt: Date(unixMillis: $0.created_at_ms))
        }))))
    }

    func revokeClient(_ input: Operations.RevokeClient.Input) async throws -> Operations.RevokeClient.Output {
        let principal = try RequestScope.require("clients:manage")
        try Self.requireUUID(input.path.clientId, field: "clientId")
        try await self.auth.revokeClient(principal: principal, clientId: input.path.clientId)
        return .noContent(.init())
    }
}

extension AuthAPI {
    func startOidcSignIn(_ input: Operations.StartOidcSignIn.Input) async throws -> Operations.StartOidcSignIn.Output {
        let started = try await self.auth.startOidc()
        return .ok(.init(body: .json(.init(authorizationUrl: started.url, state: started.state))))
    }

    func completeOidcSignIn(_ input: Operations.CompleteOidcSignIn.Input) async throws -> Operations.CompleteOidcSignIn.Output {
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let result = try await self.auth.completeOidc(code: body.code, state: body.state)
        return .ok(.init(body: .json(Self.loginResult(result))))
    }
}
