import Foundation
import SQLKit
import Synchronization

/// Where a service keeps personal data of one category: the table, the columns a copy shows and the columns that name
/// a data subject. A service declares these in its descriptor; the platform answers data subject requests from them,
/// so a table added without its declaration is the one place to look.
public struct PersonalDataSource: Sendable {
    /// How a request names its subject.
    public enum Identifier: String, Sendable, CaseIterable {
        case userId, customerId, email, name
    }

    /// What the data is (`financial-transactions`).
    public let category: String
    /// Why it is kept and for how long, in words, as the record of processing says.
    public let purpose: String
    public let retention: String
    public let table: String
    /// The columns shown; `name:int` for a whole number, else text.
    public let columns: [String]
    /// The column that holds each identifier this table can be searched by; a name matches whatever its case.
    public let matches: [Identifier: String]
    /// Free-text columns where the subject's names may appear within other text (a journal entry's description): a
    /// row that mentions a name is the subject's too, and erasure replaces the name there.
    public let mentions: [String]
    /// What an erasure request does to the subject's rows.
    public let erasure: Erasure
    /// Whether rows carry `tenant_id` (else they belong to the platform, as a user's account does).
    public let tenantScoped: Bool
    /// How the rows' guard is told an erasure changes them, when it must be.
    public let mark: ErasureMark?
    /// When rows go by themselves, whoever they are about.
    public let expiry: Retention?
    /// The order rows are shown in.
    public let orderBy: String

    /// What erasure does to a source's rows (GDPR article 17, with the exceptions of 17(3)).
    public enum Erasure: Sendable {
        /// The rows are deleted.
        case delete
        /// The rows stay because `rule` requires them (for `years` after their `dateColumn`, when given); the listed
        /// columns take the subject's pseudonym, and every name in `mentions` is replaced by it. Amounts never change.
        case pseudonymise([String], rule: String, years: Int?, dateColumn: String?)
        /// The rows stay unchanged because `rule` requires them, for `years` after their `dateColumn` when given.
        case keep(rule: String, years: Int?, dateColumn: String?)
    }

    /// Rows of an immutable table (posted journal entries) that an erasure may change only while their ids are listed
    /// in `table` (`column`): the table's guard lets nothing else through.
    public struct ErasureMark: Sendable {
        public let table: String
        public let idColumn: String
        public init(table: String, idColumn: String) {
            self.table = table
            self.idColumn = idColumn
        }
    }

    /// Rows deleted by the service's retention sweep once `dateColumn` (Unix milliseconds when it ends in `_ms`, else an
    /// ISO 8601 date or month as text) is more than `days` in the past; rows of `dependents` that point at them go first.
    public struct Retention: Sendable {
        public let dateColumn: String
        public let days: Int
        public let idColumn: String
        public let dependents: [(table: String, column: String)]
        public init(dateColumn: String, days: Int, idColumn: String = "id", dependents: [(table: String, column: String)] = []) {
            self.dateColumn = dateColumn
            self.days = days
            self.idColumn = idColumn
            self.dependents = dependents
        }
    }

    /// A source; `columns` and the matched columns are the service's constants, never input.
    public init(
        category: String, purpose: String, retention: String, table: String, columns: [String], matches: [Identifier: String],
        mentions: [String] = [], erasure: Erasure, mark: ErasureMark? = nil, expiry: Retention? = nil, tenantScoped: Bool = true,
        orderBy: String = "id"
    ) {
        self.expiry = expiry
        self.mentions = mentions
        self.erasure = erasure
        self.mark = mark
        self.category = category
        self.purpose = purpose
        self.retention = retention
        self.table = table
        self.columns = columns
        self.matches = matches
        self.tenantScoped = tenantScoped
        self.orderBy = orderBy
    }
}

/// Answers data subject requests for one service from its `PersonalDataSource`s: finds the subject's rows, writes the
/// part (a JSON document) and puts it in the service's outbox in pieces, in the consumer's transaction.
public struct DataSubjectResponder: Sendable {
    /// The most rows one source contributes to a part.
    public static let rowsPerSourceMax = 2_000_000

    let serviceName: String
    let sources: [PersonalDataSource]
    let outbox: Outbox
    let clock: any FinFlowClock

    /// A responder for `serviceName`.
    public init(serviceName: String, sources: [PersonalDataSource], outbox: Outbox, clock: any FinFlowClock) {
        self.serviceName = serviceName
        self.sources = sources
        self.outbox = outbox
        self.clock = clock
    }

    /// Writes this service's answer to `request` to the outbox on `db`: a copy for an access request, a report of what
    /// was erased, pseudonymised or kept (and why) for an erasure.
    public func answer(_ request: DataSubjectRequestOpened, db: any SQLDatabase) async throws {
        if request.kind == "erasure" { return try await self.erase(request, db: db) }
        let answeredAt = self.clock.nowMillis()
        var part = Data()
        part.append(contentsOf: #"{"service":"#.utf8)
        part.append(Self.json(self.serviceName))
        part.append(contentsOf: #","requestId":"#.utf8)
        part.append(Self.json(request.requestId))
        part.append(contentsOf: #","answeredAt":"#.utf8)
        part.append(Self.json(ISO8601DateFormatter().string(from: Date(unixMillis: answeredAt))))
        part.append(contentsOf: #","categories":["#.utf8)
        var records: Int64 = 0
        var first = true
        for source in self.sources {
            let (rows, count) = try await self.rows(of: source, for: request, db: db)
            guard count > 0 else { continue }
            if !first { part.append(UInt8(ascii: ",")) }
            first = false
            part.append(contentsOf: #"{"category":"#.utf8)
            part.append(Self.json(source.category))
            part.append(contentsOf: #","purpose":"#.utf8)
            part.append(Self.json(source.purpose))
            part.append(contentsOf: #","retention":"#.utf8)
            part.append(Self.json(source.retention))
            part.append(contentsOf: #","table":"#.utf8)
            part.append(Self.json(source.table))
            part.append(contentsOf: #","records":["#.utf8)
            part.append(rows)
            part.append(contentsOf: "]}".utf8)
            records += Int64(count)
        }
        part.append(contentsOf: "]}".utf8)
        let chunks = Self.chunks(part)
        let digest = Digest.sha256Hex(part)
        let outcome = records == 0 ? "nothing-held" : "data"
        let events = chunks.enumerated().map { index, content in
            (payload: DataSubjectRequestAnswered(
                requestId: request.requestId, tenantId: request.tenantId, service: self.serviceName, outcome: outcome, records: records,
                chunkIndex: index, chunkCount: chunks.count, content: content, partSha256: digest, answeredAtMillis: answeredAt),
             subject: request.requestId as String?, tenantId: request.tenantId as String?)
        }
        try await self.outbox.enqueue(events, on: db)
    }

    /// The subject's rows of `source` as comma-separated JSON objects, and how many.
    func rows(of source: PersonalDataSource, for request: DataSubjectRequestOpened, db: any SQLDatabase) async throws -> (Data, Int) {
        let conditions = Self.identifying(source, request) + Self.mentioning(source, request)
        guard !conditions.isEmpty else { return (Data(), 0) }
        let columns = source.columns.map { column -> (name: String, integer: Bool) in
            column.hasSuffix(":int") ? (String(column.dropLast(4)), true) : (column, false)
        }
        var sql = SQLQueryString("SELECT ")
        sql.appendInterpolation(unsafeRaw: columns.map(\.name).joined(separator: ", "))
        sql.appendInterpolation(unsafeRaw: " FROM \(source.table) WHERE ")
        sql.appendInterpolation(Self.scope(source, tenantId: request.tenantId, conditions))
        sql.appendInterpolation(unsafeRaw: " ORDER BY \(source.orderBy) LIMIT \(Self.rowsPerSourceMax)")
        // One query, its rows written as they stream in: paging by key or offset made PostgreSQL scan and sort the
        // table again for every page where no index serves the match.
        let keys = columns.enumerated().map { index, column -> Data in
            var key = Data(index == 0 ? [] : [UInt8(ascii: ",")])
            JSONString.append(column.name, to: &key)
            key.append(UInt8(ascii: ":"))
            return key
        }
        let written = Mutex<(out: Data, count: Int, failure: (any Error)?)>((Data(), 0, nil))
        try await db.raw(sql).run { row in
            written.withLock { state in
                guard state.failure == nil else { return }
                do {
                    state.out.append(contentsOf: (state.count > 0 ? ",{" : "{").utf8)
                    for (index, column) in columns.enumerated() {
                        state.out.append(keys[index])
                        if try row.decodeNil(column: column.name) {
                            state.out.append(contentsOf: "null".utf8)
                        } else if column.integer {
                            state.out.append(contentsOf: String(try row.decode(column: column.name, as: Int64.self)).utf8)
                        } else {
                            JSONString.append(try row.decode(column: column.name, as: String.self), to: &state.out)
                        }
                    }
                    state.out.append(UInt8(ascii: "}"))
                    state.count += 1
                } catch {
                    state.failure = error
                }
            }
        }
        let (out, count, failure) = written.withLock { ($0.out, $0.count, $0.failure) }
        if let failure { throw failure }
        return (out, count)
    }

    /// Conditions naming the subject by the identifiers `source` is searched by.
    static func identifying(_ source: PersonalDataSource, _ request: DataSubjectRequestOpened) -> [SQLQueryString] {
        var conditions: [SQLQueryString] = []
        for (identifier, column) in source.matches.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            switch identifier {
            case .userId: if let id = request.userId { conditions.append("\(ident: column) = \(bind: id)") }
            case .customerId: if let id = request.customerId { conditions.append("\(ident: column) = \(bind: id)") }
            case .email: if let email = request.email { conditions.append("lower(\(ident: column)) = \(bind: email.lowercased())") }
            case .name:
                for name in request.names { conditions.append("lower(\(ident: column)) = \(bind: name.lowercased())") }
            }
        }
        return conditions
    }

    /// Conditions finding the subject's names within `source`'s free-text columns.
    static func mentioning(_ source: PersonalDataSource, _ request: DataSubjectRequestOpened) -> [SQLQueryString] {
        source.mentions.flatMap { column in request.names.map { Self.mentions(column, $0) } }
    }

    /// `column` contains `name`, whatever its case (LIKE's wildcards in the name taken literally).
    static func mentions(_ column: String, _ name: String) -> SQLQueryString {
        let escaped = name.lowercased().replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
        return "lower(\(ident: column)) LIKE \(bind: "%" + escaped + "%") ESCAPE '\\'"
    }

    /// `conditions` joined by OR, in parentheses, after the tenant when the table has one.
    static func scope(_ source: PersonalDataSource, tenantId: String, _ conditions: [SQLQueryString]) -> SQLQueryString {
        var sql = SQLQueryString("")
        if source.tenantScoped {
            sql.appendInterpolation(unsafeRaw: "tenant_id = ")
            sql.appendInterpolation(bind: tenantId)
            sql.appendInterpolation(unsafeRaw: " AND ")
        }
        sql.appendInterpolation(unsafeRaw: "(")
        for (index, condition) in conditions.enumerated() {
            if index > 0 { sql.appendInterpolation(unsafeRaw: " OR ") }
            sql.appendInterpolation(condition)
        }
        sql.appendInterpolation(unsafeRaw: ")")
        return sql
    }

    /// `text` as a JSON string.
    static func json(_ text: String) -> Data {
        var data = Data()
        JSONString.append(text, to: &data)
        return data
    }

    /// The part cut into pieces of at most `chunkBytesMax` bytes, never inside a character.
    static func chunks(_ part: Data) -> [String] {
        var chunks: [String] = []
        var start = part.startIndex
        while start < part.endIndex {
            var end = min(part.endIndex, start + DataSubjectRequestAnswered.chunkBytesMax)
            // A UTF-8 continuation byte (10xxxxxx) never starts a character: step back to one that does.
            while end < part.endIndex, part[end] & 0xC0 == 0x80 { end -= 1 }
            chunks.append(String(decoding: part[start..<end], as: UTF8.self))
            start = end
        }
        return chunks.isEmpty ? [""] : chunks
    }
}

extension JSONEncoder {
    /// Sorted keys, slashes as they are.
    static let sortedWithoutSlashes: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}
