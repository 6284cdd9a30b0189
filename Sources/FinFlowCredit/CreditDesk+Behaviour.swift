import FinFlowCore
import Foundation
import SQLKit

/// Behavioural features of existing customers, from the events of the payment and transaction services: monthly
/// aggregates kept per customer and currency (each event applied once, through the consumer's inbox), turned into
/// features when a decision or a client asks.
extension CreditDesk {
    /// The window the features look back over.
    static let behaviourMonthsMax = 24
    /// Transaction kinds that bring the customer's money in, and those that pay it out to them.
    static let inflowKinds: Set<String> = ["income", "receipt"]
    static let outflowKinds: Set<String> = ["payment", "expense", "refund", "fee", "transfer"]
    /// An event amount above this is taken for a defect and not counted: it bounds every aggregate well inside 64 bits.
    static let eventAmountMax: Int64 = 10_000_000_000_000

    /// Counts a settled, failed or refunded payment in its customer's month.
    func apply(payment: PaymentProcessed, on db: any SQLDatabase) async throws {
        guard let customerId = payment.customerId, Self.validCustomer(customerId), (1...Self.eventAmountMax).contains(payment.amountMinor),
              Currency(code: payment.currency) != nil else { return }
        let month = Self.month(millis: payment.processedAtMillis)
        var delta = Self.empty(tenantId: payment.tenantId, customerId: customerId, currency: payment.currency.uppercased(), month: month)
        switch payment.status {
        case "succeeded": delta = delta.with(succeeded: 1, paid: payment.amountMinor)
        case "failed": delta = delta.with(failed: 1)
        case "refunded": delta = delta.with(refunded: 1, refundedAmount: payment.amountMinor)
        default: return
        }
        try await CreditStore.add(delta, db: db)
    }

    /// Counts a transaction with a counterparty as that customer's inflow or outflow in its month.
    func apply(transaction: TransactionCreated, on db: any SQLDatabase) async throws {
        guard let customerId = transaction.counterparty, Self.validCustomer(customerId), (1...Self.eventAmountMax).contains(transaction.amountMinor),
              Currency(code: transaction.currency) != nil, transaction.valueDate.count == 10 else { return }
        let month = String(transaction.valueDate.prefix(7))
        guard Self.next(month) != "9999-99" else { return }
        let currency = transaction.currency.uppercased()
        let inflow = Self.inflowKinds.contains(transaction.kind) ? transaction.amountMinor : 0
        let outflow = Self.outflowKinds.contains(transaction.kind) ? transaction.amountMinor : 0
        // Counted once, and not at all when its rejection arrived first.
        let counted = try await db.raw("""
            INSERT INTO credit_transactions_counted (tenant_id, transaction_id, customer_id, currency, month, inflow_minor, outflow_minor, counted, withdrawn)
            VALUES (\(bind: transaction.tenantId), \(bind: transaction.transactionId), \(bind: customerId), \(bind: currency), \(bind: month),
                \(bind: inflow), \(bind: outflow), 1, 0)
            ON CONFLICT (tenant_id, transaction_id) DO NOTHING RETURNING transaction_id
            """).first()
        guard counted != nil else { return }
        let delta = Self.empty(tenantId: transaction.tenantId, customerId: customerId, currency: currency, month: month)
            .with(transactions: 1, inflow: inflow, outflow: outflow)
        try await CreditStore.add(delta, db: db)
    }

    struct CountedTransaction: Decodable {
        let customer_id: String
        let currency: String
        let month: String
        let inflow_minor: Int64
        let outflow_minor: Int64
        let counted: Int
    }

    /// Takes a rejected or reversed transaction back out of its customer's month: money that never moved, or moved
    /// back, says nothing of how the customer pays. A rejection that arrives before its transaction marks it, so the
    /// transaction is then not counted.
    func apply(statusChange: TransactionStatusChanged, on db: any SQLDatabase) async throws {
        guard ["rejected", "reversed"].contains(statusChange.status) else { return }
        let withdrawn = try await db.raw("""
            INSERT INTO credit_transactions_counted (tenant_id, transaction_id, customer_id, currency, month, inflow_minor, outflow_minor, counted, withdrawn)
            VALUES (\(bind: statusChange.tenantId), \(bind: statusChange.transactionId), '', '', '', 0, 0, 0, 1)
            ON CONFLICT (tenant_id, transaction_id) DO UPDATE SET withdrawn = 1 WHERE credit_transactions_counted.withdrawn = 0
            RETURNING customer_id, currency, month, inflow_minor, outflow_minor, counted
            """).first(decoding: CountedTransaction.self)
        guard let withdrawn, withdrawn.counted == 1 else { return }
        let delta = Self.empty(tenantId: statusChange.tenantId, customerId: withdrawn.customer_id, currency: withdrawn.currency, month: withdrawn.month)
            .with(transactions: -1, inflow: -withdrawn.inflow_minor, outflow: -withdrawn.outflow_minor)
        try await CreditStore.add(delta, db: db)
        // A month left with nothing in it was never active: it would lengthen the months the features span.
        try await CreditStore.dropEmptyMonth(delta, db: db)
    }

    /// Counts an invoice the customer settled, and whether by its due date (dates compare as `YYYY-MM-DD` text).
    func apply(invoice: InvoiceSettled, on db: any SQLDatabase) async throws {
        guard Self.validCustomer(invoice.customerId), Currency(code: invoice.currency) != nil, invoice.settledBy == "payment",
              invoice.settledDate.count == 10, invoice.dueDate.count == 10 else { return }
        let month = String(invoice.settledDate.prefix(7))
        guard Self.next(month) != "9999-99" else { return }
        let delta = Self.empty(tenantId: invoice.tenantId, customerId: invoice.customerId, currency: invoice.currency.uppercased(), month: month)
            .with(invoicesSettled: 1, invoicesOnTime: invoice.settledDate <= invoice.dueDate ? 1 : 0)
        try await CreditStore.add(delta, db: db)
    }

    /// The customer's features over the last `behaviourMonthsMax` months of activity, per currency.
    func behaviour(tenantId: String, customerId: String) async throws -> BehaviourProfile {
        let rows = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await CreditStore.behaviour(tenantId: tenantId, customerId: customerId, db: db)
        }
        let byCurrency = Dictionary(grouping: rows, by: \.currency)
        let currencies = byCurrency.keys.sorted().map { currency in
            Self.features(currency: currency, months: Array(byCurrency[currency]!.prefix(Self.behaviourMonthsMax)))
        }
        return BehaviourProfile(customerId: customerId, currencies: currencies)
    }

    /// Features of one currency's months (most recent first).
    static func features(currency: String, months rows: [BehaviourRow]) -> BehaviourProfile.Currency {
        let ordered = rows.reversed()
        // Every calendar month from the first with activity to the last, so a quiet month counts as a zero flow.
        var flows: [Double] = []
        if let first = ordered.first?.month, let last = ordered.last?.month {
            let net = Dictionary(ordered.map { ($0.month, Double($0.inflow_minor) - Double($0.outflow_minor)) }, uniquingKeysWith: +)
            var month = first
            while month <= last, flows.count < behaviourMonthsMax {
                flows.append(net[month] ?? 0)
                month = Self.next(month)
            }
        }
        var balance = 0.0, balances: [Double] = []
        for flow in flows {
            balance += flow
            balances.append(balance)
        }
        let mean = flows.isEmpty ? 0 : flows.reduce(0, +) / Double(flows.count)
        let variance = flows.isEmpty ? 0 : flows.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(flows.count)
        let meanAbsolute = flows.isEmpty ? 0 : flows.reduce(0) { $0 + abs($1) } / Double(flows.count)
        let succeeded = rows.reduce(0) { $0 + $1.payments_succeeded }, failed = rows.reduce(0) { $0 + $1.payments_failed }
        let invoices = rows.reduce(0) { $0 + $1.invoices_settled }, onTime = rows.reduce(0) { $0 + $1.invoices_on_time }
        return BehaviourProfile.Currency(
            currency: currency, months: rows.count, paymentsSucceeded: succeeded, paymentsFailed: failed,
            paymentsRefunded: rows.reduce(0) { $0 + $1.payments_refunded },
            paidAmount: Self.clamped(rows.reduce(0.0) { $0 + Double($1.paid_minor) - Double($1.refunded_minor) }),
            paymentSuccessRatio: succeeded + failed == 0 ? nil : Double(succeeded) / Double(succeeded + failed),
            invoicesSettled: invoices, onTimeRatio: invoices == 0 ? nil : Double(onTime) / Double(invoices),
            transactions: rows.reduce(0) { $0 + $1.transactions },
            averageBalance: balances.isEmpty ? 0 : Self.clamped(balances.reduce(0, +) / Double(balances.count)),
            cashFlowVolatility: meanAbsolute > 0 ? variance.squareRoot() / meanAbsolute : 0)
    }

    /// `value` rounded to a whole minor unit, within Int64 (a Double beyond it would trap on conversion).
    static func clamped(_ value: Double) -> Int64 {
        guard value.isFinite else { return 0 }
        return Int64(min(max(value.rounded(), -9.2e18), 9.2e18))
    }

    /// A customer id the engine keeps features for.
    static func validCustomer(_ id: String) -> Bool {
        !id.isEmpty && id.count <= Self.customerIdLengthMax
    }

    /// `YYYY-MM` of a Unix-milliseconds instant, in UTC.
    static func month(millis: Int64) -> String {
        String(Self.date(millis: millis).prefix(7))
    }

    /// The month after `YYYY-MM`; past anything valid for text that is not one, which ends the walk.
    static func next(_ month: String) -> String {
        let parts = month.split(separator: "-")
        guard parts.count == 2, let year = Int(parts[0]), let number = Int(parts[1]), (1...12).contains(number) else { return "9999-99" }
        return number == 12 ? String(format: "%04d-01", year + 1) : String(format: "%04d-%02d", year, number + 1)
    }

    /// A month with nothing counted, to add to.
    static func empty(tenantId: String, customerId: String, currency: String, month: String) -> BehaviourRow {
        BehaviourRow(
            tenant_id: tenantId, customer_id: customerId, currency: currency, month: month, payments_succeeded: 0, payments_failed: 0,
            payments_refunded: 0, paid_minor: 0, refunded_minor: 0, inflow_minor: 0, outflow_minor: 0, transactions: 0,
            invoices_settled: 0, invoices_on_time: 0)
    }
}

extension BehaviourRow {
    /// This row with counts added (a delta to apply).
    func with(
        succeeded: Int = 0, failed: Int = 0, refunded: Int = 0, paid: Int64 = 0, refundedAmount: Int64 = 0, transactions: Int = 0,
        inflow: Int64 = 0, outflow: Int64 = 0, invoicesSettled: Int = 0, invoicesOnTime: Int = 0
    ) -> BehaviourRow {
        BehaviourRow(
            tenant_id: self.tenant_id, customer_id: self.customer_id, currency: self.currency, month: self.month,
            payments_succeeded: self.payments_succeeded + succeeded, payments_failed: self.payments_failed + failed,
            payments_refunded: self.payments_refunded + refunded, paid_minor: self.paid_minor + paid,
            refunded_minor: self.refunded_minor + refundedAmount, inflow_minor: self.inflow_minor + inflow,
            outflow_minor: self.outflow_minor + outflow, transactions: self.transactions + transactions,
            invoices_settled: self.invoices_settled + invoicesSettled, invoices_on_time: self.invoices_on_time + invoicesOnTime)
    }
}

/// A customer's behavioural features.
struct BehaviourProfile: Codable, Sendable {
    struct Currency: Codable, Sendable {
        let currency: String
        let months: Int
        let paymentsSucceeded: Int
        let paymentsFailed: Int
        let paymentsRefunded: Int
        let paidAmount: Int64
        /// Settled payments over settled and failed ones; nil with no attempts.
        let paymentSuccessRatio: Double?
        let invoicesSettled: Int
        /// Invoices paid by their due date over invoices paid; nil with none.
        let onTimeRatio: Double?
        let transactions: Int
        let averageBalance: Int64
        let cashFlowVolatility: Double
    }

    let customerId: String
    let currencies: [Currency]
}
