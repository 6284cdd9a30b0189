import FinFlowCore
import Foundation
import SQLKit

/// One customer's open receivables (or one vendor's open payables) by how late they are.
struct AgingRow: Sendable {
    let partyId: String
    let partyName: String
    /// Not yet due, 1–30, 31–60, 61–90 and over 90 days past due.
    let buckets: [Int64]
    let totalMinor: Int64

    /// A row from 128-bit bucket sums, each narrowed with an overflow check.
    init(partyId: String, partyName: String, buckets: [Int128]) throws {
        self.partyId = partyId
        self.partyName = partyName
        self.buckets = try buckets.map(MinorUnits.narrow)
        self.totalMinor = try MinorUnits.narrow(buckets.reduce(0, +))
    }
}

/// The receivables (or payables) aging of one currency.
struct AgingReport: Sendable {
    let currency: String
    let rows: [AgingRow]
    let totals: [Int64]
    let grandTotal: Int64

    /// The report of `rows`, its column totals checked for overflow.
    init(currency: String, rows: [AgingRow]) throws {
        self.currency = currency
        self.rows = rows
        self.totals = try (0..<AgingReport.bucketNames.count).map { index in try MinorUnits.sum(rows) { $0.buckets[index] } }
        self.grandTotal = try MinorUnits.sum(rows) { $0.totalMinor }
    }

    static let bucketNames = ["current", "1-30", "31-60", "61-90", "over-90"]

    /// Reports per currency from open documents: their currency, party, due date and open amount at `asOf`.
    /// Summed in 128 bits and narrowed per figure, so stored amounts can never trap the report.
    static func reports(
        _ documents: [(currency: String, partyId: String, partyName: String, dueDate: String, openMinor: Int128)], asOf: LedgerDate
    ) throws -> [AgingReport] {
        var sums: [String: [String: (name: String, buckets: [Int128])]] = [:]
        for document in documents {
            guard document.openMinor != 0 else { continue }
            let due = try LedgerDate.stored(document.dueDate)
            let bucket = Self.bucket(daysPastDue: asOf.dayNumber - due.dayNumber)
            sums[document.currency, default: [:]][document.partyId, default: (document.partyName, Array(repeating: 0, count: Self.bucketNames.count))]
                .buckets[bucket] += document.openMinor
        }
        return try sums.sorted { $0.key < $1.key }.map { currency, parties in
            let rows = try parties.map { try AgingRow(partyId: $0.key, partyName: $0.value.name, buckets: $0.value.buckets) }
            return try AgingReport(currency: currency, rows: rows.sorted { ($0.partyName, $0.partyId) < ($1.partyName, $1.partyId) })
        }
    }

    /// The reports as CSV: a row per party and a total row per currency.
    static func csv(_ reports: [AgingReport], partyColumns: [String]) -> String {
        var csv = CSVWriter(header: ["currency"] + partyColumns + Self.bucketNames + ["total"])
        for report in reports {
            for row in report.rows {
                csv.row([report.currency, row.partyId, row.partyName] + row.buckets.map { CSVWriter.amount($0, report.currency) }
                        + [CSVWriter.amount(row.totalMinor, report.currency)])
            }
            csv.row([report.currency, "", "Total"] + report.totals.map { CSVWriter.amount($0, report.currency) }
                    + [CSVWriter.amount(report.grandTotal, report.currency)])
        }
        return csv.text
    }

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
            var applied: [String: Int128] = [:]
            for application in applications {
                let amount = Int128(application.amount_minor)
                applied[application.invoice_id, default: 0] += application.kind == "refund" ? -amount : amount
            }
            return try AgingReport.reports(invoices.map { invoice in
                (invoice.currency, invoice.customer_id, invoice.customer_name, invoice.due_date, Int128(invoice.total_minor) - (applied[invoice.id] ?? 0))
            }, asOf: asOf)
        }
    }
}
