import FinFlowCore
import Foundation
import SQLKit

/// An invoice or credit note.
struct InvoiceRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let number: String
    let kind: String
    let status: String
    let customer_id: String
    let customer_name: String
    let currency: String
    let issue_date: String
    let due_date: String
    let subtotal_minor: Int64
    let tax_minor: Int64
    let total_minor: Int64
    let paid_minor: Int64
    let credited_minor: Int64
    let credited_invoice_id: String?
    let receivable_account_id: String
    let entry_id: String?
    let void_entry_id: String?
    let memo: String?
    let request_hash: String
    let created_by: String?
    let created_at_ms: Int64
    let updated_at_ms: Int64
    /// The tax service's committed calculation the tax was taken from.
    var tax_document_id: String? = nil

    var openMinor: Int64 { self.total_minor - self.paid_minor - self.credited_minor }
}

/// One invoice line with its rounded amounts.
struct InvoiceLineRow: Codable, Sendable {
    let invoice_id: String
    let line_no: Int
    let tenant_id: String
    let description: String
    let quantity: String
    let unit_price_minor: Int64
    let tax_rate: String
    let revenue_account_id: String
    let net_minor: Int64
    let tax_minor: Int64
}

/// A payment, refund or credit applied to an invoice.
struct InvoicePaymentRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let invoice_id: String
    /// payment, refund, credit.
    let kind: String
    let amount_minor: Int64
    let payment_date: String
    let entry_id: String?
    let source_id: String?
    let created_at_ms: Int64
}

/// An invoice with its lines and applications.
struct InvoiceRecord: Sendable {
    let invoice: InvoiceRow
    let lines: [InvoiceLineRow]
    let payments: [InvoicePaymentRow]
}

extension Ledger {
    /// Creates a draft invoice (issued at once when `issue`); a client id with the same content returns it again.
    func createInvoice(principal: Principal, request: InvoiceRequest, issue: Bool, entryId: String? = nil) async throws -> InvoiceRecord {
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            if let id = request.id, let existing = try await self.invoiceRow(id: id, tenantId: nil, db: db) {
                guard existing.tenant_id == principal.tenantId, existing.request_hash == request.fingerprint else {
                    throw AccountingError.idReused()
                }
                return try await self.invoiceRecord(principal: principal, id: id, db: db)
            }
            let invoice = try await self.insertInvoice(principal: principal, request: request, kind: "invoice", credits: nil, db: db)
            if issue { try await self.issueInTransaction(principal: principal, invoice: invoice, entryId: entryId, db: db) }
            return try await self.invoiceRecord(principal: principal, id: invoice.id, db: db)
        }
    }

    private func insertInvoice(
        principal: Principal, request: InvoiceRequest, kind: String, credits: InvoiceRow?, db: any SQLDatabase
    ) async throws -> InvoiceRow {
        let ledger = try await LedgerStore.ledger(tenantId: principal.tenantId, db: db)
        let currency = credits?.currency ?? request.currency ?? ledger.base_currency
        let receivableId: String
        if let credits {
            receivableId = credits.receivable_account_id
        } else if let given = request.receivableAccountId {
            receivableId = given
        } else {
            guard let role = try await LedgerStore.accountBySystemRole(tenantId: principal.tenantId, role: SystemRole.receivables.rawValue, db: db) else {
                throw AppError.validation([.init(field: "receivableAccountId", message: "is needed: the chart has no receivables account")])
            }
            receivableId = role.id
        }
        let revenue = try await LedgerStore.accountBySystemRole(tenantId: principal.tenantId, role: SystemRole.revenue.rawValue, db: db)
        var lines: [InvoiceLineRow] = []
        var subtotal: Int64 = 0, tax: Int64 = 0
        let id = request.id ?? self.env.ids.nextString()
        let computed = try request.lines.map { try InvoiceMath.amounts(quantity: $0.quantity, unitPriceMinor: $0.unitPriceMinor, taxRate: $0.taxRate) }
        let record = try await request.taxCalculationId.asyncMap { calculation in
            try await self.taxRecord(
                id: calculation, type: kind == "invoice" ? "sales-invoice" : "credit-note", currency: currency,
                date: request.issueDate.description, nets: computed.map(\.net), tenantId: principal.tenantId, db: db)
        }
        for (index, line) in request.lines.enumerated() {
            guard let revenueId = line.revenueAccountId ?? revenue?.id else {
                throw AppError.validation([.init(field: "lines[\(index)].revenueAccountId", message: "is needed: the chart has no revenue account")])
            }
            // A line's tax is the calculation's when the invoice names one, else its typed rate's.
            let lineTax = record?.lines[index].taxMinor ?? computed[index].tax
            subtotal = try MinorUnits.add(subtotal, computed[index].net)
            tax = try MinorUnits.add(tax, lineTax)
            lines.append(InvoiceLineRow(
                invoice_id: id, line_no: index + 1, tenant_id: principal.tenantId, description: line.description,
                quantity: "\(line.quantity)", unit_price_minor: line.unitPriceMinor, tax_rate: record?.lines[index].rate ?? "\(line.taxRate)",
                revenue_account_id: revenueId, net_minor: computed[index].net, tax_minor: lineTax))
        }
        guard try MinorUnits.add(subtotal, tax) > 0 else { throw AppError.invalid(code: "invoice-empty", "the invoice totals zero") }
        let accountIds = Set([receivableId] + lines.map(\.revenue_account_id))
        let accounts = try await LedgerStore.accounts(tenantId: principal.tenantId, ids: accountIds.sorted(), forUpdate: false, db: db)
        for accountId in accountIds {
            guard let account = accounts.first(where: { $0.id == accountId }) else { throw AccountingError.unknownAccount(field: "lines") }
            guard account.currency == currency else {
                throw AccountingError.currencyMismatch(field: accountId == receivableId ? "receivableAccountId" : "lines", expected: account.currency, got: currency)
            }
        }
        let sequence = kind == "invoice" ? "INV" : "CN"
        let number = "\(sequence)-" + String(format: "%06d", try await self.nextNumber(tenantId: principal.tenantId, kind: sequence, db: db))
        let now = self.now
        var invoice = InvoiceRow(
            id: id, tenant_id: principal.tenantId, number: number, kind: kind, status: "draft", customer_id: credits?.customer_id ?? request.customerId,
            customer_name: credits?.customer_name ?? request.customerName, currency: currency, issue_date: request.issueDate.description,
            due_date: request.dueDate.description, subtotal_minor: subtotal, tax_minor: tax, total_minor: subtotal + tax, paid_minor: 0,
            credited_minor: 0, credited_invoice_id: credits?.id, receivable_account_id: receivableId, entry_id: nil, void_entry_id: nil,
            memo: request.memo, request_hash: request.fingerprint, created_by: principal.subject, created_at_ms: now, updated_at_ms: now)
        invoice.tax_document_id = record?.row.document_id
        try await db.insert(into: "invoices").model(invoice).run()
        for line in lines { try await db.insert(into: "invoice_lines").model(line).run() }
        return invoice
    }

    /// The next number of the tenant's document sequence `kind` (INV, CN, BILL, VCN).
    func nextNumber(tenantId: String, kind: String, db: any SQLDatabase) async throws -> Int64 {
        guard let row = try await db.raw("""
            INSERT INTO document_sequences (tenant_id, kind, next_value) VALUES (\(bind: tenantId), \(bind: kind), 1)
            ON CONFLICT (tenant_id, kind) DO UPDATE SET next_value = document_sequences.next_value + 1
            RETURNING next_value
            """).first()
        else { throw InvariantViolation("the document sequence \(kind) returned no row") }
        return try row.decode(column: "next_value", as: Int64.self)
    }

    /// Issues a draft invoice: posts the receivable against revenue and sales tax. With `entryId` (derived from the
    /// request's idempotency key) the entry is named, and a retry that finds the invoice issued by it answers with it.
    func issueInvoice(principal: Principal, id: String, entryId: String? = nil) async throws -> InvoiceRecord {
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            guard let invoice = try await self.invoiceRow(id: id, tenantId: principal.tenantId, db: db) else { throw AppError.notFound("invoice") }
            if entryId == nil || invoice.entry_id != entryId {
                try await self.issueInTransaction(principal: principal, invoice: invoice, entryId: entryId, db: db)
            }
            return try await self.invoiceRecord(principal: principal, id: invoice.id, db: db)
        }
    }

    private func issueInTransaction(principal: Principal, invoice: InvoiceRow, entryId: String? = nil, db: any SQLDatabase) async throws {
        guard invoice.status == "draft" else { throw AccountingError.wrongStatus(invoice.status, "issued") }
        let lines = try await db.raw("SELECT * FROM invoice_lines WHERE invoice_id = \(bind: invoice.id) ORDER BY line_no")
            .all(decoding: InvoiceLineRow.self)
        let credit = invoice.kind == "credit_note"
        var entryLines = [LineRequest(accountId: invoice.receivable_account_id, side: credit ? .credit : .debit,
                                      amountMinor: invoice.total_minor, currency: invoice.currency, memo: nil)]
        var byRevenue: [String: Int64] = [:]
        for line in lines { byRevenue[line.revenue_account_id, default: 0] += line.net_minor }
        for (account, amount) in byRevenue.sorted(by: { $0.key < $1.key }) where amount > 0 {
            entryLines.append(LineRequest(accountId: account, side: credit ? .debit : .credit, amountMinor: amount, currency: invoice.currency, memo: nil))
        }
        var metadata = ["invoiceId": invoice.id, "customerId": String(invoice.customer_id.prefix(100))]
        if let calculation = invoice.tax_document_id {
            // The calculation must still stand when the invoice is issued: its tax goes to each jurisdiction's account.
            let record = try await self.taxRecord(id: calculation, tenantId: principal.tenantId, db: db)
            entryLines += try await self.invoiceTaxLines(record, credit: credit, currency: invoice.currency, tenantId: principal.tenantId, db: db)
            metadata["taxDocumentId"] = calculation
        } else if invoice.tax_minor > 0 {
            guard let tax = try await LedgerStore.accountBySystemRole(tenantId: principal.tenantId, role: SystemRole.salesTax.rawValue, db: db) else {
                throw AppError.conflict(code: "system-account-missing", "the chart has no sales tax account (role sales_tax)")
            }
            entryLines.append(LineRequest(accountId: tax.id, side: credit ? .debit : .credit, amountMinor: invoice.tax_minor, currency: invoice.currency, memo: nil))
        }
        let request = try EntryRequest.validated(
            id: entryId, date: invoice.issue_date, description: "\(credit ? "Credit note" : "Invoice") \(invoice.number) to \(invoice.customer_name)".prefix(LedgerLimits.descriptionLengthMax).description,
            reference: invoice.number, metadata: metadata,
            lines: entryLines, source: .invoice, sourceId: "issue:\(invoice.id)", mode: .post, timeoutSeconds: nil)
        let entry = try await self.submit([request], principal: principal, batchId: nil, on: db)[0]
        try await db.raw("""
            UPDATE invoices SET status = 'issued', entry_id = \(bind: entry.entry.id), updated_at_ms = \(bind: self.now)
            WHERE tenant_id = \(bind: principal.tenantId) AND id = \(bind: invoice.id)
            """).run()
        try await self.outbox.enqueue(
            InvoiceIssued(
                invoiceId: invoice.id, tenantId: invoice.tenant_id, kind: invoice.kind, number: invoice.number, customerId: invoice.customer_id,
                currency: invoice.currency, totalMinor: invoice.total_minor, issueDate: invoice.issue_date, dueDate: invoice.due_date,
                creditedInvoiceId: invoice.credited_invoice_id),
            subject: invoice.id, tenantId: invoice.tenant_id, on: db)
        if credit, let creditedId = invoice.credited_invoice_id {
            try await self.apply(kind: "credit", amount: invoice.total_minor, date: invoice.issue_date, to: creditedId, entryId: entry.entry.id,
                                 sourceId: invoice.id, principal: principal, db: db)
        }
    }

    /// Issues a credit note against an issued invoice, for at most its open amount.
    func creditInvoice(principal: Principal, id: String, request: InvoiceRequest) async throws -> InvoiceRecord {
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            guard let invoice = try await self.invoiceRow(id: id, tenantId: principal.tenantId, db: db), invoice.kind == "invoice" else {
                throw AppError.notFound("invoice")
            }
            // The same credit note asked for again (a retry under its idempotency key) is answered with it.
            if let noteId = request.id, let note = try await self.invoiceRow(id: noteId, tenantId: principal.tenantId, db: db),
                note.credited_invoice_id == invoice.id, note.request_hash == request.fingerprint
            {
                return try await self.invoiceRecord(principal: principal, id: note.id, db: db)
            }
            guard ["issued", "partially_paid"].contains(invoice.status) else { throw AccountingError.wrongStatus(invoice.status, "credited") }
            let note = try await self.insertInvoice(principal: principal, request: request, kind: "credit_note", credits: invoice, db: db)
            guard note.total_minor <= invoice.openMinor else {
                throw AppError(.rejected, code: "credit-exceeds-open", "the credit note's \(note.total_minor) exceeds the invoice's open \(invoice.openMinor)")
            }
            try await self.issueInTransaction(principal: principal, invoice: note, db: db)
            return try await self.invoiceRecord(principal: principal, id: note.id, db: db)
        }
    }

    /// Records a customer's payment of an invoice into `cashAccountId`: cash debited, the receivable credited. With
    /// `entryId` (derived from the request's idempotency key) the payment's entry is named, and a retry that finds it
    /// answers with the invoice instead of paying again.
    func payInvoice(
        principal: Principal, id: String, amountMinor: Int64, date: LedgerDate, cashAccountId: String, entryId: String? = nil
    ) async throws -> InvoiceRecord {
        guard amountMinor > 0 else { throw AppError.validation([.init(field: "amount", message: "must be positive")]) }
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            guard let invoice = try await self.invoiceRow(id: id, tenantId: principal.tenantId, db: db), invoice.kind == "invoice" else {
                throw AppError.notFound("invoice")
            }
            if try await Self.applied(entryId: entryId, to: invoice.id, tenantId: principal.tenantId, db: db) {
                return try await self.invoiceRecord(principal: principal, id: invoice.id, db: db)
            }
            guard ["issued", "partially_paid"].contains(invoice.status) else { throw AccountingError.wrongStatus(invoice.status, "paid") }
            guard amountMinor <= invoice.openMinor else {
                throw AppError(.rejected, code: "overpayment", "the invoice has \(invoice.openMinor) open; record the rest as a customer deposit")
            }
            let request = try EntryRequest.validated(
                id: entryId, date: date.description, description: "Payment of \(invoice.number) by \(invoice.customer_name)".prefix(LedgerLimits.descriptionLengthMax).description,
                reference: invoice.number, metadata: ["invoiceId": invoice.id],
                lines: [
                    LineRequest(accountId: cashAccountId.lowercased(), side: .debit, amountMinor: amountMinor, currency: invoice.currency, memo: nil),
                    LineRequest(accountId: invoice.receivable_account_id, side: .credit, amountMinor: amountMinor, currency: invoice.currency, memo: nil),
                ],
                source: .invoice, mode: .post, timeoutSeconds: nil)
            let entry = try await self.submit([request], principal: principal, batchId: nil, on: db)[0]
            try await self.apply(kind: "payment", amount: amountMinor, date: date.description, to: invoice.id, entryId: entry.entry.id,
                                 sourceId: nil, principal: principal, db: db)
            return try await self.invoiceRecord(principal: principal, id: invoice.id, db: db)
        }
    }

    /// Whether the entry `entryId` was already applied to the invoice (a retry of a request that did it).
    static func applied(entryId: String?, to invoiceId: String, tenantId: String, db: any SQLDatabase) async throws -> Bool {
        guard let entryId else { return false }
        return try await db.raw("""
            SELECT COUNT(*) AS n FROM invoice_payments WHERE tenant_id = \(bind: tenantId) AND invoice_id = \(bind: invoiceId)
            AND entry_id = \(bind: entryId)
            """).first(decoding: CountRow.self)?.n ?? 0 > 0
    }

    /// Records a payment (or refund) posted elsewhere (a gateway payment) as `split` divided it: the part that met the
    /// invoice is applied to it, the rest moves the customer's credit.
    func applyGatewayPayment(_ payment: PaymentProcessed, split: PaymentSplit, entryId: String?, on db: any SQLDatabase) async throws {
        let date = LedgerDate(instant: Date(unixMillis: payment.processedAtMillis)).description
        let principal = Principal.system(tenantId: payment.tenantId)
        let refund = payment.status == "refunded"
        if let invoice = split.invoice, split.toInvoiceMinor > 0 {
            try await self.apply(kind: refund ? "refund" : "payment", amount: split.toInvoiceMinor, date: date, to: invoice.id, entryId: entryId,
                                 sourceId: refund ? payment.refundId ?? payment.paymentId : payment.paymentId, principal: principal, db: db)
        }
        if split.toCreditMinor > 0 {
            try await self.moveCredit(tenantId: payment.tenantId, customerId: split.customerId, currency: payment.currency,
                                      deltaMinor: refund ? -split.toCreditMinor : split.toCreditMinor, db: db)
        }
    }

    /// Records an application of `amount` to an invoice and moves its paid or credited total and status; announces
    /// `InvoiceSettled` when this settles it.
    func apply(
        kind: String, amount: Int64, date: String, to invoiceId: String, entryId: String?, sourceId: String?, principal: Principal,
        db: any SQLDatabase
    ) async throws {
        let now = self.now
        try await db.insert(into: "invoice_payments").model(InvoicePaymentRow(
            id: self.env.ids.nextString(), tenant_id: principal.tenantId, invoice_id: invoiceId, kind: kind, amount_minor: amount,
            payment_date: date, entry_id: entryId, source_id: sourceId, created_at_ms: now)).run()
        let column = kind == "credit" ? "credited_minor" : "paid_minor"
        let delta = kind == "refund" ? -amount : amount
        try await db.raw("""
            UPDATE invoices SET \(ident: column) = \(ident: column) + \(bind: delta), updated_at_ms = \(bind: now)
            WHERE tenant_id = \(bind: principal.tenantId) AND id = \(bind: invoiceId)
            """).run()
        struct Settled: Decodable { let status: String }
        let settled = try await db.raw("""
            UPDATE invoices SET status = CASE WHEN paid_minor + credited_minor >= total_minor THEN 'paid'
                WHEN paid_minor + credited_minor > 0 THEN 'partially_paid' ELSE 'issued' END
            WHERE tenant_id = \(bind: principal.tenantId) AND id = \(bind: invoiceId) AND status IN ('issued', 'partially_paid', 'paid')
            RETURNING status
            """).first(decoding: Settled.self)
        // Payments and credits are applied only to invoices not yet paid, so "paid" now means this one settled it (a
        // refund cannot): the credit engine learns whether the customer paid by the due date.
        if kind != "refund", settled?.status == "paid", let invoice = try await self.invoiceRow(id: invoiceId, tenantId: principal.tenantId, db: db) {
            try await self.outbox.enqueue(
                InvoiceSettled(
                    invoiceId: invoice.id, tenantId: invoice.tenant_id, customerId: invoice.customer_id, currency: invoice.currency,
                    totalMinor: invoice.total_minor, dueDate: invoice.due_date, settledDate: date, settledBy: kind == "credit" ? "credit" : "payment"),
                subject: invoice.id, tenantId: invoice.tenant_id, on: db)
        }
    }

    /// Voids a draft, or an issued invoice with nothing applied to it (its entry is reversed, by `entryId` when the
    /// request is keyed). A keyed retry that finds the invoice void answers with it.
    func voidInvoice(principal: Principal, id: String, entryId: String? = nil) async throws -> InvoiceRecord {
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            guard let invoice = try await self.invoiceRow(id: id, tenantId: principal.tenantId, db: db) else { throw AppError.notFound("invoice") }
            if RequestScope.isKeyed && invoice.status == "void" { return try await self.invoiceRecord(principal: principal, id: invoice.id, db: db) }
            var reversal: String?
            switch invoice.status {
            case "draft": break
            case "issued" where invoice.paid_minor == 0 && invoice.credited_minor == 0 && invoice.kind == "invoice":
                if let posted = invoice.entry_id {
                    reversal = try await self.reverseInTransaction(
                        principal: principal, id: posted, date: nil, description: "Void of \(invoice.number)", newId: entryId, db: db).entry.id
                }
            default:
                throw AppError.conflict(code: "invalid-state", "invoice \(invoice.number) is \(invoice.status) or has payments or credits; issue a credit note")
            }
            try await db.raw("""
                UPDATE invoices SET status = 'void', void_entry_id = \(bind: reversal), updated_at_ms = \(bind: self.now)
                WHERE tenant_id = \(bind: principal.tenantId) AND id = \(bind: invoice.id)
                """).run()
            if invoice.status != "draft" {
                try await self.outbox.enqueue(
                    InvoiceVoided(invoiceId: invoice.id, tenantId: invoice.tenant_id, voidedDate: CalendarDay(instant: self.env.clock.now()).description),
                    subject: invoice.id, tenantId: invoice.tenant_id, on: db)
            }
            return try await self.invoiceRecord(principal: principal, id: invoice.id, db: db)
        }
    }

    /// One invoice with its lines and applications.
    func invoice(principal: Principal, id: String) async throws -> InvoiceRecord {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in try await self.invoiceRecord(principal: principal, id: id, db: db) }
    }

    /// Invoices, newest first, optionally of one customer or status.
    func invoices(principal: Principal, customerId: String?, status: String?, page: PageRequest) async throws -> (items: [InvoiceRecord], nextCursor: String?) {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            var query = SQLQueryString("SELECT * FROM invoices WHERE tenant_id = \(bind: principal.tenantId)")
            if let customerId { query.appendInterpolation(unsafeRaw: " AND customer_id = "); query.appendInterpolation(bind: customerId) }
            if let status { query.appendInterpolation(unsafeRaw: " AND status = "); query.appendInterpolation(bind: status) }
            if let after = page.after { query.appendInterpolation(unsafeRaw: " AND id < "); query.appendInterpolation(bind: after) }
            query.appendInterpolation(unsafeRaw: " ORDER BY id DESC LIMIT \(page.limit + 1)")
            let rows = try await db.raw(query).all(decoding: InvoiceRow.self)
            let cut = page.page(rows) { $0.id }
            var records: [InvoiceRecord] = []
            for row in cut.items { records.append(try await self.invoiceRecord(principal: principal, id: row.id, db: db)) }
            return (records, cut.nextCursor)
        }
    }

    func invoiceRow(id: String, tenantId: String?, db: any SQLDatabase) async throws -> InvoiceRow? {
        guard UUID(uuidString: id) != nil else { return nil }
        var query = SQLQueryString("SELECT * FROM invoices WHERE id = \(bind: id.lowercased())")
        if let tenantId { query.appendInterpolation(unsafeRaw: " AND tenant_id = "); query.appendInterpolation(bind: tenantId) }
        if tenantId != nil && self.kind == .postgres { query.appendInterpolation(unsafeRaw: " FOR UPDATE") }
        return try await db.raw(query).first(decoding: InvoiceRow.self)
    }

    func invoiceRecord(principal: Principal, id: String, db: any SQLDatabase) async throws -> InvoiceRecord {
        guard UUID(uuidString: id) != nil,
            let invoice = try await db.raw("SELECT * FROM invoices WHERE tenant_id = \(bind: principal.tenantId) AND id = \(bind: id.lowercased())")
                .first(decoding: InvoiceRow.self)
        else { throw AppError.notFound("invoice") }
        let lines = try await db.raw("SELECT * FROM invoice_lines WHERE invoice_id = \(bind: invoice.id) ORDER BY line_no").all(decoding: InvoiceLineRow.self)
        let payments = try await db.raw("SELECT * FROM invoice_payments WHERE tenant_id = \(bind: principal.tenantId) AND invoice_id = \(bind: invoice.id) ORDER BY payment_date, id")
            .all(decoding: InvoicePaymentRow.self)
        return InvoiceRecord(invoice: invoice, lines: lines, payments: payments)
    }
}
