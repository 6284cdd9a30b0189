import FinFlowCore
import Foundation
import SQLKit

/// What a search of kept calculations may narrow by.
struct DocumentFilter: Sendable {
    var status: String?
    var type: String?
}

extension TaxDesk {
    static func document(tenantId: String, id: String, db: any SQLDatabase) async throws -> DocumentRow? {
        try await db.select().column("*").from("tax_documents").where("tenant_id", .equal, tenantId).where("id", .equal, id)
            .first(decoding: DocumentRow.self)
    }

    static func document(tenantId: String, type: String, code: String, db: any SQLDatabase) async throws -> DocumentRow? {
        try await db.select().column("*").from("tax_documents").where("tenant_id", .equal, tenantId).where("type", .equal, type)
            .where("code", .equal, code).first(decoding: DocumentRow.self)
    }

    /// A calculation id as stored (canonical lower case), or nil when it is no UUID (so no calculation's).
    static func key(_ id: String) -> String? { UUID(uuidString: id)?.uuidString.lowercased() }

    /// A kept calculation, or nil; an id that is not a UUID is none.
    func findDocument(tenantId: String, id: String) async throws -> DocumentRow? {
        guard let key = Self.key(id) else { return nil }
        return try await self.database.tenantRead(tenantId: tenantId) { db in try await Self.document(tenantId: tenantId, id: key, db: db) }
    }

    /// A kept calculation.
    func document(tenantId: String, id: String) async throws -> DocumentRow {
        guard let found = try await self.findDocument(tenantId: tenantId, id: id) else { throw AppError.notFound("calculation") }
        return found
    }

    /// A page of kept calculations, newest first.
    func documents(tenantId: String, filter: DocumentFilter, page: PageRequest) async throws -> (items: [DocumentRow], nextCursor: String?) {
        let rows = try await self.database.tenantRead(tenantId: tenantId) { db in
            var query = db.select().column("*").from("tax_documents").where("tenant_id", .equal, tenantId)
            if let status = filter.status { query = query.where("status", .equal, status) }
            if let type = filter.type { query = query.where("type", .equal, type) }
            if let after = page.after { query = query.where("id", .lessThan, after) }
            return try await query.orderBy("id", .descending).limit(page.limit + 1).all(decoding: DocumentRow.self)
        }
        return page.page(rows, key: \.id)
    }

    /// The committed sales against the EUR 10,000 threshold and each US state's nexus threshold, as on `day`.
    func thresholds(tenantId: String, day: CalendarDay) async throws -> Thresholds {
        let (tallies, profile) = try await self.database.tenantRead(tenantId: tenantId) { db in
            (try await Self.tallies(tenantId: tenantId, year: day.year, db: db), try await Self.profile(tenantId: tenantId, db: db))
        }
        var context = TaxContext(rules: RuleBook.shipped, profile: profile)
        Self.read(tallies, year: day.year, into: &context)
        var result = Thresholds(
            ossPreviousEURMinor: context.ossPreviousYearEURMinor, ossCurrentEURMinor: context.ossCurrentYearEURMinor,
            ossDestination: profile.ossDestinationAlways
                || TaxEngine.passesThreshold(previous: context.ossPreviousYearEURMinor, current: context.ossCurrentYearEURMinor),
            states: [])
        let states = Set(context.usPreviousYear.keys).union(context.usCurrentYear.keys).union(profile.usPhysicalPresence)
        let engine = TaxEngine(context: context)
        for code in states.sorted() {
            guard let state = RuleBook.shipped.states[code] else { continue }
            let rule = state.nexusRule(on: day)
            result.states.append(.init(
                state: code, previous: context.usPreviousYear[code] ?? .init(salesMinor: 0, transactions: 0),
                current: context.usCurrentYear[code] ?? .init(salesMinor: 0, transactions: 0), thresholdSalesMinor: rule?.salesMinor,
                thresholdTransactions: rule?.transactions, nexus: state.hasSalesTax && engine.hasNexus(in: state, on: day),
                physicalPresence: profile.usPhysicalPresence.contains(code)))
        }
        return result
    }
}

/// Committed sales against the thresholds.
struct Thresholds: Sendable {
    var ossPreviousEURMinor: Int64
    var ossCurrentEURMinor: Int64
    var ossDestination: Bool
    var states: [State]

    struct State: Sendable {
        var state: String
        var previous: TaxContext.StateTally
        var current: TaxContext.StateTally
        var thresholdSalesMinor: Int64?
        var thresholdTransactions: Int?
        var nexus: Bool
        var physicalPresence: Bool
    }
}
