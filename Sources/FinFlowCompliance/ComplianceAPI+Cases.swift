import FinFlowCore
import Foundation
import OpenAPIRuntime

/// The case operations: open, list, change, annotate, close, report.
extension ComplianceAPI {
    func openCase(_ input: Operations.OpenCase.Input) async throws -> Operations.OpenCase.Output {
        let principal = try RequestScope.require("compliance:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let title = body.title.trimmingCharacters(in: .whitespacesAndNewlines)
        validator.check((1...ComplianceDesk.caseTitleLengthMax).contains(title.count), "title", "must be 1–\(ComplianceDesk.caseTitleLengthMax) characters besides spaces")
        Self.checkAlertIds(body.alertIds, into: &validator)
        Self.checkAssignment(assignee: body.assignee, dueDate: body.dueDate, into: &validator)
        try validator.throwIfInvalid()
        let record = try await self.desk.openCase(
            title: title, alertIds: body.alertIds, assignee: body.assignee, dueDate: body.dueDate, principal: principal)
        return .created(.init(body: .json(try Self.dto(record))))
    }

    func listCases(_ input: Operations.ListCases.Input) async throws -> Operations.ListCases.Output {
        let principal = try RequestScope.require("compliance:read")
        var validator = Validator()
        if let assignee = input.query.assignee { validator.check((1...200).contains(assignee.count), "assignee", "must be 1–200 characters") }
        try validator.throwIfInvalid()
        let page = try PageRequest(limit: input.query.limit, cursor: input.query.cursor)
        let result = try await self.desk.cases(
            tenantId: principal.tenantId, status: input.query.status?.rawValue, assignee: input.query.assignee, page: page)
        let items = try result.items.map { try Self.dto(.init(row: $0, alerts: [], timeline: [])) }
        return .ok(.init(body: .json(.init(items: items, nextCursor: result.nextCursor))))
    }

    func getCase(_ input: Operations.GetCase.Input) async throws -> Operations.GetCase.Output {
        let principal = try RequestScope.require("compliance:read")
        return .ok(.init(body: .json(try Self.dto(try await self.desk.complianceCase(tenantId: principal.tenantId, id: input.path.caseId)))))
    }

    func changeCase(_ input: Operations.ChangeCase.Input) async throws -> Operations.ChangeCase.Output {
        let principal = try RequestScope.require("compliance:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        Self.checkAssignment(assignee: body.assignee, dueDate: body.dueDate, into: &validator)
        validator.check(body.status != nil || body.assignee != nil || body.dueDate != nil, "body", "must change status, assignee or dueDate")
        try validator.throwIfInvalid()
        let record = try await self.desk.changeCase(
            input.path.caseId, change: .init(status: body.status?.rawValue, assignee: body.assignee, dueDate: body.dueDate), principal: principal)
        return .ok(.init(body: .json(try Self.dto(record))))
    }

    func addCaseAlerts(_ input: Operations.AddCaseAlerts.Input) async throws -> Operations.AddCaseAlerts.Output {
        let principal = try RequestScope.require("compliance:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        Self.checkAlertIds(body.alertIds, into: &validator)
        try validator.throwIfInvalid()
        return .ok(.init(body: .json(try Self.dto(try await self.desk.addAlerts(body.alertIds, caseId: input.path.caseId, principal: principal)))))
    }

    func addCaseNote(_ input: Operations.AddCaseNote.Input) async throws -> Operations.AddCaseNote.Output {
        let principal = try RequestScope.require("compliance:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let text = body.text.trimmingCharacters(in: .whitespacesAndNewlines)
        validator.check((1...ComplianceDesk.caseTextLengthMax).contains(text.count), "text", "must be 1–\(ComplianceDesk.caseTextLengthMax) characters besides spaces")
        try validator.throwIfInvalid()
        let record = try await self.desk.annotate(input.path.caseId, kind: "note", text: text, reference: nil, sha256: nil, principal: principal)
        return .ok(.init(body: .json(try Self.dto(record))))
    }

    func addCaseAttachment(_ input: Operations.AddCaseAttachment.Input) async throws -> Operations.AddCaseAttachment.Output {
        let principal = try RequestScope.require("compliance:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let reference = body.reference.trimmingCharacters(in: .whitespacesAndNewlines)
        validator.check((1...2_000).contains(reference.count), "reference", "must be 1–2000 characters besides spaces")
        if let description = body.description { validator.check(description.count <= 2_000, "description", "must be at most 2000 characters") }
        if let digest = body.sha256 {
            validator.check(digest.count == 64 && digest.allSatisfy { $0.isHexDigit && !$0.isUppercase }, "sha256", "must be 64 lower-case hexadecimal digits")
        }
        try validator.throwIfInvalid()
        let record = try await self.desk.annotate(
            input.path.caseId, kind: "attachment", text: body.description, reference: reference, sha256: body.sha256, principal: principal)
        return .ok(.init(body: .json(try Self.dto(record))))
    }

    func closeCase(_ input: Operations.CloseCase.Input) async throws -> Operations.CloseCase.Output {
        let principal = try RequestScope.require("compliance:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        if let note = body.note { validator.check(note.count <= ComplianceDesk.noteLengthMax, "note", "must be at most \(ComplianceDesk.noteLengthMax) characters") }
        try validator.throwIfInvalid()
        let record = try await self.desk.closeCase(input.path.caseId, outcome: body.outcome.rawValue, note: body.note, principal: principal)
        return .ok(.init(body: .json(try Self.dto(record))))
    }

    func reportCase(_ input: Operations.ReportCase.Input) async throws -> Operations.ReportCase.Output {
        let principal = try RequestScope.require("compliance:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let narrative = body.narrative.trimmingCharacters(in: .whitespacesAndNewlines)
        validator.check((1...ComplianceDesk.narrativeLengthMax).contains(narrative.count), "narrative", "must be 1–\(ComplianceDesk.narrativeLengthMax) characters besides spaces")
        validator.check((1...200).contains(body.filer.name.trimmingCharacters(in: .whitespaces).count), "filer.name", "must be 1–200 characters")
        validator.check(EmailAddress.normalized(body.filer.email) != nil, "filer.email", "must be an email address")
        if let role = body.filer.role { validator.check(role.count <= 200, "filer.role", "must be at most 200 characters") }
        if let entity = body.reportingEntityId { validator.check((1...64).contains(entity.count), "reportingEntityId", "must be 1–64 characters") }
        if let local = body.localCurrency { validator.check(Currency(code: local)?.code == local, "localCurrency", "must be an ISO 4217 code in capitals") }
        if let code = body.transmodeCode { validator.check((1...20).contains(code.count), "transmodeCode", "must be 1–20 characters") }
        var rates: [String: Decimal] = [:]
        for (code, text) in body.exchangeRates?.additionalProperties ?? [:] {
            guard Currency(code: code)?.code == code, let rate = Decimal(string: text), rate > 0, rate < 1e12,
                  text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") })
            else {
                validator.fail("exchangeRates.\(code)", "must map an ISO 4217 code to a positive decimal rate")
                continue
            }
            rates[code] = rate
        }
        try validator.throwIfInvalid()
        let request = ReportRequest(
            format: body.format.rawValue, reportCode: body.reportCode?.rawValue ?? "STR", narrative: narrative,
            filer: .init(name: body.filer.name, email: body.filer.email, role: body.filer.role), reportingEntityId: body.reportingEntityId,
            localCurrency: body.localCurrency, exchangeRates: rates, transmodeCode: body.transmodeCode ?? "K")
        let (document, contentType) = try await self.desk.report(caseId: input.path.caseId, request: request, principal: principal)
        if contentType == "application/xml" { return .ok(.init(body: .xml(HTTPBody(document)))) }
        return .ok(.init(body: .json(try Self.converted(JSONValue.parse(document) ?? .object([:])))))
    }

    static func checkAlertIds(_ ids: [String], into validator: inout Validator) {
        validator.check((1...ComplianceDesk.caseAlertsMax).contains(ids.count), "alertIds", "must hold 1–\(ComplianceDesk.caseAlertsMax) alert ids")
        validator.check(Set(ids).count == ids.count, "alertIds", "must not repeat an alert")
        for (index, id) in ids.enumerated() { validator.check((1...64).contains(id.count), "alertIds[\(index)]", "must be 1–64 characters") }
    }

    static func checkAssignment(assignee: String?, dueDate: String?, into validator: inout Validator) {
        if let assignee { validator.check((1...200).contains(assignee.trimmingCharacters(in: .whitespaces).count), "assignee", "must be 1–200 characters") }
        if let dueDate { validator.check(Self.isDate(dueDate), "dueDate", "must be a date YYYY-MM-DD") }
    }

    /// Whether `text` is a calendar date `YYYY-MM-DD` that exists.
    static func isDate(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.utf8.count == 10, parts.count == 3, parts.map(\.count) == [4, 2, 2], parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]), year >= 1900, (1...12).contains(month), day >= 1
        else { return false }
        let days = [31, year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return day <= days[month - 1]
    }

    static func dto(_ record: ComplianceDesk.CaseRecord) throws -> Components.Schemas.ComplianceCase {
        let row = record.row
        return .init(
            id: row.id, title: row.title, status: try Self.known(Components.Schemas.CaseStatus.self, row.status, "case status"),
            assignee: row.assignee, dueDate: row.due_date,
            outcome: try row.outcome.map { try Self.known(Components.Schemas.AlertOutcome.self, $0, "case outcome") },
            alerts: try record.alerts.map(Self.dto),
            timeline: try record.timeline.map { event in
                .init(
                    id: event.id, kind: try Self.known(Components.Schemas.CaseEvent.KindPayload.self, event.kind, "case event kind"), actor: event.actor,
                    text: event.text, reference: event.reference, sha256: event.sha256, createdAt: Date(unixMillis: event.created_at_ms))
            },
            createdBy: row.created_by, createdAt: Date(unixMillis: row.created_at_ms), updatedAt: Date(unixMillis: row.updated_at_ms),
            closedBy: row.closed_by, closedAt: row.closed_at_ms.map { Date(unixMillis: $0) })
    }
}
