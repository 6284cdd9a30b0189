import FinFlowCore
import Foundation
import SQLKit

/// A PSD2 payment initiation as kept.
struct PSD2PaymentRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let tpp_id: String
    let psu_id: String?
    /// `payments` (one-off) or `periodic-payments` (a standing order).
    let service: String
    let product: String
    let amount_minor: Int64
    let currency: String
    let debtor_iban: String
    let creditor_iban: String
    let creditor_name: String
    let remittance: String?
    let start_date: String?
    let end_date: String?
    let frequency: String?
    let day_of_execution: Int?
    /// ISO 20022 transaction status: `RCVD`, `ACTC` (authorised by the user with strong customer authentication),
    /// `RJCT` (rejected by the user) or `CANC` (cancelled).
    let status: String
    let status_reason: String?
    let code_id: String?
    let request_hash: String
    let created_at_ms: Int64
    let status_changed_at_ms: Int64
}

/// PSD2 payment initiation in the Berlin Group's shape: a provider (an API client with `psd2:consents`) submits a
/// payment (or a standing order) on a user's behalf; it is only the user's consent to it once they authorise it with
/// strong customer authentication bound to its amount and creditor (an authentication code from `POST /v1/auth/sca`
/// for exactly that amount, currency and creditor IBAN, spent by this initiation). The initiation is kept with its
/// status for the provider to read and for the tenant's payment rail to execute.
extension ComplianceDesk {
    static let psd2Products: Set<String> = ["sepa-credit-transfers", "instant-sepa-credit-transfers", "target-2-payments", "cross-border-credit-transfers"]
    static let psd2Frequencies: Set<String> = ["Daily", "Weekly", "EveryTwoWeeks", "Monthly", "EveryTwoMonths", "Quarterly", "SemiAnnual", "Annual"]

    /// What a provider submits, validated.
    struct PSD2PaymentRequest: Codable, Sendable {
        var service: String
        var product: String
        var amountMinor: Int64
        var currency: String
        var debtorIBAN: String
        var creditorIBAN: String
        var creditorName: String
        var remittance: String?
        var startDate: String?
        var endDate: String?
        var frequency: String?
        var dayOfExecution: Int?
        var psuId: String?
    }

    /// Records a provider's initiation as `RCVD`.
    func initiatePSD2Payment(_ request: PSD2PaymentRequest, tpp: Principal) async throws -> PSD2PaymentRow {
        let id = RequestScope.effectId("psd2-payment") ?? self.env.ids.nextString()
        let now = self.now
        let row = PSD2PaymentRow(
            id: id, tenant_id: tpp.tenantId, tpp_id: tpp.subject, psu_id: request.psuId, service: request.service, product: request.product,
            amount_minor: request.amountMinor, currency: request.currency, debtor_iban: request.debtorIBAN, creditor_iban: request.creditorIBAN,
            creditor_name: request.creditorName, remittance: request.remittance, start_date: request.startDate, end_date: request.endDate,
            frequency: request.frequency, day_of_execution: request.dayOfExecution, status: "RCVD", status_reason: nil, code_id: nil,
            request_hash: Digest.sha256Hex(Self.json(request)), created_at_ms: now, status_changed_at_ms: now)
        try await self.database.tenantTransaction(tenantId: tpp.tenantId) { db in
            try await db.insert(into: "psd2_payments").model(row).run()
            try await self.env.audit.append(
                AuditEntry(tenantId: tpp.tenantId, actorId: tpp.subject, action: "psd2.payment.received", target: id,
                           details: ["service": request.service, "product": request.product, "amount": String(request.amountMinor),
                                     "currency": request.currency, "creditor": request.creditorIBAN]),
                on: db, kind: self.database.kind)
        }
        return row
    }

    func psd2Payment(tenantId: String, id: String) async throws -> PSD2PaymentRow {
        let row = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.select().column("*").from("psd2_payments").where("tenant_id", .equal, tenantId).where("id", .equal, id)
                .first(decoding: PSD2PaymentRow.self)
        }
        guard let row else { throw AppError.notFound("payment") }
        return row
    }

    /// An initiation as its provider sees it: another provider's is not found.
    func psd2Payment(id: String, tpp: Principal) async throws -> PSD2PaymentRow {
        let row = try await self.psd2Payment(tenantId: tpp.tenantId, id: id)
        guard row.tpp_id == tpp.subject else { throw AppError.notFound("payment") }
        return row
    }

    /// The user's answer: authorised with an authentication code bound to the amount, currency and creditor (`ACTC`), or
    /// rejected (`RJCT`). Only the user the provider named (or, when it named none, any one user, who then owns it).
    func authorisePSD2Payment(id: String, psu: Principal, authorise: Bool, code: AuthenticationCodeClaims?) async throws -> PSD2PaymentRow {
        let current = try await self.psd2Payment(tenantId: psu.tenantId, id: id)
        if let owner = current.psu_id, owner != psu.subject { throw AppError.notFound("payment") }
        guard current.status == "RCVD" else {
            throw AppError.conflict(code: "payment-\(current.status)", "the payment is \(current.status); only a received one (RCVD) is authorised")
        }
        var spent: String?
        if authorise {
            guard let code else {
                throw AppError.forbidden(
                    code: "sca-required",
                    "authorising this payment needs strong customer authentication: get a code of purpose payment-initiation for \(current.amount_minor) \(current.currency) minor units to \(current.creditor_iban) at POST /v1/auth/sca and send it as the SCA-Authentication-Code header")
            }
            try code.requireAuthorises(psu, purpose: .paymentInitiation, amountMinor: current.amount_minor, currency: current.currency,
                                       payee: current.creditor_iban)
            spent = code.codeId
        }
        let codeId = spent
        let now = self.now
        let status = authorise ? "ACTC" : "RJCT"
        let reason = authorise ? "authorised by the user with strong customer authentication" : "rejected by the user"
        do {
            try await self.database.tenantTransaction(tenantId: psu.tenantId) { db in
                let changed = try await db.raw("""
                    UPDATE psd2_payments SET status = \(bind: status), status_reason = \(bind: reason), code_id = \(bind: codeId),
                        psu_id = \(bind: psu.subject), status_changed_at_ms = \(bind: now)
                    WHERE id = \(bind: id) AND tenant_id = \(bind: psu.tenantId) AND status = 'RCVD' RETURNING id
                    """).first()
                guard changed != nil else { throw AppError.conflict(code: "payment-changed", "the payment changed meanwhile; read it again") }
                var details = ["from": "RCVD"]
                if let codeId { details["codeId"] = codeId }
                try await self.env.audit.append(
                    AuditEntry(tenantId: psu.tenantId, actorId: psu.subject, action: "psd2.payment.\(status)", target: id, details: details),
                    on: db, kind: self.database.kind)
            }
        } catch where violatedConstraint(error) != nil {
            throw AppError.forbidden(code: "sca-code-used", "the authentication code was used already; authenticate again")
        }
        return try await self.psd2Payment(tenantId: psu.tenantId, id: id)
    }

    /// Cancels an initiation the user has not answered or a standing order (`CANC`): by its provider or its user.
    func cancelPSD2Payment(id: String, principal: Principal, asProvider: Bool) async throws -> PSD2PaymentRow {
        let current = asProvider
            ? try await self.psd2Payment(id: id, tpp: principal) : try await self.psd2Payment(tenantId: principal.tenantId, id: id)
        if !asProvider, current.psu_id != principal.subject { throw AppError.notFound("payment") }
        if current.status == "CANC" { return current }
        // A one-off payment the user authorised is on its way to execution; a standing order may be stopped at any time.
        let cancellable = current.status == "RCVD" || (current.status == "ACTC" && current.service == "periodic-payments")
        guard cancellable else {
            throw AppError.conflict(code: "payment-\(current.status)", "the payment is \(current.status) and can no longer be cancelled")
        }
        let now = self.now
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            let changed = try await db.raw("""
                UPDATE psd2_payments SET status = 'CANC', status_reason = \(bind: asProvider ? "cancelled by the provider" : "cancelled by the user"),
                    status_changed_at_ms = \(bind: now)
                WHERE id = \(bind: id) AND tenant_id = \(bind: principal.tenantId) AND status = \(bind: current.status) RETURNING id
                """).first()
            guard changed != nil else { throw AppError.conflict(code: "payment-changed", "the payment changed meanwhile; read it again") }
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "psd2.payment.CANC", target: id,
                           details: ["from": current.status]),
                on: db, kind: self.database.kind)
        }
        return try await self.psd2Payment(tenantId: principal.tenantId, id: id)
    }
}
