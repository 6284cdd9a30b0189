import Foundation
import SQLKit

/// Erasure: each source's rule applied to the subject's rows, and a report of what was done and what was kept, why and
/// until when, sent back as the service's part.
extension DataSubjectResponder {
    /// What one source's rule did.
    struct ErasureLine: Encodable {
        let category: String
        let table: String
        /// `deleted`, `pseudonymised` or `kept`.
        let action: String
        let records: Int
        let rule: String?
        /// The earliest date the kept rows may go, `YYYY-MM-DD`, when the rule gives a period.
        let keptUntil: String?
    }

    /// The report an erasure answers with.
    struct ErasureReport: Encodable {
        let service: String
        let requestId: String
        let kind = "erasure"
        let answeredAt: String
        /// What replaced the subject's names where their rows had to stay.
        let pseudonym: String
        let categories: [ErasureLine]
    }

    /// The pseudonym an erasure writes: the same in every service for one request, so rows that stay still group.
    public static func pseudonym(tenantId: String, requestId: String) -> String {
        "subject-" + String(Digest.sha256Hex("\(tenantId):\(requestId)").prefix(12))
    }

    private struct Count: Decodable { let n: Int }

    /// Applies every source's rule to the subject's rows on `db` and answers with the report.
    func erase(_ request: DataSubjectRequestOpened, db: any SQLDatabase) async throws {
        let answeredAt = self.clock.nowMillis()
        let pseudonym = Self.pseudonym(tenantId: request.tenantId, requestId: request.requestId)
        var lines: [ErasureLine] = []
        for source in self.sources {
            let identifying = Self.identifying(source, request)
            let mentioning = Self.mentioning(source, request)
            guard !(identifying + mentioning).isEmpty else { continue }
            let scope = Self.scope(source, tenantId: request.tenantId, identifying + mentioning)
            let count = try await db.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: source.table) WHERE \(scope)").first(decoding: Count.self)?.n ?? 0
            guard count > 0 else { continue }
            switch source.erasure {
            case .delete:
                try await db.raw("DELETE FROM \(unsafeRaw: source.table) WHERE \(scope)").run()
                lines.append(ErasureLine(category: source.category, table: source.table, action: "deleted", records: count, rule: nil, keptUntil: nil))
            case .keep(let rule, let years, let dateColumn):
                let until = try await self.keptUntil(source, scope: scope, years: years, dateColumn: dateColumn, db: db)
                lines.append(ErasureLine(category: source.category, table: source.table, action: "kept", records: count, rule: rule, keptUntil: until))
            case .pseudonymise(let columns, let rule, let years, let dateColumn):
                let until = try await self.keptUntil(source, scope: scope, years: years, dateColumn: dateColumn, db: db)
                if let mark = source.mark {
                    try await db.raw("""
                        INSERT INTO \(unsafeRaw: mark.table) (entry_id, request_id)
                        SELECT DISTINCT \(unsafeRaw: mark.idColumn), \(bind: request.requestId) FROM \(unsafeRaw: source.table) WHERE \(scope)
                        """).run()
                }
                if !columns.isEmpty, !identifying.isEmpty {
                    var set = SQLQueryString("")
                    for (index, column) in columns.enumerated() {
                        set.appendInterpolation(unsafeRaw: (index == 0 ? "" : ", ") + column + " = ")
                        set.appendInterpolation(bind: pseudonym)
                    }
                    let identified = Self.scope(source, tenantId: request.tenantId, identifying)
                    try await db.raw("UPDATE \(unsafeRaw: source.table) SET \(set) WHERE \(identified)").run()
                }
                if !source.mentions.isEmpty, !mentioning.isEmpty {
                    var set = SQLQueryString("")
                    for (index, column) in source.mentions.enumerated() {
                        set.appendInterpolation(unsafeRaw: (index == 0 ? "" : ", ") + column + " = ")
                        set.appendInterpolation(Self.replacing(column, names: request.names, with: pseudonym))
                    }
                    let mentioned = Self.scope(source, tenantId: request.tenantId, mentioning)
                    try await db.raw("UPDATE \(unsafeRaw: source.table) SET \(set) WHERE \(mentioned)").run()
                }
                if let mark = source.mark {
                    try await db.raw("DELETE FROM \(unsafeRaw: mark.table) WHERE request_id = \(bind: request.requestId)").run()
                }
                lines.append(ErasureLine(category: source.category, table: source.table, action: "pseudonymised", records: count, rule: rule, keptUntil: until))
            }
        }
        let report = ErasureReport(
            service: self.serviceName, requestId: request.requestId, answeredAt: ISO8601DateFormatter().string(from: Date(unixMillis: answeredAt)),
            pseudonym: pseudonym, categories: lines)
        let part = try JSONEncoder.sortedWithoutSlashes.encode(report)
        let outcome = lines.isEmpty ? "nothing-held" : lines.contains { $0.action != "kept" } ? "erased" : "kept"
        let chunks = Self.chunks(part)
        let digest = Digest.sha256Hex(part)
        let records = Int64(lines.reduce(0) { $0 + $1.records })
        let events = chunks.enumerated().map { index, content in
            (payload: DataSubjectRequestAnswered(
                requestId: request.requestId, tenantId: request.tenantId, service: self.serviceName, outcome: outcome, records: records,
                chunkIndex: index, chunkCount: chunks.count, content: content, partSha256: digest, answeredAtMillis: answeredAt),
             subject: request.requestId as String?, tenantId: request.tenantId as String?)
        }
        try await self.outbox.enqueue(events, on: db)
    }

    /// `column` with every spelling of each name (as given, lower case, upper case) replaced by the pseudonym.
    static func replacing(_ column: String, names: [String], with pseudonym: String) -> SQLQueryString {
        var spellings: [String] = []
        for name in names {
            for spelling in [name, name.lowercased(), name.uppercased(), name.capitalized] where !spellings.contains(spelling) {
                spellings.append(spelling)
            }
        }
        var sql = SQLQueryString("")
        sql.appendInterpolation(unsafeRaw: String(repeating: "REPLACE(", count: spellings.count) + column)
        for spelling in spellings {
            sql.appendInterpolation(unsafeRaw: ", ")
            sql.appendInterpolation(bind: spelling)
            sql.appendInterpolation(unsafeRaw: ", ")
            sql.appendInterpolation(bind: pseudonym)
            sql.appendInterpolation(unsafeRaw: ")")
        }
        return sql
    }

    private struct Latest: Decodable { let latest: String? }
    private struct LatestMillis: Decodable { let latest: Int64? }

    /// `years` after the latest `dateColumn` of the rows (a `YYYY-MM-DD` text or Unix milliseconds), as `YYYY-MM-DD`.
    func keptUntil(_ source: PersonalDataSource, scope: SQLQueryString, years: Int?, dateColumn: String?, db: any SQLDatabase) async throws -> String? {
        guard let years, let dateColumn else { return nil }
        let query: SQLQueryString = "SELECT MAX(\(unsafeRaw: dateColumn)) AS latest FROM \(unsafeRaw: source.table) WHERE \(scope)"
        let latestDay: String?
        if dateColumn.hasSuffix("_ms") {
            latestDay = try await db.raw(query).first(decoding: LatestMillis.self)?.latest.map {
                String(ISO8601DateFormatter().string(from: Date(unixMillis: $0)).prefix(10))
            }
        } else {
            latestDay = try await db.raw(query).first(decoding: Latest.self)?.latest.map { String($0.prefix(10)) }
        }
        guard let day = latestDay, let year = Int(day.prefix(4)) else { return nil }
        // Periods run to the end of the year the last record falls in, as bookkeeping and AML retention do.
        return "\(year + years)-12-31"
    }
}
