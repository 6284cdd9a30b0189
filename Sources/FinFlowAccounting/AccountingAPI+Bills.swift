import FinFlowCore
import Foundation
import OpenAPIRuntime

extension AccountingAPI {
    func listBills(_ input: Operations.ListBills.Input) async throws -> Operations.ListBills.Output {
        let principal = try RequestScope.require(Permissions.readJournal)
        let page = try PageRequest(limit: input.query.limit, cursor: input.query.cursor)
        if let vendorId = input.query.vendorId, !(1...100).contains(vendorId.count) {
            throw AppError.validation([.init(field: "vendorId", message: "must be 1–100 characters")])
        }
        let result = try await self.ledger.bills(principal: principal, vendorId: input.query.vendorId, status: input.query.status?.rawValue, page: page)
        return .ok(.init(body: .json(.init(items: result.items.map(Self.dto), nextCursor: result.nextCursor))))
    }

    func createBill(_ input: Operations.CreateBill.Input) async throws -> Operations.CreateBill.Output {
        let principal = try RequestScope.require(Permissions.post)
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let request = try BillRequest.validated(
            id: body.id ?? RequestScope.effectId("bill"), vendorId: body.vendorId, vendorName: body.vendorName, vendorReference: body.vendorReference,
            currency: body.currency, billDate: body.billDate, dueDate: body.dueDate, paymentTermsDays: body.paymentTermsDays,
            lines: body.lines.map(Self.line), payableAccountId: body.payableAccountId, memo: body.memo, taxCalculationId: body.taxCalculationId)
        let record = try await self.ledger.createBill(principal: principal, request: request, post: body.post ?? false, entryId: RequestScope.effectId("bill-post"))
        return .created(.init(body: .json(Self.dto(record))))
    }

    func getBill(_ input: Operations.GetBill.Input) async throws -> Operations.GetBill.Output {
        let principal = try RequestScope.require(Permissions.readJournal)
        return .ok(.init(body: .json(Self.dto(try await self.ledger.bill(principal: principal, id: input.path.billId)))))
    }

    func postBill(_ input: Operations.PostBill.Input) async throws -> Operations.PostBill.Output {
        let principal = try RequestScope.require(Permissions.post)
        let record = try await self.ledger.postBill(principal: principal, id: input.path.billId, entryId: RequestScope.effectId("bill-post"))
        return .ok(.init(body: .json(Self.dto(record))))
    }

    func approveBill(_ input: Operations.ApproveBill.Input) async throws -> Operations.ApproveBill.Output {
        let principal = try RequestScope.require(Permissions.approve)
        let record = try await self.ledger.approveBill(principal: principal, id: input.path.billId, entryId: RequestScope.effectId("bill-approval"))
        return .ok(.init(body: .json(Self.dto(record))))
    }

    func voidBill(_ input: Operations.VoidBill.Input) async throws -> Operations.VoidBill.Output {
        let principal = try RequestScope.require(Permissions.post)
        let record = try await self.ledger.voidBill(principal: principal, id: input.path.billId, entryId: RequestScope.effectId("bill-void"))
        return .ok(.init(body: .json(Self.dto(record))))
    }

    func payBill(_ input: Operations.PayBill.Input) async throws -> Operations.PayBill.Output {
        let principal = try RequestScope.require(Permissions.post)
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let date = LedgerDate.parse(body.date, field: "date", into: &validator)
        validator.check(body.amount > 0, "amount", "must be a positive number of minor units")
        validator.check(UUID(uuidString: body.cashAccountId) != nil, "cashAccountId", "must be a UUID")
        try validator.throwIfInvalid()
        guard let date else { throw AppError.validation([.init(field: "date", message: "is required")]) }
        let record = try await self.ledger.payBill(
            principal: principal, id: input.path.billId, amountMinor: body.amount, date: date, cashAccountId: body.cashAccountId,
            entryId: RequestScope.effectId("bill-payment"))
        return .ok(.init(body: .json(Self.dto(record))))
    }

    func creditBill(_ input: Operations.CreditBill.Input) async throws -> Operations.CreditBill.Output {
        let principal = try RequestScope.require(Permissions.post)
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let request = try BillRequest.validated(
            id: RequestScope.effectId("vendor-credit"), vendorId: "credit", vendorName: "credit", vendorReference: body.vendorReference, currency: nil,
            billDate: body.billDate, dueDate: body.billDate, paymentTermsDays: nil, lines: body.lines.map(Self.line), payableAccountId: nil,
            memo: body.memo)
        return .created(.init(body: .json(Self.dto(try await self.ledger.creditBill(principal: principal, id: input.path.billId, request: request)))))
    }

    func getPayablesAging(_ input: Operations.GetPayablesAging.Input) async throws -> Operations.GetPayablesAging.Output {
        let principal = try RequestScope.require(Permissions.readStatements)
        var validator = Validator()
        let asOf = LedgerDate.parse(input.query.asOf, field: "asOf", into: &validator) ?? self.today
        try validator.throwIfInvalid()
        let reports = try await self.ledger.payablesAging(principal: principal, asOf: asOf)
        if input.query.format == .csv {
            return .ok(.init(body: .csv(HTTPBody(AgingReport.csv(reports, partyColumns: ["vendor_id", "vendor"])))))
        }
        return .ok(.init(body: .json(.init(
            asOf: asOf.description, buckets: AgingReport.bucketNames,
            currencies: reports.map { report in
                .init(currency: report.currency, totals: report.totals,
                      rows: report.rows.map { .init(vendorId: $0.partyId, vendorName: $0.partyName, amounts: $0.buckets, total: $0.totalMinor) })
            }))))
    }

    static func line(_ line: Components.Schemas.BillLineInput) -> BillRequest.Line {
        (line.description, line.quantity, line.unitPrice, line.taxRate, line.tax, line.taxRecoverable, line.expenseAccountId)
    }

    static func dto(_ record: BillRecord) -> Components.Schemas.Bill {
        let bill = record.bill
        return .init(
            id: bill.id, number: bill.number, kind: bill.isCredit ? .vendorCredit : .bill,
            status: Components.Schemas.BillStatus(rawValue: bill.status) ?? .draft, vendorId: bill.vendor_id, vendorName: bill.vendor_name,
            vendorReference: bill.vendor_reference, currency: bill.currency, billDate: bill.bill_date, dueDate: bill.due_date,
            subtotal: bill.subtotal_minor, tax: bill.tax_minor, recoverableTax: bill.recoverable_tax_minor, total: bill.total_minor,
            paid: bill.paid_minor, credited: bill.credited_minor, open: bill.isCredit ? 0 : bill.openMinor, taxCalculationId: bill.tax_document_id, creditedBillId: bill.credited_bill_id,
            payableAccountId: bill.payable_account_id, entryId: bill.entry_id, voidEntryId: bill.void_entry_id, createdBy: bill.created_by,
            approvedBy: bill.approved_by, memo: bill.memo,
            lines: record.lines.map {
                .init(line: $0.line_no, description: $0.description, quantity: $0.quantity, unitPrice: $0.unit_price_minor, taxRate: $0.tax_rate,
                      taxRecoverable: $0.tax_recoverable == 1, expenseAccountId: $0.expense_account_id, net: $0.net_minor, tax: $0.tax_minor)
            },
            applications: record.payments.map {
                .init(kind: .init(rawValue: $0.kind) ?? .payment, amount: $0.amount_minor, date: $0.payment_date, entryId: $0.entry_id, sourceId: $0.source_id)
            })
    }
}
