import FinFlowCore
import Foundation
import OpenAPIRuntime

/// Data subject requests: open, follow, download the archive once.
extension ComplianceAPI {
    func openSubjectRequest(_ input: Operations.OpenSubjectRequest.Input) async throws -> Operations.OpenSubjectRequest.Output {
        let principal = try RequestScope.require("compliance:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let id = validator.clientId(body.id, field: "id")
        var email: String?
        if let raw = body.email {
            email = EmailAddress.normalized(raw)
            validator.check(email != nil, "email", "is not an email address")
        }
        let names = (body.names ?? []).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        for (index, name) in names.enumerated() { validator.check((1...200).contains(name.count), "names[\(index)]", "must be 1–200 characters besides spaces") }
        validator.check(names.count <= ComplianceDesk.subjectNamesMax, "names", "at most \(ComplianceDesk.subjectNamesMax)")
        let userId = body.userId?.trimmingCharacters(in: .whitespaces)
        let customerId = body.customerId?.trimmingCharacters(in: .whitespaces)
        for (field, id) in [("userId", userId), ("customerId", customerId)] {
            if let id { validator.check((1...200).contains(id.count), field, "must be 1–200 characters besides spaces") }
        }
        if let raw = body.email { validator.check(raw.count <= 320, "email", "must be at most 320 characters") }
        validator.check(userId != nil || customerId != nil || email != nil || !names.isEmpty, "subject",
                        "name the subject by userId, customerId, email or names")
        try validator.throwIfInvalid()
        let subject = SubjectIdentifiers(userId: userId, customerId: customerId, email: email, names: names)
        let (request, created) = try await self.desk.openSubjectRequest(
            id: id, kind: body.kind?.rawValue ?? "access", subject: subject, principal: principal)
        let dto = Self.dto(request, now: self.desk.now)
        return created ? .created(.init(body: .json(dto))) : .ok(.init(body: .json(dto)))
    }

    func listSubjectRequests(_ input: Operations.ListSubjectRequests.Input) async throws -> Operations.ListSubjectRequests.Output {
        let principal = try RequestScope.require("compliance:manage")
        let page = try PageRequest(limit: input.query.limit, cursor: input.query.cursor)
        let result = try await self.desk.subjectRequests(tenantId: principal.tenantId, page: page)
        var items: [Components.Schemas.SubjectRequest] = []
        for row in result.items {
            items.append(Self.dto(try await self.desk.subjectRequest(tenantId: principal.tenantId, id: row.id), now: self.desk.now))
        }
        return .ok(.init(body: .json(.init(items: items, nextCursor: result.nextCursor))))
    }

    func getSubjectRequest(_ input: Operations.GetSubjectRequest.Input) async throws -> Operations.GetSubjectRequest.Output {
        let principal = try RequestScope.require("compliance:manage")
        let request = try await self.desk.subjectRequest(tenantId: principal.tenantId, id: input.path.requestId)
        return .ok(.init(body: .json(Self.dto(request, now: self.desk.now))))
    }

    func downloadSubjectArchive(_ input: Operations.DownloadSubjectArchive.Input) async throws -> Operations.DownloadSubjectArchive.Output {
        let principal = try RequestScope.require("compliance:manage")
        let request = try await self.desk.claimArchive(tenantId: principal.tenantId, id: input.path.requestId, principal: principal)
        let body = HTTPBody(self.desk.archive(request), length: .unknown, iterationBehavior: .single)
        return .ok(.init(body: .applicationXTar(body)))
    }

    static func dto(_ request: ComplianceDesk.SubjectRequest, now: Int64) -> Components.Schemas.SubjectRequest {
        let row = request.row
        let subject = (try? JSONDecoder().decode(SubjectIdentifiers.self, from: Data(row.subject.utf8)))
            ?? SubjectIdentifiers(userId: nil, customerId: nil, email: nil, names: [])
        let parts = Dictionary(request.parts.map { ($0.service, $0) }) { first, _ in first }
        let services = row.expected_services.split(separator: ",").map(String.init).map { service -> Components.Schemas.SubjectRequest.ServicesPayloadPayload in
            guard let part = parts[service] else { return .init(service: service, status: .waiting) }
            let answered = part.completed_at_ms != nil && part.verified == 1
            return .init(
                service: service, status: answered ? .answered : .receiving, outcome: .init(rawValue: part.outcome), records: part.records,
                sha256: part.part_sha256)
        }
        return .init(
            id: row.id, kind: .init(rawValue: row.kind) ?? .access, status: .init(rawValue: row.status == "ready" && (row.expires_at_ms.map { now >= $0 } ?? false) ? "expired" : row.status) ?? .open,
            subject: .init(userId: subject.userId, customerId: subject.customerId, email: subject.email, names: subject.names),
            openedAt: Date(unixMillis: row.opened_at_ms), dueAt: Date(unixMillis: row.due_at_ms), overdue: row.status == "open" && now > row.due_at_ms,
            readyAt: row.ready_at_ms.map { Date(unixMillis: $0) }, expiresAt: row.expires_at_ms.map { Date(unixMillis: $0) },
            downloadedAt: row.downloaded_at_ms.map { Date(unixMillis: $0) }, services: services)
    }
}
