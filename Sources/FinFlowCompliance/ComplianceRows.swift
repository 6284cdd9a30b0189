import Foundation

/// A version of a list (`tenant_id` empty: the platform's, screened for every tenant).
struct ListRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let name: String
    let version: Int
    let source: String
    let format: String
    let sha256: String
    let entry_count: Int
    var status: String
    let created_by: String
    let created_at_ms: Int64
}

/// One entry of a list version; `names` is a JSON array.
struct EntryRow: Codable, Sendable {
    let list_id: String
    let entry_id: String
    let tenant_id: String
    let reference: String
    let kind: String
    let names: String
    let birth_date: String?
    let country: String?
    let gender: String?
    let program: String
    let listed_on: String?
}

/// A stored screening; `names` and `lists` are JSON.
struct ScreeningRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let subject_type: String
    let subject_ref: String?
    let kind: String?
    let names: String
    let birth_date: String?
    let country: String?
    let gender: String?
    let threshold: Double
    let lists: String
    let status: String
    let top_score: Double?
    let match_count: Int
    let origin: String
    var alert_id: String?
    let request_hash: String
    let created_by: String
    let created_at_ms: Int64
}

/// One match of a screening, its explanation as JSON.
struct MatchRow: Codable, Sendable {
    let screening_id: String
    let position: Int
    let tenant_id: String
    let list_id: String
    let entry_id: String
    let score: Double
    let explanation: String
}

/// A subject screened again whenever a list it is screened against gets a new version.
struct MonitoredRow: Codable, Sendable {
    let tenant_id: String
    let subject_type: String
    let subject_ref: String
    let kind: String?
    let names: String
    let birth_date: String?
    let country: String?
    let gender: String?
    let last_screening_id: String
    let updated_at_ms: Int64
}

/// An alert for a compliance officer.
struct AlertRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let kind: String
    let severity: String
    var status: String
    let subject_type: String
    let subject_ref: String?
    let source_type: String
    let source_id: String
    let reason: String
    var outcome: String?
    var note: String?
    var closed_by: String?
    var closed_at_ms: Int64?
    let created_at_ms: Int64
}

/// A tenant's compliance settings.
struct SettingsRow: Codable, Sendable {
    let tenant_id: String
    let screening_threshold: Double
    let updated_by: String
    let updated_at_ms: Int64
}

/// What a match stores so an analyst can see why it matched, whatever becomes of the list later.
struct MatchExplanation: Codable, Sendable, Equatable {
    struct Pair: Codable, Sendable, Equatable {
        let query: String
        let candidate: String
        let similarity: Double
        let measure: String
    }

    let listName: String
    let listVersion: Int
    let reference: String
    let kind: String
    let program: String
    let entryNames: [String]
    let birthDate: String?
    let country: String?
    let queryName: String
    let matchedName: String
    let nameScore: Double
    let pairs: [Pair]
    let unmatchedQuery: [String]
    let unmatchedCandidate: [String]
    let qualifiers: [String: Double]
}

/// The list versions a screening was run against.
struct ScreenedList: Codable, Sendable, Equatable {
    let id: String
    let name: String
    let version: Int
}
