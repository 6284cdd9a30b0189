import FinFlowCore
import Foundation

/// A monitoring scenario of a tenant.
struct ScenarioRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let name: String
    let description: String?
    var live_version: Int?
    let created_by: String
    let created_at_ms: Int64
}

/// A version of a scenario; `definition` is the JSON of its trigger, rules and thresholds.
struct ScenarioVersionRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let scenario_id: String
    let version: Int
    var status: String
    let definition: String
    let created_by: String
    let created_at_ms: Int64
    var published_by: String?
    var published_at_ms: Int64?
}

/// An event monitoring saw, stored for backtests and for rebuilding figures.
struct MonitoredEventRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let type: String
    let subject_id: String
    let at_ms: Int64
    let data: String

    func event() throws -> MonitoredEvent {
        guard let event = try? JSONDecoder().decode(MonitoredEvent.self, from: Data(self.data.utf8)) else {
            throw InvariantViolation("stored event \(self.id) is unreadable")
        }
        return event
    }
}

/// A decision of a scenario version on an event; `rules` is the JSON of its rule results.
struct DecisionRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let scenario_id: String
    let version_id: String
    let event_id: String
    let event_type: String
    let subject_type: String
    let subject_id: String
    let score: Int
    let outcome: String
    let rules: String
    var alert_id: String?
    let event_at_ms: Int64
    let created_at_ms: Int64
}

/// The live versions of a tenant, read once per change of its scenarios.
struct LiveScenarios: Sendable {
    let generation: Int64
    let versions: [EvaluatedVersion]
    /// Every aggregate the live versions read: the figures each event updates.
    let maintained: [Aggregate]

    init(generation: Int64, versions: [EvaluatedVersion]) {
        self.generation = generation
        self.versions = versions
        var seen = Set<Aggregate>()
        self.maintained = versions.flatMap(\.definition.aggregates).filter { seen.insert($0).inserted }
    }
}

/// The live versions per tenant as last read, keyed by the tenant's generation (which every publication raises).
actor LiveScenarioCache {
    private var byTenant: [String: LiveScenarios] = [:]

    func get(_ tenantId: String, generation: Int64) -> LiveScenarios? {
        guard let found = self.byTenant[tenantId], found.generation == generation else { return nil }
        return found
    }

    func put(_ tenantId: String, _ live: LiveScenarios) {
        if self.byTenant.count > 10_000 { self.byTenant.removeAll() }
        self.byTenant[tenantId] = live
    }
}
