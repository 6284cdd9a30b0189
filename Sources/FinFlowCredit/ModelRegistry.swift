import FinFlowCore
import Foundation
import SQLKit

/// The model versions a tenant can score with: the ones bundled with the service (every tenant) and the ones the
/// tenant uploaded. Versions are immutable, so a parsed model is kept in memory once read.
final class ModelRegistry: Sendable {
    /// The version a tenant scores with until it chooses another.
    static let defaultVersion = "german-credit-xgb-1"
    /// Parsed uploaded models kept in memory; the least recently read is dropped beyond this.
    static let cachedModelsMax = 32
    static let versionLengthMax = 64

    let database: any Database
    let bundled: [String: CreditModel]
    private let cache = Cache()

    init(database: any Database) {
        self.database = database
        self.bundled = Self.loadBundled()
    }

    /// Every model directory under the bundle's `Resources/models`; a bundled model that does not load is a build defect.
    static func loadBundled() -> [String: CreditModel] {
        guard let root = Bundle.module.url(forResource: "Resources/models", withExtension: nil),
              let names = try? FileManager.default.contentsOfDirectory(atPath: root.path)
        else { preconditionFailure("the credit engine's bundled models are missing") }
        var models: [String: CreditModel] = [:]
        for name in names {
            let directory = root.appendingPathComponent(name)
            do {
                let model = try CreditModel(
                    model: Data(contentsOf: directory.appendingPathComponent("model.json")),
                    features: Data(contentsOf: directory.appendingPathComponent("features.json")),
                    metadata: Data(contentsOf: directory.appendingPathComponent("metadata.json")))
                models[model.version] = model
            } catch {
                preconditionFailure("bundled model \(name) does not load: \(error)")
            }
        }
        precondition(models[Self.defaultVersion] != nil, "the default credit model is not bundled")
        return models
    }

    /// The model `version` as `tenantId` sees it, or nil.
    func model(tenantId: String, version: String) async throws -> CreditModel? {
        if let model = self.bundled[version] { return model }
        let key = tenantId + "\u{1F}" + version
        if let model = self.cache.get(key) { return model }
        guard let row = try await self.database.tenantRead(tenantId: tenantId, { db in
            try await db.select().column("*").from("credit_models").where("tenant_id", .equal, tenantId)
                .where("version", .equal, version).first(decoding: ModelRow.self)
        }) else { return nil }
        let model = try CreditModel(model: Data(row.model_json.utf8), features: Data(row.features_json.utf8), metadata: Data(row.metadata_json.utf8))
        self.cache.put(key, model)
        return model
    }

    /// The tenant's assignment, or the default one.
    func assignment(tenantId: String, db: any SQLDatabase) async throws -> (active: String, shadow: String?) {
        let row = try await db.select().column("*").from("credit_assignments").where("tenant_id", .equal, tenantId)
            .first(decoding: AssignmentRow.self)
        return row.map { ($0.active_version, $0.shadow_version) } ?? (Self.defaultVersion, nil)
    }

    /// The uploaded versions' summaries (version, trained at).
    func uploaded(tenantId: String, db: any SQLDatabase) async throws -> [(version: String, metadata: String)] {
        struct Summary: Decodable { let version: String; let metadata_json: String }
        return try await db.select().column("version").column("metadata_json").from("credit_models").where("tenant_id", .equal, tenantId)
            .orderBy("created_at_ms").all(decoding: Summary.self).map { ($0.version, $0.metadata_json) }
    }

    /// A small least-recently-used map.
    private final class Cache: @unchecked Sendable {
        private let lock = NSLock()
        private var entries: [String: (model: CreditModel, used: UInt64)] = [:]
        private var tick: UInt64 = 0

        func get(_ key: String) -> CreditModel? {
            self.lock.withLock {
                guard let entry = self.entries[key] else { return nil }
                self.tick += 1
                self.entries[key] = (entry.model, self.tick)
                return entry.model
            }
        }

        func put(_ key: String, _ model: CreditModel) {
            self.lock.withLock {
                self.tick += 1
                self.entries[key] = (model, self.tick)
                if self.entries.count > ModelRegistry.cachedModelsMax,
                   let oldest = self.entries.min(by: { $0.value.used < $1.value.used })?.key {
                    self.entries.removeValue(forKey: oldest)
                }
            }
        }
    }
}

extension CreditModel {
    /// A model version bundled with the credit engine (the default one when `version` is nil).
    public static func bundled(_ version: String? = nil) -> CreditModel? {
        ModelRegistry.loadBundled()[version ?? ModelRegistry.defaultVersion]
    }
}
