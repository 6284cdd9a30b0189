import FinFlowCore
import Foundation
import SQLKit

/// One customer's open receivables by how late they are.
struct AgingRow: Sendable {
    let customerId: String
    let customerName: String
    /// Not yet due, 1–30, 31–60, 61–90 and over 90 days past due.
    let buckets: [Int64]
    let totalMinor: Int64

    /// A row from 128-bit bucket sums, each narrowed with an overflow check.
    init(customerId: String, customerName: String, buckets: [Int128]) throws {
        self.customerId = customerId
        self.customerName = customerName
        self.buckets = try buckets.map(MinorUnits.narrow)
        self.totalMinor = try MinorUnits.narrow(buckets.reduce(0, +))
    }
}

/// The receivables aging of one currency.
struct AgingReport: Sendable {
    let currency: String
    let rows: [AgingRow]
    let totals: [Int64]

    /// The report of `rows`, its column totals checked for overflow.
    init(currency: String, rows: [AgingRow]) throws {
        self.currency = currency
        self.rows = rows
        self.totals = try (0..<AgingReport.bucketNames.count).map { index in try MinorUnits.sum(rows) { $0.buckets[index] } }
    }

    static let bucketNames = ["current", "1-30", "31-60", "61-90", "over-90"]

    static func bucket(daysPastDue: Int) -> Int {
        switch daysPastDue {
        case ...0: 0
        case 1...30: 1
        case 31...60: 2
        case 61...90: 3
        default: 4
        }
    }
}

extension Ledger {
    /// Open invoices at `asOf` (payments, refunds and credits dated up to then), per currency and customer, by days
    /// past their due date.
    func receivablesAging(principal: Principal, asOf: LedgerDate) async throws -> [AgingReport] {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            let invoices = try await db.raw("""
                SELECT * FROM invoices WHERE tenant_id = \(bind: principal.tenantId) AND kind = 'invoice'
                AND status IN ('issued', 'partially_paid', 'paid') AND issue_date <= \(bind: asOf.description)
                """).all(decoding: InvoiceRow.self)
            let applications = try await db.raw("""
                SELECT * FROM invoice_payments WHERE tenant_id = \(bind: principal.tenantId) AND payment_date <= \(bind: asOf.description)
                """).all(decoding: InvoicePaymentRow.self)
            // Summed in 128 bits and narrowed per figure, so stored amounts can never trap the report.
            var applied: [String: Int128] = [:]
            for application in applications {
                let amount = Int128(application.amount_minor)
                applied[application.invoice_id, default: 0] += application.kind == "refund" ? -amount : amount
            }
            var sums: [String: [String: (name: String, buckets: [Int128])]] = [:]
            for invoice in invoices {
                let open = Int128(invoice.total_minor) - (applied[invoice.id] ?? 0)
                guard open != 0, let due = LedgerDate(invoice.due_date) else { continue }
                let bucket = AgingReport.bucket(daysPastDue: asOf.dayNumber - due.dayNumber)
                sums[invoice.currency, default: [:]][invoice.customer_id, default: (invoice.customer_name, Array(repeating: 0, count: 5))]
                    .buckets[bucket] += open
            }
            return try sums.sorted { $0.key < $1.key }.map { currency, customers in
                let rows = try customers.map { try AgingRow(customerId: $0.key, customerName: $0.value.name, buckets: $0.value.buckets) }
                return try AgingReport(currency: currency, rows: rows.sorted { ($0.customerName, $0.customerId) < ($1.customerName, $1.customerId) })
            }
        }
    }
}
