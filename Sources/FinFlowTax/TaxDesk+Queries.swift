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

    /// A kept calculation, or nil; an id that is not a UUID is none.
    func findDocument(tenantId: String, id: String) async throws -> DocumentRow? {
        guard let uuid = UUID(uuidString: id) else { return nil }
        let key = uuid.uuidString.lowercased()
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
            (try await db.select().column("*").from("tax_tallies").where("tenant_id", .equal, tenantId)
                .where("year", .in, [day.year - 1, day.year]).all(decoding: TallyRow.self),
             try await Self.profile(tenantId: tenantId, db: db))
        }
        func tally(_ scheme: String, _ year: Int) -> TallyRow? { tallies.first { $0.scheme == scheme && $0.year == year } }
        let previous = tally("oss", day.year - 1)?.amount_minor ?? 0, current = tally("oss", day.year)?.amount_minor ?? 0
        var result = Thresholds(
            ossPreviousEURMinor: previous, ossCurrentEURMinor: current,
            ossDestination: profile.ossDestinationAlways || previous > TaxEngine.ossThresholdEURMinor || current > TaxEngine.ossThresholdEURMinor,
            states: [])
        let states = Set(tallies.compactMap { $0.scheme.hasPrefix("US-") ? String($0.scheme.dropFirst(3)) : nil }).union(profile.usPhysicalPresence)
        var context = TaxContext(rules: RuleBook.shipped, profile: profile)
        for row in tallies where row.scheme.hasPrefix("US-") {
            let figure = TaxContext.StateTally(salesMinor: row.amount_minor, transactions: row.transactions)
            if row.year == day.year { context.usCurrentYear[String(row.scheme.dropFirst(3))] = figure }
            else { context.usPreviousYear[String(row.scheme.dropFirst(3))] = figure }
        }
        let engine = TaxEngine(context: context)
        for code in states.sorted() {
            guard let state = RuleBook.shipped.states[code] else { continue }
            let rule = state.nexus.last { $0.period.contains(day) }
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
