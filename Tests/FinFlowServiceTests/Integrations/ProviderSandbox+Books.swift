import FinFlowCore
import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// The books behind the sandbox's API, written to the providers' references:
///
/// - QuickBooks Online: `GET /v3/company/{realmId}/query?query=SELECT * FROM <Entity> … STARTPOSITION n MAXRESULTS m` (at
///   most 1,000) answering `{"QueryResponse": {"<Entity>": […], "startPosition", "maxResults"}}`; and change data
///   capture, `GET /v3/company/{realmId}/cdc?entities=A,B&changedSince=<ISO 8601>`, answering every object of those
///   entities changed since then (at most 1,000 an entity, deleted ones as `{"status": "Deleted", "Id"}`), and a 400
///   fault when `changedSince` is more than 30 days back. Objects carry `Id`, `SyncToken` (0, then one more per change)
///   and `MetaData.LastUpdatedTime` with a −08:00 offset.
/// - Xero: `GET /api.xro/2.0/{Accounts|Contacts|Invoices|Payments|ManualJournals}` with the `xero-tenant-id` header of
///   an organisation the token reaches, `If-Modified-Since` (UTC, no zone), and `page` (100 a page; Accounts whole),
///   answering `{"<Collection>": […]}` with `UpdatedDateUTC` as `/Date(ms+0000)/`; deleted documents stay listed with
///   `Status: DELETED`. Answers carry `X-MinLimit-Remaining` and `X-DayLimit-Remaining`.
/// - Writing journals: QuickBooks `POST /v3/company/{realmId}/journalentry?requestid=…` (a new one, or with `Id` and
///   `SyncToken` one written over: a `SyncToken` not the current one is the 400 fault code 5010, Stale Object Error;
///   lines must balance and name accounts that exist), answering `{"JournalEntry": {…}}`; Xero `PUT
///   /api.xro/2.0/ManualJournals` (new) and `POST /api.xro/2.0/ManualJournals/{id}` (written over), with
///   `Idempotency-Key`, lines summing to zero on account codes of the chart, answering `{"ManualJournals": [{…}]}`; and
///   `GET /api.xro/2.0/ManualJournals/{id}`. A write repeated under its idempotency key answers as the first did.
/// - Both: a bearer token the token endpoint issued, else 401; `throttle(next:retryAfter:)` answers 429 with
///   `Retry-After`; every call is counted and its concurrency measured.
struct SandboxBooks: Sendable {
    struct Document: Sendable {
        var json: Data
        var updated: Date
        var version: Int
        var deleted: Bool
    }

    /// Documents by collection (QuickBooks entity or Xero collection name), then id.
    var collections: [String: [String: Document]] = [:]
    var nextId = 1
    var calls: [String] = []
    var inFlight = 0
    var peakInFlight = 0
    var throttleNext = 0
    /// Calls let through before the throttling starts.
    var throttleAfter = 0
    var retryAfterSeconds = 1
    /// Calls this long: the time a provider takes, so concurrency shows.
    var delayMillis = 0
    /// The answers to writes, by their idempotency key (QuickBooks `requestid`, Xero `Idempotency-Key`): a write sent
    /// again under its key is answered as the first time, and makes nothing.
    var answered: [String: Data] = [:]
}

extension ProviderSandbox {
    /// Creates (`id` nil) or changes a document; answers its id. Xero documents get their `<Collection>ID` field; QuickBooks'
    /// their `Id`; both a new version and time.
    @discardableResult
    func put(_ collection: String, id: String? = nil, _ fields: [String: Any]) -> String {
        let now = self.now
        return self.books.withLock { books in
            let id = id ?? (self.kind == .xero ? UUID().uuidString.lowercased() : "\(books.nextId)")
            books.nextId = max(books.nextId, (Int(id) ?? 0) + 1)
            let old = books.collections[collection]?[id]
            var object = fields
            if self.kind == .xero {
                object[String(collection.dropLast()) + "ID"] = id
            } else {
                object["Id"] = id
                object["domain"] = "QBO"
            }
            let version = old.map { $0.version + 1 } ?? 0
            books.collections[collection, default: [:]][id] = SandboxBooks.Document(
                json: try! JSONSerialization.data(withJSONObject: object), updated: now, version: version, deleted: false)
            return id
        }
    }

    /// Deletes a document (QuickBooks reports it in change data capture; Xero lists it as `DELETED`).
    func delete(_ collection: String, id: String) {
        let now = self.now
        self.books.withLock { books in
            books.collections[collection]?[id]?.deleted = true
            books.collections[collection]?[id]?.updated = now
            books.collections[collection]?[id]?.version += 1
        }
    }

    /// Answers `count` API calls 429 with `Retry-After: seconds`, after letting `after` through.
    func throttle(next count: Int, retryAfter seconds: Int, after: Int = 0) {
        self.books.withLock { $0.throttleNext = count; $0.retryAfterSeconds = seconds; $0.throttleAfter = after }
    }

    var bookCalls: [String] { self.books.withLock { $0.calls } }
    var peakInFlight: Int { self.books.withLock { $0.peakInFlight } }
    func slowCalls(millis: Int) { self.books.withLock { $0.delayMillis = millis } }

    func addBookRoutes(to router: Router<BasicRequestContext>) {
        router.get("/v3/company/:realm/cdc") { request, context in
            try await self.serving(request, "cdc") {
                let realm = context.parameters.get("realm") ?? ""
                return self.changes(realm: realm, query: request.uri.queryParameters)
            }
        }
        router.get("/v3/company/:realm/query") { request, context in
            try await self.serving(request, "query") {
                self.query(String(request.uri.queryParameters["query"] ?? ""))
            }
        }
        router.post("/v3/company/:realm/:entity") { request, context in
            let body = try await request.body.collect(upTo: 1 << 20)
            let entity = context.parameters.get("entity") ?? ""
            let requestId = request.uri.queryParameters["requestid"].map(String.init)
            return try await self.serving(request, entity) {
                guard entity == "journalentry" else {
                    return self.writeQuickBooksDocument(
                        entity, Data(body.readableBytesView), requestId: requestId, operation: request.uri.queryParameters["operation"].map(String.init))
                }
                return self.writeQuickBooksJournal(Data(body.readableBytesView), requestId: requestId)
            }
        }
        router.get("/v3/company/:realm/:entity/:id") { request, context in
            let entity = context.parameters.get("entity") ?? "", id = context.parameters.get("id") ?? ""
            return try await self.serving(request, entity) { self.readQuickBooksDocument(entity, id: id) }
        }
        // One route per shape: Hummingbird's router prefers a constant segment and would not fall back to `:collection`.
        router.put("/api.xro/2.0/:collection") { request, context in
            let body = try await request.body.collect(upTo: 1 << 20)
            let collection = context.parameters.get("collection") ?? ""
            let key = request.headers[.init("Idempotency-Key")!]
            return try await self.serving(request, collection) {
                switch collection {
                case "ManualJournals": self.writeXeroJournal(Data(body.readableBytesView), id: nil, key: key)
                case "Contacts", "Invoices", "Payments": self.writeXeroDocument(collection, Data(body.readableBytesView), id: nil, key: key)
                default: StandIn.response(.notFound, "{}")
                }
            }
        }
        router.post("/api.xro/2.0/:collection/:id") { request, context in
            let body = try await request.body.collect(upTo: 1 << 20)
            let id = context.parameters.get("id") ?? ""
            let collection = context.parameters.get("collection") ?? ""
            let key = request.headers[.init("Idempotency-Key")!]
            return try await self.serving(request, collection) {
                switch collection {
                case "ManualJournals": self.writeXeroJournal(Data(body.readableBytesView), id: id, key: key)
                case "Invoices": self.writeXeroDocument(collection, Data(body.readableBytesView), id: id, key: key)
                default: StandIn.response(.notFound, "{}")
                }
            }
        }
        router.get("/api.xro/2.0/:collection/:id") { request, context in
            let id = context.parameters.get("id") ?? ""
            guard context.parameters.get("collection") == "ManualJournals" else { return StandIn.response(.notFound, "{}") }
            return try await self.serving(request, "ManualJournals") {
                let object = self.books.withLock { books in books.collections["ManualJournals"]?[id].map { Self.xeroObject($0) } }
                guard let object else { return StandIn.response(.notFound, #"{"Title":"Not Found","Status":404}"#) }
                return Self.json(["ManualJournals": [object]])
            }
        }
        router.get("/api.xro/2.0/:collection") { request, context in
            let collection = context.parameters.get("collection") ?? ""
            return try await self.serving(request, collection) {
                guard let tenant = request.headers[.init("xero-tenant-id")!], self.organisations.contains(where: { $0.id == tenant }) else {
                    return StandIn.response(.forbidden, #"{"Type":null,"Title":"Forbidden","Status":403,"Detail":"AuthenticationUnsuccessful"}"#)
                }
                let page = Int(request.uri.queryParameters["page"].map(String.init) ?? "1") ?? 1
                let since = request.headers[.init("If-Modified-Since")!].flatMap { text -> Date? in
                    let formatter = ISO8601DateFormatter()
                    return formatter.date(from: text + "Z")
                }
                return self.xeroCollection(collection, page: page, since: since, where: request.uri.queryParameters["where"].map(String.init))
            }
        }
    }

    /// Checks the bearer token, counts the call and its concurrency, and applies any throttling asked for.
    private func serving(_ request: Request, _ name: String, _ body: @Sendable () -> Response) async throws -> Response {
        let now = self.now
        let bearer = request.headers[.authorization].map { String($0.dropFirst("Bearer ".count)) } ?? ""
        let valid = self.state.withLock { s in
            guard let access = s.accessTokens[bearer], access.expires > now, !s.grants[access.grant].revoked else { return false }
            return true
        }
        guard valid else { return StandIn.response(.unauthorized, #"{"fault":{"error":[{"message":"AuthenticationFailed"}]}}"#) }
        let (throttled, retryAfter, delay) = self.books.withLock { books -> (Bool, Int, Int) in
            books.calls.append(name)
            books.inFlight += 1
            books.peakInFlight = max(books.peakInFlight, books.inFlight)
            if books.throttleAfter > 0 {
                books.throttleAfter -= 1
            } else if books.throttleNext > 0 {
                books.throttleNext -= 1
                return (true, books.retryAfterSeconds, books.delayMillis)
            }
            return (false, 0, books.delayMillis)
        }
        defer { self.books.withLock { $0.inFlight -= 1 } }
        if delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
        if throttled {
            var response = StandIn.response(.tooManyRequests, #"{"fault":{"error":[{"message":"ThrottleExceeded"}]}}"#)
            response.headers[.init("Retry-After")!] = "\(retryAfter)"
            if self.kind == .xero { response.headers[.init("X-Rate-Limit-Problem")!] = "minute" }
            return response
        }
        var response = body()
        if self.kind == .xero {
            let minute = self.books.withLock { $0.calls.count }
            response.headers[.init("X-MinLimit-Remaining")!] = "\(max(1, 60 - minute % 60))"
            response.headers[.init("X-DayLimit-Remaining")!] = "\(max(0, 5_000 - minute))"
        }
        return response
    }

    static func fault(_ message: String, _ detail: String, code: String = "4000") -> Response {
        StandIn.response(.badRequest, String(decoding: try! JSONSerialization.data(withJSONObject: [
            "Fault": ["Error": [["Message": message, "Detail": detail, "code": code]], "type": "ValidationFault"],
        ]), as: UTF8.self))
    }

    static func json(_ object: [String: Any]) -> Response {
        StandIn.response(.ok, String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self))
    }

    static func decimal(_ value: Any?) -> Decimal? {
        switch value {
        case let number as NSNumber: Decimal(string: number.stringValue)
        case let text as String: Decimal(string: text)
        default: nil
        }
    }

    /// A QuickBooks journal entry created or written over, as QuickBooks checks it.
    private func writeQuickBooksJournal(_ body: Data, requestId: String?) -> Response {
        let now = self.now
        return self.books.withLock { books -> Response in
            if let requestId, let answer = books.answered[requestId] { return StandIn.response(.ok, String(decoding: answer, as: UTF8.self)) }
            guard var object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
                return Self.fault("Request has invalid or unsupported property", "the body is not JSON")
            }
            var debits = Decimal(0), credits = Decimal(0)
            for line in (object["Line"] as? [[String: Any]] ?? []) {
                let detail = line["JournalEntryLineDetail"] as? [String: Any] ?? [:]
                let account = ((detail["AccountRef"] as? [String: Any])?["value"] as? String) ?? ""
                guard books.collections["Account"]?[account].map({ !$0.deleted }) == true else {
                    return Self.fault("Invalid Reference Id", "Invalid Reference Id : Accounts element id \(account) not found", code: "2500")
                }
                let amount = Self.decimal(line["Amount"]) ?? 0
                if detail["PostingType"] as? String == "Credit" { credits += amount } else { debits += amount }
            }
            guard debits == credits, debits > 0 else {
                return Self.fault("A business validation error has occurred while processing your request",
                                  "Business Validation Error: You must select an account for each split line with an amount.", code: "6000")
            }
            let id: String
            var version = 0
            if let existing = object["Id"] as? String {
                guard let current = books.collections["JournalEntry"]?[existing], !current.deleted else {
                    return Self.fault("Object Not Found", "Object Not Found : Something you're trying to use has been made inactive.", code: "610")
                }
                guard object["SyncToken"] as? String == "\(current.version)" else {
                    return Self.fault("Stale Object Error", "Stale Object Error : You and root were working on this at the same time. root finished before you did, so your work was not saved.", code: "5010")
                }
                id = existing
                version = current.version + 1
            } else {
                id = "\(books.nextId)"
                books.nextId += 1
            }
            object["Id"] = id
            object["domain"] = "QBO"
            object.removeValue(forKey: "SyncToken")
            object.removeValue(forKey: "sparse")
            let document = SandboxBooks.Document(json: try! JSONSerialization.data(withJSONObject: object), updated: now, version: version, deleted: false)
            books.collections["JournalEntry", default: [:]][id] = document
            let answer = try! JSONSerialization.data(withJSONObject: ["JournalEntry": self.quickbooksObject(document, id: id), "time": Self.quickbooksTime(now)])
            if let requestId { books.answered[requestId] = answer }
            return StandIn.response(.ok, String(decoding: answer, as: UTF8.self))
        }
    }

    /// A Xero manual journal created or written over, as Xero checks it.
    private func writeXeroJournal(_ body: Data, id: String?, key: String?) -> Response {
        let now = self.now
        return self.books.withLock { books -> Response in
            if let key, let answer = books.answered[key] { return StandIn.response(.ok, String(decoding: answer, as: UTF8.self)) }
            guard let wrapper = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
                var object = (wrapper["ManualJournals"] as? [[String: Any]])?.first
            else { return StandIn.response(.badRequest, #"{"Type":"ValidationException","Message":"the body is not a ManualJournals request"}"#) }
            let codes = Set((books.collections["Accounts"] ?? [:]).values.compactMap {
                ((try? JSONSerialization.jsonObject(with: $0.json)) as? [String: Any])?["Code"] as? String
            })
            var total = Decimal(0)
            for line in (object["JournalLines"] as? [[String: Any]] ?? []) {
                guard let code = line["AccountCode"] as? String, codes.contains(code) else {
                    return StandIn.response(.badRequest, #"{"ErrorNumber":10,"Type":"ValidationException","Message":"A validation exception occurred","Elements":[{"ValidationErrors":[{"Message":"Account code is not valid"}]}]}"#)
                }
                total += Self.decimal(line["LineAmount"]) ?? 0
            }
            guard total == 0 else {
                return StandIn.response(.badRequest, #"{"ErrorNumber":10,"Type":"ValidationException","Message":"A validation exception occurred","Elements":[{"ValidationErrors":[{"Message":"The total debits must equal total credits"}]}]}"#)
            }
            let journalId = id ?? UUID().uuidString.lowercased()
            if let id, books.collections["ManualJournals"]?[id] == nil {
                return StandIn.response(.notFound, #"{"Title":"Not Found","Status":404}"#)
            }
            object["ManualJournalID"] = journalId
            // Xero answers with its own date forms.
            if let date = object["Date"] as? String, let day = ISO8601DateFormatter().date(from: date + "T00:00:00Z") {
                object["Date"] = "/Date(\(Int64(day.timeIntervalSince1970 * 1_000))+0000)/"
                object["DateString"] = date + "T00:00:00"
            }
            let old = books.collections["ManualJournals"]?[journalId]
            let document = SandboxBooks.Document(
                json: try! JSONSerialization.data(withJSONObject: object), updated: max(now, (old?.updated ?? now).addingTimeInterval(0.001)),
                version: old.map { $0.version + 1 } ?? 0, deleted: false)
            books.collections["ManualJournals", default: [:]][journalId] = document
            let answer = try! JSONSerialization.data(withJSONObject: ["Id": UUID().uuidString.lowercased(), "Status": "OK", "ManualJournals": [Self.xeroObject(document)]])
            if let key { books.answered[key] = answer }
            return StandIn.response(.ok, String(decoding: answer, as: UTF8.self))
        }
    }

    static func xeroObject(_ document: SandboxBooks.Document) -> [String: Any] {
        var object = (try? JSONSerialization.jsonObject(with: document.json) as? [String: Any]) ?? [:]
        object["UpdatedDateUTC"] = "/Date(\(Int64(document.updated.timeIntervalSince1970 * 1_000))+0000)/"
        if document.deleted { object["Status"] = "DELETED" }
        return object
    }

    static func quickbooksTime(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(secondsFromGMT: -8 * 3_600)
        return formatter.string(from: date)
    }

    func quickbooksObject(_ document: SandboxBooks.Document, id: String) -> [String: Any] {
        if document.deleted {
            return ["domain": "QBO", "status": "Deleted", "Id": id, "MetaData": ["LastUpdatedTime": Self.quickbooksTime(document.updated)]]
        }
        var object = (try? JSONSerialization.jsonObject(with: document.json) as? [String: Any]) ?? [:]
        object["SyncToken"] = "\(document.version)"
        object["MetaData"] = ["CreateTime": Self.quickbooksTime(document.updated), "LastUpdatedTime": Self.quickbooksTime(document.updated)]
        return object
    }

    private func changes(realm: String, query: Parameters) -> Response {
        let entities = (query["entities"].map(String.init) ?? "").split(separator: ",").map(String.init)
        let formatter = ISO8601DateFormatter()
        guard let sinceText = query["changedSince"].map(String.init), let since = formatter.date(from: sinceText) else {
            return Self.fault("Invalid changedSince", "changedSince is required, as ISO 8601")
        }
        guard self.now.timeIntervalSince(since) <= 30 * 86_400 else {
            return Self.fault("Invalid query", "changedSince: you can only query for changes up to 30 days back")
        }
        let responses: [[String: Any]] = self.books.withLock { books in
            entities.map { entity in
                let changed = (books.collections[entity] ?? [:]).filter { $0.value.updated > since }.sorted { ($0.value.updated, $0.key) < ($1.value.updated, $1.key) }
                let objects = changed.prefix(1_000).map { self.quickbooksObject($0.value, id: $0.key) }
                return [entity: objects, "startPosition": 1, "maxResults": objects.count]
            }
        }
        let answer: [String: Any] = ["CDCResponse": [["QueryResponse": responses]], "time": Self.quickbooksTime(self.now)]
        return StandIn.response(.ok, String(decoding: try! JSONSerialization.data(withJSONObject: answer), as: UTF8.self))
    }

    private func query(_ text: String) -> Response {
        let words = text.split(separator: " ").map(String.init)
        guard words.count >= 4, words[0].uppercased() == "SELECT", words[2].uppercased() == "FROM" else {
            return Self.fault("QueryParserError", "Encountered \"\(text.prefix(40))\"")
        }
        let entity = words[3]
        func number(after keyword: String) -> Int? {
            guard let index = words.firstIndex(where: { $0.uppercased() == keyword }), index + 1 < words.count else { return nil }
            return Int(words[index + 1])
        }
        let start = number(after: "STARTPOSITION") ?? 1, maximum = number(after: "MAXRESULTS") ?? 100
        guard start >= 1, (1...1_000).contains(maximum) else { return Self.fault("QueryValidationError", "MAXRESULTS is 1–1000") }
        // `where <Field> = '<value>'` (a quote escaped by a backslash), the condition the push's look-ups use; the sync's
        // `Active IN (true, false)` keeps every object, as the sandbox keeps no inactive ones.
        var condition: (field: String, value: String)?
        if let range = text.range(of: " where ", options: .caseInsensitive), let equals = text[range.upperBound...].range(of: " = '"), text.hasSuffix("'") {
            let clause = text[range.upperBound...]
            let value = clause[equals.upperBound...].dropLast().replacingOccurrences(of: "\\'", with: "'").replacingOccurrences(of: "\\\\", with: "\\")
            condition = (String(clause[..<equals.lowerBound]), value)
        }
        let objects: [[String: Any]] = self.books.withLock { books in
            let live = (books.collections[entity] ?? [:]).filter { !$0.value.deleted }.sorted { (Int($0.key) ?? 0) < (Int($1.key) ?? 0) }
                .filter { document in
                    guard let condition else { return true }
                    let object = (try? JSONSerialization.jsonObject(with: document.value.json)) as? [String: Any]
                    return (object?[condition.field] as? String) == condition.value
                }
            return live.dropFirst(start - 1).prefix(maximum).map { self.quickbooksObject($0.value, id: $0.key) }
        }
        var response: [String: Any] = ["startPosition": start, "maxResults": objects.count]
        if !objects.isEmpty { response[entity] = objects }
        let answer: [String: Any] = ["QueryResponse": response, "time": Self.quickbooksTime(self.now)]
        return StandIn.response(.ok, String(decoding: try! JSONSerialization.data(withJSONObject: answer), as: UTF8.self))
    }

    private func xeroCollection(_ collection: String, page: Int, since: Date?, where filter: String? = nil) -> Response {
        let paged = collection != "Accounts"
        // `where=Name=="…"`, the one filter the sync's contact look-up uses.
        let named = filter.flatMap { text -> String? in
            guard text.hasPrefix("Name==\""), text.hasSuffix("\""), text.count >= 8 else { return nil }
            return String(text.dropFirst(7).dropLast())
        }
        let objects: [[String: Any]] = self.books.withLock { books in
            let all = (books.collections[collection] ?? [:]).filter { since == nil || $0.value.updated > since! }
                .filter { named == nil || (((try? JSONSerialization.jsonObject(with: $0.value.json)) as? [String: Any])?["Name"] as? String) == named }
                .sorted { ($0.value.updated, $0.key) < ($1.value.updated, $1.key) }
            let chosen = paged ? Array(all.dropFirst((max(1, page) - 1) * 100).prefix(100)) : all
            return chosen.map { Self.xeroObject($0.value) }
        }
        let answer: [String: Any] = ["Id": UUID().uuidString.lowercased(), "Status": "OK", "ProviderName": "FinFlow", collection: objects]
        return StandIn.response(.ok, String(decoding: try! JSONSerialization.data(withJSONObject: answer), as: UTF8.self))
    }
}

extension ProviderSandbox {
    /// The live documents of a collection, by id, as the sandbox keeps them (with `SyncToken` as the version).
    func documents(_ collection: String) -> [String: (object: [String: Any], version: Int)] {
        self.books.withLock { books in
            (books.collections[collection] ?? [:]).filter { !$0.value.deleted }.mapValues {
                (((try? JSONSerialization.jsonObject(with: $0.json)) as? [String: Any]) ?? [:], $0.version)
            }
        }
    }
}
