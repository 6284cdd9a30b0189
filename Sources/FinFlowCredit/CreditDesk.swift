import FinFlowCore
import Foundation
import SQLKit

/// The credit engine's use cases: the only API its HTTP handlers and event consumers call.
struct CreditDesk: Sendable {
    let env: ServiceEnvironment
    let registry: ModelRegistry
    let outbox: Outbox
    var database: any Database { self.env.database }
    var now: Int64 { self.env.clock.nowMillis() }

    static let customerIdLengthMax = 128

    init(env: ServiceEnvironment) {
        self.env = env
        self.registry = ModelRegistry(database: env.database)
        self.outbox = env.outbox(serviceName: "credit")
    }

    /// What a scoring request asks.
    struct ScoreRequest: Sendable {
        var id: String?
        var customerId: String?
        var applicant: [String: ApplicantValue]

        /// The request's content as a hash: a client id reused with other content is refused.
        var hash: String {
            struct Content: Encodable { let customerId: String?; let applicant: [String: ApplicantValue] }
            return Digest.sha256Hex(CreditDesk.json(Content(customerId: self.customerId, applicant: self.applicant)))
        }
    }

    /// Scores `request` with the tenant's active model, and its shadow model beside it, and stores the decision.
    func score(_ request: ScoreRequest, principal: Principal) async throws -> (decision: DecisionRow, created: Bool) {
        let tenantId = principal.tenantId
        let registry = self.registry
        let assignment = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await registry.assignment(tenantId: tenantId, db: db)
        }
        guard let model = try await registry.model(tenantId: tenantId, version: assignment.active) else {
            throw AppError(.unavailable, code: "model-unavailable", "the active model \(assignment.active) is not registered")
        }
        let assessment = try model.assess(request.applicant)
        var shadow: (version: String, assessment: Assessment?, model: CreditModel?)?
        if let version = assignment.shadow, let shadowModel = try await registry.model(tenantId: tenantId, version: version) {
            // A shadow model never decides, so an application it cannot score still gets its decision.
            shadow = (version, try? shadowModel.assess(request.applicant, explain: false), shadowModel)
        }
        let behaviour = try await request.customerId.asyncMap { try await self.behaviour(tenantId: tenantId, customerId: $0) }
        let row = DecisionRow(
            id: request.id ?? self.env.ids.nextString(), tenant_id: tenantId, customer_id: request.customerId, model_version: model.version,
            inputs: Self.json(request.applicant), probability: assessment.probability, margin: assessment.margin, score: assessment.score,
            grade: assessment.grade, score_bin: model.bin(probability: assessment.probability),
            factors: Self.json(StoredFactors(expectedMargin: assessment.expectedMargin, factors: assessment.factors)),
            shadow_version: shadow?.version, shadow_probability: shadow?.assessment?.probability, shadow_score: shadow?.assessment?.score,
            shadow_grade: shadow?.assessment?.grade,
            shadow_bin: shadow.flatMap { s in s.assessment.flatMap { a in s.model?.bin(probability: a.probability) } },
            behaviour: behaviour.map { Self.json($0) }, request_hash: request.hash, created_by: principal.subject, created_at_ms: self.now)
        do {
            let created: Bool = try await self.database.tenantTransaction(tenantId: tenantId) { db in
                if request.id != nil, let existing = try await CreditStore.decision(tenantId: tenantId, id: row.id, db: db) {
                    guard existing.request_hash == row.request_hash else { throw AppError.idReused("decision") }
                    return false
                }
                // The decision row is itself the audit record: inputs, outputs, model version, who and when.
                try await db.insert(into: "credit_decisions").model(row).run()
                return true
            }
            return created ? (row, true) : (try await self.decision(tenantId: tenantId, id: row.id), false)
        } catch where violatedConstraint(error) != nil {
            let existing = try await self.decision(tenantId: tenantId, id: row.id)
            guard existing.request_hash == row.request_hash else { throw AppError.idReused("decision") }
            return (existing, false)
        }
    }

    /// What the active model's specification says of `applicant`'s fields, leaving out `excluded` (fields already
    /// refused for their JSON type), so one answer names every bad field.
    func fieldErrors(tenantId: String, applicant: [String: ApplicantValue], excluded: Set<String>) async throws -> [AppError.FieldError] {
        let registry = self.registry
        let active = try await self.database.tenantRead(tenantId: tenantId) { db in try await registry.assignment(tenantId: tenantId, db: db) }.active
        guard let model = try await registry.model(tenantId: tenantId, version: active) else { return [] }
        do { _ = try model.spec.encode(applicant) } catch let error as AppError {
            return error.fieldErrors.filter { !excluded.contains($0.field) }
        }
        return []
    }

    /// One stored decision.
    func decision(tenantId: String, id: String) async throws -> DecisionRow {
        guard UUID(uuidString: id) != nil else { throw AppError.notFound("decision") }
        let found = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await CreditStore.decision(tenantId: tenantId, id: id.lowercased(), db: db)
        }
        guard let found else { throw AppError.notFound("decision") }
        return found
    }

    /// A page of the tenant's decisions, newest first.
    func decisions(tenantId: String, filter: DecisionFilter, page: PageRequest) async throws -> (items: [DecisionRow], nextCursor: String?) {
        let rows = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await CreditStore.decisions(tenantId: tenantId, filter: filter, page: page, db: db)
        }
        return page.page(rows, key: \.id)
    }

    /// `value` as JSON text with sorted keys (stored columns and request hashes).
    static func json(_ value: some Encodable) -> String {
        SortedJSON.text(value)
    }
}

/// A decision's factors as stored: the expected margin they add up from, and each field's contribution.
struct StoredFactors: Codable, Sendable {
    let expectedMargin: Double
    let factors: [Assessment.Factor]
}
