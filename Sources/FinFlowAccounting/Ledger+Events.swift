import FinFlowCore
import Foundation
import SQLKit

extension Ledger {
    /// Posts a business transaction: debit its destination, credit its source. A refusal (closed period, balance
    /// constraint, unknown account…) is answered with `JournalEntryRejected`; a ledger not yet open is retried.
    func post(transaction: TransactionCreated, on db: any SQLDatabase) async throws {
        let principal = Principal.system(tenantId: transaction.tenantId)
        try await self.postAnswering(source: .transaction, sourceId: transaction.transactionId, principal: principal, on: db) {
            try EntryRequest.validated(
                id: nil, date: transaction.valueDate,
                description: String((transaction.description ?? "\(transaction.kind) \(transaction.counterparty ?? "")")
                    .trimmingCharacters(in: .whitespaces).prefix(LedgerLimits.descriptionLengthMax)).nonEmpty ?? transaction.kind,
                reference: transaction.externalReference.map { String($0.prefix(LedgerLimits.referenceLengthMax)) },
                metadata: ["transactionId": transaction.transactionId, "kind": String(transaction.kind.prefix(64))],
                lines: [
                    LineRequest(accountId: transaction.destinationAccountId.lowercased(), side: .debit,
                                amountMinor: transaction.amountMinor, currency: transaction.currency, memo: nil),
                    LineRequest(accountId: transaction.sourceAccountId.lowercased(), side: .credit,
                                amountMinor: transaction.amountMinor, currency: transaction.currency, memo: nil),
                ],
                source: .transaction, sourceId: transaction.transactionId, mode: .post, timeoutSeconds: nil)
        }
    }

    /// Posts a payment's effect: a success puts the net amount in the processor balance and the fee in expenses,
    /// against revenue without an invoice; naming an invoice, against its receivable for what the invoice has open and
    /// against customer deposits (the customer's credit) for the rest, so receivables always equal the open invoices.
    /// A refund takes it back out the same way. Failures post nothing.
    func post(payment: PaymentProcessed, on db: any SQLDatabase) async throws {
        guard payment.status == "succeeded" || payment.status == "refunded" else { return }
        let principal = Principal.system(tenantId: payment.tenantId)
        let refund = payment.status == "refunded"
        let sourceId = refund ? "refund:\(payment.refundId ?? payment.paymentId)" : payment.paymentId
        let split = try await payment.invoiceId.asyncMap { try await self.split(payment, invoiceId: $0, db: db) }
        let posted = try await self.postAnswering(source: .payment, sourceId: sourceId, principal: principal, on: db) {
            func role(_ role: SystemRole) async throws -> String {
                guard let account = try await LedgerStore.accountBySystemRole(tenantId: payment.tenantId, role: role.rawValue, db: db) else {
                    throw AppError(.rejected, code: "system-account-missing", "the chart has no account with the role \(role.rawValue)")
                }
                return account.id
            }
            guard payment.amountMinor > 0 else { throw AppError.invalid("the payment's amount must be positive") }
            let clearing = try await role(.paymentClearing)
            // The other side: revenue without an invoice; else the invoice's receivable and the customer's credit.
            var counter: [(account: String, amount: Int64)] = []
            if let split {
                if let invoice = split.invoice, split.toInvoiceMinor > 0 { counter.append((invoice.receivable_account_id, split.toInvoiceMinor)) }
                if split.toCreditMinor > 0 { counter.append((try await role(.customerCredit), split.toCreditMinor)) }
            } else {
                counter.append((try await role(.revenue), payment.amountMinor))
            }
            let fee = refund ? 0 : max(payment.feeMinor ?? 0, 0)
            guard fee < payment.amountMinor else { throw AppError.invalid("the payment's fee must be below its amount") }
            var lines = counter.map {
                LineRequest(accountId: $0.account, side: refund ? .debit : .credit, amountMinor: $0.amount, currency: payment.currency, memo: nil)
            }
            lines.append(LineRequest(accountId: clearing, side: refund ? .credit : .debit, amountMinor: payment.amountMinor - fee,
                                     currency: payment.currency, memo: nil))
            if fee > 0 {
                lines.append(LineRequest(accountId: try await role(.paymentFees), side: .debit, amountMinor: fee,
                                         currency: payment.currency, memo: "\(payment.gateway) fee"))
            }
            var metadata = ["paymentId": payment.paymentId, "gateway": String(payment.gateway.prefix(64))]
            if let invoiceId = payment.invoiceId { metadata["invoiceId"] = String(invoiceId.prefix(64)) }
            if let split, split.toCreditMinor > 0 { metadata["customerId"] = split.customerId }
            if let reference = payment.gatewayReference { metadata["gatewayReference"] = String(reference.prefix(200)) }
            return try EntryRequest.validated(
                id: nil, date: LedgerDate(instant: Date(unixMillis: payment.processedAtMillis)).description,
                description: "\(refund ? "Refund" : "Payment") via \(payment.gateway.prefix(64))",
                reference: payment.gatewayReference.map { String($0.prefix(LedgerLimits.referenceLengthMax)) },
                metadata: metadata, lines: lines, source: .payment, sourceId: sourceId, mode: .post, timeoutSeconds: nil)
        }
        if let posted, let split { try await self.applyGatewayPayment(payment, split: split, entryId: posted.entry.id, on: db) }
    }

    /// Posts an accepted loan: the principal owed into loans receivable, paid out of the disbursement bank account
    /// less the origination fee, which is earned as revenue. A refusal is answered with `JournalEntryRejected`.
    func post(loan: LoanOfferAccepted, on db: any SQLDatabase) async throws {
        let principal = Principal.system(tenantId: loan.tenantId)
        try await self.postAnswering(source: .loan, sourceId: loan.offerId, principal: principal, on: db) {
            func role(_ role: SystemRole) async throws -> String {
                guard let account = try await LedgerStore.accountBySystemRole(tenantId: loan.tenantId, role: role.rawValue, db: db) else {
                    throw AppError(.rejected, code: "system-account-missing", "the chart has no account with the role \(role.rawValue)")
                }
                return account.id
            }
            guard loan.principalMinor > 0, (0..<loan.principalMinor).contains(loan.feeMinor) else {
                throw AppError.invalid("the loan's principal must be positive and its fee below it")
            }
            var lines = [
                LineRequest(accountId: try await role(.loansReceivable), side: .debit, amountMinor: loan.principalMinor, currency: loan.currency,
                            memo: "\(loan.termMonths) months at \(loan.rateBps) bps"),
                LineRequest(accountId: try await role(.disbursement), side: .credit, amountMinor: loan.principalMinor - loan.feeMinor,
                            currency: loan.currency, memo: "paid out"),
            ]
            if loan.feeMinor > 0 {
                lines.append(LineRequest(accountId: try await role(.loanFeeIncome), side: .credit, amountMinor: loan.feeMinor,
                                         currency: loan.currency, memo: "origination fee"))
            }
            var metadata = ["offerId": loan.offerId, "decisionId": loan.decisionId]
            if let customerId = loan.customerId { metadata["customerId"] = String(customerId.prefix(128)) }
            return try EntryRequest.validated(
                id: nil, date: loan.disbursementDate, description: "Loan disbursed\(loan.customerId.map { " to \($0.prefix(64))" } ?? "")",
                reference: nil, metadata: metadata, lines: lines, source: .loan, sourceId: loan.offerId, mode: .post, timeoutSeconds: nil)
        }
    }

    /// Reverses the entry that posted a business transaction, as its service asked. A refusal (closed period, balance
    /// constraint, nothing posted) is answered with `JournalEntryRejected`; an entry already reversed (an accountant
    /// did it, and that reversal was announced) is left as it is.
    func reverse(transaction request: TransactionReversalRequested, on db: any SQLDatabase) async throws {
        let principal = Principal.system(tenantId: request.tenantId)
        func refuse(_ code: String, _ reason: String) async throws {
            try await self.outbox.enqueue(
                JournalEntryRejected(
                    tenantId: request.tenantId, source: EntrySource.transaction.rawValue, sourceId: request.transactionId,
                    code: code, reason: reason),
                subject: request.transactionId, tenantId: request.tenantId, on: db)
        }
        struct IdRow: Decodable { let id: String }
        let entry = try await db.raw("""
            SELECT id FROM journal_entries WHERE tenant_id = \(bind: request.tenantId) AND source = \(bind: EntrySource.transaction.rawValue)
            AND source_id = \(bind: request.transactionId) AND reverses_id IS NULL
            """).first(decoding: IdRow.self)
        guard let entry else { return try await refuse("not-posted", "no entry of the ledger posted the transaction") }
        guard let date = LedgerDate(request.reversalDate) else {
            return try await refuse("validation-failed", "reversalDate '\(request.reversalDate.prefix(32))' is not a YYYY-MM-DD date")
        }
        do {
            _ = try await self.reverseInTransaction(
                principal: principal, id: entry.id, date: date,
                description: request.reason.map { String("Reversal: \($0)".prefix(LedgerLimits.descriptionLengthMax)) }, newId: nil, db: db)
        } catch let error as AppError where error.kind != .unavailable {
            guard error.code != "already-reversed" else { return }
            try await refuse(error.code, ([error.message] + error.fieldErrors.map { "\($0.field) \($0.message)" }).joined(separator: "; "))
        }
    }

    /// Posts the entry `build` makes for another service's record once; answers a refusal with an event.
    @discardableResult
    func postAnswering(
        source: EntrySource, sourceId: String, principal: Principal, on db: any SQLDatabase,
        _ build: () async throws -> EntryRequest
    ) async throws -> EntryRecord? {
        let posted = try await db.raw("""
            SELECT COUNT(*) AS n FROM journal_entries WHERE tenant_id = \(bind: principal.tenantId) AND source = \(bind: source.rawValue)
            AND source_id = \(bind: sourceId)
            """).first(decoding: CountRow.self)?.n ?? 0
        guard posted == 0 else { return nil }
        do {
            return try await self.submit([try await build()], principal: principal, batchId: nil, on: db).first
        } catch let error as AppError where error.kind != .unavailable {
            let detail = ([error.message] + error.fieldErrors.map { "\($0.field) \($0.message)" }).joined(separator: "; ")
            try await self.outbox.enqueue(
                JournalEntryRejected(tenantId: principal.tenantId, source: source.rawValue, sourceId: sourceId, code: error.code, reason: detail),
                subject: sourceId, tenantId: principal.tenantId, on: db)
            return nil
        }
    }
}

extension String {
    /// The string, or nil when it is empty.
    var nonEmpty: String? { self.isEmpty ? nil : self }
}
