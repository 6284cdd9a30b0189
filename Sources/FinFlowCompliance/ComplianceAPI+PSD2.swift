import FinFlowCore
import Foundation
import OpenAPIRuntime

/// PSD2 consents: the provider's side (request, read, terminate, check an access) and the user's (authorise, revoke).
extension ComplianceAPI {
    func createPsd2Consent(_ input: Operations.CreatePsd2Consent.Input) async throws -> Operations.CreatePsd2Consent.Output {
        let tpp = try RequestScope.require("psd2:consents")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let access = Self.access(body.access, into: &validator)
        let today = ComplianceDesk.day(self.desk.now)
        let latest = ComplianceDesk.day(self.desk.now + Int64(ComplianceDesk.psd2ValidityDaysMax) * 86_400_000)
        if Self.isDate(body.validUntil) {
            validator.check(body.validUntil >= today, "validUntil", "must not be in the past")
            validator.check(body.validUntil <= latest, "validUntil", "must be within \(ComplianceDesk.psd2ValidityDaysMax) days (\(latest)); the user authenticates again after that")
        } else {
            validator.fail("validUntil", "must be a date YYYY-MM-DD")
        }
        if body.recurringIndicator {
            validator.check((1...ComplianceDesk.psd2FrequencyMax).contains(body.frequencyPerDay), "frequencyPerDay",
                            "must be 1–\(ComplianceDesk.psd2FrequencyMax): accesses a day without the user present")
        } else {
            validator.check(body.frequencyPerDay == 1, "frequencyPerDay", "must be 1 for a one-off consent")
        }
        let psuId = input.headers.psuId?.trimmingCharacters(in: .whitespaces)
        if let psuId { validator.check((1...200).contains(psuId.count), "PSU-ID", "must be 1–200 characters besides spaces") }
        try validator.throwIfInvalid()
        let row = try await self.desk.requestPSD2Consent(
            .init(access: access, recurringIndicator: body.recurringIndicator, validUntil: body.validUntil, frequencyPerDay: body.frequencyPerDay,
                  combinedServiceIndicator: body.combinedServiceIndicator ?? false, psuId: psuId),
            tpp: tpp)
        let path = "/v1/psd2/consents/\(row.id)"
        return .created(.init(body: .json(.init(
            consentStatus: .received, consentId: row.id,
            _links: .init(_self: .init(href: path), status: .init(href: path + "/status"), scaRedirect: .init(href: path + "/authorisation"))))))
    }

    func getPsd2Consent(_ input: Operations.GetPsd2Consent.Input) async throws -> Operations.GetPsd2Consent.Output {
        let tpp = try RequestScope.require("psd2:consents")
        return .ok(.init(body: .json(self.dto(try await self.desk.psd2Consent(id: input.path.consentId, tpp: tpp)))))
    }

    func getPsd2ConsentStatus(_ input: Operations.GetPsd2ConsentStatus.Input) async throws -> Operations.GetPsd2ConsentStatus.Output {
        let tpp = try RequestScope.require("psd2:consents")
        let row = try await self.desk.psd2Consent(id: input.path.consentId, tpp: tpp)
        return .ok(.init(body: .json(.init(consentStatus: self.status(row)))))
    }

    func terminatePsd2Consent(_ input: Operations.TerminatePsd2Consent.Input) async throws -> Operations.TerminatePsd2Consent.Output {
        let tpp = try RequestScope.require("psd2:consents")
        _ = try await self.desk.psd2Consent(id: input.path.consentId, tpp: tpp)
        _ = try await self.desk.changePSD2Consent(
            tenantId: tpp.tenantId, id: input.path.consentId, from: ["received", "valid"], to: "terminatedByTpp", actor: tpp.subject,
            reason: "terminated by the provider")
        return .noContent(.init())
    }

    func checkPsd2Access(_ input: Operations.CheckPsd2Access.Input) async throws -> Operations.CheckPsd2Access.Output {
        let tpp = try RequestScope.require("psd2:consents")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var iban: String?
        if let raw = body.iban {
            iban = IBAN.normalized(raw)
            if iban == nil { throw AppError.validation([.init(field: "iban", message: "is not an IBAN (its check digits do not hold)")]) }
        }
        let check = try await self.desk.usePSD2Consent(
            id: input.path.consentId, tpp: tpp, kind: body.kind.rawValue, iban: iban, psuPresent: body.psuPresent ?? false)
        return .ok(.init(body: .json(.init(
            allowed: check.allowed, reason: check.reason, usedToday: check.usedToday, allowedToday: check.allowedToday,
            consentStatus: .init(rawValue: check.status) ?? .expired))))
    }

    func authorisePsd2Consent(_ input: Operations.AuthorisePsd2Consent.Input) async throws -> Operations.AuthorisePsd2Consent.Output {
        let psu = try Self.paymentServiceUser()
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let current = try await self.desk.psd2Consent(tenantId: psu.tenantId, id: input.path.consentId)
        if let owner = current.psu_id, owner != psu.subject { throw AppError.notFound("consent") }
        let authorise = body.decision == .authorise
        var codeId: String?
        if authorise {
            // Access to account data is strongly authenticated (RTS article 10): a code of purpose account-access for
            // this consent, from this user.
            guard let code = try await self.desk.env.verifier.verifyAuthenticationCode(header: input.headers.scaAuthenticationCode) else {
                throw AppError.forbidden(
                    code: "sca-required",
                    "authorising this consent needs strong customer authentication: get a code of purpose account-access with payee \(current.id) at POST /v1/auth/sca and send it as the SCA-Authentication-Code header")
            }
            try code.requireAuthorises(psu, purpose: .accountAccess, amountMinor: nil, currency: nil, payee: Payee.key(current.id) ?? current.id)
            codeId = code.codeId
        }
        let row = try await self.desk.changePSD2Consent(
            tenantId: psu.tenantId, id: input.path.consentId, from: ["received"], to: authorise ? "valid" : "rejected", actor: psu.subject,
            reason: authorise ? "authorised by the user with strong customer authentication" : "rejected by the user", psuId: psu.subject,
            codeId: codeId)
        return .ok(.init(body: .json(self.dto(row))))
    }

    func revokePsd2Consent(_ input: Operations.RevokePsd2Consent.Input) async throws -> Operations.RevokePsd2Consent.Output {
        let psu = try Self.paymentServiceUser()
        let current = try await self.desk.psd2Consent(tenantId: psu.tenantId, id: input.path.consentId)
        guard current.psu_id == psu.subject else { throw AppError.notFound("consent") }
        let row = try await self.desk.changePSD2Consent(
            tenantId: psu.tenantId, id: input.path.consentId, from: ["valid"], to: "revokedByPsu", actor: psu.subject, reason: "revoked by the user")
        return .ok(.init(body: .json(self.dto(row))))
    }

    /// The signed-in user (a person, not an API client): only they authorise or revoke consents about themselves. An
    /// API client's token names the client as its own session (so revoking the client ends it); a user's names a
    /// sign-in session of their own.
    static func paymentServiceUser() throws -> Principal {
        let principal = try RequestScope.authenticated()
        guard principal.isSignedInUser else {
            throw AppError.forbidden(code: "user-required", "only the user the consent is about may authorise or revoke it, signed in themselves")
        }
        return principal
    }

    /// The access a request asks for, its IBANs checked.
    static func access(_ access: Components.Schemas.Psd2Access, into validator: inout Validator) -> ComplianceDesk.PSD2Access {
        func ibans(_ references: [Components.Schemas.Psd2AccountReference]?, _ field: String) -> [String]? {
            guard let references else { return nil }
            validator.check(references.count <= ComplianceDesk.psd2AccountsMax, field, "at most \(ComplianceDesk.psd2AccountsMax) accounts")
            return references.enumerated().compactMap { index, reference in
                guard let iban = IBAN.normalized(reference.iban) else {
                    validator.fail("\(field)[\(index)].iban", "is not an IBAN (its check digits do not hold)")
                    return nil
                }
                return iban
            }
        }
        let result = ComplianceDesk.PSD2Access(
            accounts: ibans(access.accounts, "access.accounts"), balances: ibans(access.balances, "access.balances"),
            transactions: ibans(access.transactions, "access.transactions"), availableAccounts: access.availableAccounts?.rawValue,
            allPsd2: access.allPsd2?.rawValue)
        let named = [result.accounts, result.balances, result.transactions].contains { !($0 ?? []).isEmpty }
        validator.check(named || result.availableAccounts != nil || result.allPsd2 != nil, "access",
                        "must name accounts, balances or transactions, or ask for availableAccounts or allPsd2")
        return result
    }

    func status(_ row: PSD2ConsentRow) -> Components.Schemas.Psd2ConsentStatus {
        .init(rawValue: ComplianceDesk.effectiveStatus(row, today: ComplianceDesk.day(self.desk.now))) ?? .expired
    }

    func dto(_ row: PSD2ConsentRow) -> Components.Schemas.Psd2Consent {
        let access = (try? JSONDecoder().decode(ComplianceDesk.PSD2Access.self, from: Data(row.access.utf8))) ?? .init()
        func references(_ ibans: [String]?) -> [Components.Schemas.Psd2AccountReference]? { ibans.map { $0.map { .init(iban: $0) } } }
        return .init(
            consentId: row.id,
            access: .init(
                accounts: references(access.accounts), balances: references(access.balances), transactions: references(access.transactions),
                availableAccounts: access.availableAccounts.flatMap { .init(rawValue: $0) }, allPsd2: access.allPsd2.flatMap { .init(rawValue: $0) }),
            recurringIndicator: row.recurring == 1, validUntil: row.valid_until, frequencyPerDay: row.frequency_per_day, lastActionDate: row.last_action_date,
            consentStatus: self.status(row), combinedServiceIndicator: row.combined_service == 1, psuId: row.psu_id, tppId: row.tpp_id)
    }
}
