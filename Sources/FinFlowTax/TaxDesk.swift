import FinFlowCore
import Foundation
import SQLKit

/// The tax service's use cases: the only API its HTTP handlers call.
struct TaxDesk: Sendable {
    let env: ServiceEnvironment
    let outbox: Outbox
    let vies: VIESClient?
    var database: any Database { self.env.database }
    var now: Int64 { self.env.clock.nowMillis() }
    /// Today's date (UTC) by the injected clock.
    var today: CalendarDay { CalendarDay(instant: self.env.clock.now()) }

    static let customerIdLengthMax = 128

    init(env: ServiceEnvironment) {
        self.env = env
        self.outbox = env.outbox(serviceName: "tax")
        self.vies = env.settings.viesURL.map { VIESClient(baseURL: $0, client: VIESClient.sharedClient, timeoutSeconds: 5) }
    }

    /// `value` as JSON text with sorted keys (stored columns and request hashes).
    static func json(_ value: some Encodable) -> String {
        SortedJSON.text(value)
    }

    /// `text` decoded as `type`; a stored value that cannot be read is an invariant violation (a 500 for that request).
    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        do { return try JSONDecoder().decode(type, from: Data(text.utf8)) } catch {
            throw InvariantViolation("a stored \(T.self) cannot be read: \(error)")
        }
    }

    // MARK: profile and rule-set versions

    /// The tenant's profile (the default when it never set one).
    func profile(tenantId: String) async throws -> TaxProfile {
        try await self.database.tenantRead(tenantId: tenantId) { db in try await Self.profile(tenantId: tenantId, db: db) }
    }

    static func profile(tenantId: String, db: any SQLDatabase) async throws -> TaxProfile {
        struct Row: Decodable { let profile: String }
        guard let row = try await db.select().column("profile").from("tax_profiles").where("tenant_id", .equal, tenantId).first(decoding: Row.self)
        else { return .default }
        return try Self.decode(TaxProfile.self, row.profile)
    }

    /// Replaces the tenant's profile: a new version of its rule set.
    func setProfile(_ profile: TaxProfile, principal: Principal) async throws {
        let tenantId = principal.tenantId, now = self.now
        try await self.changeRules(principal: principal, summary: "profile set: \(Self.json(profile))") { db, _ in
            try await db.raw("""
                INSERT INTO tax_profiles (tenant_id, profile, updated_by, updated_at_ms)
                VALUES (\(bind: tenantId), \(bind: Self.json(profile)), \(bind: principal.subject), \(bind: now))
                ON CONFLICT (tenant_id) DO UPDATE SET profile = excluded.profile, updated_by = excluded.updated_by,
                    updated_at_ms = excluded.updated_at_ms
                """).run()
        }
    }

    /// Runs `change` in a transaction that records the next version of the tenant's rule set, with `summary`, and
    /// audits it; answers the new version.
    @discardableResult
    func changeRules(
        principal: Principal, summary: String, _ change: @escaping @Sendable (any SQLDatabase, Int) async throws -> Void
    ) async throws -> Int {
        let tenantId = principal.tenantId, now = self.now, kind = self.database.kind, audit = self.env.audit
        do {
            return try await self.database.tenantTransaction(tenantId: tenantId) { db in
                let version = try await Self.ruleSetVersion(tenantId: tenantId, db: db) + 1
                try await db.insert(into: "tax_rule_sets").model(RuleSetRow(
                    tenant_id: tenantId, version: version, summary: String(summary.prefix(2000)), changed_by: principal.subject,
                    changed_at_ms: now)).run()
                try await change(db, version)
                try await audit.append(
                    AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "tax.rules.changed", target: "rule-set:\(version)",
                               details: ["summary": String(summary.prefix(500))]),
                    on: db, kind: kind)
                return version
            }
        } catch where violatedConstraint(error) != nil {
            throw AppError(.unavailable, code: "concurrent-change", "the tenant's tax rules changed at the same moment; try again")
        }
    }

    /// The tenant's current rule-set version (0 before any change).
    static func ruleSetVersion(tenantId: String, db: any SQLDatabase) async throws -> Int {
        struct Row: Decodable { let version: Int? }
        return try await db.raw("SELECT MAX(version) AS version FROM tax_rule_sets WHERE tenant_id = \(bind: tenantId)")
            .first(decoding: Row.self)?.version ?? 0
    }

    /// The versions of the tenant's rule set, newest first (at most `limit`).
    func ruleSets(tenantId: String, limit: Int = 200) async throws -> [RuleSetRow] {
        try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.select().column("*").from("tax_rule_sets").where("tenant_id", .equal, tenantId).orderBy("version", .descending)
                .limit(limit).all(decoding: RuleSetRow.self)
        }
    }
}

/// What is known of a VAT number, as answers show it and documents keep it.
struct VATCheck: Codable, Sendable, Equatable {
    var number: String
    var country: String?
    /// `valid`, `invalid` or `not-confirmed`.
    var status: String
    var detail: String?
    var name: String?
    var address: String?
    var consultationNumber: String?
    var checkedAtMs: Int64

    /// The check as the engine reads it.
    var engineStatus: VATNumberStatus {
        switch self.status {
        case "valid": .valid(consultation: self.consultationNumber)
        case "invalid": .invalid(reason: self.detail ?? "invalid")
        default: .notConfirmed(reason: self.detail ?? "not confirmed")
        }
    }
}
