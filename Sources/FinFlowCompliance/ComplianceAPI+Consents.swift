import FinFlowCore
import Foundation
import OpenAPIRuntime

/// Consents and the records of processing.
extension ComplianceAPI {
    func giveConsent(_ input: Operations.GiveConsent.Input) async throws -> Operations.GiveConsent.Output {
        let principal = try RequestScope.require("compliance:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let id = validator.clientId(body.id, field: "id")
        let subjectRef = body.subjectRef.trimmingCharacters(in: .whitespaces)
        let purpose = body.purpose.trimmingCharacters(in: .whitespaces)
        let version = body.textVersion.trimmingCharacters(in: .whitespaces)
        validator.check((1...200).contains(subjectRef.count), "subjectRef", "must be 1–200 characters besides spaces")
        validator.check((1...100).contains(purpose.count), "purpose", "must be 1–100 characters besides spaces")
        validator.check((1...100).contains(version.count), "textVersion", "must be 1–100 characters besides spaces")
        if let evidence = body.evidence { validator.check((1...2_000).contains(evidence.count), "evidence", "must be 1–2000 characters") }
        let now = self.desk.now
        if let givenAt = body.givenAt { validator.check(givenAt.unixMillis <= now, "givenAt", "must not be in the future") }
        try validator.throwIfInvalid()
        let (row, created) = try await self.desk.giveConsent(
            .init(id: id, subjectRef: subjectRef, purpose: purpose, textVersion: version, method: body.method.rawValue, evidence: body.evidence,
                  givenAtMillis: body.givenAt?.unixMillis),
            principal: principal)
        return created ? .created(.init(body: .json(Self.dto(row)))) : .ok(.init(body: .json(Self.dto(row))))
    }

    func listConsents(_ input: Operations.ListConsents.Input) async throws -> Operations.ListConsents.Output {
        let principal = try RequestScope.require("compliance:read")
        let q = input.query
        let page = try PageRequest(limit: q.limit, cursor: q.cursor)
        let result = try await self.desk.consents(
            tenantId: principal.tenantId, subjectRef: q.subjectRef, purpose: q.purpose, status: q.status?.rawValue, page: page)
        return .ok(.init(body: .json(.init(items: result.items.map(Self.dto), nextCursor: result.nextCursor))))
    }

    func getConsent(_ input: Operations.GetConsent.Input) async throws -> Operations.GetConsent.Output {
        let principal = try RequestScope.require("compliance:read")
        return .ok(.init(body: .json(Self.dto(try await self.desk.consent(tenantId: principal.tenantId, id: input.path.consentId)))))
    }

    func withdrawConsent(_ input: Operations.WithdrawConsent.Input) async throws -> Operations.WithdrawConsent.Output {
        let principal = try RequestScope.require("compliance:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let row = try await self.desk.withdrawConsent(
            tenantId: principal.tenantId, id: input.path.consentId, method: body.method.rawValue, principal: principal)
        return .ok(.init(body: .json(Self.dto(row))))
    }

    func processingRecords(_ input: Operations.ProcessingRecords.Input) async throws -> Operations.ProcessingRecords.Output {
        let principal = try RequestScope.require("compliance:read")
        let activities = try await self.desk.processingActivities(tenantId: principal.tenantId).map(Self.dto)
        let platform = self.desk.platformProcessing.map { service, source in
            Operations.ProcessingRecords.Output.Ok.Body.JsonPayload.PlatformPayloadPayload(
                service: service, category: source.category, purpose: source.purpose, retention: source.retention, table: source.table,
                deletedAfterDays: source.expiry?.days)
        }
        return .ok(.init(body: .json(.init(activities: activities, platform: platform))))
    }

    func recordProcessingActivity(_ input: Operations.RecordProcessingActivity.Input) async throws -> Operations.RecordProcessingActivity.Output {
        let principal = try RequestScope.require("compliance:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let (row, _) = try await self.desk.saveProcessingActivity(id: nil, try Self.activity(body), principal: principal)
        return .created(.init(body: .json(Self.dto(row))))
    }

    func changeProcessingActivity(_ input: Operations.ChangeProcessingActivity.Input) async throws -> Operations.ChangeProcessingActivity.Output {
        let principal = try RequestScope.require("compliance:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let (row, _) = try await self.desk.saveProcessingActivity(id: input.path.activityId, try Self.activity(body), principal: principal)
        return .ok(.init(body: .json(Self.dto(row))))
    }

    /// The activity a request describes, each text trimmed and checked.
    static func activity(_ body: Components.Schemas.ProcessingActivityInput) throws -> ComplianceDesk.ProcessingActivity {
        var validator = Validator()
        func trimmed(_ text: String, _ field: String, most: Int = 200) -> String {
            let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
            validator.check((1...most).contains(value.count), field, "must be 1–\(most) characters besides spaces")
            return value
        }
        let activity = ComplianceDesk.ProcessingActivity(
            name: trimmed(body.name, "name"), purpose: trimmed(body.purpose, "purpose", most: 2_000), lawfulBasis: body.lawfulBasis.rawValue,
            dataCategories: body.dataCategories.enumerated().map { trimmed($1, "dataCategories[\($0)]") },
            subjectCategories: body.subjectCategories.enumerated().map { trimmed($1, "subjectCategories[\($0)]") },
            recipients: (body.recipients ?? []).enumerated().map { trimmed($1, "recipients[\($0)]") },
            retention: body.retention.enumerated().map { index, item in
                .init(category: trimmed(item.category, "retention[\(index)].category"), service: item.service.map { trimmed($0, "retention[\(index)].service", most: 40) },
                      period: trimmed(item.period, "retention[\(index)].period"))
            })
        validator.check(!activity.dataCategories.isEmpty && activity.dataCategories.count <= 50, "dataCategories", "must name 1–50 categories")
        validator.check(!activity.subjectCategories.isEmpty && activity.subjectCategories.count <= 50, "subjectCategories", "must name 1–50 categories")
        validator.check(!activity.retention.isEmpty && activity.retention.count <= 50, "retention", "must give 1–50 periods")
        validator.check(activity.recipients.count <= 50, "recipients", "at most 50")
        try validator.throwIfInvalid()
        return activity
    }

    static func dto(_ row: ConsentRow) -> Components.Schemas.Consent {
        .init(
            id: row.id, subjectRef: row.subject_ref, purpose: row.purpose, status: .init(rawValue: row.status) ?? .given, textVersion: row.text_version,
            method: .init(rawValue: row.method) ?? .api, evidence: row.evidence, givenAt: Date(unixMillis: row.given_at_ms),
            withdrawnAt: row.withdrawn_at_ms.map { Date(unixMillis: $0) }, withdrawalMethod: row.withdrawal_method.flatMap { .init(rawValue: $0) },
            supersededBy: row.superseded_by, recordedBy: row.recorded_by)
    }

    static func dto(_ row: ProcessingActivityRow) -> Components.Schemas.ProcessingActivity {
        func list(_ text: String) -> [String] { (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? [] }
        let retention = (try? JSONDecoder().decode([ComplianceDesk.ProcessingActivity.Retention].self, from: Data(row.retention.utf8))) ?? []
        return .init(
            id: row.id, name: row.name, purpose: row.purpose, lawfulBasis: .init(rawValue: row.lawful_basis) ?? .consent,
            dataCategories: list(row.data_categories), subjectCategories: list(row.subject_categories), recipients: list(row.recipients),
            retention: retention.map { .init(category: $0.category, service: $0.service, period: $0.period) },
            updatedAt: Date(unixMillis: row.updated_at_ms), updatedBy: row.updated_by)
    }
}
