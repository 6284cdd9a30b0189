import FinFlowCore
import Foundation
import SQLKit

/// The analytics service's use cases: KPIs over any range and granularity, the dashboard, breakdowns by customer,
/// vendor and category, and trends, all read from the read model the events keep, through the answer cache.
struct AnalyticsDesk: Sendable {
    let database: any Database
    let clock: any FinFlowClock
    let cache: AnswerCache
    let ids: IdentifierGenerator
    let audit: AuditLog
    let mail: MailOutbox

    /// The most periods one answer holds (ten years of weeks, or three of days).
    static let periodsMax = 1_100
    /// The most parties or categories one breakdown lists.
    static let breakdownMax = 100

    init(env: ServiceEnvironment) {
        self.database = env.database
        self.clock = env.clock
        self.cache = AnswerCache(shared: env.shared)
        self.ids = env.ids
        self.audit = env.audit
        self.mail = env.mail
    }

    /// The version of the tenant's read model (0 before any event) and its base currency, if the service knows it.
    func state(tenantId: String) async throws -> (version: Int64, baseCurrency: String?) {
        struct Row: Decodable { let version: Int64?; let base_currency: String? }
        let row = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.raw("""
                SELECT (SELECT version FROM analytics_versions WHERE tenant_id = \(bind: tenantId)) AS version,
                    (SELECT base_currency FROM analytics_tenants WHERE tenant_id = \(bind: tenantId)) AS base_currency
                """).first(decoding: Row.self)
        }
        return (row?.version ?? 0, row?.base_currency)
    }

    /// The currency asked for, else the tenant's base currency, else the one most of its ledger accounts keep.
    func currency(tenantId: String, asked: String?, baseCurrency: String?) async throws -> String {
        if let asked { return asked }
        if let baseCurrency { return baseCurrency }
        struct Row: Decodable { let currency: String }
        let row = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.raw("""
                SELECT currency FROM analytics_accounts WHERE tenant_id = \(bind: tenantId)
                GROUP BY currency ORDER BY COUNT(*) DESC, currency LIMIT 1
                """).first(decoding: Row.self)
        }
        guard let currency = row?.currency else {
            throw AppError.conflict(code: "no-data", "no events of this tenant have reached the analytics service yet")
        }
        return currency
    }

    /// The measures and dimensions the KPIs read from the facts (breakdowns read the others).
    static let kpiFacts = [
        ("transactions", "all"), ("invoices-issued", "all"), ("credit-notes", "all"), ("bills-posted", "all"), ("vendor-credits", "all"),
        ("payments", "succeeded"), ("payments", "failed"),
    ]

    /// Loads what the KPIs of `from...to` in `currency` are worked out from.
    func figures(tenantId: String, currency: String, from: CalendarDay, to: CalendarDay) async throws -> Figures {
        try await self.database.tenantRead(tenantId: tenantId) { db in
            struct AccountRow: Decodable { let account_id, code, name, type: String; let cash_flow_tag, role: String? }
            struct OpeningRow: Decodable { let account_id: String; let net: Int64 }
            struct DayRow: Decodable { let account_id, day: String; let debit_minor, credit_minor: Int64 }
            struct FactRow: Decodable { let measure, dimension, dim_key, day: String; let count, amount_minor: Int64 }
            struct MemberRow: Decodable { let user_id: String; let changed_at_ms: Int64; let status: String }
            let accounts = try await db.raw("""
                SELECT account_id, code, name, type, cash_flow_tag, role FROM analytics_accounts
                WHERE tenant_id = \(bind: tenantId) AND currency = \(bind: currency)
                """).all(decoding: AccountRow.self)
            let opening = try await db.raw("""
                SELECT account_id, CAST(SUM(debit_minor - credit_minor) AS BIGINT) AS net FROM analytics_account_days
                WHERE tenant_id = \(bind: tenantId) AND day < \(bind: from.description) GROUP BY account_id
                """).all(decoding: OpeningRow.self)
            let days = try await db.raw("""
                SELECT account_id, day, debit_minor, credit_minor FROM analytics_account_days
                WHERE tenant_id = \(bind: tenantId) AND day >= \(bind: from.description) AND day <= \(bind: to.description)
                ORDER BY day, account_id
                """).all(decoding: DayRow.self)
            // One query per measure and dimension: each an index range (a disjunction of them would read every fact
            // row of the tenant, the counterparties' among them).
            var facts: [FactRow] = []
            for (measure, dimension) in Self.kpiFacts {
                facts += try await db.raw("""
                    SELECT measure, dimension, dim_key, day, count, amount_minor FROM analytics_facts
                    WHERE tenant_id = \(bind: tenantId) AND measure = \(bind: measure) AND dimension = \(bind: dimension)
                        AND currency = \(bind: currency) AND day >= \(bind: from.description) AND day <= \(bind: to.description)
                    """).all(decoding: FactRow.self)
            }
            let members = try await db.raw("""
                SELECT user_id, changed_at_ms, status FROM analytics_members WHERE tenant_id = \(bind: tenantId) ORDER BY changed_at_ms, user_id
                """).all(decoding: MemberRow.self)
            let known = Dictionary(accounts.map {
                ($0.account_id, Figures.Account(id: $0.account_id, code: $0.code, name: $0.name, type: $0.type, cashFlowTag: $0.cash_flow_tag, role: $0.role))
            }, uniquingKeysWith: { a, _ in a })
            return Figures(
                currency: currency, accounts: known,
                opening: Dictionary(opening.filter { known[$0.account_id] != nil }.map { ($0.account_id, $0.net) }, uniquingKeysWith: { a, _ in a }),
                movements: days.compactMap { row in
                    guard known[row.account_id] != nil, let day = CalendarDay(row.day) else { return nil }
                    return (row.account_id, day, row.debit_minor &- row.credit_minor)
                },
                facts: facts.compactMap { row in
                    CalendarDay(row.day).map {
                        Figures.Fact(measure: row.measure, dimension: row.dimension, key: row.dim_key, day: $0, count: row.count, amountMinor: row.amount_minor)
                    }
                },
                members: members.map { ($0.user_id, $0.changed_at_ms, $0.status == "active") })
        }
    }
}
