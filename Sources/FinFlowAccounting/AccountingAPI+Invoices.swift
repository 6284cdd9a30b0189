import FinFlowCore
import Foundation
import OpenAPIRuntime

extension AccountingAPI {
    func listInvoices(_ input: Operations.ListInvoices.Input) async throws -> Operations.ListInvoices.Output {
        let principal = try RequestScope.require(Permissions.readJournal)
        let page = try PageRequest(limit: input.query.limit, cursor: input.query.cursor)
        let result = try await self.ledger.invoices(
            principal: principal, customerId: input.query.customerId, status: input.query.status?.rawValue, page: page)
        return .ok(.init(body: .json(.init(items: result.items.map(Self.dto), nextCursor: result.nextCursor))))
    }

    func createInvoice(_ input: Operations.CreateInvoice.Input) async throws -> Operations.CreateInvoice.Output {
        let principal = try RequestScope.require(Permissions.post)
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let request = try InvoiceRequest.validated(
            id: body.id ?? RequestScope.effectId("invoice"), customerId: body.customerId, customerName: body.customerName, currency: body.currency, issueDate: body.issueDate,
            dueDate: body.dueDate, paymentTermsDays: body.paymentTermsDays, lines: body.lines.map(Self.line),
            receivableAccountId: body.receivableAccountId, memo: body.memo, taxCalculationId: body.taxCalculationId)
        return .created(.init(body: .json(Self.dto(try await self.ledger.createInvoice(
            principal: principal, request: request, issue: body.issue ?? false, entryId: RequestScope.effectId("invoice-issue"))))))
    }

    func getInvoice(_ input: Operations.GetInvoice.Input) async throws -> Operations.GetInvoice.Output {
        let principal = try RequestScope.require(Permissions.readJournal)
        return .ok(.init(body: .json(Self.dto(try await self.ledger.invoice(principal: principal, id: input.path.invoiceId)))))
    }

    func issueInvoice(_ input: Operations.IssueInvoice.Input) async throws -> Operations.IssueInvoice.Output {
        let principal = try RequestScope.require(Permissions.post)
        return .ok(.init(body: .json(Self.dto(try await self.ledger.issueInvoice(
            principal: principal, id: input.path.invoiceId, entryId: RequestScope.effectId("invoice-issue"))))))
    }

    func voidInvoice(_ input: Operations.VoidInvoice.Input) async throws -> Operations.VoidInvoice.Output {
        let principal = try RequestScope.require(Permissions.post)
        return .ok(.init(body: .json(Self.dto(try await self.ledger.voidInvoice(
            principal: principal, id: input.path.invoiceId, entryId: RequestScope.effectId("invoice-void"))))))
    }

    func payInvoice(_ input: Operations.PayInvoice.Input) async throws -> Operations.PayInvoice.Output {
        let principal = try RequestScope.require(Permissions.post)
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let date = LedgerDate.parse(body.date, field: "date", into: &validator)
        validator.check(body.amount > 0, "amount", "must be a positive number of minor units")
        validator.check(UUID(uuidString: body.cashAccountId) != nil, "cashAccountId", "must be a UUID")
        try validator.throwIfInvalid()
        let record = try await self.ledger.payInvoice(
            principal: principal, id: input.path.invoiceId, amountMinor: body.amount, date: date!, cashAccountId: body.cashAccountId,
            entryId: RequestScope.effectId("invoice-payment"))
        return .ok(.init(body: .json(Self.dto(record))))
    }

    func applyCustomerCredit(_ input: Operations.ApplyCustomerCredit.Input) async throws -> Operations.ApplyCustomerCredit.Output {
        let principal = try RequestScope.require(Permissions.post)
        var body: Operations.ApplyCustomerCredit.Input.Body.JsonPayload?
        if case .json(let decoded) = input.body { body = decoded }
        var validator = Validator()
        let date = LedgerDate.parse(body?.date, field: "date", into: &validator)
        if let amount = body?.amount { validator.check(amount > 0, "amount", "must be a positive number of minor units") }
        try validator.throwIfInvalid()
        let record = try await self.ledger.applyCredit(
            principal: principal, invoiceId: input.path.invoiceId, amountMinor: body?.amount,
            date: date ?? self.today, entryId: RequestScope.effectId("credit-application"))
        return .ok(.init(body: .json(Self.dto(record))))
    }

    func getCustomerCredit(_ input: Operations.GetCustomerCredit.Input) async throws -> Operations.GetCustomerCredit.Output {
        let principal = try RequestScope.require(Permissions.readJournal)
        let customerId = input.path.customerId
        guard (1...128).contains(customerId.count) else {
            throw AppError.validation([.init(field: "customerId", message: "must be 1–128 characters")])
        }
        let balances = try await self.ledger.customerCredit(principal: principal, customerId: customerId)
        return .ok(.init(body: .json(.init(customerId: customerId, balances: balances.map { .init(amount: $0.amountMinor, currency: $0.currency) }))))
    }

    func creditInvoice(_ input: Operations.CreditInvoice.Input) async throws -> Operations.CreditInvoice.Output {
        let principal = try RequestScope.require(Permissions.post)
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let request = try InvoiceRequest.validated(
            id: RequestScope.effectId("credit-note"), customerId: "credit", customerName: "credit", currency: nil, issueDate: body.issueDate, dueDate: body.issueDate,
            paymentTermsDays: nil, lines: body.lines.map(Self.line), receivableAccountId: nil, memo: body.memo,
            taxCalculationId: body.taxCalculationId)
        return .created(.init(body: .json(Self.dto(try await self.ledger.creditInvoice(principal: principal, id: input.path.invoiceId, request: request)))))
    }

    func getReceivablesAging(_ input: Operations.GetReceivablesAging.Input) async throws -> Operations.GetReceivablesAging.Output {
        let principal = try RequestScope.require(Permissions.readStatements)
        var validator = Validator()
        let asOf = LedgerDate.parse(input.query.asOf, field: "asOf", into: &validator) ?? self.today
        try validator.throwIfInvalid()
        let reports = try await self.ledger.receivablesAging(principal: principal, asOf: asOf)
        if input.query.format == .csv {
            return .ok(.init(body: .csv(HTTPBody(AgingReport.csv(reports, partyColumns: ["customer_id", "customer"])))))
        }
        return .ok(.init(body: .json(.init(
            asOf: asOf.description, buckets: AgingReport.bucketNames,
            currencies: reports.map { report in
                .init(currency: report.currency, totals: report.totals,
                      rows: report.rows.map { .init(customerId: $0.partyId, customerName: $0.partyName, amounts: $0.buckets, total: $0.totalMinor) })
            }))))
    }

    static func line(_ line: Components.Schemas.InvoiceLineInput)
        -> (description: String, quantity: String, unitPrice: Int64, taxRate: String?, revenueAccountId: String?)
    {
        (line.description, line.quantity, line.unitPrice, line.taxRate, line.revenueAccountId)
    }

    static func dto(_ record: InvoiceRecord) -> Components.Schemas.Invoice {
        let invoice = record.invoice
        return .init(
            id: invoice.id, number: invoice.number, kind: invoice.kind == "credit_note" ? .creditNote : .invoice,
            status: Components.Schemas.InvoiceStatus(rawValue: invoice.status) ?? .draft, customerId: invoice.customer_id,
            customerName: invoice.customer_name, currency: invoice.currency, issueDate: invoice.issue_date, dueDate: invoice.due_date,
            subtotal: invoice.subtotal_minor, tax: invoice.tax_minor, total: invoice.total_minor, paid: invoice.paid_minor,
            credited: invoice.credited_minor, open: invoice.openMinor, taxCalculationId: invoice.tax_document_id, creditedInvoiceId: invoice.credited_invoice_id,
            receivableAccountId: invoice.receivable_account_id, entryId: invoice.entry_id, voidEntryId: invoice.void_entry_id, memo: invoice.memo,
            lines: record.lines.map {
                .init(line: $0.line_no, description: $0.description, quantity: $0.quantity, unitPrice: $0.unit_price_minor, taxRate: $0.tax_rate,
                      revenueAccountId: $0.revenue_account_id, net: $0.net_minor, tax: $0.tax_minor)
            },
            applications: record.payments.map {
                .init(kind: .init(rawValue: $0.kind) ?? .payment, amount: $0.amount_minor, date: $0.payment_date, entryId: $0.entry_id, sourceId: $0.source_id)
            })
    }
}
