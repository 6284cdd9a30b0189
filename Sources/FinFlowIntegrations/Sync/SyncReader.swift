import FinFlowCore
import Foundation

/// One step of a sync run's plan, and how far it got: the plan is stored with the run, so a run stopped anywhere (a
/// crash, the provider away) resumes at the page it had not yet applied.
struct SyncStep: Codable, Sendable, Equatable {
    enum Kind: String, Codable, Sendable {
        /// QuickBooks' change data capture of every entity since the cursor: one call, up to 1,000 objects an entity.
        case changes
        /// QuickBooks' full listing of one entity, 1,000 at a time; what it no longer lists was deleted.
        case listing
        /// One Xero collection changed since the cursor (all of it without one), 100 a page.
        case feed
    }

    var kind: Kind
    var entity: SyncEntity?
    var feed: ProviderDocuments.XeroFeed?
    /// Objects (QuickBooks) or pages (Xero) already applied.
    var position = 0

    /// What it reads, in a word: `changes`, or the entity or Xero collection listed.
    var label: String { self.entity?.rawValue ?? self.feed?.rawValue ?? self.kind.rawValue }
}

/// What one call of a step brought.
struct SyncPage: Sendable {
    var documents: [ProviderDocument] = []
    var problems: [DocumentProblem] = []
    /// Where the step goes on from, or nil when it is done.
    var next: Int?
    /// QuickBooks entities whose change data capture was cut at its 1,000 objects: listed in full instead.
    var capped: [SyncEntity] = []
}

/// Reads pages of documents from a provider, for a step of a sync plan.
struct SyncReader: Sendable {
    let api: ProviderAPI
    /// The company (QuickBooks realm) or organisation (Xero tenant) the connection reaches.
    let externalId: String

    /// QuickBooks answers at most this many objects a query, and a change data capture an entity.
    static let quickbooksPageMax = 1_000
    /// Xero's page.
    static let xeroPageMax = 100
    /// The QuickBooks API version the documents are read in.
    static let minorVersion = "75"

    /// The plan of a run: QuickBooks' change data capture when the cursor is recent enough (less than 30 days, less a
    /// day's margin), else every entity listed in full; each Xero collection from its cursor.
    static func plan(provider: AccountingProvider, full: Bool, cursors: [String: Int64], nowMillis: Int64) -> [SyncStep] {
        switch provider {
        case .quickbooks:
            let windowMillis: Int64 = 29 * 86_400_000
            if !full, let since = cursors[Self.changesCursor], nowMillis - since < windowMillis {
                return [SyncStep(kind: .changes)]
            }
            return SyncEntity.allCases.map { SyncStep(kind: .listing, entity: $0) }
        case .xero:
            return ProviderDocuments.XeroFeed.allCases.map { SyncStep(kind: .feed, feed: $0) }
        }
    }

    /// The name of QuickBooks' one cursor; Xero's are its collections' names.
    static let changesCursor = "changes"

    /// The page of `step` from its position.
    func page(of step: SyncStep, cursors: [String: Int64]) async throws -> SyncPage {
        switch step.kind {
        case .changes: try await self.changes(since: cursors[Self.changesCursor] ?? 0)
        case .listing: try await self.listing(step.entity ?? .account, from: step.position)
        case .feed: try await self.feed(step.feed ?? .accounts, page: step.position + 1, since: cursors[(step.feed ?? .accounts).rawValue])
        }
    }

    private func changes(since: Int64) async throws -> SyncPage {
        let entities = SyncEntity.allCases.map(\.quickbooksName).joined(separator: ",")
        let body = try await self.api.get(
            "/v3/company/\(self.externalId)/cdc",
            query: [("entities", entities), ("changedSince", ProviderDocuments.isoText(millis: since)), ("minorversion", Self.minorVersion)])
        guard let answer = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let cdc = (answer["CDCResponse"] as? [[String: Any]])?.first
        else { throw Self.unreadable("QuickBooks' change data capture") }
        var page = SyncPage()
        for response in cdc["QueryResponse"] as? [[String: Any]] ?? [] {
            for (name, value) in response {
                guard let objects = value as? [[String: Any]], let entity = SyncEntity(quickbooksName: name) else { continue }
                if objects.count >= Self.quickbooksPageMax { page.capped.append(entity) }
                Self.take(objects.map { ProviderDocuments.quickbooks($0, entity: entity) }, into: &page)
            }
        }
        return page
    }

    private func listing(_ entity: SyncEntity, from position: Int) async throws -> SyncPage {
        // Accounts, customers and vendors made inactive are still theirs: asked for with `Active IN (true, false)`.
        let activeToo = [.account, .customer, .vendor].contains(entity) ? " WHERE Active IN (true, false)" : ""
        let query = "SELECT * FROM \(entity.quickbooksName)\(activeToo) ORDERBY Id STARTPOSITION \(position + 1) MAXRESULTS \(Self.quickbooksPageMax)"
        let body = try await self.api.get(
            "/v3/company/\(self.externalId)/query", query: [("query", query), ("minorversion", Self.minorVersion)])
        guard let answer = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let response = answer["QueryResponse"] as? [String: Any]
        else { throw Self.unreadable("QuickBooks' \(entity.quickbooksName) listing") }
        let objects = response[entity.quickbooksName] as? [[String: Any]] ?? []
        var page = SyncPage()
        Self.take(objects.map { ProviderDocuments.quickbooks($0, entity: entity) }, into: &page)
        page.next = objects.count >= Self.quickbooksPageMax ? position + objects.count : nil
        return page
    }

    private func feed(_ feed: ProviderDocuments.XeroFeed, page number: Int, since: Int64?) async throws -> SyncPage {
        var headers: [(String, String)] = []
        if let since {
            // Xero reads the header as UTC without a zone.
            headers.append(("If-Modified-Since", String(ProviderDocuments.isoText(millis: since).dropLast())))
        }
        let body = try await self.api.get(
            "/api.xro/2.0/\(feed.rawValue)", query: feed.paged ? [("page", "\(number)")] : [], headers: headers)
        var page = SyncPage()
        // 304: nothing changed since.
        guard !body.isEmpty else { return page }
        guard let answer = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { throw Self.unreadable("Xero's \(feed.rawValue)") }
        let objects = answer[feed.rawValue] as? [[String: Any]] ?? []
        Self.take(objects.flatMap { ProviderDocuments.xero($0, feed: feed) }, into: &page)
        page.next = feed.paged && objects.count >= Self.xeroPageMax ? number : nil
        return page
    }

    private static func take(_ results: [Result<ProviderDocument, DocumentProblem>], into page: inout SyncPage) {
        for result in results {
            switch result {
            case .success(let document): page.documents.append(document)
            case .failure(let problem): page.problems.append(problem)
            }
        }
    }

    private static func unreadable(_ what: String) -> AppError {
        AppError(.unavailable, code: "provider-answer-unreadable", "\(what) could not be read")
    }
}
