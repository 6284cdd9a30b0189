import FinFlowCore
import Foundation
import OpenAPIRuntime

/// The monitoring operations: rule templates, scenarios and their versions, backtests, decisions.
extension ComplianceAPI {
    func listRuleTemplates(_ input: Operations.ListRuleTemplates.Input) async throws -> Operations.ListRuleTemplates.Output {
        _ = try RequestScope.require("compliance:read")
        let items = try RuleTemplates.all.map { template -> Components.Schemas.RuleTemplate in
            var parser = RuleParser()
            guard let condition = template.make(.object([:]), path: "parameters", parser: &parser) else {
                throw InvariantViolation("template \(template.id) does not render with its defaults: \(parser.validator.errors)")
            }
            return .init(
                id: template.id, title: template.title, description: template.description, defaultScore: template.defaultScore,
                parameters: try template.parameters.map {
                    .init(
                        name: $0.name, kind: try Self.known(Components.Schemas.RuleTemplateParameter.KindPayload.self, $0.kind.rawValue, "parameter kind"),
                        _default: try Self.converted($0.defaultValue), description: $0.description)
                },
                condition: try Self.converted(condition.json))
        }
        return .ok(.init(body: .json(.init(items: items))))
    }

    func createScenario(_ input: Operations.CreateScenario.Input) async throws -> Operations.CreateScenario.Output {
        let principal = try RequestScope.require("compliance:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let name = body.name.trimmingCharacters(in: .whitespacesAndNewlines)
        validator.check((1...ComplianceDesk.scenarioNameLengthMax).contains(name.count), "name", "must be 1–\(ComplianceDesk.scenarioNameLengthMax) characters besides spaces")
        if let description = body.description {
            validator.check(description.count <= ComplianceDesk.scenarioDescriptionLengthMax, "description", "must be at most \(ComplianceDesk.scenarioDescriptionLengthMax) characters")
        }
        try validator.throwIfInvalid()
        let row = try await self.desk.createScenario(name: name, description: body.description, principal: principal)
        return .created(.init(body: .json(try Self.dto(row, versions: []))))
    }

    func listScenarios(_ input: Operations.ListScenarios.Input) async throws -> Operations.ListScenarios.Output {
        let principal = try RequestScope.require("compliance:read")
        let items = try await self.desk.scenarios(tenantId: principal.tenantId).map { try Self.dto($0.0, versions: $0.1) }
        return .ok(.init(body: .json(.init(items: items))))
    }

    func getScenario(_ input: Operations.GetScenario.Input) async throws -> Operations.GetScenario.Output {
        let principal = try RequestScope.require("compliance:read")
        let (row, versions) = try await self.desk.scenario(tenantId: principal.tenantId, id: input.path.scenarioId)
        return .ok(.init(body: .json(try Self.dto(row, versions: versions))))
    }

    func createScenarioVersion(_ input: Operations.CreateScenarioVersion.Input) async throws -> Operations.CreateScenarioVersion.Output {
        let principal = try RequestScope.require("compliance:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var parser = RuleParser()
        let rules = try body.rules.map { rule -> JSONValue in
            var object: [String: JSONValue] = [:]
            if let name = rule.name { object["name"] = .string(name) }
            if let condition = rule.condition { object["condition"] = try Self.jsonValue(condition) }
            if let score = rule.score { object["score"] = .number(Decimal(score)) }
            if let template = rule.template { object["template"] = .string(template) }
            if let parameters = rule.parameters { object["parameters"] = try Self.jsonValue(parameters) }
            return .object(object)
        }
        let thresholds = Thresholds(review: body.thresholds.review, blockAndReview: body.thresholds.blockAndReview, decline: body.thresholds.decline)
        let definition = parser.definition(trigger: try body.trigger.map(Self.jsonValue), rules: .array(rules), thresholds: thresholds)
        try parser.validator.throwIfInvalid()
        guard let definition else { throw AppError.invalid("the version could not be read") }
        let row = try await self.desk.addVersion(scenarioId: input.path.scenarioId, definition: definition, principal: principal)
        return .created(.init(body: .json(try Self.dto(row))))
    }

    func publishScenarioVersion(_ input: Operations.PublishScenarioVersion.Input) async throws -> Operations.PublishScenarioVersion.Output {
        let principal = try RequestScope.require("compliance:manage")
        let row = try await self.desk.publish(scenarioId: input.path.scenarioId, version: input.path.version, principal: principal)
        return .ok(.init(body: .json(try Self.dto(row))))
    }

    func backtestScenarioVersion(_ input: Operations.BacktestScenarioVersion.Input) async throws -> Operations.BacktestScenarioVersion.Output {
        let principal = try RequestScope.require("compliance:read")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        validator.check(body.from < body.to, "to", "must be after from")
        validator.check(body.to.timeIntervalSince(body.from) <= 366 * 86_400, "to", "must be at most 366 days after from")
        validator.check(body.from.timeIntervalSince1970 > 0, "from", "must be after 1970")
        try validator.throwIfInvalid()
        let report = try await self.desk.backtest(
            scenarioId: input.path.scenarioId, version: input.path.version, fromMillis: body.from.unixMillis, toMillis: body.to.unixMillis,
            tenantId: principal.tenantId)
        func tally(_ tally: ComplianceDesk.BacktestTally) -> Components.Schemas.BacktestTally {
            .init(
                versionId: tally.versionId, version: tally.version, triggered: tally.triggered, outcomes: .init(additionalProperties: tally.outcomes),
                ruleHits: .init(additionalProperties: tally.ruleHits))
        }
        let changes = try report.changes.map { change -> Components.Schemas.BacktestChange in
            .init(
                eventId: change.eventId, subjectId: change.subjectId,
                liveOutcome: try Self.known(Components.Schemas.MonitoringOutcome.self, change.live?.outcome ?? "approve", "outcome"),
                liveScore: change.live?.score ?? 0,
                draftOutcome: try Self.known(Components.Schemas.MonitoringOutcome.self, change.candidate?.outcome ?? "approve", "outcome"),
                draftScore: change.candidate?.score ?? 0)
        }
        return .ok(.init(body: .json(.init(
            from: body.from, to: body.to, events: report.events, warmUpEvents: report.warmUpEvents, candidate: tally(report.candidate),
            live: report.live.map(tally), changed: report.changed, changes: changes))))
    }

    func listDecisions(_ input: Operations.ListDecisions.Input) async throws -> Operations.ListDecisions.Output {
        let principal = try RequestScope.require("compliance:read")
        var validator = Validator()
        if let subject = input.query.subjectId {
            validator.check((1...ComplianceDesk.subjectRefLengthMax).contains(subject.count), "subjectId", "must be 1–\(ComplianceDesk.subjectRefLengthMax) characters")
        }
        try validator.throwIfInvalid()
        let page = try PageRequest(limit: input.query.limit, cursor: input.query.cursor)
        let result = try await self.desk.decisions(
            tenantId: principal.tenantId, subjectId: input.query.subjectId, outcome: input.query.outcome?.rawValue, page: page)
        return .ok(.init(body: .json(.init(items: try result.items.map(Self.dto), nextCursor: result.nextCursor))))
    }

    func getDecision(_ input: Operations.GetDecision.Input) async throws -> Operations.GetDecision.Output {
        let principal = try RequestScope.require("compliance:read")
        return .ok(.init(body: .json(try Self.dto(try await self.desk.decision(tenantId: principal.tenantId, id: input.path.decisionId)))))
    }

    // MARK: DTOs

    /// A generated container's JSON as the rule language reads it.
    static func jsonValue(_ value: some Encodable) throws -> JSONValue {
        guard let data = try? JSONEncoder().encode(value), let json = try? JSONDecoder().decode(JSONValue.self, from: data) else {
            throw AppError.invalid("a rule's JSON could not be read")
        }
        return json
    }

    /// A rule language value as a generated container.
    static func converted<T: Decodable>(_ value: JSONValue) throws -> T {
        guard let data = try? JSONEncoder().encode(value), let converted = try? JSONDecoder().decode(T.self, from: data) else {
            throw InvariantViolation("a stored rule does not convert to its API form")
        }
        return converted
    }

    static func dto(_ row: ScenarioRow, versions: [ScenarioVersionRow]) throws -> Components.Schemas.Scenario {
        .init(
            id: row.id, name: row.name, description: row.description, liveVersion: row.live_version, versions: try versions.map(Self.dto),
            createdAt: Date(unixMillis: row.created_at_ms))
    }

    static func dto(_ row: ScenarioVersionRow) throws -> Components.Schemas.ScenarioVersion {
        let definition = try VersionDefinition.stored(row.definition, what: "scenario version \(row.id)")
        return .init(
            id: row.id, scenarioId: row.scenario_id, version: row.version,
            status: try Self.known(Components.Schemas.ScenarioVersion.StatusPayload.self, row.status, "version status"),
            trigger: try definition.trigger.map { try Self.converted($0.json) },
            rules: try definition.rules.map { rule in
                .init(
                    name: rule.name, condition: try Self.converted(rule.condition.json), score: rule.score, template: rule.template,
                    parameters: try rule.parameters.map { try Self.converted($0) })
            },
            thresholds: .init(review: definition.thresholds.review, blockAndReview: definition.thresholds.blockAndReview, decline: definition.thresholds.decline),
            aggregates: definition.aggregates.map(\.summary), createdBy: row.created_by, createdAt: Date(unixMillis: row.created_at_ms),
            publishedBy: row.published_by, publishedAt: row.published_at_ms.map { Date(unixMillis: $0) })
    }

    static func dto(_ row: DecisionRow) throws -> Components.Schemas.MonitoringDecision {
        let rules = try Self.decoded([RuleResult].self, row.rules, "rule results of decision \(row.id)")
        return .init(
            id: row.id, scenarioId: row.scenario_id, versionId: row.version_id, eventId: row.event_id,
            eventType: try Self.known(Components.Schemas.MonitoringDecision.EventTypePayload.self, row.event_type, "event type"),
            subjectType: try Self.known(Components.Schemas.MonitoringDecision.SubjectTypePayload.self, row.subject_type, "subject type"),
            subjectId: row.subject_id, score: row.score,
            outcome: try Self.known(Components.Schemas.MonitoringOutcome.self, row.outcome, "outcome"),
            rules: try rules.map { result in
                .init(
                    rule: result.rule, result: try Self.known(Components.Schemas.RuleResult.ResultPayload.self, result.result, "rule result"),
                    score: result.score,
                    values: result.values.map { .init(aggregate: $0.aggregate, value: $0.value.map { NSDecimalNumber(decimal: $0).doubleValue }) },
                    error: result.error)
            },
            alertId: row.alert_id, eventAt: Date(unixMillis: row.event_at_ms), createdAt: Date(unixMillis: row.created_at_ms))
    }
}
