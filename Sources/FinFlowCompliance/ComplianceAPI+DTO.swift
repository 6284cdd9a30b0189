import FinFlowCore
import Foundation

extension ComplianceAPI {
    /// Decodes a JSON column the service wrote itself; anything else is an impossible row, a 500 for this request.
    static func decoded<T: Decodable>(_ type: T.Type, _ text: String, _ what: String) throws -> T {
        guard let value = try? JSONDecoder().decode(type, from: Data(text.utf8)) else { throw InvariantViolation("unreadable \(what)") }
        return value
    }

    /// A stored value that must be one of an enumeration's cases.
    static func known<T: RawRepresentable>(_ type: T.Type, _ raw: String, _ what: String) throws -> T where T.RawValue == String {
        guard let value = T(rawValue: raw) else { throw InvariantViolation("unknown \(what) '\(raw)'") }
        return value
    }

    static func dto(_ record: ComplianceDesk.ScreeningRecord) throws -> Components.Schemas.Screening {
        let row = record.row
        let matches = try record.matches.map { match -> Components.Schemas.Match in
            let explanation = try Self.decoded(MatchExplanation.self, match.explanation, "match explanation of screening \(row.id)")
            return .init(
                listId: match.list_id, listName: explanation.listName, listVersion: explanation.listVersion, entryId: match.entry_id,
                reference: explanation.reference, kind: try Self.known(Components.Schemas.EntryKind.self, explanation.kind, "entry kind"),
                program: explanation.program, entryNames: explanation.entryNames, birthDate: explanation.birthDate, country: explanation.country,
                score: match.score, nameScore: explanation.nameScore, queryName: explanation.queryName, matchedName: explanation.matchedName,
                pairs: try explanation.pairs.map {
                    .init(query: $0.query, candidate: $0.candidate, similarity: $0.similarity,
                          measure: try Self.known(Components.Schemas.NamePair.MeasurePayload.self, $0.measure, "pair measure"))
                },
                unmatchedQuery: explanation.unmatchedQuery, unmatchedCandidate: explanation.unmatchedCandidate,
                qualifiers: .init(additionalProperties: explanation.qualifiers))
        }
        return .init(
            id: row.id, subjectType: try Self.known(Components.Schemas.SubjectType.self, row.subject_type, "subject type"),
            subjectRef: row.subject_ref, kind: try row.kind.map { try Self.known(Components.Schemas.EntryKind.self, $0, "entry kind") },
            names: try Self.decoded([String].self, row.names, "names of screening \(row.id)"), birthDate: row.birth_date, country: row.country,
            gender: row.gender, threshold: row.threshold,
            lists: try Self.decoded([ScreenedList].self, row.lists, "lists of screening \(row.id)").map { .init(id: $0.id, name: $0.name, version: $0.version) },
            status: try Self.known(Components.Schemas.Screening.StatusPayload.self, row.status, "screening status"), matches: matches,
            origin: try Self.known(Components.Schemas.Screening.OriginPayload.self, row.origin, "screening origin"), alertId: row.alert_id,
            createdAt: Date(unixMillis: row.created_at_ms))
    }

    static func dto(_ row: ListRow) throws -> Components.Schemas.ScreeningList {
        .init(
            id: row.id, name: row.name, version: row.version, owner: row.tenant_id.isEmpty ? .platform : .tenant, source: row.source,
            format: try Self.known(Components.Schemas.ScreeningList.FormatPayload.self, row.format, "list format"), sha256: row.sha256,
            entries: row.entry_count, status: try Self.known(Components.Schemas.ScreeningList.StatusPayload.self, row.status, "list status"),
            createdAt: Date(unixMillis: row.created_at_ms))
    }

    static func dto(_ row: AlertRow) throws -> Components.Schemas.Alert {
        .init(
            id: row.id, kind: try Self.known(Components.Schemas.Alert.KindPayload.self, row.kind, "alert kind"),
            severity: try Self.known(Components.Schemas.Alert.SeverityPayload.self, row.severity, "alert severity"),
            status: try Self.known(Components.Schemas.Alert.StatusPayload.self, row.status, "alert status"),
            subjectType: try Self.known(Components.Schemas.AlertSubjectType.self, row.subject_type, "subject type"), subjectRef: row.subject_ref,
            sourceType: try Self.known(Components.Schemas.Alert.SourceTypePayload.self, row.source_type, "alert source"), sourceId: row.source_id,
            reason: row.reason, outcome: try row.outcome.map { try Self.known(Components.Schemas.AlertOutcome.self, $0, "alert outcome") },
            note: row.note, closedBy: row.closed_by, closedAt: row.closed_at_ms.map { Date(unixMillis: $0) },
            createdAt: Date(unixMillis: row.created_at_ms))
    }
}
