import FinFlowCore
import Foundation
import SQLKit

/// The payment tables' SQL, the same on SQLite and PostgreSQL.
enum PaymentStore {
    /// One payment; locked for the rest of the transaction on PostgreSQL when `forUpdate` (SQLite's writer lock
    /// already serializes the transaction).
    static func payment(tenantId: String, id: String, forUpdate: Bool = false, kind: DatabaseKind, db: any SQLDatabase) async throws -> PaymentRow? {
        try await db.raw("""
            SELECT * FROM payments WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id)\(unsafeRaw: forUpdate && kind == .postgres ? " FOR UPDATE" : "")
            """).first(decoding: PaymentRow.self)
    }

    /// The payment a gateway knows by `reference`.
    static func payment(tenantId: String, gateway: String, reference: String, kind: DatabaseKind, db: any SQLDatabase) async throws -> PaymentRow? {
        try await db.raw("""
            SELECT * FROM payments WHERE gateway = \(bind: gateway) AND gateway_reference = \(bind: reference) AND tenant_id = \(bind: tenantId)
            \(unsafeRaw: kind == .postgres ? " FOR UPDATE" : "")
            """).first(decoding: PaymentRow.self)
    }

    static func insert(_ row: PaymentRow, db: any SQLDatabase) async throws {
        try await db.insert(into: "payments").model(row).run()
    }

    /// Writes `row` over the stored one, which must still be at `row.version - 1`; false when another writer got there first.
    static func update(_ row: PaymentRow, db: any SQLDatabase) async throws -> Bool {
        struct Updated: Decodable { let id: String }
        return try await db.raw("""
            UPDATE payments SET status = \(bind: row.status), amount_capturable = \(bind: row.amount_capturable),
                amount_received = \(bind: row.amount_received), amount_refunded = \(bind: row.amount_refunded),
                payment_method_token = \(bind: row.payment_method_token), fallback_tokens = \(bind: row.fallback_tokens), gateway = \(bind: row.gateway), card_brand = \(bind: row.card_brand),
                card_last4 = \(bind: row.card_last4), card_exp_month = \(bind: row.card_exp_month), card_exp_year = \(bind: row.card_exp_year),
                gateway_reference = \(bind: row.gateway_reference), next_action_url = \(bind: row.next_action_url),
                last_error = \(bind: row.last_error), fee_minor = \(bind: row.fee_minor), operations = \(bind: row.operations),
                pending_operation = \(bind: row.pending_operation), pending_key = \(bind: row.pending_key),
                pending_amount_minor = \(bind: row.pending_amount_minor), pending_active = \(bind: row.pending_active),
                pending_since_ms = \(bind: row.pending_since_ms), version = \(bind: row.version), updated_at_ms = \(bind: row.updated_at_ms)
            WHERE tenant_id = \(bind: row.tenant_id) AND id = \(bind: row.id) AND version = \(bind: row.version - 1)
            RETURNING id
            """).first(decoding: Updated.self) != nil
    }

    static func insert(events: [PaymentEventRow], db: any SQLDatabase) async throws {
        for event in events { try await db.insert(into: "payment_events").model(event).run() }
    }

    static func insert(refund: RefundRow, db: any SQLDatabase) async throws {
        try await db.insert(into: "payment_refunds").model(refund).run()
    }

    /// Timelines and refunds of `paymentIds`, oldest first.
    static func details(tenantId: String, paymentIds: [String], db: any SQLDatabase) async throws
        -> (events: [String: [PaymentEventRow]], refunds: [String: [RefundRow]])
    {
        guard !paymentIds.isEmpty else { return ([:], [:]) }
        let events = try await db.select().column("*").from("payment_events").where("tenant_id", .equal, tenantId)
            .where("payment_id", .in, paymentIds).orderBy("id").all(decoding: PaymentEventRow.self)
        let refunds = try await db.select().column("*").from("payment_refunds").where("tenant_id", .equal, tenantId)
            .where("payment_id", .in, paymentIds).orderBy("id").all(decoding: RefundRow.self)
        return (Dictionary(grouping: events, by: \.payment_id), Dictionary(grouping: refunds, by: \.payment_id))
    }

    /// A page of a tenant's payments, newest first.
    static func search(tenantId: String, filter: PaymentFilter, page: PageRequest, db: any SQLDatabase) async throws -> [PaymentRow] {
        var query = db.select().column("*").from("payments").where("tenant_id", .equal, tenantId)
        if let status = filter.status { query = query.where("status", .equal, status.rawValue) }
        if let customerId = filter.customerId { query = query.where("customer_id", .equal, customerId) }
        if let currency = filter.currency { query = query.where("currency", .equal, currency) }
        if let gateway = filter.gateway { query = query.where("gateway", .equal, gateway) }
        if let invoiceId = filter.invoiceId { query = query.where("invoice_id", .equal, invoiceId) }
        if let from = filter.createdFromMillis { query = query.where("created_at_ms", .greaterThanOrEqual, from) }
        if let to = filter.createdToMillis { query = query.where("created_at_ms", .lessThan, to) }
        if let after = page.after { query = query.where("id", .lessThan, after) }
        return try await query.orderBy("id", .descending).limit(page.limit + 1).all(decoding: PaymentRow.self)
    }
}

/// What a payment search may narrow by.
struct PaymentFilter: Sendable {
    var status: PaymentStatus?
    var customerId: String?
    var currency: String?
    var gateway: String?
    var invoiceId: String?
    var createdFromMillis: Int64?
    var createdToMillis: Int64?
}
