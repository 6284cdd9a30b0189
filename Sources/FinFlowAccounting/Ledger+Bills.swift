import FinFlowCore
import Foundation
import SQLKit

/// A vendor bill or vendor credit note.
struct BillRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let number: String
    /// `bill` or `vendor_credit`.
    let kind: String
    /// draft, awaiting_approval, open, partially_paid, paid, void; a vendor credit note is `applied`.
    let status: String
    let vendor_id: String
    let vendor_name: String
    let vendor_reference: String?
    let currency: String
    let bill_date: String
    let due_date: String
    let subtotal_minor: Int64
    let tax_minor: Int64
    let recoverable_tax_minor: Int64
    let total_minor: Int64
    let paid_minor: Int64
    let credited_minor: Int64
    let credited_bill_id: String?
    let payable_account_id: String
    let entry_id: String?
    let void_entry_id: String?
    let memo: String?
    let request_hash: String
    let created_by: String?
    let approved_by: String?
    let created_at_ms: Int64
    let updated_at_ms: Int64
    /// The tax service's committed calculation the tax was taken from.
    var tax_document_id: String? = nil

    var openMinor: Int64 { self.total_minor - self.paid_minor - self.credited_minor }
    var isCredit: Bool { self.kind == Self.vendorCredit }

    static let bill = "bill"
    static let vendorCredit = "vendor_credit"
    /// The states of a bill in the books, whose open amount is owed.
    static let posted = ["open", "partially_paid", "paid"]
    /// The states in which a bill takes payments and credit notes.
    static let payable = ["open", "partially_paid"]
}

/// One bill line with its rounded amounts.
struct BillLineRow: Codable, Sendable {
    let bill_id: String
    let line_no: Int
    let tenant_id: String
    let description: String
    let quantity: String
    let unit_price_minor: Int64
    let tax_rate: String
    /// 1 when the tax is reclaimed as input tax, 0 when it is part of the expense.
    let tax_recoverable: Int
    let expense_account_id: String
    let net_minor: Int64
    let tax_minor: Int64
}

/// A payment of a bill, or a vendor credit note applied to it.
struct BillPaymentRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let bill_id: String
    /// payment or credit.
    let kind: String
    let amount_minor: Int64
    let payment_date: String
    let entry_id: String?
    let source_id: String?
    let created_at_ms: Int64
}

/// A bill with its lines and applications.
struct BillRecord: Sendable {
    let bill: BillRow
    let lines: [BillLineRow]
    let payments: [BillPaymentRow]
}

/// Accounts payable: vendor bills posted against expense and input tax, approved by a second person above the
/// tenant's threshold, paid in parts, credited by vendor credit notes, voided by reversal. The payables control
/// account always equals the open bills.
extension Ledger {
    /// Records a bill as a draft, and posts it when `post` (or sends it for approval above the tenant's threshold). A
    /// client id with the same content returns the bill again; a second bill with a vendor's number already on a
    /// live bill of that vendor is refused as a duplicate.
    func createBill(principal: Principal, request: BillRequest, post: Bool, entryId: String?) async throws -> BillRecord {
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            if let id = request.id, let existing = try await self.billRow(id: id, tenantId: nil, db: db) {
                guard existing.tenant_id == principal.tenantId, existing.request_hash == request.fingerprint else { throw AccountingError.idReused() }
                return try await self.billRecord(principal: principal, id: id, db: db)
            }
            if request.vendorReference != nil && self.kind == .postgres {
                // Two requests entering the same vendor document at once: the second waits here and finds the first.
                try await db.raw("SELECT pg_advisory_xact_lock(hashtext(\(bind: "bill:\(principal.tenantId):\(request.vendorId)")))").run()
            }
            if let reference = request.vendorReference, let duplicate = try await db.raw("""
                SELECT number FROM bills WHERE tenant_id = \(bind: principal.tenantId) AND vendor_id = \(bind: request.vendorId)
                AND vendor_reference = \(bind: reference) AND kind = 'bill' AND status <> 'void'
                """).first(decoding: NumberRow.self)
            {
                throw AppError.conflict(code: "duplicate-bill", "bill \(duplicate.number) already records \(request.vendorId)'s document \(reference)")
            }
            let bill = try await self.insertBill(principal: principal, request: request, credits: nil, db: db)
            if post { try await self.submitBill(principal: principal, bill: bill, entryId: entryId, db: db) }
            return try await self.billRecord(principal: principal, id: bill.id, db: db)
        }
    }

    private struct NumberRow: Decodable { let number: String }

    private func insertBill(principal: Principal, request: BillRequest, credits: BillRow?, db: any SQLDatabase) async throws -> BillRow {
        let ledger = try await LedgerStore.ledger(tenantId: principal.tenantId, db: db)
        let currency = credits?.currency ?? request.currency ?? ledger.base_currency
        let payableId: String
        if let credits {
            payableId = credits.payable_account_id
        } else if let given = request.payableAccountId {
            payableId = given
        } else {
            guard let role = try await LedgerStore.accountBySystemRole(tenantId: principal.tenantId, role: SystemRole.payables.rawValue, db: db) else {
                throw AppError.validation([.init(field: "payableAccountId", message: "is needed: the chart has no payables account")])
            }
            payableId = role.id
        }
        let id = request.id ?? self.env.ids.nextString()
        var lines: [BillLineRow] = []
        var subtotal: Int64 = 0, tax: Int64 = 0, recoverable: Int64 = 0
        let computed = try request.lines.map { try InvoiceMath.amounts(quantity: $0.quantity, unitPriceMinor: $0.unitPriceMinor, taxRate: $0.taxRate) }
        let record = try await request.taxCalculationId.asyncMap { calculation in
            guard credits == nil else {
                throw AppError.validation([.init(field: "taxCalculationId", message: "a vendor credit note takes its tax from the bill's lines")])
            }
            return try await self.taxRecord(
                id: calculation, type: "purchase-invoice", currency: currency, date: request.billDate.description, nets: computed.map(\.net),
                tenantId: principal.tenantId, db: db)
        }
        for (index, line) in request.lines.enumerated() {
            // A line's tax is the calculation's when the bill names one (the tax the vendor charged; self-assessed tax
            // is posted apart), else the vendor's stated tax or its rate's.
            let lineTax = record?.lines[index].taxMinor ?? line.taxMinor ?? computed[index].tax
            let lineRecoverable = record?.lines[index].recoverable ?? line.taxRecoverable
            subtotal = try MinorUnits.add(subtotal, computed[index].net)
            tax = try MinorUnits.add(tax, lineTax)
            if lineRecoverable { recoverable = try MinorUnits.add(recoverable, lineTax) }
            lines.append(BillLineRow(
                bill_id: id, line_no: index + 1, tenant_id: principal.tenantId, description: line.description, quantity: "\(line.quantity)",
                unit_price_minor: line.unitPriceMinor, tax_rate: record?.lines[index].rate ?? "\(line.taxRate)", tax_recoverable: lineRecoverable ? 1 : 0,
                expense_account_id: line.expenseAccountId, net_minor: computed[index].net, tax_minor: lineTax))
        }
        let total = try MinorUnits.add(subtotal, tax)
        guard total > 0 else { throw AppError.invalid(code: "bill-empty", "the bill totals zero") }
        let accountIds = Set([payableId] + lines.map(\.expense_account_id))
        let accounts = try await LedgerStore.accounts(tenantId: principal.tenantId, ids: accountIds.sorted(), forUpdate: false, db: db)
        for (index, accountId) in ([payableId] + lines.map(\.expense_account_id)).enumerated() {
            let field = index == 0 ? "payableAccountId" : "lines[\(index - 1)].expenseAccountId"
            guard let account = accounts.first(where: { $0.id == accountId }) else { throw AccountingError.unknownAccount(field: field) }
            guard account.currency == currency else { throw AccountingError.currencyMismatch(field: field, expected: account.currency, got: currency) }
        }
        let sequence = credits == nil ? "BILL" : "VCN"
        let number = "\(sequence)-" + String(format: "%06d", try await self.nextNumber(tenantId: principal.tenantId, kind: sequence, db: db))
        let now = self.now
        var bill = BillRow(
            id: id, tenant_id: principal.tenantId, number: number, kind: credits == nil ? BillRow.bill : BillRow.vendorCredit, status: "draft",
            vendor_id: credits?.vendor_id ?? request.vendorId, vendor_name: credits?.vendor_name ?? request.vendorName,
            vendor_reference: request.vendorReference, currency: currency, bill_date: request.billDate.description, due_date: request.dueDate.description,
            subtotal_minor: subtotal, tax_minor: tax, recoverable_tax_minor: recoverable, total_minor: total, paid_minor: 0, credited_minor: 0,
            credited_bill_id: credits?.id, payable_account_id: payableId, entry_id: nil, void_entry_id: nil, memo: request.memo,
            request_hash: request.fingerprint, created_by: principal.subject, approved_by: nil, created_at_ms: now, updated_at_ms: now)
        bill.tax_document_id = record?.row.document_id
        try await db.insert(into: "bills").model(bill).run()
        for line in lines { try await db.insert(into: "bill_lines").model(line).run() }
        return bill
    }

    /// Posts a draft bill, or sends it for approval when the tenant's threshold asks for a second person. A keyed
    /// retry of a post that happened (the bill's entry carries the id its key derives) answers with the bill.
    func postBill(principal: Principal, id: String, entryId: String?) async throws -> BillRecord {
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            guard let bill = try await self.billRow(id: id, tenantId: principal.tenantId, db: db) else { throw AppError.notFound("bill") }
            let retried = entryId != nil && (bill.entry_id == entryId || bill.status == "awaiting_approval")
            if !retried { try await self.submitBill(principal: principal, bill: bill, entryId: entryId, db: db) }
            return try await self.billRecord(principal: principal, id: bill.id, db: db)
        }
    }

    private func submitBill(principal: Principal, bill: BillRow, entryId: String?, db: any SQLDatabase) async throws {
        guard bill.status == "draft" else { throw Self.billState(bill, "posted") }
        let ledger = try await LedgerStore.ledger(tenantId: principal.tenantId, db: db)
        if let threshold = ledger.approval_threshold_minor, bill.currency != ledger.base_currency || bill.total_minor > threshold {
            try await db.raw("""
                UPDATE bills SET status = 'awaiting_approval', updated_at_ms = \(bind: self.now)
                WHERE tenant_id = \(bind: principal.tenantId) AND id = \(bind: bill.id)
                """).run()
            return
        }
        try await self.postInTransaction(principal: principal, bill: bill, approver: nil, entryId: entryId, db: db)
    }

    /// Approves and posts a bill waiting for a second person; whoever entered it cannot approve it.
    func approveBill(principal: Principal, id: String, entryId: String?) async throws -> BillRecord {
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            guard let bill = try await self.billRow(id: id, tenantId: principal.tenantId, db: db) else { throw AppError.notFound("bill") }
            if entryId == nil || bill.entry_id != entryId {
                guard bill.status == "awaiting_approval" else { throw Self.billState(bill, "approved") }
                guard bill.created_by != principal.subject else {
                    throw AppError.forbidden(code: "four-eyes", "a bill must be approved by someone other than whoever entered it")
                }
                try await self.postInTransaction(principal: principal, bill: bill, approver: principal.subject, entryId: entryId, db: db)
                try await self.env.audit.append(
                    AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "accounting.bill.approved", target: bill.id,
                               details: ["maker": bill.created_by ?? "", "number": bill.number, "total": "\(bill.total_minor) \(bill.currency)"]),
                    on: db, kind: self.kind)
            }
            return try await self.billRecord(principal: principal, id: bill.id, db: db)
        }
    }

    /// Posts the bill: each expense account debited with its net (and the tax that cannot be reclaimed), input tax
    /// with the recoverable tax, the payable credited with the total; a vendor credit note the other way round.
    private func postInTransaction(principal: Principal, bill: BillRow, approver: String?, entryId: String?, db: any SQLDatabase) async throws {
        let lines = try await db.raw("SELECT * FROM bill_lines WHERE bill_id = \(bind: bill.id) ORDER BY line_no").all(decoding: BillLineRow.self)
        let credit = bill.isCredit
        var entryLines = [LineRequest(accountId: bill.payable_account_id, side: credit ? .debit : .credit, amountMinor: bill.total_minor,
                                      currency: bill.currency, memo: nil)]
        let record = try await bill.tax_document_id.asyncMap { try await self.taxRecord(id: $0, tenantId: principal.tenantId, db: db) }
        var byExpense: [String: Int64] = [:]
        for line in lines {
            var cost = try MinorUnits.add(line.net_minor, line.tax_recoverable == 1 ? 0 : line.tax_minor)
            // Use tax the tenant owes itself on a purchase is part of the cost where it cannot be reclaimed.
            if let taxed = record?.lines.first(where: { $0.number == line.line_no }), !taxed.recoverable {
                cost = try MinorUnits.add(cost, taxed.selfAssessedTaxMinor)
            }
            byExpense[line.expense_account_id] = try MinorUnits.add(byExpense[line.expense_account_id] ?? 0, cost)
        }
        for (account, amount) in byExpense.sorted(by: { $0.key < $1.key }) where amount > 0 {
            entryLines.append(LineRequest(accountId: account, side: credit ? .credit : .debit, amountMinor: amount, currency: bill.currency, memo: nil))
        }
        var metadata = ["billId": bill.id, "vendorId": String(bill.vendor_id.prefix(100))]
        if let record {
            entryLines += try await self.billTaxLines(record, currency: bill.currency, tenantId: principal.tenantId, db: db)
            metadata["taxDocumentId"] = record.row.document_id
        } else if bill.recoverable_tax_minor > 0 {
            guard let tax = try await LedgerStore.accountBySystemRole(tenantId: principal.tenantId, role: SystemRole.inputTax.rawValue, db: db) else {
                throw AppError.conflict(
                    code: "system-account-missing",
                    "the chart has no input tax account (role input_tax): create one with that role, or mark the lines' tax not recoverable")
            }
            entryLines.append(LineRequest(accountId: tax.id, side: credit ? .credit : .debit, amountMinor: bill.recoverable_tax_minor,
                                          currency: bill.currency, memo: nil))
        }
        let what = credit ? "Vendor credit" : "Bill"
        let request = try EntryRequest.validated(
            id: entryId, date: bill.bill_date,
            description: "\(what) \(bill.number) from \(bill.vendor_name)".prefix(LedgerLimits.descriptionLengthMax).description,
            reference: bill.vendor_reference ?? bill.number, metadata: metadata,
            lines: entryLines, source: .bill, sourceId: "post:\(bill.id)", mode: .post, timeoutSeconds: nil)
        let entry = try await self.submit([request], principal: principal, batchId: nil, on: db)[0].entry
        try await db.raw("""
            UPDATE bills SET status = \(bind: credit ? "applied" : "open"), entry_id = \(bind: entry.id), approved_by = \(bind: approver),
            updated_at_ms = \(bind: self.now) WHERE tenant_id = \(bind: principal.tenantId) AND id = \(bind: bill.id)
            """).run()
        try await self.outbox.enqueue(
            BillPosted(
                billId: bill.id, tenantId: bill.tenant_id, kind: bill.kind, vendorId: bill.vendor_id, vendorReference: bill.vendor_reference,
                currency: bill.currency, subtotalMinor: bill.subtotal_minor, taxMinor: bill.tax_minor, recoverableTaxMinor: bill.recoverable_tax_minor,
                totalMinor: bill.total_minor, billDate: bill.bill_date, dueDate: bill.due_date, entryId: entry.id, creditedBillId: bill.credited_bill_id),
            subject: bill.id, tenantId: bill.tenant_id, on: db)
        if credit, let creditedId = bill.credited_bill_id {
            try await self.applyToBill(kind: "credit", amount: bill.total_minor, date: bill.bill_date, to: creditedId, entryId: entry.id,
                                       sourceId: bill.id, tenantId: principal.tenantId, db: db)
        }
    }

    /// Records a vendor credit note against a posted bill, for at most its open amount, and posts it at once.
    func creditBill(principal: Principal, id: String, request: BillRequest) async throws -> BillRecord {
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            guard let bill = try await self.billRow(id: id, tenantId: principal.tenantId, db: db), !bill.isCredit else { throw AppError.notFound("bill") }
            // The same credit note asked for again (a retry under its idempotency key) is answered with it.
            if let noteId = request.id, let note = try await self.billRow(id: noteId, tenantId: principal.tenantId, db: db),
                note.credited_bill_id == bill.id, note.request_hash == request.fingerprint
            {
                return try await self.billRecord(principal: principal, id: note.id, db: db)
            }
            guard BillRow.payable.contains(bill.status) else { throw Self.billState(bill, "credited") }
            let note = try await self.insertBill(principal: principal, request: request, credits: bill, db: db)
            guard note.total_minor <= bill.openMinor else {
                throw AppError(.rejected, code: "credit-exceeds-open", "the credit note's \(note.total_minor) exceeds the bill's open \(bill.openMinor)")
            }
            try await self.postInTransaction(principal: principal, bill: note, approver: nil, entryId: nil, db: db)
            return try await self.billRecord(principal: principal, id: note.id, db: db)
        }
    }

    /// Records a payment of a bill from `cashAccountId`: the payable debited, cash credited. With `entryId` (derived
    /// from the request's idempotency key) a retry that finds its payment answers with the bill instead of paying again.
    func payBill(principal: Principal, id: String, amountMinor: Int64, date: LedgerDate, cashAccountId: String, entryId: String?) async throws -> BillRecord {
        guard amountMinor > 0 else { throw AppError.validation([.init(field: "amount", message: "must be positive")]) }
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            guard let bill = try await self.billRow(id: id, tenantId: principal.tenantId, db: db), !bill.isCredit else { throw AppError.notFound("bill") }
            if let entryId, try await db.raw("""
                SELECT COUNT(*) AS n FROM bill_payments WHERE tenant_id = \(bind: principal.tenantId) AND bill_id = \(bind: bill.id)
                AND entry_id = \(bind: entryId)
                """).first(decoding: CountRow.self)?.n ?? 0 > 0
            {
                return try await self.billRecord(principal: principal, id: bill.id, db: db)
            }
            guard BillRow.payable.contains(bill.status) else { throw Self.billState(bill, "paid") }
            guard amountMinor <= bill.openMinor else {
                throw AppError(.rejected, code: "overpayment", "the bill has \(bill.openMinor) open; pay a vendor in advance with a journal entry to prepayments")
            }
            let request = try EntryRequest.validated(
                id: entryId, date: date.description,
                description: "Payment of \(bill.number) to \(bill.vendor_name)".prefix(LedgerLimits.descriptionLengthMax).description,
                reference: bill.vendor_reference ?? bill.number, metadata: ["billId": bill.id],
                lines: [
                    LineRequest(accountId: bill.payable_account_id, side: .debit, amountMinor: amountMinor, currency: bill.currency, memo: nil),
                    LineRequest(accountId: cashAccountId.lowercased(), side: .credit, amountMinor: amountMinor, currency: bill.currency, memo: nil),
                ],
                source: .bill, mode: .post, timeoutSeconds: nil)
            let entry = try await self.submit([request], principal: principal, batchId: nil, on: db)[0].entry
            try await self.applyToBill(kind: "payment", amount: amountMinor, date: date.description, to: bill.id, entryId: entry.id, sourceId: nil,
                                       tenantId: principal.tenantId, db: db)
            return try await self.billRecord(principal: principal, id: bill.id, db: db)
        }
    }

    /// Records an application to a bill and moves its paid or credited total and status; announces `BillSettled`
    /// when this settles it.
    private func applyToBill(
        kind: String, amount: Int64, date: String, to billId: String, entryId: String?, sourceId: String?, tenantId: String, db: any SQLDatabase
    ) async throws {
        let now = self.now
        try await db.insert(into: "bill_payments").model(BillPaymentRow(
            id: self.env.ids.nextString(), tenant_id: tenantId, bill_id: billId, kind: kind, amount_minor: amount, payment_date: date,
            entry_id: entryId, source_id: sourceId, created_at_ms: now)).run()
        let column = kind == "credit" ? "credited_minor" : "paid_minor"
        struct Settled: Decodable { let status: String }
        let settled = try await db.raw("""
            UPDATE bills SET \(ident: column) = \(ident: column) + \(bind: amount), updated_at_ms = \(bind: now),
            status = CASE WHEN paid_minor + credited_minor + \(bind: amount) >= total_minor THEN 'paid' ELSE 'partially_paid' END
            WHERE tenant_id = \(bind: tenantId) AND id = \(bind: billId) AND status IN ('open', 'partially_paid')
            RETURNING status
            """).first(decoding: Settled.self)
        guard let settled else { throw InvariantViolation("bill \(billId) took an application outside the open states") }
        if settled.status == "paid", let bill = try await self.billRow(id: billId, tenantId: tenantId, db: db) {
            try await self.outbox.enqueue(
                BillSettled(
                    billId: bill.id, tenantId: bill.tenant_id, vendorId: bill.vendor_id, currency: bill.currency, totalMinor: bill.total_minor,
                    billDate: bill.bill_date, dueDate: bill.due_date, settledDate: date, settledBy: kind == "credit" ? "credit" : "payment"),
                subject: bill.id, tenantId: bill.tenant_id, on: db)
        }
    }

    /// Voids a draft or a bill waiting for approval, or a posted bill with nothing applied to it (its entry is
    /// reversed). A keyed retry that finds the bill voided answers with it.
    func voidBill(principal: Principal, id: String, entryId: String?) async throws -> BillRecord {
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            guard let bill = try await self.billRow(id: id, tenantId: principal.tenantId, db: db) else { throw AppError.notFound("bill") }
            if entryId != nil && bill.status == "void" { return try await self.billRecord(principal: principal, id: bill.id, db: db) }
            var reversal: String?
            switch bill.status {
            case "draft", "awaiting_approval": break
            case "open" where bill.paid_minor == 0 && bill.credited_minor == 0:
                if let posted = bill.entry_id {
                    reversal = try await self.reverseInTransaction(
                        principal: principal, id: posted, date: nil, description: "Void of \(bill.number)", newId: entryId, db: db).entry.id
                }
            default:
                throw AppError.conflict(
                    code: "invalid-state", "bill \(bill.number) is \(bill.status) or has payments or credits; record a vendor credit note")
            }
            try await db.raw("""
                UPDATE bills SET status = 'void', void_entry_id = \(bind: reversal), updated_at_ms = \(bind: self.now)
                WHERE tenant_id = \(bind: principal.tenantId) AND id = \(bind: bill.id)
                """).run()
            return try await self.billRecord(principal: principal, id: bill.id, db: db)
        }
    }

    static func billState(_ bill: BillRow, _ action: String) -> AppError {
        AppError.conflict(code: "invalid-state", "bill \(bill.number) is \(bill.status) and cannot be \(action)")
    }

    /// One bill with its lines and applications.
    func bill(principal: Principal, id: String) async throws -> BillRecord {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in try await self.billRecord(principal: principal, id: id, db: db) }
    }

    /// Bills and vendor credit notes, newest first, optionally of one vendor or status.
    func bills(principal: Principal, vendorId: String?, status: String?, page: PageRequest) async throws -> (items: [BillRecord], nextCursor: String?) {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            var query = SQLQueryString("SELECT * FROM bills WHERE tenant_id = \(bind: principal.tenantId)")
            if let vendorId { query.appendInterpolation(unsafeRaw: " AND vendor_id = "); query.appendInterpolation(bind: vendorId) }
            if let status { query.appendInterpolation(unsafeRaw: " AND status = "); query.appendInterpolation(bind: status) }
            if let after = page.after { query.appendInterpolation(unsafeRaw: " AND id < "); query.appendInterpolation(bind: after) }
            query.appendInterpolation(unsafeRaw: " ORDER BY id DESC LIMIT \(page.limit + 1)")
            let rows = try await db.raw(query).all(decoding: BillRow.self)
            let cut = page.page(rows) { $0.id }
            var records: [BillRecord] = []
            for row in cut.items { records.append(try await self.billRecord(principal: principal, id: row.id, db: db)) }
            return (records, cut.nextCursor)
        }
    }

    /// The bill `id`; with a tenant, locked for the transaction on PostgreSQL.
    func billRow(id: String, tenantId: String?, db: any SQLDatabase) async throws -> BillRow? {
        guard UUID(uuidString: id) != nil else { return nil }
        var query = SQLQueryString("SELECT * FROM bills WHERE id = \(bind: id.lowercased())")
        if let tenantId { query.appendInterpolation(unsafeRaw: " AND tenant_id = "); query.appendInterpolation(bind: tenantId) }
        if tenantId != nil && self.kind == .postgres { query.appendInterpolation(unsafeRaw: " FOR UPDATE") }
        return try await db.raw(query).first(decoding: BillRow.self)
    }

    func billRecord(principal: Principal, id: String, db: any SQLDatabase) async throws -> BillRecord {
        guard UUID(uuidString: id) != nil,
            let bill = try await db.raw("SELECT * FROM bills WHERE tenant_id = \(bind: principal.tenantId) AND id = \(bind: id.lowercased())")
                .first(decoding: BillRow.self)
        else { throw AppError.notFound("bill") }
        let lines = try await db.raw("SELECT * FROM bill_lines WHERE bill_id = \(bind: bill.id) ORDER BY line_no").all(decoding: BillLineRow.self)
        let payments = try await db.raw("""
            SELECT * FROM bill_payments WHERE tenant_id = \(bind: principal.tenantId) AND bill_id = \(bind: bill.id) ORDER BY payment_date, id
            """).all(decoding: BillPaymentRow.self)
        return BillRecord(bill: bill, lines: lines, payments: payments)
    }

    /// Posted bills open at `asOf` (payments and credits dated up to then), per currency and vendor, by days past
    /// their due date.
    func payablesAging(principal: Principal, asOf: LedgerDate) async throws -> [AgingReport] {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            let bills = try await db.raw("""
                SELECT * FROM bills WHERE tenant_id = \(bind: principal.tenantId) AND kind = 'bill'
                AND status IN ('open', 'partially_paid', 'paid') AND bill_date <= \(bind: asOf.description)
                """).all(decoding: BillRow.self)
            let applications = try await db.raw("""
                SELECT * FROM bill_payments WHERE tenant_id = \(bind: principal.tenantId) AND payment_date <= \(bind: asOf.description)
                """).all(decoding: BillPaymentRow.self)
            var applied: [String: Int128] = [:]
            for application in applications { applied[application.bill_id, default: 0] += Int128(application.amount_minor) }
            return try AgingReport.reports(bills.map { bill in
                (bill.currency, bill.vendor_id, bill.vendor_name, bill.due_date, Int128(bill.total_minor) - (applied[bill.id] ?? 0))
            }, asOf: asOf)
        }
    }
}
