import FinFlowCore
import Foundation
import OpenAPIRuntime

/// The performance service's HTTP contract (generated from `openapi.yaml`) implemented.
struct PerformanceAPI: APIProtocol {
    let desk: PerformanceDesk

    func listStatements(_ input: Operations.ListStatements.Input) async throws -> Operations.ListStatements.Output {
        try self.desk.requireOperator("performance:read")
        let limit = input.query.limit ?? 50
        guard (1...PerformanceDesk.statementsPageMax).contains(limit) else {
            throw AppError.invalid("limit must be 1–\(PerformanceDesk.statementsPageMax)", fields: [.init(field: "limit", message: "out of range")])
        }
        let order = StatementOrder(rawValue: input.query.order?.rawValue ?? "total") ?? .total
        let items = try self.desk.statements(service: input.query.service, order: order, limit: limit)
        return .ok(.init(body: .json(.init(items: items.map(Self.dto)))))
    }

    func resetStatements(_ input: Operations.ResetStatements.Input) async throws -> Operations.ResetStatements.Output {
        let principal = try self.desk.requireOperator("performance:manage")
        try await self.desk.resetStatements(principal: principal)
        return .noContent(.init())
    }

    func explainStatement(_ input: Operations.ExplainStatement.Input) async throws -> Operations.ExplainStatement.Output {
        try self.desk.requireOperator("performance:read")
        let (summary, database) = try self.desk.statement(service: input.path.service, id: input.path.statementId)
        let plan = try await StatementPlan.explain(summary.example, in: database)
        return .ok(.init(body: .json(.init(
            service: summary.service, statementId: summary.id, fingerprint: summary.fingerprint,
            database: database.kind == .sqlite ? .sqlite : .postgres, lines: plan.lines,
            scans: plan.scans.map(\.table), usesIndex: plan.usesIndex))))
    }

    func listAdvice(_ input: Operations.ListAdvice.Input) async throws -> Operations.ListAdvice.Output {
        try self.desk.requireOperator("performance:read")
        let items = try await self.desk.advice(service: input.query.service)
        return .ok(.init(body: .json(.init(
            items: items.map { advice in
                .init(
                    kind: .init(rawValue: advice.kind.rawValue) ?? .missingIndex, service: advice.service, table: advice.table,
                    severity: .init(rawValue: advice.severity.rawValue) ?? .info, title: advice.title, statement: advice.statement,
                    evidence: advice.evidence)
            },
            checkedAt: self.desk.env.clock.now()))))
    }

    func listDatabases(_ input: Operations.ListDatabases.Input) async throws -> Operations.ListDatabases.Output {
        try self.desk.requireOperator("performance:read")
        var items: [Components.Schemas.DatabaseHealth] = []
        for (service, _) in self.desk.process.all { items.append(try await self.health(service)) }
        return .ok(.init(body: .json(.init(items: items))))
    }

    func optimizeDatabase(_ input: Operations.OptimizeDatabase.Input) async throws -> Operations.OptimizeDatabase.Output {
        let principal = try self.desk.requireOperator("performance:manage")
        try await self.desk.optimize(service: input.path.service, principal: principal)
        return .ok(.init(body: .json(try await self.health(input.path.service))))
    }

    private func health(_ service: String) async throws -> Components.Schemas.DatabaseHealth {
        let health = try await self.desk.health(service: service)
        return .init(
            service: service, database: health.kind == .sqlite ? .sqlite : .postgres, sizeBytes: health.sizeBytes, tables: health.tables,
            pageSize: health.sqlite?.pageSize, pages: health.sqlite?.pages, freePages: health.sqlite?.freePages,
            logBytes: health.sqlite?.logBytes, lastOptimizedAt: health.lastOptimizedMillis.map(Self.date))
    }

    func listIncidents(_ input: Operations.ListIncidents.Input) async throws -> Operations.ListIncidents.Output {
        try self.desk.requireOperator("performance:read")
        let limit = input.query.limit ?? 50
        var validator = Validator()
        validator.check((1...PerformanceDesk.incidentsPageMax).contains(limit), "limit", "must be 1–\(PerformanceDesk.incidentsPageMax)")
        validator.check((input.query.before ?? 1) >= 1, "before", "must be a positive sequence")
        try validator.throwIfInvalid()
        let items = try await self.desk.incidents(before: input.query.before, limit: limit)
        return .ok(.init(body: .json(.init(
            items: items.map { incident in
                .init(
                    sequence: incident.sequence, id: incident.id, source: incident.source == "anomaly" ? .anomaly : .complianceAlert,
                    tenantId: incident.tenantId, kind: incident.kind, severity: incident.severity, subjectType: incident.subjectType,
                    subjectId: incident.subjectId, reason: incident.reason, occurredAt: Self.date(incident.occurredAtMillis),
                    recordedAt: Self.date(incident.recordedAtMillis),
                    signals: incident.signals.map { .init(service: $0.service, calls: $0.calls, errors: $0.errors, totalMillis: $0.millis) })
            },
            nextBefore: items.count == limit ? items.last?.sequence : nil))))
    }

    func listSeries(_ input: Operations.ListSeries.Input) async throws -> Operations.ListSeries.Output {
        try self.desk.requireOperator("performance:read")
        let now = self.desk.env.clock.nowMillis()
        let from = input.query.from.map(Self.millis) ?? now - 86_400_000
        let to = input.query.to.map(Self.millis) ?? now
        guard from <= to else {
            throw AppError.invalid("from must not be after to", fields: [.init(field: "from", message: "after to")])
        }
        guard let metric = SeriesMetric(rawValue: input.query.metric.rawValue) else { throw AppError.invalid("unknown metric") }
        let samples = try await self.desk.series(service: input.query.service, metric: metric, fromMillis: from, toMillis: to)
        return .ok(.init(body: .json(.init(
            service: input.query.service, metric: input.query.metric,
            samples: samples.map { .init(at: Self.date($0.atMillis), value: $0.value) }))))
    }

    static func dto(_ summary: StatementSummary) -> Components.Schemas.Statement {
        let figures = summary.figures
        func millis(_ nanoseconds: Double) -> Double { (nanoseconds / 1_000).rounded() / 1_000 }
        return .init(
            service: summary.service, id: summary.id, fingerprint: summary.fingerprint, calls: Int64(figures.calls),
            errors: Int64(figures.errors), rows: Int64(figures.rows), totalMillis: millis(Double(figures.totalNanoseconds)),
            meanMillis: millis(figures.calls == 0 ? 0 : Double(figures.totalNanoseconds) / Double(figures.calls)),
            maxMillis: millis(Double(figures.maxNanoseconds)), p50Millis: millis(figures.percentileNanoseconds(0.5) ?? 0),
            p99Millis: millis(figures.percentileNanoseconds(0.99) ?? 0))
    }

    static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }

    /// An instant as Unix milliseconds, clamped to the calendar's years.
    static func millis(_ date: Date) -> Int64 {
        Int64(max(0, min(32_503_680_000, date.timeIntervalSince1970)) * 1000)
    }
}
