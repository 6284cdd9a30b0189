import FinFlowCore
import Foundation
import SQLKit

/// The model registry's use cases: versions, the active and shadow choice, population stability.
extension CreditDesk {
    /// How many recent decisions the stability index looks at.
    static let stabilityDecisionsMax = 10_000

    /// A version the tenant can use.
    struct ModelSummary: Sendable {
        let version: String
        let source: String
        let trainedAt: String?
    }

    /// The tenant's versions and assignment.
    func registryView(tenantId: String) async throws -> (active: String, shadow: String?, versions: [ModelSummary]) {
        let registry = self.registry
        let (assignment, uploaded) = try await self.database.tenantRead(tenantId: tenantId) { db in
            (try await registry.assignment(tenantId: tenantId, db: db), try await registry.uploaded(tenantId: tenantId, db: db))
        }
        struct Trained: Decodable { let trained_at: String? }
        let bundled = registry.bundled.values.sorted { $0.version < $1.version }
            .map { ModelSummary(version: $0.version, source: "bundled", trainedAt: $0.metadata.trained_at) }
        let mine = uploaded.map {
            ModelSummary(version: $0.version, source: "uploaded",
                         trainedAt: (try? JSONDecoder().decode(Trained.self, from: Data($0.metadata.utf8)))?.trained_at)
        }
        return (assignment.active, assignment.shadow, bundled + mine)
    }

    /// Registers an uploaded version after checking it loads and scores as when serving.
    func upload(model: Data, features: Data, metadata: Data, principal: Principal) async throws -> CreditModel {
        let loaded: CreditModel
        do { loaded = try CreditModel(model: model, features: features, metadata: metadata) } catch let error as ModelError {
            throw AppError.invalid(code: "invalid-model", error.description)
        }
        let version = loaded.version
        var validator = Validator()
        validator.check(
            (1...ModelRegistry.versionLengthMax).contains(version.count)
                && version.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) },
            "metadata.version", "must be 1–\(ModelRegistry.versionLengthMax) letters, digits, '-', '_' or '.'")
        try validator.throwIfInvalid()
        guard self.registry.bundled[version] == nil else {
            throw AppError.conflict(code: "model-version-exists", "version \(version) is bundled with the service")
        }
        let row = ModelRow(
            tenant_id: principal.tenantId, version: version, model_json: String(decoding: model, as: UTF8.self),
            features_json: String(decoding: features, as: UTF8.self), metadata_json: String(decoding: metadata, as: UTF8.self),
            created_by: principal.subject, created_at_ms: self.now)
        let kind = self.database.kind
        do {
            try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
                struct Found: Decodable { let version: String }
                guard try await db.select().column("version").from("credit_models").where("tenant_id", .equal, principal.tenantId)
                    .where("version", .equal, version).first(decoding: Found.self) == nil
                else { throw Self.versionExists(version) }
                try await db.insert(into: "credit_models").model(row).run()
                try await self.env.audit.append(
                    AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "credit.model.uploaded", target: version,
                               details: ["modelSha256": Digest.sha256Hex(model)]),
                    on: db, kind: kind)
            }
        } catch where violatedConstraint(error) != nil {
            throw Self.versionExists(version)
        }
        return loaded
    }

    /// The answer to registering a version twice.
    static func versionExists(_ version: String) -> AppError {
        AppError.conflict(code: "model-version-exists", "version \(version) is already registered; versions are immutable")
    }

    /// One version the tenant can use, and where it came from.
    func model(tenantId: String, version: String) async throws -> (model: CreditModel, source: String) {
        guard version.count <= ModelRegistry.versionLengthMax, let model = try await self.registry.model(tenantId: tenantId, version: version) else {
            throw AppError.notFound("model version")
        }
        return (model, self.registry.bundled[version] != nil ? "bundled" : "uploaded")
    }

    /// Makes `active` the deciding model and `shadow` (if any) the one scored beside it.
    func assign(active: String, shadow: String?, principal: Principal) async throws {
        var validator = Validator()
        for (field, version) in [("activeVersion", active), ("shadowVersion", shadow)] {
            guard let version else { continue }
            let known = version.count <= ModelRegistry.versionLengthMax
                ? try await self.registry.model(tenantId: principal.tenantId, version: version) != nil : false
            validator.check(known, field, "is not a registered model version")
        }
        validator.check(shadow != active, "shadowVersion", "must differ from the active version")
        try validator.throwIfInvalid()
        let row = AssignmentRow(
            tenant_id: principal.tenantId, active_version: active, shadow_version: shadow, updated_by: principal.subject, updated_at_ms: self.now)
        let kind = self.database.kind
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            try await db.raw("DELETE FROM credit_assignments WHERE tenant_id = \(bind: principal.tenantId)").run()
            try await db.insert(into: "credit_assignments").model(row).run()
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "credit.model.assigned", target: active,
                           details: ["shadow": shadow ?? ""]),
                on: db, kind: kind)
        }
    }

    /// The population stability index of `version`'s recent scores against its training distribution.
    func stability(tenantId: String, version: String) async throws -> (decisions: Int, psi: Double, bins: [(pdBelow: Double?, expected: Double, actual: Double)]) {
        let (model, _) = try await self.model(tenantId: tenantId, version: version)
        let bins = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await CreditStore.recentBins(tenantId: tenantId, version: version, limit: Self.stabilityDecisionsMax, db: db)
        }
        let distribution = model.metadata.training_distribution
        var counts = [Int](repeating: 0, count: distribution.shares.count)
        for bin in bins where counts.indices.contains(bin) { counts[bin] += 1 }
        let total = bins.count
        let rows = distribution.shares.indices.map { index in
            (pdBelow: index < distribution.pd_edges.count ? Optional(distribution.pd_edges[index]) : nil,
             expected: distribution.shares[index], actual: total == 0 ? 0 : Double(counts[index]) / Double(total))
        }
        return (total, total == 0 ? 0 : Self.psi(expected: rows.map(\.expected), actual: rows.map(\.actual)), rows)
    }

    /// Σ (actual − expected) × ln(actual / expected), with empty bins floored at 0.0001 so the index stays finite.
    static func psi(expected: [Double], actual: [Double]) -> Double {
        zip(expected, actual).reduce(0) { total, pair in
            let e = max(pair.0, 0.0001), a = max(pair.1, 0.0001)
            return total + (a - e) * log(a / e)
        }
    }
}
