import FinFlowCore
import Foundation
import SQLKit

/// A tenant rule to add.
struct RuleDraft: Sendable {
    var kind: String
    var jurisdiction: String
    var category: RateCategory
    var product: ProductCode?
    var rate: TaxRate?
    var period: Period
    var note: String?
}

extension TaxDesk {
    /// The shipped rules with the tenant's rules in force above them.
    static func ruleBook(tenantId: String, db: any SQLDatabase) async throws -> RuleBook {
        try Self.ruleBook(try await Self.activeRules(tenantId: tenantId, db: db))
    }

    /// The tenant's rules not retired.
    static func activeRules(tenantId: String, db: any SQLDatabase) async throws -> [RuleRow] {
        try await db.select().column("*").from("tax_rules").where("tenant_id", .equal, tenantId)
            .where(SQLIdentifier("retired_in_version"), .is, SQLLiteral.null).orderBy("id").all(decoding: RuleRow.self)
    }

    /// The shipped rules with `rows` above them.
    static func ruleBook(_ rows: [RuleRow]) throws -> RuleBook {
        var rates: [RuleBook.RateRule] = [], products: [RuleBook.ProductRule] = []
        for row in rows {
            guard let category = RateCategory(rawValue: row.category), let from = CalendarDay(row.valid_from) else {
                throw InvariantViolation("tax rule \(row.id) cannot be read")
            }
            let period = Period(from: from, to: row.valid_to.flatMap(CalendarDay.init))
            if row.kind == "rate" {
                guard let rate = row.rate.flatMap(TaxRate.init(percent:)) else { throw InvariantViolation("tax rule \(row.id) has no rate") }
                rates.append(.init(jurisdiction: row.jurisdiction, category: category, rate: rate, period: period, ruleId: row.id))
            } else {
                guard let product = row.product.flatMap(ProductCode.init(rawValue:)) else { throw InvariantViolation("tax rule \(row.id) has no product") }
                products.append(.init(
                    jurisdiction: row.jurisdiction, product: product, category: category, rate: row.rate.flatMap(TaxRate.init(percent:)),
                    period: period, ruleId: row.id))
            }
        }
        return RuleBook.shipped.adding(rates: rates, products: products)
    }

    /// Whether `jurisdiction` is one the tables know: an EU VAT jurisdiction (`DE`, `XI`) or a US state (`US-CA`).
    static func knownJurisdiction(_ jurisdiction: String) -> Bool {
        if jurisdiction.hasPrefix("US-") { return RuleBook.shipped.states[String(jurisdiction.dropFirst(3))] != nil }
        return RuleBook.shipped.countries[jurisdiction] != nil
    }

    /// Adds a tenant rule: a new version of its rule set.
    func addRule(_ draft: RuleDraft, principal: Principal) async throws -> RuleRow {
        let id = self.env.ids.nextString(), tenantId = principal.tenantId, now = self.now
        let what = draft.kind == "rate"
            ? "\(draft.jurisdiction) \(draft.category.rawValue) \(draft.rate?.description ?? "")%"
            : "\(draft.jurisdiction) \(draft.product?.rawValue ?? "") → \(draft.category.rawValue)\(draft.rate.map { " \($0)%" } ?? "")"
        let row: @Sendable (Int) -> RuleRow = { version in
            RuleRow(
                id: id, tenant_id: tenantId, kind: draft.kind, jurisdiction: draft.jurisdiction, category: draft.category.rawValue,
                product: draft.product?.rawValue, rate: draft.rate?.description, valid_from: draft.period.from.description,
                valid_to: draft.period.to?.description, note: draft.note, added_in_version: version, retired_in_version: nil,
                created_by: principal.subject, created_at_ms: now)
        }
        let version = try await self.changeRules(
            principal: principal, summary: "rule \(id) added: \(what) from \(draft.period.from)\(draft.period.to.map { " to \($0)" } ?? "")"
        ) { db, version in
            try await db.insert(into: "tax_rules").model(row(version)).run()
        }
        return row(version)
    }

    /// Retires a tenant rule: it stays in the history, no calculation after this sees it.
    func retireRule(id: String, principal: Principal) async throws {
        let tenantId = principal.tenantId
        let found = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.select().column("*").from("tax_rules").where("tenant_id", .equal, tenantId).where("id", .equal, id)
                .first(decoding: RuleRow.self)
        }
        guard let found, found.retired_in_version == nil else { throw AppError.notFound("tax rule") }
        try await self.changeRules(principal: principal, summary: "rule \(id) retired") { db, version in
            try await db.update("tax_rules").set("retired_in_version", to: version).where("tenant_id", .equal, tenantId)
                .where("id", .equal, id).run()
        }
    }

    /// Every rule of `jurisdiction`, shipped and the tenant's, marking the ones a calculation on `day` applies.
    func rules(tenantId: String, jurisdiction: String, day: CalendarDay) async throws -> [ListedRule] {
        let rows = try await self.database.tenantRead(tenantId: tenantId) { db in try await Self.activeRules(tenantId: tenantId, db: db) }
        let book = try Self.ruleBook(rows)
        let notes = rows.reduce(into: [String: String]()) { $0[$1.id] = $1.note }
        var listed: [ListedRule] = []
        for rule in book.rateRules(of: jurisdiction) {
            let winner = book.rate(jurisdiction, rule.category, on: day)?.ruleId == rule.ruleId
            listed.append(ListedRule(
                id: rule.ruleId, kind: "rate", jurisdiction: jurisdiction, category: rule.category, product: nil, rate: rule.rate,
                period: rule.period, tenant: rule.isTenant, inForce: winner, note: notes[rule.ruleId]))
        }
        let fallback = jurisdiction.hasPrefix("US-") ? "US-*" : "EU-*"
        for key in [jurisdiction, fallback] {
            for rule in book.productRules(of: key) {
                let winner = book.category(of: rule.product, in: jurisdiction, fallback: fallback, on: day)?.ruleId == rule.ruleId
                listed.append(ListedRule(
                    id: rule.ruleId, kind: "product", jurisdiction: key, category: rule.category, product: rule.product, rate: rule.rate,
                    period: rule.period, tenant: rule.isTenant, inForce: winner, note: notes[rule.ruleId]))
            }
        }
        return listed
    }
}

/// A rule as listed.
struct ListedRule: Sendable {
    let id: String
    let kind: String
    let jurisdiction: String
    let category: RateCategory
    let product: ProductCode?
    let rate: TaxRate?
    let period: Period
    let tenant: Bool
    let inForce: Bool
    let note: String?
}
