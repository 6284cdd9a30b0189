import FinFlowCore
import Foundation
import SQLKit

/// One customer's open receivables by how late they are.
struct AgingRow: Sendable {
    let customerId: String
    let customerName: String
    /// Not yet due, 1–30, 31–60, 61–90 and over 90 days past due.
    var buckets: [Int64]
    var totalMinor: Int64 { self.buckets.reduce(0, +) }
}

/// The receivables aging of one currency.
struct AgingReport: Sendable {
    let currency: String
    let rows: [AgingRow]
    var totals: [Int64] { (0..<AgingReport.bucketNames.count).map { index in self.rows.reduce(0) { $0 + $1.buckets[index] } } }

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
            var applied: [String: Int64] = [:]
            for application in applications {
                applied[application.invoice_id, default: 0] += application.kind == "refund" ? -application.amount_minor : application.amount_minor
            }
            var reports: [String: [String: AgingRow]] = [:]
            for invoice in invoices {
                let open = invoice.total_minor - (applied[invoice.id] ?? 0)
                guard open != 0, let due = LedgerDate(invoice.due_date) else { continue }
                let bucket = AgingReport.bucket(daysPastDue: asOf.dayNumber - due.dayNumber)
                var row = reports[invoice.currency, default: [:]][invoice.customer_id]
                    ?? AgingRow(customerId: invoice.customer_id, customerName: invoice.customer_name, buckets: Array(repeating: 0, count: 5))
                row.buckets[bucket] += open
                reports[invoice.currency, default: [:]][invoice.customer_id] = row
            }
            return reports.keys.sorted().map { currency in
                AgingReport(currency: currency, rows: reports[currency]!.values.sorted { ($0.customerName, $0.customerId) < ($1.customerName, $1.customerId) })
            }
        }
    }
}
