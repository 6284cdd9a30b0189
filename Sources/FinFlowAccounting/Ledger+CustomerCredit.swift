import FinFlowCore
import Foundation
import SQLKit

/// How a gateway payment (or refund) naming an invoice divides between the invoice and the customer's credit: the
/// receivable takes only what the invoice has open (a refund: what it had been paid), the rest is unapplied cash.
struct PaymentSplit: Sendable {
    /// The invoice the payment names, when it is one this payment can meet (same tenant and currency, issued).
    let invoice: InvoiceRow?
    let toInvoiceMinor: Int64
    let toCreditMinor: Int64
    /// Whose credit the rest is: the payment's customer, else the invoice's.
    let customerId: String
}

/// A customer's unapplied cash in one currency.
struct CustomerCreditRow: Codable, Sendable {
    let tenant_id: String
    let customer_id: String
    let currency: String
    let balance_minor: Int64
    let updated_at_ms: Int64
}

extension Ledger {
    /// Whose credit a payment naming no known customer feeds.
    static let unidentifiedCustomer = "unidentified"

    /// The division of `payment`, which names an invoice, between that invoice and the customer's credit.
    func split(_ payment: PaymentProcessed, invoiceId: String, db: any SQLDatabase) async throws -> PaymentSplit {
        let refund = payment.status == "refunded"
        var invoice: InvoiceRow?
        if UUID(uuidString: invoiceId) != nil, let row = try await self.invoiceRow(id: invoiceId.lowercased(), tenantId: payment.tenantId, db: db),
            row.kind == "invoice", row.currency == payment.currency
        {
            invoice = row
        }
        let meets: Int64
        switch invoice {
        case .some(let row) where refund && ["issued", "partially_paid", "paid"].contains(row.status): meets = min(payment.amountMinor, row.paid_minor)
        case .some(let row) where !refund && ["issued", "partially_paid"].contains(row.status): meets = min(payment.amountMinor, row.openMinor)
        default: meets = 0
        }
        let customer = payment.customerId.map { String($0.prefix(128)) }?.nonEmpty ?? invoice?.customer_id ?? Self.unidentifiedCustomer
        return PaymentSplit(invoice: meets > 0 ? invoice : nil, toInvoiceMinor: max(meets, 0), toCreditMinor: payment.amountMinor - max(meets, 0),
                            customerId: customer)
    }

    /// Moves `customerId`'s credit in `currency` by `deltaMinor` (positive: received; negative: applied or refunded).
    /// With `requireCover`, a withdrawal larger than the credit is refused, decided by the update itself so two
    /// concurrent withdrawals cannot both spend the same credit.
    func moveCredit(
        tenantId: String, customerId: String, currency: String, deltaMinor: Int64, requireCover: Bool = false, db: any SQLDatabase
    ) async throws {
        let now = self.now
        if requireCover {
            let taken = try await db.raw("""
                UPDATE customer_credits SET balance_minor = balance_minor + \(bind: deltaMinor), updated_at_ms = \(bind: now)
                WHERE tenant_id = \(bind: tenantId) AND customer_id = \(bind: customerId) AND currency = \(bind: currency)
                AND balance_minor + \(bind: deltaMinor) >= 0
                RETURNING balance_minor
                """).first()
            guard taken != nil else {
                throw AppError(.rejected, code: "insufficient-credit", "the customer's \(currency) credit does not cover \(-deltaMinor) minor units")
            }
            return
        }
        try await db.raw("""
            INSERT INTO customer_credits (tenant_id, customer_id, currency, balance_minor, updated_at_ms)
            VALUES (\(bind: tenantId), \(bind: customerId), \(bind: currency), \(bind: deltaMinor), \(bind: now))
            ON CONFLICT (tenant_id, customer_id, currency) DO UPDATE
            SET balance_minor = customer_credits.balance_minor + excluded.balance_minor, updated_at_ms = excluded.updated_at_ms
            """).run()
    }

    /// `customerId`'s credit per currency (only currencies with a balance).
    func customerCredit(principal: Principal, customerId: String) async throws -> [(currency: String, amountMinor: Int64)] {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            try await db.raw("""
                SELECT * FROM customer_credits WHERE tenant_id = \(bind: principal.tenantId) AND customer_id = \(bind: customerId)
                AND balance_minor <> 0 ORDER BY currency
                """).all(decoding: CustomerCreditRow.self).map { ($0.currency, $0.balance_minor) }
        }
    }

    /// Settles `amountMinor` of an invoice (all it has open, or all the credit covers, when nil) from its customer's
    /// credit: customer deposits debited, the invoice's receivable credited.
    func applyCredit(principal: Principal, invoiceId: String, amountMinor: Int64?, date: LedgerDate, entryId: String? = nil) async throws
        -> InvoiceRecord
    {
        guard UUID(uuidString: invoiceId) != nil else { throw AppError.notFound("invoice") }
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            guard let invoice = try await self.invoiceRow(id: invoiceId.lowercased(), tenantId: principal.tenantId, db: db), invoice.kind == "invoice" else {
                throw AppError.notFound("invoice")
            }
            if try await Self.applied(entryId: entryId, to: invoice.id, tenantId: principal.tenantId, db: db) {
                return try await self.invoiceRecord(principal: principal, id: invoice.id, db: db)
            }
            guard ["issued", "partially_paid"].contains(invoice.status) else { throw AccountingError.wrongStatus(invoice.status, "paid") }
            guard let deposits = try await LedgerStore.accountBySystemRole(tenantId: principal.tenantId, role: SystemRole.customerCredit.rawValue, db: db) else {
                throw AppError(.rejected, code: "system-account-missing", "the chart has no account with the role customer_credit")
            }
            let available = try await db.raw("""
                SELECT * FROM customer_credits WHERE tenant_id = \(bind: principal.tenantId) AND customer_id = \(bind: invoice.customer_id)
                AND currency = \(bind: invoice.currency)
                """).first(decoding: CustomerCreditRow.self)?.balance_minor ?? 0
            let amount = amountMinor ?? min(invoice.openMinor, available)
            guard amount > 0 else {
                throw AppError(.rejected, code: "insufficient-credit", "the customer has no \(invoice.currency) credit to apply")
            }
            guard amount <= invoice.openMinor else {
                throw AppError(.rejected, code: "overpayment", "the invoice has \(invoice.openMinor) open")
            }
            try await self.moveCredit(tenantId: principal.tenantId, customerId: invoice.customer_id, currency: invoice.currency,
                                      deltaMinor: -amount, requireCover: true, db: db)
            let request = try EntryRequest.validated(
                id: entryId, date: date.description,
                description: "Credit applied to \(invoice.number) for \(invoice.customer_name)".prefix(LedgerLimits.descriptionLengthMax).description,
                reference: invoice.number, metadata: ["invoiceId": invoice.id, "customerId": String(invoice.customer_id.prefix(128))],
                lines: [
                    LineRequest(accountId: deposits.id, side: .debit, amountMinor: amount, currency: invoice.currency, memo: nil),
                    LineRequest(accountId: invoice.receivable_account_id, side: .credit, amountMinor: amount, currency: invoice.currency, memo: nil),
                ],
                source: .invoice, mode: .post, timeoutSeconds: nil)
            let entry = try await self.submit([request], principal: principal, batchId: nil, on: db)[0]
            try await self.apply(kind: "payment", amount: amount, date: date.description, to: invoice.id, entryId: entry.entry.id,
                                 sourceId: "customer-credit", principal: principal, db: db)
            return try await self.invoiceRecord(principal: principal, id: invoice.id, db: db)
        }
    }
}
