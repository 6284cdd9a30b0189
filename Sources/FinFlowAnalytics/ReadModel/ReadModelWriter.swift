import FinFlowCore
import Foundation
import SQLKit

/// Writes contributions into the analytics read model: counts and sums merged first (a batch of a thousand card
/// payments on one day is one row to add), then added to the stored rows. Live deliveries keep every event in the
/// journal too; a replay applies journalled events again to the days on and after its start.
enum ReadModelWriter {
    /// The identity of one stored fact row.
    struct FactKey: Hashable {
        let tenantId, measure, dimension, key, currency, day: String
    }

    struct AccountDayKey: Hashable {
        let tenantId, accountId, day: String
    }

    /// Adds `contributions` to the read model; with `fromDay`, only the figures of that day and later (a replay's
    /// rewrite), descriptions always. Bumps each touched tenant's version, which the cache keys carry.
    static func apply(_ contributions: [Contribution], fromDay: String? = nil, db: any SQLDatabase) async throws {
        guard !contributions.isEmpty else { return }
        var facts: [FactKey: (count: Int64, amount: Int64, fee: Int64)] = [:]
        var days: [AccountDayKey: (debit: Int64, credit: Int64)] = [:]
        var accounts: [String: (tenantId: String, at: Int64, account: Contribution.Account)] = [:]
        var tenants: [String: (at: Int64, tenant: Contribution.Tenant)] = [:]
        var members: [[SQLCell]] = []
        for c in contributions {
            for f in c.facts where fromDay.map({ f.day >= $0 }) ?? true {
                let key = FactKey(tenantId: c.tenantId, measure: f.measure, dimension: f.dimension, key: f.key, currency: f.currency, day: f.day)
                let sum = facts[key] ?? (0, 0, 0)
                // Each event's figures are bounded (`ContributionBounds`); wrapping only guards against a pathological flood.
                facts[key] = (sum.count &+ f.count, sum.amount &+ f.amountMinor, sum.fee &+ f.feeMinor)
            }
            for d in c.accountDays where fromDay.map({ d.day >= $0 }) ?? true {
                let key = AccountDayKey(tenantId: c.tenantId, accountId: d.accountId, day: d.day)
                let sum = days[key] ?? (0, 0)
                days[key] = (sum.debit &+ d.debitMinor, sum.credit &+ d.creditMinor)
            }
            for a in c.accounts {
                let id = c.tenantId + "/" + a.accountId
                if let known = accounts[id], known.at > c.atMillis { continue }
                accounts[id] = (c.tenantId, c.atMillis, a)
            }
            if let tenant = c.tenant, (tenants[c.tenantId]?.at ?? .min) <= c.atMillis { tenants[c.tenantId] = (c.atMillis, tenant) }
            members += c.members.map { [.init(c.tenantId), .init($0.userId), .init($0.changedAtMillis), .init($0.status)] }
        }
        try await db.insertRows(
            into: "analytics_facts", columns: ["tenant_id", "measure", "dimension", "dim_key", "currency", "day", "count", "amount_minor", "fee_minor"],
            rows: facts.sorted { Self.order($0.key, $1.key) }.map { key, sum in
                [.init(key.tenantId), .init(key.measure), .init(key.dimension), .init(key.key), .init(key.currency), .init(key.day),
                 .init(sum.count), .init(sum.amount), .init(sum.fee)]
            },
            suffix: """
                 ON CONFLICT (tenant_id, measure, dimension, dim_key, currency, day) DO UPDATE SET
                    count = analytics_facts.count + excluded.count, amount_minor = analytics_facts.amount_minor + excluded.amount_minor,
                    fee_minor = analytics_facts.fee_minor + excluded.fee_minor
                """)
        try await db.insertRows(
            into: "analytics_account_days", columns: ["tenant_id", "account_id", "day", "debit_minor", "credit_minor"],
            rows: days.sorted { ($0.key.tenantId, $0.key.accountId, $0.key.day) < ($1.key.tenantId, $1.key.accountId, $1.key.day) }.map { key, sum in
                [.init(key.tenantId), .init(key.accountId), .init(key.day), .init(sum.debit), .init(sum.credit)]
            },
            suffix: """
                 ON CONFLICT (tenant_id, account_id, day) DO UPDATE SET
                    debit_minor = analytics_account_days.debit_minor + excluded.debit_minor,
                    credit_minor = analytics_account_days.credit_minor + excluded.credit_minor
                """)
        // A description replaces the stored one only when it is as new or newer: the order of arrival does not matter.
        try await db.insertRows(
            into: "analytics_accounts",
            columns: ["tenant_id", "account_id", "code", "name", "type", "cash_flow_tag", "role", "currency", "seen_at_ms"],
            rows: accounts.sorted { $0.key < $1.key }.map { _, value in
                let a = value.account
                return [.init(value.tenantId), .init(a.accountId), .init(a.code), .init(a.name), .init(a.type), .init(a.cashFlowTag), .init(a.role),
                        .init(a.currency), .init(value.at)]
            },
            suffix: """
                 ON CONFLICT (tenant_id, account_id) DO UPDATE SET code = excluded.code, name = excluded.name, type = excluded.type,
                    cash_flow_tag = excluded.cash_flow_tag, role = excluded.role, currency = excluded.currency, seen_at_ms = excluded.seen_at_ms
                    WHERE excluded.seen_at_ms >= analytics_accounts.seen_at_ms
                """)
        try await db.insertRows(
            into: "analytics_tenants", columns: ["tenant_id", "name", "base_currency", "created_day", "seen_at_ms"],
            rows: tenants.sorted { $0.key < $1.key }.map { id, value in
                [.init(id), .init(value.tenant.name), .init(value.tenant.baseCurrency), .init(value.tenant.createdDay), .init(value.at)]
            },
            suffix: """
                 ON CONFLICT (tenant_id) DO UPDATE SET name = excluded.name, base_currency = excluded.base_currency,
                    created_day = excluded.created_day, seen_at_ms = excluded.seen_at_ms WHERE excluded.seen_at_ms >= analytics_tenants.seen_at_ms
                """)
        try await db.insertRows(
            into: "analytics_members", columns: ["tenant_id", "user_id", "changed_at_ms", "status"], rows: members,
            suffix: " ON CONFLICT (tenant_id, user_id, changed_at_ms) DO NOTHING")
        try await Self.bump(Set(contributions.map(\.tenantId)), db: db)
    }

    /// A fixed order of rows, so concurrent writers on PostgreSQL take row locks in the same order.
    private static func order(_ a: FactKey, _ b: FactKey) -> Bool {
        (a.tenantId, a.measure, a.dimension, a.key, a.currency, a.day) < (b.tenantId, b.measure, b.dimension, b.key, b.currency, b.day)
    }

    /// Counts a change of each tenant's read model: the version cached answers are keyed by.
    static func bump(_ tenantIds: Set<String>, db: any SQLDatabase) async throws {
        try await db.insertRows(
            into: "analytics_versions", columns: ["tenant_id", "version"], rows: tenantIds.sorted().map { [.init($0), .init(Int64(1))] },
            suffix: " ON CONFLICT (tenant_id) DO UPDATE SET version = analytics_versions.version + 1")
    }

    /// Keeps `events` in the journal (the ones the service reads; anything else is left out), with the span of days
    /// each adds figures to, so a replay from a day reads only the events that reach it.
    static func journal(_ events: [(PublishedEvent, Contribution)], receivedAtMillis: Int64, db: any SQLDatabase) async throws {
        try await db.insertRows(
            into: "analytics_journal", columns: ["event_id", "topic", "tenant_id", "first_day", "last_day", "payload", "received_at_ms"],
            rows: events.map { event, contribution in
                let days = contribution.days
                return [.init(event.id), .init(event.topic), .init(contribution.tenantId), .init(days?.first), .init(days?.last),
                        .init(String(decoding: event.json, as: UTF8.self)), .init(receivedAtMillis)]
            },
            suffix: " ON CONFLICT (event_id) DO NOTHING")
    }
}
