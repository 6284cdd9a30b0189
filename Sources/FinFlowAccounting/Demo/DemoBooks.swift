import FinFlowCore
import Foundation
import SQLKit

/// A year of a small trading company's books, so a newcomer sees real statements at once: owner's capital and a
/// bank loan, equipment and its depreciation, rent, payroll with withholding, utilities, inventory bought on account
/// from a wholesaler (vendor bills with input tax, paid the next month) and sold, card sales through a payment
/// processor with its fees, invoiced customers (one of them slow, so the aging report has something to show), a customer invoiced in euros with monthly rates, conversions,
/// quarterly revaluation, and the previous fiscal year closed. Deterministic for a given start date.
struct DemoBooks {
    let ledger: Ledger
    let principal: Principal
    var random = SeededRandom(seed: 20_261_125)

    static let customers = [("acme", "Acme Corporation"), ("globex", "Globex Inc."), ("initech", "Initech LLC"),
                            ("umbrella", "Umbrella Retail"), ("stark", "Stark Industries")]

    mutating func amount(_ range: ClosedRange<Int64>) -> Int64 { Int64.random(in: range, using: &self.random) }

    func post(_ date: LedgerDate, _ description: String, _ lines: [(String, Side, Int64)]) async throws {
        let request = try EntryRequest.validated(
            id: nil, date: date.description, description: description, reference: nil, metadata: ["demo": "true"],
            lines: lines.map { LineRequest(accountId: $0.0, side: $0.1, amountMinor: $0.2, currency: nil, memo: nil) },
            source: .manual, mode: .post, timeoutSeconds: nil)
        _ = try await self.ledger.submit([request], principal: self.principal)
    }

    /// Writes the year ending with the month before `today`; returns the number of entries in the journal.
    mutating func seed(today: LedgerDate) async throws -> Int {
        var a = Dictionary(uniqueKeysWithValues: try await self.ledger.accounts(principal: self.principal).map { ($0.code, $0.id) })
        for (code, name, type, tag) in [("1040", "Bank EUR", AccountType.asset, CashFlowTag.cash), ("1105", "Accounts receivable EUR", .asset, .operating)] {
            a[code] = try await self.ledger.createAccount(
                principal: self.principal, account: ChartAccount(code, name, type, currency: "EUR", tag: tag), parentId: nil).id
        }
        a["4200"] = try await self.ledger.createAccount(
            principal: self.principal, account: ChartAccount("4200", "Export sales", .revenue, currency: "EUR"), parentId: nil).id
        let start = today.startOfMonth.addingMonths(-12)
        var rates: [(String, String, String)] = []
        var rate = Decimal(string: "1.0800")!
        for month in 0...12 {
            rate += Decimal(Int.random(in: -150...180, using: &self.random)) / 10_000
            rates.append(("EUR", start.addingMonths(month).description, "\(rate)"))
        }
        _ = try await self.ledger.setRates(principal: self.principal, rates: rates)

        try await self.post(start, "Owner's capital contribution", [(a["1020"]!, .debit, 6_000_000), (a["3000"]!, .credit, 6_000_000)])
        try await self.post(start.addingDays(1), "Bank loan drawn", [(a["1020"]!, .debit, 4_000_000), (a["2500"]!, .credit, 4_000_000)])
        try await self.post(start.addingDays(2), "Delivery van and shelving", [(a["1510"]!, .debit, 2_400_000), (a["1020"]!, .credit, 2_400_000)])
        var loan: Int64 = 4_000_000
        var payrollOwed: Int64 = 0
        var supplierBill: (id: String, owed: Int64)?
        var eurReceivable: [(String, LedgerDate)] = []
        for month in 0..<12 {
            let first = start.addingMonths(month)
            func day(_ d: Int) -> LedgerDate { LedgerDate(year: first.year, month: first.month, day: min(d, LedgerDate.daysIn(year: first.year, month: first.month)))! }
            try await self.post(day(1), "Shop rent", [(a["6100"]!, .debit, 320_000), (a["1020"]!, .credit, 320_000)])
            if payrollOwed > 0 {
                try await self.post(day(10), "Payroll taxes remitted", [(a["2300"]!, .debit, payrollOwed), (a["1020"]!, .credit, payrollOwed)])
            }
            // Stock bought on account from the wholesaler: a vendor bill with input tax, paid the next month.
            if let supplier = supplierBill {
                _ = try await self.ledger.payBill(principal: self.principal, id: supplier.id, amountMinor: supplier.owed, date: day(12),
                                                  cashAccountId: a["1020"]!, entryId: nil)
            }
            let purchases = self.amount(1_000_000...1_400_000)
            let bill = try await self.ledger.createBill(
                principal: self.principal,
                request: try BillRequest.validated(
                    id: nil, vendorId: "northwind", vendorName: "Northwind Wholesale", vendorReference: "NW-\(first.year)-\(first.month)",
                    currency: nil, billDate: day(5).description, dueDate: nil, paymentTermsDays: 30,
                    lines: [("Stock for resale", "1", purchases, "8", nil, true, a["1200"]!)], payableAccountId: nil, memo: nil),
                post: true, entryId: nil).bill
            supplierBill = (bill.id, bill.total_minor)
            let utilities = self.amount(42_000...68_000)
            try await self.post(day(15), "Electricity and water", [(a["6200"]!, .debit, utilities), (a["1020"]!, .credit, utilities)])
            let supplies = self.amount(15_000...40_000)
            try await self.post(day(18), "Office supplies", [(a["6300"]!, .debit, supplies), (a["1020"]!, .credit, supplies)])
            let withheld: Int64 = 308_000
            try await self.post(day(25), "Payroll", [(a["6000"]!, .debit, 1_400_000), (a["1020"]!, .credit, 1_400_000 - withheld), (a["2300"]!, .credit, withheld)])
            payrollOwed = withheld
            let interest = (loan * 6 + 600) / 1200
            try await self.post(day(28), "Loan repayment", [(a["2500"]!, .debit, 100_000), (a["6500"]!, .debit, interest), (a["1020"]!, .credit, 100_000 + interest)])
            loan -= 100_000
            try await self.post(day(28), "Depreciation", [(a["6400"]!, .debit, 40_000), (a["1590"]!, .credit, 40_000)])

            // Card sales through the payment processor, settled to the bank at month end.
            var processor: Int64 = 0
            var productSales: Int64 = 0
            for _ in 0..<Int.random(in: 10...16, using: &self.random) {
                let gross = self.amount(5_000...40_000)
                let fee = (gross * 29 + 500) / 1000 + 30
                let date = day(Int.random(in: 1...27, using: &self.random))
                try await self.post(date, "Card sale", [(a["1030"]!, .debit, gross - fee), (a["6150"]!, .debit, fee), (a["4000"]!, .credit, gross)])
                processor += gross - fee
                productSales += gross
            }
            try await self.post(day(28), "Processor payout", [(a["1020"]!, .debit, processor), (a["1030"]!, .credit, processor)])

            // Invoiced customers, paid 15–45 days later; Umbrella pays late or not at all.
            for _ in 0..<Int.random(in: 5...8, using: &self.random) {
                let (customer, name) = Self.customers.randomElement(using: &self.random)!
                let issue = day(Int.random(in: 1...26, using: &self.random))
                let lines = (0..<Int.random(in: 1...3, using: &self.random)).map { _ in
                    (description: ["Wholesale order", "Installation service", "Maintenance plan", "Spare parts"].randomElement(using: &self.random)!,
                     quantity: "\(Int.random(in: 1...12, using: &self.random))", unitPrice: self.amount(8_000...60_000), taxRate: Optional("8"),
                     revenueAccountId: Optional(Bool.random(using: &self.random) ? a["4000"]! : a["4100"]!))
                }
                let request = try InvoiceRequest.validated(
                    id: nil, customerId: customer, customerName: name, currency: nil, issueDate: issue.description, dueDate: nil,
                    paymentTermsDays: 30, lines: lines, receivableAccountId: nil, memo: nil)
                let invoice = try await self.ledger.createInvoice(principal: self.principal, request: request, issue: true).invoice
                productSales += invoice.subtotal_minor / 2
                let delay = customer == "umbrella" ? Int.random(in: 50...120, using: &self.random) : Int.random(in: 15...45, using: &self.random)
                let paid = issue.addingDays(delay)
                if paid < today {
                    _ = try await self.ledger.payInvoice(principal: self.principal, id: invoice.id, amountMinor: invoice.total_minor, date: paid,
                                                         cashAccountId: a["1020"]!)
                }
            }
            let cost = productSales * 3 / 10
            try await self.post(day(28), "Cost of goods sold", [(a["5000"]!, .debit, cost), (a["1200"]!, .credit, cost)])

            // A customer in France, invoiced in euros; paid a month later into the euro account.
            let euros = self.amount(400_000...700_000)
            try await self.post(day(20), "Export invoice, Société Générale d'Import", [(a["1105"]!, .debit, euros), (a["4200"]!, .credit, euros)])
            eurReceivable.append(("\(euros)", day(20)))
            if month > 0, let (value, _) = eurReceivable.first {
                try await self.post(day(22), "Export invoice paid", [(a["1040"]!, .debit, Int64(value)!), (a["1105"]!, .credit, Int64(value)!)])
                eurReceivable.removeFirst()
            }
            if month % 3 == 2 {
                let balance = try await self.ledger.account(principal: self.principal, id: a["1040"]!).postedBalanceMinor
                if balance > 0 {
                    let usd = NSDecimalNumber(decimal: InvoiceMath.rounded(Decimal(balance) * rate * Decimal(string: "0.99")!)).int64Value
                    _ = try await self.ledger.convert(
                        principal: self.principal, date: day(27), fromAccountId: a["1040"]!, fromAmountMinor: balance, toAccountId: a["1020"]!,
                        toAmountMinor: usd, description: "Euros converted to dollars", id: nil)
                }
                _ = try await self.ledger.revalue(principal: self.principal, date: first.endOfMonth)
            }
        }
        let calendar = FiscalCalendar(startMonth: try await self.ledger.settings(principal: self.principal).fiscal_year_start_month)
        let lastYear = calendar.fiscalYear(of: today) - 1
        if calendar.fiscalYear(of: start) <= lastYear {
            _ = try await self.ledger.closeYear(principal: self.principal, year: lastYear)
        }
        return try await self.ledger.entries(principal: self.principal, filter: EntryFilter(), page: try PageRequest(limit: 1, cursor: nil)).items.count
    }
}

extension AccountingService {
    /// Fills `tenantId`'s books with the demo year ending last month; returns the number of entries posted.
    public static func seedDemo(database: any Database, settings: Settings, clock: any FinFlowClock, tenantId: String) async throws -> Int {
        let ledger = Self.operatorLedger(database: database, settings: settings, clock: clock)
        var demo = DemoBooks(ledger: ledger, principal: try Self.operatorPrincipal(tenantId: tenantId))
        _ = try await demo.seed(today: LedgerDate(instant: clock.now()))
        struct Count: Decodable { let n: Int }
        return try await database.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM journal_entries WHERE tenant_id = \(bind: tenantId) AND status = 'posted'")
                .first(decoding: Count.self)?.n ?? 0
        }
    }
}
