import FinFlowCore
import Foundation
import OpenAPIRuntime

extension AnalyticsAPI {
    func listReportSchedules(_ input: Operations.ListReportSchedules.Input) async throws -> Operations.ListReportSchedules.Output {
        let principal = try RequestScope.require("analytics:read")
        return .ok(.init(body: .json(.init(items: try await self.desk.schedules(tenantId: principal.tenantId).map(Self.dto)))))
    }

    func createReportSchedule(_ input: Operations.CreateReportSchedule.Input) async throws -> Operations.CreateReportSchedule.Output {
        let principal = try RequestScope.require("analytics:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let name = body.name.trimmingCharacters(in: .whitespacesAndNewlines)
        validator.check((1...100).contains(name.count) && !name.contains(where: \.isNewline), "name", "must be one line of 1–100 characters")
        let cadence = ReportCadence(rawValue: body.cadence.rawValue)
        validator.check(cadence != nil, "cadence", "must be daily, weekly or monthly")
        validator.check((1...AnalyticsDesk.recipientsMax).contains(body.recipients.count), "recipients", "must name 1–\(AnalyticsDesk.recipientsMax) addresses")
        var recipients: [String] = []
        for (index, address) in body.recipients.enumerated() {
            guard let email = EmailAddress.normalized(address) else {
                validator.fail("recipients[\(index)]", "is not an email address")
                continue
            }
            if !recipients.contains(email) { recipients.append(email) }
        }
        if let currency = body.currency { validator.check(Currency(code: currency) != nil, "currency", "is not an ISO 4217 code") }
        try validator.throwIfInvalid()
        guard let cadence else { throw AppError.invalid("cadence must be daily, weekly or monthly") }
        let schedule = try await self.desk.createSchedule(
            name: name, cadence: cadence, recipients: recipients, currency: body.currency, principal: principal)
        return .created(.init(body: .json(Self.dto(schedule))))
    }

    func getReportSchedule(_ input: Operations.GetReportSchedule.Input) async throws -> Operations.GetReportSchedule.Output {
        let principal = try RequestScope.require("analytics:read")
        return .ok(.init(body: .json(Self.dto(try await self.desk.schedule(tenantId: principal.tenantId, id: input.path.reportId)))))
    }

    func deleteReportSchedule(_ input: Operations.DeleteReportSchedule.Input) async throws -> Operations.DeleteReportSchedule.Output {
        let principal = try RequestScope.require("analytics:manage")
        try await self.desk.deleteSchedule(id: input.path.reportId, principal: principal)
        return .noContent(.init())
    }

    static func dto(_ s: ReportSchedule) -> Components.Schemas.ReportSchedule {
        func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }
        return .init(
            id: s.id, name: s.name, cadence: .init(rawValue: s.cadence.rawValue) ?? .monthly, recipients: s.recipients, currency: s.currency,
            createdBy: s.createdBy, createdAt: date(s.createdAtMillis), nextRunAt: date(s.nextRunAtMillis), lastPeriodFrom: s.lastPeriod?.from,
            lastPeriodTo: s.lastPeriod?.to, lastSentAt: s.lastSentAtMillis.map(date), sentCount: s.sentCount)
    }
}
