import FinFlowCore
import Foundation
import OpenAPIRuntime

/// The sync operations: runs started and followed, the problems they met, and the provider documents kept.
extension IntegrationsAPI {
    func listSyncRuns(_ input: Operations.ListSyncRuns.Input) async throws -> Operations.ListSyncRuns.Output {
        let principal = try RequestScope.require("integrations:read")
        let limit = try PageRequest(limit: input.query.limit, cursor: nil).limit
        let runs = try await self.sync.runs(tenantId: principal.tenantId, connectionId: input.path.connectionId, limit: limit)
        return .ok(.init(body: .json(.init(items: runs.map(Self.dto)))))
    }

    func startSyncRun(_ input: Operations.StartSyncRun.Input) async throws -> Operations.StartSyncRun.Output {
        let principal = try RequestScope.require("integrations:manage")
        var full = false
        if case .json(let body) = input.body { full = body.mode == .full }
        let run = try await self.sync.start(connectionId: input.path.connectionId, full: full, principal: principal)
        return .accepted(.init(body: .json(Self.dto(run))))
    }

    func getSyncRun(_ input: Operations.GetSyncRun.Input) async throws -> Operations.GetSyncRun.Output {
        let principal = try RequestScope.require("integrations:read")
        return .ok(.init(body: .json(Self.dto(try await self.sync.run(tenantId: principal.tenantId, id: input.path.syncId)))))
    }

    func listSyncProblems(_ input: Operations.ListSyncProblems.Input) async throws -> Operations.ListSyncProblems.Output {
        let principal = try RequestScope.require("integrations:read")
        let limit = try PageRequest(limit: input.query.limit, cursor: nil).limit
        let problems = try await self.sync.problems(tenantId: principal.tenantId, id: input.path.syncId, limit: limit)
        return .ok(.init(body: .json(.init(items: problems.map {
            .init(entity: $0.entity, externalId: $0.external_id, message: $0.message, at: Self.date($0.at_ms))
        }))))
    }

    func listSyncedRecords(_ input: Operations.ListSyncedRecords.Input) async throws -> Operations.ListSyncedRecords.Output {
        let principal = try RequestScope.require("integrations:read")
        let page = try PageRequest(limit: input.query.limit, cursor: input.query.cursor)
        let entity = input.query.entity.flatMap { SyncEntity(rawValue: $0.rawValue) }
        let records = try await self.sync.records(
            tenantId: principal.tenantId, connectionId: input.path.connectionId, entity: entity, after: page.after, limit: page.limit)
        let next = records.count == page.limit ? records.last.map { PageRequest.cursor(after: "\($0.entity)/\($0.external_id)") } : nil
        return .ok(.init(body: .json(.init(items: records.map(Self.dto), nextCursor: next))))
    }

    static func dto(_ record: SyncRecord) -> Components.Schemas.SyncedRecord {
        .init(
            entity: .init(rawValue: record.entity) ?? .account, externalId: record.external_id, finflowId: record.finflow_id,
            version: record.version, status: .init(rawValue: record.status) ?? .active, label: record.label,
            providerUpdatedAt: record.provider_updated_at_ms.map(Self.date), syncedAt: Self.date(record.synced_at_ms),
            books: record.books_status.flatMap { .init(rawValue: $0) }, booksProblem: record.books_problem,
            origin: record.origin == "finflow" ? .finflow : .provider)
    }

    // MARK: push

    func setConnectionPush(_ input: Operations.SetConnectionPush.Input) async throws -> Operations.SetConnectionPush.Output {
        let principal = try RequestScope.require("integrations:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("a JSON body is required") }
        let connection = try await self.sync.setPush(
            connectionId: input.path.connectionId, enabled: body.enabled, since: body.since, principal: principal)
        return .ok(.init(body: .json(Self.dto(connection))))
    }

    func retryRefusedPushes(_ input: Operations.RetryRefusedPushes.Input) async throws -> Operations.RetryRefusedPushes.Output {
        let principal = try RequestScope.require("integrations:manage")
        let count = try await self.sync.retryRefused(connectionId: input.path.connectionId, principal: principal)
        return .ok(.init(body: .json(.init(requeued: count))))
    }

    func listPushes(_ input: Operations.ListPushes.Input) async throws -> Operations.ListPushes.Output {
        let principal = try RequestScope.require("integrations:read")
        let page = try PageRequest(limit: input.query.limit, cursor: input.query.cursor)
        let pushes = try await self.sync.pushes(
            tenantId: principal.tenantId, connectionId: input.path.connectionId, status: input.query.status?.rawValue, after: page.after,
            limit: page.limit)
        let items: [Components.Schemas.Push] = pushes.map {
            .init(entryId: $0.entry_id, status: .init(rawValue: $0.status) ?? .queued, attempts: $0.attempts, externalId: $0.external_id,
                  made: $0.entity.flatMap(Components.Schemas.Push.MadePayload.init(rawValue:)), error: $0.error, createdAt: Self.date($0.created_at_ms), pushedAt: $0.pushed_at_ms.map(Self.date))
        }
        let next = pushes.count == page.limit ? pushes.last.map { PageRequest.cursor(after: $0.entry_id) } : nil
        return .ok(.init(body: .json(.init(items: items, nextCursor: next))))
    }

    func resolveRecordConflict(_ input: Operations.ResolveRecordConflict.Input) async throws -> Operations.ResolveRecordConflict.Output {
        let principal = try RequestScope.require("integrations:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("a JSON body is required") }
        guard let entity = SyncEntity(rawValue: input.path.entity.rawValue) else { throw AppError.invalid("unknown entity") }
        let record = try await self.sync.resolve(
            connectionId: input.path.connectionId, entity: entity, externalId: input.path.externalId, keepFinFlow: body.keep == .finflow,
            principal: principal)
        return .ok(.init(body: .json(Self.dto(record))))
    }

    static func dto(_ run: SyncRun) -> Components.Schemas.SyncRun {
        let current = run.step < run.plan.count ? run.plan[run.step] : nil
        return .init(
            id: run.id, connectionId: run.connectionId, mode: run.full ? .full : .incremental, status: .init(rawValue: run.status.rawValue) ?? .failed,
            counts: .init(additionalProperties: run.counts.mapValues {
                .init(created: $0.created, updated: $0.updated, deleted: $0.deleted, unchanged: $0.unchanged, failed: $0.failed)
            }),
            progress: .init(
                stepsDone: min(run.step, run.plan.count), steps: run.plan.count,
                current: current?.label),
            errorCount: run.errorCount, attempts: run.attempts, lastError: run.lastError, requestedBy: run.requestedBy,
            createdAt: Self.date(run.createdAtMillis), startedAt: run.startedAtMillis.map(Self.date), finishedAt: run.finishedAtMillis.map(Self.date))
    }
}
