import FinFlowCore
import Foundation
import SQLKit

/// A processing activity the tenant records.
struct ProcessingActivityRow: Decodable, Sendable {
    let id: String
    let tenant_id: String
    let name: String
    let purpose: String
    let lawful_basis: String
    let data_categories: String
    let subject_categories: String
    let recipients: String
    let retention: String
    let created_by: String
    let created_at_ms: Int64
    let updated_by: String
    let updated_at_ms: Int64
}

/// Records of processing activities (GDPR article 30): the tenant's own, and what the product itself keeps about
/// people, service by service, as each service declares it.
extension ComplianceDesk {
    /// The lawful bases of article 6(1).
    static let lawfulBases: Set<String> = ["consent", "contract", "legal-obligation", "vital-interests", "public-task", "legitimate-interests"]
    /// The most activities a tenant records.
    static let processingActivitiesMax = 500

    /// What an activity records.
    struct ProcessingActivity: Sendable, Codable {
        struct Retention: Sendable, Codable, Equatable {
            var category: String
            var service: String?
            var period: String
        }

        var name: String
        var purpose: String
        var lawfulBasis: String
        var dataCategories: [String]
        var subjectCategories: [String]
        var recipients: [String]
        var retention: [Retention]
    }

    /// Records a new activity, or replaces the one of id `id`; names are unique in the tenant.
    func saveProcessingActivity(id: String?, _ activity: ProcessingActivity, principal: Principal) async throws -> (ProcessingActivityRow, created: Bool) {
        let tenantId = principal.tenantId
        let now = self.now
        let activityId = id ?? self.env.ids.nextString()
        do {
            let created = try await self.database.tenantTransaction(tenantId: tenantId) { db in
                struct Count: Decodable { let n: Int }
                if id == nil {
                    let count = try await db.raw("SELECT COUNT(*) AS n FROM processing_activities WHERE tenant_id = \(bind: tenantId)")
                        .first(decoding: Count.self)?.n ?? 0
                    guard count < Self.processingActivitiesMax else {
                        throw AppError.conflict(code: "too-many-activities", "a tenant records at most \(Self.processingActivitiesMax) activities")
                    }
                    try await db.raw("""
                        INSERT INTO processing_activities (id, tenant_id, name, purpose, lawful_basis, data_categories, subject_categories, recipients,
                            retention, created_by, created_at_ms, updated_by, updated_at_ms)
                        VALUES (\(bind: activityId), \(bind: tenantId), \(bind: activity.name), \(bind: activity.purpose), \(bind: activity.lawfulBasis),
                            \(bind: Self.json(activity.dataCategories)), \(bind: Self.json(activity.subjectCategories)), \(bind: Self.json(activity.recipients)),
                            \(bind: Self.json(activity.retention)), \(bind: principal.subject), \(bind: now), \(bind: principal.subject), \(bind: now))
                        """).run()
                } else {
                    struct Updated: Decodable { let id: String }
                    let updated = try await db.raw("""
                        UPDATE processing_activities SET name = \(bind: activity.name), purpose = \(bind: activity.purpose),
                            lawful_basis = \(bind: activity.lawfulBasis), data_categories = \(bind: Self.json(activity.dataCategories)),
                            subject_categories = \(bind: Self.json(activity.subjectCategories)), recipients = \(bind: Self.json(activity.recipients)),
                            retention = \(bind: Self.json(activity.retention)), updated_by = \(bind: principal.subject), updated_at_ms = \(bind: now)
                        WHERE id = \(bind: activityId) AND tenant_id = \(bind: tenantId) RETURNING id
                        """).all(decoding: Updated.self)
                    guard !updated.isEmpty else { throw AppError.notFound("processing activity") }
                }
                try await self.env.audit.append(
                    AuditEntry(tenantId: tenantId, actorId: principal.subject, action: id == nil ? "compliance.processing.recorded" : "compliance.processing.changed",
                               target: activityId, details: ["name": activity.name, "lawfulBasis": activity.lawfulBasis]),
                    on: db, kind: self.database.kind)
                return id == nil
            }
            return (try await self.processingActivity(tenantId: tenantId, id: activityId), created)
        } catch where violatedConstraint(error) != nil {
            throw AppError.conflict(code: "activity-name-taken", "the tenant records an activity of this name already")
        }
    }

    func processingActivity(tenantId: String, id: String) async throws -> ProcessingActivityRow {
        let row = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.raw("SELECT * FROM processing_activities WHERE id = \(bind: id) AND tenant_id = \(bind: tenantId)")
                .first(decoding: ProcessingActivityRow.self)
        }
        guard let row else { throw AppError.notFound("processing activity") }
        return row
    }

    func processingActivities(tenantId: String) async throws -> [ProcessingActivityRow] {
        try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.raw("SELECT * FROM processing_activities WHERE tenant_id = \(bind: tenantId) ORDER BY name")
                .all(decoding: ProcessingActivityRow.self)
        }
    }

    /// What the product keeps about people, by service and category, from each service's declaration.
    var platformProcessing: [(service: String, source: PersonalDataSource)] {
        self.env.personalDataCatalogue.sorted { $0.key < $1.key }.flatMap { service, sources in sources.map { (service, $0) } }
    }
}
