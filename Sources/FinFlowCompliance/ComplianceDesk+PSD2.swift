import FinFlowCore
import Foundation
import SQLKit

/// A PSD2 consent as kept.
struct PSD2ConsentRow: Decodable, Sendable {
    let id: String
    let tenant_id: String
    let tpp_id: String
    let psu_id: String?
    let access: String
    let recurring: Int
    let valid_until: String
    let frequency_per_day: Int
    let combined_service: Int
    let status: String
    let status_reason: String?
    let created_at_ms: Int64
    let status_changed_at_ms: Int64
    let last_action_date: String
}

/// PSD2 account-information consents in the Berlin Group's NextGenPSD2 shape: a third-party provider (an API client of
/// the tenant with `psd2:consents`) asks for access to accounts, balances or transactions; the payment service user
/// authorises or rejects it, and may revoke it; the provider may terminate it; it expires at `validUntil`. A recurring
/// consent allows at most `frequencyPerDay` accesses a day without the user present (RTS article 36(5)).
extension ComplianceDesk {
    /// The longest a consent may run before the user authenticates again (RTS article 10a, as amended in 2022: 180 days).
    static let psd2ValidityDaysMax = 180
    /// Accesses a day without the user present that a recurring consent may allow (RTS article 36(5)(b)).
    static let psd2FrequencyMax = 4
    /// The most accounts one consent may name.
    static let psd2AccountsMax = 50

    /// What a provider asks access to.
    struct PSD2Access: Codable, Sendable, Equatable {
        var accounts: [String]?
        var balances: [String]?
        var transactions: [String]?
        /// `allAccounts`: the list of the user's accounts, without balances or transactions.
        var availableAccounts: String?
        /// `allAccounts`: accounts, balances and transactions of every account.
        var allPsd2: String?
    }

    /// A provider's request for a consent.
    struct PSD2ConsentRequest: Codable, Sendable {
        var access: PSD2Access
        var recurringIndicator: Bool
        var validUntil: String
        var frequencyPerDay: Int
        var combinedServiceIndicator: Bool
        var psuId: String?
    }

    /// The state a consent is in when read now: a valid or received consent past its date has expired.
    static func effectiveStatus(_ row: PSD2ConsentRow, today: String) -> String {
        if ["valid", "received"].contains(row.status), row.valid_until < today { return "expired" }
        return row.status
    }

    static func day(_ millis: Int64) -> String { String(ISO8601DateFormatter().string(from: Date(unixMillis: millis)).prefix(10)) }

    /// Records a provider's request as `received`.
    func requestPSD2Consent(_ request: PSD2ConsentRequest, tpp: Principal) async throws -> PSD2ConsentRow {
        let tenantId = tpp.tenantId
        let id = RequestScope.effectId("psd2-consent") ?? self.env.ids.nextString()
        let now = self.now
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            try await db.raw("""
                INSERT INTO psd2_consents (id, tenant_id, tpp_id, psu_id, access, recurring, valid_until, frequency_per_day, combined_service,
                    status, request_hash, created_at_ms, status_changed_at_ms, last_action_date)
                VALUES (\(bind: id), \(bind: tenantId), \(bind: tpp.subject), \(bind: request.psuId), \(bind: Self.json(request.access)),
                    \(bind: request.recurringIndicator ? 1 : 0), \(bind: request.validUntil), \(bind: request.frequencyPerDay),
                    \(bind: request.combinedServiceIndicator ? 1 : 0), 'received', \(bind: Digest.sha256Hex(Self.json(request))), \(bind: now),
                    \(bind: now), \(bind: Self.day(now)))
                """).run()
            try await self.env.audit.append(
                AuditEntry(tenantId: tenantId, actorId: tpp.subject, action: "psd2.consent.received", target: id,
                           details: ["validUntil": request.validUntil, "recurring": String(request.recurringIndicator), "frequencyPerDay": String(request.frequencyPerDay)]),
                on: db, kind: self.database.kind)
        }
        return try await self.psd2Consent(tenantId: tenantId, id: id)
    }

    func psd2Consent(tenantId: String, id: String) async throws -> PSD2ConsentRow {
        let row = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.raw("SELECT * FROM psd2_consents WHERE id = \(bind: id) AND tenant_id = \(bind: tenantId)").first(decoding: PSD2ConsentRow.self)
        }
        guard let row else { throw AppError.notFound("consent") }
        return row
    }

    /// A consent as its provider sees it: another provider's is not found.
    func psd2Consent(id: String, tpp: Principal) async throws -> PSD2ConsentRow {
        let row = try await self.psd2Consent(tenantId: tpp.tenantId, id: id)
        guard row.tpp_id == tpp.subject else { throw AppError.notFound("consent") }
        return row
    }

    /// Moves a consent from one of `from` to `to`, audited; a consent already in `to` is answered as it is.
    func changePSD2Consent(
        tenantId: String, id: String, from: Set<String>, to: String, actor: String, reason: String?, psuId: String? = nil,
        codeId: String? = nil
    ) async throws -> PSD2ConsentRow {
        let current = try await self.psd2Consent(tenantId: tenantId, id: id)
        let now = self.now
        let status = Self.effectiveStatus(current, today: Self.day(now))
        if status == to { return current }
        guard from.contains(status) else {
            throw AppError.conflict(code: "consent-\(status)", "the consent is \(status); it cannot become \(to)")
        }
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            struct Changed: Decodable { let id: String }
            let changed = try await db.raw("""
                UPDATE psd2_consents SET status = \(bind: to), status_reason = \(bind: reason), status_changed_at_ms = \(bind: now),
                    last_action_date = \(bind: Self.day(now)), psu_id = COALESCE(psu_id, \(bind: psuId))
                WHERE id = \(bind: id) AND tenant_id = \(bind: tenantId) AND status = \(bind: current.status) RETURNING id
                """).all(decoding: Changed.self)
            guard !changed.isEmpty else { throw AppError.conflict(code: "consent-changed", "the consent changed meanwhile; read it again") }
            try await self.env.audit.append(
                AuditEntry(tenantId: tenantId, actorId: actor, action: "psd2.consent.\(to)", target: id,
                           details: ["from": status].merging(reason.map { ["reason": $0] } ?? [:]) { $1 }
                               .merging(codeId.map { ["codeId": $0] } ?? [:]) { $1 }),
                on: db, kind: self.database.kind)
        }
        return try await self.psd2Consent(tenantId: tenantId, id: id)
    }

    /// The answer to a provider's access under a consent: allowed (and counted) or refused with the reason.
    struct PSD2AccessCheck: Sendable {
        let allowed: Bool
        let reason: String
        let usedToday: Int
        let allowedToday: Int
        let status: String
    }

    /// Checks, and when allowed records, one access of `kind` (`accounts`, `balances`, `transactions`) to `iban`
    /// under the consent. Without the user present a recurring consent allows `frequencyPerDay` accesses a day, a
    /// one-off consent a single access, after which it has expired.
    func usePSD2Consent(id: String, tpp: Principal, kind: String, iban: String?, psuPresent: Bool) async throws -> PSD2AccessCheck {
        let consent = try await self.psd2Consent(id: id, tpp: tpp)
        let now = self.now
        let today = Self.day(now)
        let status = Self.effectiveStatus(consent, today: today)
        @Sendable func refuse(_ reason: String, used: Int = 0) -> PSD2AccessCheck {
            PSD2AccessCheck(allowed: false, reason: reason, usedToday: used, allowedToday: consent.frequency_per_day, status: status)
        }
        guard status == "valid" else { return refuse("the consent is \(status)") }
        let access = (try? JSONDecoder().decode(PSD2Access.self, from: Data(consent.access.utf8))) ?? PSD2Access()
        if !Self.covers(access, kind: kind, iban: iban) { return refuse("the consent does not give access to \(kind)\(iban.map { " of \($0)" } ?? "")") }
        return try await self.database.tenantTransaction(tenantId: tpp.tenantId) { db in
            struct Used: Decodable { let accesses: Int }
            let used = try await db.raw("SELECT accesses FROM psd2_consent_use WHERE consent_id = \(bind: id) AND day = \(bind: today)")
                .first(decoding: Used.self)?.accesses ?? 0
            if !psuPresent, used >= consent.frequency_per_day {
                return refuse("\(consent.frequency_per_day) accesses a day without the user present; \(used) used today", used: used)
            }
            try await db.raw("""
                INSERT INTO psd2_consent_use (tenant_id, consent_id, day, accesses) VALUES (\(bind: tpp.tenantId), \(bind: id), \(bind: today), 1)
                ON CONFLICT (consent_id, day) DO UPDATE SET accesses = psd2_consent_use.accesses + 1
                """).run()
            let expires = consent.recurring == 0
            try await db.raw("""
                UPDATE psd2_consents SET last_action_date = \(bind: today),
                    status = \(bind: expires ? "expired" : consent.status), status_changed_at_ms = \(bind: expires ? now : consent.status_changed_at_ms)
                WHERE id = \(bind: id)
                """).run()
            return PSD2AccessCheck(
                allowed: true, reason: expires ? "a one-off consent, now used" : "within the consent", usedToday: used + 1,
                allowedToday: consent.frequency_per_day, status: expires ? "expired" : status)
        }
    }

    /// Whether `access` covers `kind` for `iban` (any account when nil and the consent is for all accounts).
    static func covers(_ access: PSD2Access, kind: String, iban: String?) -> Bool {
        if access.allPsd2 == "allAccounts" { return true }
        if kind == "accounts", access.availableAccounts == "allAccounts" { return true }
        let listed: [String]? = switch kind {
        case "accounts": (access.accounts ?? []) + (access.balances ?? []) + (access.transactions ?? [])
        case "balances": access.balances
        case "transactions": access.transactions
        default: nil
        }
        guard let listed, let iban else { return false }
        return listed.contains(iban)
    }
}
