import FinFlowCore
import Foundation
import SQLKit

/// The credit tables' SQL, the same on SQLite and PostgreSQL.
enum CreditStore {
    /// One decision of a tenant.
    static func decision(tenantId: String, id: String, db: any SQLDatabase) async throws -> DecisionRow? {
        try await db.select().column("*").from("credit_decisions").where("tenant_id", .equal, tenantId).where("id", .equal, id)
            .first(decoding: DecisionRow.self)
    }

    /// A page of a tenant's decisions, newest first.
    static func decisions(tenantId: String, filter: DecisionFilter, page: PageRequest, db: any SQLDatabase) async throws -> [DecisionRow] {
        var query = db.select().column("*").from("credit_decisions").where("tenant_id", .equal, tenantId)
        if let customerId = filter.customerId { query = query.where("customer_id", .equal, customerId) }
        if let version = filter.modelVersion { query = query.where("model_version", .equal, version) }
        if let grade = filter.grade { query = query.where("grade", .equal, grade) }
        if let after = page.after { query = query.where("id", .lessThan, after) }
        return try await query.orderBy("id", .descending).limit(page.limit + 1).all(decoding: DecisionRow.self)
    }

    /// The training-distribution bins of the `limit` most recent decisions `version` scored, as active or shadow model.
    static func recentBins(tenantId: String, version: String, limit: Int, db: any SQLDatabase) async throws -> [Int] {
        struct Bin: Decodable { let bin: Int? }
        let active = try await db.raw("""
            SELECT score_bin AS bin FROM credit_decisions WHERE tenant_id = \(bind: tenantId) AND model_version = \(bind: version)
            ORDER BY id DESC LIMIT \(bind: limit)
            """).all(decoding: Bin.self)
        let shadow = try await db.raw("""
            SELECT shadow_bin AS bin FROM credit_decisions WHERE tenant_id = \(bind: tenantId) AND shadow_version = \(bind: version)
            AND shadow_bin IS NOT NULL ORDER BY id DESC LIMIT \(bind: limit)
            """).all(decoding: Bin.self)
        return Array((active + shadow).compactMap(\.bin).prefix(limit))
    }

    /// One offer of a tenant, locked for the rest of the transaction on PostgreSQL when `forUpdate`.
    static func offer(tenantId: String, id: String, forUpdate: Bool, kind: DatabaseKind, db: any SQLDatabase) async throws -> OfferRow? {
        try await db.raw("""
            SELECT * FROM loan_offers WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id)\(unsafeRaw: forUpdate && kind == .postgres ? " FOR UPDATE" : "")
            """).first(decoding: OfferRow.self)
    }

    /// A customer's monthly activity, most recent month first, at most `months` per currency.
    static func behaviour(tenantId: String, customerId: String, db: any SQLDatabase) async throws -> [BehaviourRow] {
        try await db.select().column("*").from("credit_behaviour").where("tenant_id", .equal, tenantId)
            .where("customer_id", .equal, customerId).orderBy("currency").orderBy("month", .descending)
            .all(decoding: BehaviourRow.self)
    }

    /// Adds `delta` to the customer's month, creating it at zero first.
    /// Deletes the customer's month of `row` when every figure in it is zero.
    static func dropEmptyMonth(_ row: BehaviourRow, db: any SQLDatabase) async throws {
        try await db.raw("""
            DELETE FROM credit_behaviour WHERE tenant_id = \(bind: row.tenant_id) AND customer_id = \(bind: row.customer_id)
              AND currency = \(bind: row.currency) AND month = \(bind: row.month)
              AND payments_succeeded = 0 AND payments_failed = 0 AND payments_refunded = 0 AND paid_minor = 0 AND refunded_minor = 0
              AND inflow_minor = 0 AND outflow_minor = 0 AND transactions = 0 AND invoices_settled = 0 AND invoices_on_time = 0
            """).run()
    }

    static func add(_ delta: BehaviourRow, db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO credit_behaviour (tenant_id, customer_id, currency, month, payments_succeeded, payments_failed, payments_refunded,
                paid_minor, refunded_minor, inflow_minor, outflow_minor, transactions, invoices_settled, invoices_on_time)
            VALUES (\(bind: delta.tenant_id), \(bind: delta.customer_id), \(bind: delta.currency), \(bind: delta.month),
                \(bind: delta.payments_succeeded), \(bind: delta.payments_failed), \(bind: delta.payments_refunded), \(bind: delta.paid_minor),
                \(bind: delta.refunded_minor), \(bind: delta.inflow_minor), \(bind: delta.outflow_minor), \(bind: delta.transactions),
                \(bind: delta.invoices_settled), \(bind: delta.invoices_on_time))
            ON CONFLICT (tenant_id, customer_id, currency, month) DO UPDATE SET
                payments_succeeded = credit_behaviour.payments_succeeded + excluded.payments_succeeded,
                payments_failed = credit_behaviour.payments_failed + excluded.payments_failed,
                payments_refunded = credit_behaviour.payments_refunded + excluded.payments_refunded,
                paid_minor = credit_behaviour.paid_minor + excluded.paid_minor,
                refunded_minor = credit_behaviour.refunded_minor + excluded.refunded_minor,
                inflow_minor = credit_behaviour.inflow_minor + excluded.inflow_minor,
                outflow_minor = credit_behaviour.outflow_minor + excluded.outflow_minor,
                transactions = credit_behaviour.transactions + excluded.transactions,
                invoices_settled = credit_behaviour.invoices_settled + excluded.invoices_settled,
                invoices_on_time = credit_behaviour.invoices_on_time + excluded.invoices_on_time
            """).run()
    }
}

/// What a decision search may narrow by.
struct DecisionFilter: Sendable {
    var customerId: String?
    var modelVersion: String?
    var grade: String?
}
