import FinFlowCore
import Foundation
import Logging
import SQLKit

/// A tenant's strong-customer-authentication policy. Off by default: a tenant whose payments are charges to its
/// customers' cards leaves authentication to the card issuer (3-D Secure); a tenant whose users pay from the product
/// (a wallet, a customer portal) turns it on, and may give up any exemption.
struct SCAPolicy: Codable, Sendable, Equatable {
    var enabled = false
    /// RTS article 16: remote payments up to EUR 30, until EUR 100 or five payments since the last authentication.
    var lowValue = true
    /// RTS article 13: payees the payer listed (the listing itself needs authentication).
    var trustedBeneficiaries = true
    /// RTS article 14: a series of payments of the same amount to the same payee, authenticated at its first.
    var recurring = true
    var updatedBy: String?
    var updatedAtMillis: Int64?
}

/// A decision as the decisions table keeps it.
struct SCADecisionRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    /// The payer: the user who initiated the payment, or the API client for a merchant-initiated one.
    let payer_id: String
    /// The principal the request came from.
    let subject: String
    let payment_id: String?
    let amount_minor: Int64?
    let currency: String?
    let payee: String
    /// `authenticated`, `exempt`, `out-of-scope` (the payment was made) or `refused` (it was not).
    let outcome: String
    /// `low-value`, `trusted-beneficiary` or `recurring` for an exempt payment.
    let exemption: String?
    let reason: String
    let code_id: String?
    /// The payer's count and EUR sum since the last authentication, after this decision.
    let payments_since: Int
    let eur_minor_since: Int64
    let at_ms: Int64
}

/// A payee the payer trusts.
struct TrustedBeneficiaryRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let payer_id: String
    let payee: String
    let name: String?
    let code_id: String
    let added_at_ms: Int64
}

/// What a payment asks of strong customer authentication.
struct SCARequest: Sendable {
    let payee: String
    let recurring: Bool
    /// The verified authentication code the client sent, if any.
    let code: AuthenticationCodeClaims?
}

/// The rules of the regulatory technical standards on strong customer authentication (Delegated Regulation (EU)
/// 2018/389) as the payments service applies them to a payment a user initiates.
enum StrongAuthentication {
    /// Article 16(a): a remote payment of at most EUR 30.00.
    static let lowValueEURMinorMax: Int64 = 3_000
    /// Article 16(b): at most EUR 100.00 since the last authentication, this payment included.
    static let cumulativeEURMinorMax: Int64 = 10_000
    /// Article 16(c): at most five payments since the last authentication, this payment included.
    static let paymentsSinceMax = 5
    /// The header a client sends the auth service's authentication code in.
    static let header = "SCA-Authentication-Code"

    static func describe(_ amount: Int64?, _ currency: String?, _ payee: String) -> String {
        guard let amount, let currency else { return "payee \(payee)" }
        let money = Currency(code: currency).flatMap { try? Money(amountMinor: amount, currency: $0) }
        return "\(money.map { "\($0)" } ?? "\(amount) \(currency)") to \(payee)"
    }
}

extension PaymentDesk {
    /// The tenant's policy (the default, off, when it never set one).
    func scaPolicy(tenantId: String) async throws -> SCAPolicy {
        struct Row: Decodable { let enabled: Int; let low_value: Int; let trusted_beneficiaries: Int; let recurring: Int; let updated_by: String; let updated_at_ms: Int64 }
        let row = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.raw("SELECT * FROM sca_policies WHERE tenant_id = \(bind: tenantId)").first(decoding: Row.self)
        }
        guard let row else { return SCAPolicy() }
        return SCAPolicy(enabled: row.enabled == 1, lowValue: row.low_value == 1, trustedBeneficiaries: row.trusted_beneficiaries == 1,
                         recurring: row.recurring == 1, updatedBy: row.updated_by, updatedAtMillis: row.updated_at_ms)
    }

    /// Sets the tenant's policy, audited.
    func setSCAPolicy(_ policy: SCAPolicy, principal: Principal) async throws -> SCAPolicy {
        let now = self.now
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            try await db.raw("""
                INSERT INTO sca_policies (tenant_id, enabled, low_value, trusted_beneficiaries, recurring, updated_by, updated_at_ms)
                VALUES (\(bind: principal.tenantId), \(bind: policy.enabled ? 1 : 0), \(bind: policy.lowValue ? 1 : 0),
                    \(bind: policy.trustedBeneficiaries ? 1 : 0), \(bind: policy.recurring ? 1 : 0), \(bind: principal.subject), \(bind: now))
                ON CONFLICT (tenant_id) DO UPDATE SET enabled = excluded.enabled, low_value = excluded.low_value,
                    trusted_beneficiaries = excluded.trusted_beneficiaries, recurring = excluded.recurring,
                    updated_by = excluded.updated_by, updated_at_ms = excluded.updated_at_ms
                """).run()
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "payments.sca-policy.set", target: principal.tenantId,
                           details: ["enabled": String(policy.enabled), "lowValue": String(policy.lowValue),
                                     "trustedBeneficiaries": String(policy.trustedBeneficiaries), "recurring": String(policy.recurring)]),
                on: db, kind: self.kind)
        }
        return try await self.scaPolicy(tenantId: principal.tenantId)
    }

    /// What strong customer authentication asks of `draft` under `policy` (nil while it is off): its payee, required
    /// while a user initiates it, and the code it carries, checked against it (a mismatch is refused and recorded).
    func scaRequest(for draft: PaymentDraft, principal: Principal, policy: SCAPolicy, code: AuthenticationCodeClaims?) async throws
        -> SCARequest?
    {
        guard policy.enabled else { return nil }
        // A merchant-initiated payment (an API client) has no payer present: it names a payee only if it likes.
        guard principal.isSignedInUser else { return SCARequest(payee: draft.payee ?? "", recurring: draft.recurring, code: nil) }
        guard let payee = draft.payee else {
            throw AppError.validation([.init(field: "payee", message: "is required while the tenant's strong customer authentication is on")])
        }
        if let code {
            do {
                try code.requireAuthorises(principal, purpose: .payment, amountMinor: draft.amountMinor, currency: draft.currency, payee: payee)
            } catch let error as AppError {
                await self.recordSCARefusal(principal: principal, amountMinor: draft.amountMinor, currency: draft.currency, payee: payee,
                                            reason: error.message)
                throw error
            }
        }
        return SCARequest(payee: payee, recurring: draft.recurring, code: code)
    }

    /// Decides, inside the payment's transaction, whether `row` may be made without (or with the given) authentication,
    /// records the decision and moves the payer's counters. Throws `sca-required` (rolling the payment back) when neither
    /// a valid code nor an exemption covers it; the caller records that refusal.
    @discardableResult
    func decideSCA(for row: PaymentRow, request: SCARequest, policy: SCAPolicy, principal: Principal, db: any SQLDatabase) async throws
        -> SCADecisionRow
    {
        let now = self.now
        let tenantId = principal.tenantId
        func decision(_ outcome: String, exemption: String?, reason: String, codeId: String?, since: (Int, Int64)) -> SCADecisionRow {
            SCADecisionRow(
                id: self.env.ids.nextString(), tenant_id: tenantId, payer_id: principal.subject, subject: principal.subject,
                payment_id: row.id, amount_minor: row.amount_minor, currency: row.currency, payee: request.payee, outcome: outcome,
                exemption: exemption, reason: reason, code_id: codeId, payments_since: since.0, eur_minor_since: since.1, at_ms: now)
        }
        // A machine client charging a customer is a merchant-initiated payment: no payer is present to authenticate.
        guard principal.isSignedInUser else {
            let made = decision("out-of-scope", exemption: nil, reason: "merchant-initiated: an API client, no payer present to authenticate",
                                codeId: nil, since: (0, 0))
            try await db.insert(into: "sca_decisions").model(made).run()
            return made
        }
        // The payer's counters, locked for the rest of the transaction so racing payments count one after the other.
        try await db.raw("""
            INSERT INTO sca_payers (tenant_id, payer_id, payments_since, eur_minor_since, updated_at_ms)
            VALUES (\(bind: tenantId), \(bind: principal.subject), 0, 0, \(bind: now)) ON CONFLICT (tenant_id, payer_id) DO NOTHING
            """).run()
        struct Counters: Decodable { let payments_since: Int; let eur_minor_since: Int64 }
        guard let counters = try await db.raw("""
            SELECT payments_since, eur_minor_since FROM sca_payers WHERE tenant_id = \(bind: tenantId) AND payer_id = \(bind: principal.subject)
            \(unsafeRaw: self.kind == .postgres ? "FOR UPDATE" : "")
            """).first(decoding: Counters.self) else {
            throw AppError(.unavailable, code: "sca-counters-unavailable", "the payer's authentication counts could not be read; retry", retryAfterSeconds: 1)
        }
        let made: SCADecisionRow
        if let code = request.code {
            made = decision("authenticated", exemption: nil, reason: "second factor (\(code.factor)) bound to the amount and payee",
                            codeId: code.codeId, since: (0, 0))
            // The code is spent by the first payment that uses it; a racing twin finds it taken.
            let spent = try await db.raw("""
                INSERT INTO sca_decisions (id, tenant_id, payer_id, subject, payment_id, amount_minor, currency, payee, outcome, exemption, reason,
                    code_id, payments_since, eur_minor_since, at_ms)
                VALUES (\(bind: made.id), \(bind: tenantId), \(bind: made.payer_id), \(bind: made.subject), \(bind: row.id), \(bind: row.amount_minor),
                    \(bind: row.currency), \(bind: made.payee), 'authenticated', NULL, \(bind: made.reason), \(bind: code.codeId), 0, 0, \(bind: now))
                ON CONFLICT (code_id) DO NOTHING RETURNING id
                """).first()
            guard spent != nil else {
                throw AppError.forbidden(code: "sca-code-used", "the authentication code was used already; authenticate again")
            }
            try await db.raw("""
                UPDATE sca_payers SET payments_since = 0, eur_minor_since = 0, last_authenticated_at_ms = \(bind: now), updated_at_ms = \(bind: now)
                WHERE tenant_id = \(bind: tenantId) AND payer_id = \(bind: principal.subject)
                """).run()
            if request.recurring {
                try await db.raw("""
                    INSERT INTO sca_recurring_series (tenant_id, payer_id, payee, amount_minor, currency, first_payment_id, established_at_ms)
                    VALUES (\(bind: tenantId), \(bind: principal.subject), \(bind: request.payee), \(bind: row.amount_minor), \(bind: row.currency),
                        \(bind: row.id), \(bind: now))
                    ON CONFLICT (tenant_id, payer_id, payee, amount_minor, currency) DO NOTHING
                    """).run()
            }
            return made
        }
        let count = counters.payments_since + 1
        let eurAdded = row.currency == "EUR" ? row.amount_minor : 0
        // Exempt payments to trusted payees may be of any size: the sum saturates (it only has to exceed EUR 100) rather
        // than overflow.
        let (added, overflow) = counters.eur_minor_since.addingReportingOverflow(eurAdded)
        let sum = overflow ? Int64.max : added
        let exemption: (name: String, reason: String)?
        if policy.trustedBeneficiaries, try await db.raw("""
            SELECT id FROM sca_trusted_beneficiaries WHERE tenant_id = \(bind: tenantId) AND payer_id = \(bind: principal.subject)
                AND payee = \(bind: request.payee)
            """).first() != nil {
            exemption = ("trusted-beneficiary", "the payee is on the payer's trusted beneficiaries (RTS article 13)")
        } else if policy.recurring, request.recurring, try await db.raw("""
            SELECT first_payment_id FROM sca_recurring_series WHERE tenant_id = \(bind: tenantId) AND payer_id = \(bind: principal.subject)
                AND payee = \(bind: request.payee) AND amount_minor = \(bind: row.amount_minor) AND currency = \(bind: row.currency)
            """).first() != nil {
            exemption = ("recurring", "the same amount to the same payee as an authenticated series (RTS article 14)")
        } else if policy.lowValue, row.currency == "EUR", row.amount_minor <= StrongAuthentication.lowValueEURMinorMax,
            sum <= StrongAuthentication.cumulativeEURMinorMax, count <= StrongAuthentication.paymentsSinceMax
        {
            exemption = ("low-value", "EUR \(Self.euros(row.amount_minor)) ≤ 30.00; payment \(count) of 5 and EUR \(Self.euros(sum)) of 100.00 since the last authentication (RTS article 16)")
        } else {
            exemption = nil
        }
        guard let exemption else {
            throw AppError.forbidden(
                code: "sca-required",
                "strong customer authentication is needed for \(StrongAuthentication.describe(row.amount_minor, row.currency, request.payee)): \(Self.whyNoExemption(row: row, policy: policy, count: count, sum: sum)); get a code at POST /v1/auth/sca and send it as the \(StrongAuthentication.header) header")
        }
        // Every payment made without authentication counts towards the low-value limits, whichever exemption let it pass.
        made = decision("exempt", exemption: exemption.name, reason: exemption.reason, codeId: nil, since: (count, sum))
        try await db.insert(into: "sca_decisions").model(made).run()
        try await db.raw("""
            UPDATE sca_payers SET payments_since = \(bind: count), eur_minor_since = \(bind: sum), updated_at_ms = \(bind: now)
            WHERE tenant_id = \(bind: tenantId) AND payer_id = \(bind: principal.subject)
            """).run()
        return made
    }

    /// Why the low-value exemption did not cover a payment.
    static func whyNoExemption(row: PaymentRow, policy: SCAPolicy, count: Int, sum: Int64) -> String {
        if !policy.lowValue { return "the tenant grants no low-value exemption" }
        if row.currency != "EUR" { return "the low-value exemption is counted in EUR and this payment is in \(row.currency)" }
        if row.amount_minor > StrongAuthentication.lowValueEURMinorMax { return "EUR \(Self.euros(row.amount_minor)) is above the EUR 30.00 low-value limit" }
        if count > StrongAuthentication.paymentsSinceMax { return "five payments were made since the last authentication" }
        return "EUR \(Self.euros(sum)) would pass EUR 100.00 since the last authentication"
    }

    static func euros(_ minor: Int64) -> String { String(format: "%lld.%02lld", minor / 100, minor % 100) }

    /// Records a refused payment (no payment was made), so every decision is on record.
    func recordSCARefusal(principal: Principal, amountMinor: Int64?, currency: String?, payee: String, reason: String) async {
        let row = SCADecisionRow(
            id: self.env.ids.nextString(), tenant_id: principal.tenantId, payer_id: principal.subject, subject: principal.subject,
            payment_id: nil, amount_minor: amountMinor, currency: currency, payee: payee, outcome: "refused", exemption: nil,
            reason: String(reason.prefix(1_000)), code_id: nil, payments_since: 0, eur_minor_since: 0, at_ms: self.now)
        do {
            try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
                try await db.insert(into: "sca_decisions").model(row).run()
            }
        } catch {
            self.env.logger.warning("a refused payment's authentication decision could not be recorded", metadata: ["error": "\(error)"])
        }
    }

    /// The tenant's decisions, newest first, optionally for one payer or payment.
    func scaDecisions(tenantId: String, payerId: String?, paymentId: String?, page: PageRequest) async throws
        -> (items: [SCADecisionRow], nextCursor: String?)
    {
        let rows = try await self.database.tenantRead(tenantId: tenantId) { db in
            var query = db.select().column("*").from("sca_decisions").where("tenant_id", .equal, tenantId)
            if let payerId { query = query.where("payer_id", .equal, payerId) }
            if let paymentId { query = query.where("payment_id", .equal, paymentId) }
            if let after = page.after { query = query.where("id", .lessThan, after) }
            return try await query.orderBy("id", .descending).limit(page.limit + 1).all(decoding: SCADecisionRow.self)
        }
        return page.page(rows, key: \.id)
    }

    // MARK: Trusted beneficiaries

    /// Adds a payee to the payer's trusted beneficiaries: needs an authentication code for that payee (RTS article 13).
    func trustBeneficiary(principal: Principal, payee: String, name: String?, code: AuthenticationCodeClaims?) async throws -> TrustedBeneficiaryRow {
        guard principal.isSignedInUser else {
            throw AppError.forbidden(code: "sca-needs-a-user", "trusted beneficiaries are a payer's own list: sign in as the payer")
        }
        guard let code else {
            throw AppError.forbidden(
                code: "sca-required",
                "adding a trusted beneficiary needs strong customer authentication: get a code for purpose trusted-beneficiary and payee \(payee) at POST /v1/auth/sca and send it as the \(StrongAuthentication.header) header")
        }
        try code.requireAuthorises(principal, purpose: .trustedBeneficiary, amountMinor: nil, currency: nil, payee: payee)
        let row = TrustedBeneficiaryRow(
            id: self.env.ids.nextString(), tenant_id: principal.tenantId, payer_id: principal.subject, payee: payee, name: name,
            code_id: code.codeId, added_at_ms: self.now)
        let kind = self.kind
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            if let existing = try await db.select().column("*").from("sca_trusted_beneficiaries").where("tenant_id", .equal, principal.tenantId)
                .where("payer_id", .equal, principal.subject).where("payee", .equal, payee).first(decoding: TrustedBeneficiaryRow.self)
            {
                return existing
            }
            let inserted = try await db.raw("""
                INSERT INTO sca_trusted_beneficiaries (id, tenant_id, payer_id, payee, name, code_id, added_at_ms)
                VALUES (\(bind: row.id), \(bind: row.tenant_id), \(bind: row.payer_id), \(bind: row.payee), \(bind: row.name), \(bind: row.code_id),
                    \(bind: row.added_at_ms))
                ON CONFLICT (code_id) DO NOTHING RETURNING id
                """).first()
            guard inserted != nil else {
                throw AppError.forbidden(code: "sca-code-used", "the authentication code was used already; authenticate again")
            }
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "payments.trusted-beneficiary.added", target: row.id,
                           details: ["payee": payee, "codeId": code.codeId]),
                on: db, kind: kind)
            return row
        }
    }

    /// The payer's trusted beneficiaries.
    func trustedBeneficiaries(principal: Principal) async throws -> [TrustedBeneficiaryRow] {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            try await db.select().column("*").from("sca_trusted_beneficiaries").where("tenant_id", .equal, principal.tenantId)
                .where("payer_id", .equal, principal.subject).orderBy("added_at_ms").orderBy("id").all(decoding: TrustedBeneficiaryRow.self)
        }
    }

    /// Removes one of the payer's trusted beneficiaries (no authentication needed to trust less).
    func removeTrustedBeneficiary(principal: Principal, id: String) async throws {
        guard UUID(uuidString: id) != nil else { throw AppError.notFound("trusted beneficiary") }
        let kind = self.kind
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            let removed = try await db.raw("""
                DELETE FROM sca_trusted_beneficiaries WHERE tenant_id = \(bind: principal.tenantId) AND payer_id = \(bind: principal.subject)
                    AND id = \(bind: id.lowercased()) RETURNING id
                """).first()
            guard removed != nil else { throw AppError.notFound("trusted beneficiary") }
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "payments.trusted-beneficiary.removed", target: id.lowercased()),
                on: db, kind: kind)
        }
    }
}
