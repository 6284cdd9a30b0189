import FinFlowCore
import Foundation
import Logging
import SQLKit
import ServiceLifecycle

/// How often a scheduled report goes out, and the period each one covers: the day, ISO week or month just ended.
enum ReportCadence: String, Sendable, CaseIterable {
    case daily, weekly, monthly

    var period: CalendarPeriod {
        switch self {
        case .daily: .day
        case .weekly: .week
        case .monthly: .month
        }
    }

    /// Reports go out at this hour (UTC) of the first day of the period after the one they cover.
    static let sendHourUTC: Int64 = 6

    /// The first sending time strictly after `millis`.
    func nextRun(after millis: Int64) -> Int64 {
        var start = self.period.start(of: CalendarDay(instant: Date(timeIntervalSince1970: Double(millis) / 1000)))
        while true {
            let candidate = Int64(start.dayNumber) * 86_400_000 + Self.sendHourUTC * 3_600_000
            if candidate > millis { return candidate }
            start = self.period.next(start)
        }
    }

    /// The complete period before the one holding `millis`: what a report sent then covers.
    func covered(at millis: Int64) -> (from: CalendarDay, to: CalendarDay) {
        let current = self.period.start(of: CalendarDay(instant: Date(timeIntervalSince1970: Double(millis) / 1000)))
        let last = current.addingDays(-1)
        return (self.period.start(of: last), last)
    }
}

/// A scheduled report as stored.
struct ReportSchedule: Sendable {
    let id: String
    let name: String
    let cadence: ReportCadence
    let currency: String?
    let recipients: [String]
    let createdBy: String
    let createdAtMillis: Int64
    let nextRunAtMillis: Int64
    let lastPeriod: (from: String, to: String)?
    let lastSentAtMillis: Int64?
    let sentCount: Int64
}

extension AnalyticsDesk {
    /// The most schedules a tenant keeps, and recipients one report has.
    static let schedulesMax = 50
    static let recipientsMax = 10

    private struct ScheduleRow: Decodable {
        let tenant_id, id, name, cadence, created_by: String
        let currency, last_period_from, last_period_to: String?
        let created_at_ms, next_run_at_ms, sent_count: Int64
        let last_sent_at_ms: Int64?
    }

    private struct RecipientRow: Decodable { let report_id, email: String }

    /// Schedules `name` to be mailed to `recipients` each period of `cadence` (audited); recipients are normalised
    /// addresses, each once.
    func createSchedule(
        name: String, cadence: ReportCadence, recipients: [String], currency: String?, principal: Principal
    ) async throws -> ReportSchedule {
        let tenantId = principal.tenantId, now = self.clock.nowMillis(), audit = self.audit, kind = self.database.kind
        let keyed = RequestScope.effectId("report-schedule")
        // A keyed retry after a crash between the commit and the stored answer finds the schedule it made.
        if let keyed, let made = try? await self.schedule(tenantId: tenantId, id: keyed) { return made }
        let id = keyed ?? self.ids.nextString()
        let next = cadence.nextRun(after: now)
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            struct Count: Decodable { let n: Int }
            let existing = try await db.raw("SELECT COUNT(*) AS n FROM analytics_reports WHERE tenant_id = \(bind: tenantId)")
                .first(decoding: Count.self)?.n ?? 0
            guard existing < Self.schedulesMax else {
                throw AppError(.rejected, code: "too-many-schedules", "a tenant keeps at most \(Self.schedulesMax) scheduled reports; delete one first")
            }
            try await db.raw("""
                INSERT INTO analytics_reports (tenant_id, id, name, cadence, currency, created_by, created_at_ms, next_run_at_ms, sent_count)
                VALUES (\(bind: tenantId), \(bind: id), \(bind: name), \(bind: cadence.rawValue), \(bind: currency), \(bind: principal.subject),
                        \(bind: now), \(bind: next), 0)
                """).run()
            for email in recipients {
                try await db.raw("""
                    INSERT INTO analytics_report_recipients (tenant_id, report_id, email) VALUES (\(bind: tenantId), \(bind: id), \(bind: email))
                    """).run()
            }
            try await audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "analytics.report.scheduled", target: "report:\(id)",
                           details: ["cadence": cadence.rawValue, "recipients": "\(recipients.count)"]),
                on: db, kind: kind)
        }
        return try await self.schedule(tenantId: tenantId, id: id)
    }

    /// The tenant's schedules, oldest first.
    func schedules(tenantId: String) async throws -> [ReportSchedule] {
        try await self.database.tenantRead(tenantId: tenantId) { db in
            let rows = try await db.raw("""
                SELECT * FROM analytics_reports WHERE tenant_id = \(bind: tenantId) ORDER BY created_at_ms, id
                """).all(decoding: ScheduleRow.self)
            let recipients = try await db.raw("""
                SELECT report_id, email FROM analytics_report_recipients WHERE tenant_id = \(bind: tenantId) ORDER BY email
                """).all(decoding: RecipientRow.self)
            let byReport = Dictionary(grouping: recipients, by: \.report_id)
            return rows.compactMap { Self.schedule($0, recipients: byReport[$0.id]?.map(\.email) ?? []) }
        }
    }

    func schedule(tenantId: String, id: String) async throws -> ReportSchedule {
        guard let found = try await self.schedules(tenantId: tenantId).first(where: { $0.id == id }) else {
            throw AppError.notFound("scheduled report")
        }
        return found
    }

    /// Stops and forgets a schedule (audited).
    func deleteSchedule(id: String, principal: Principal) async throws {
        let tenantId = principal.tenantId, audit = self.audit, kind = self.database.kind
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            let deleted = try await db.raw("""
                DELETE FROM analytics_reports WHERE tenant_id = \(bind: tenantId) AND id = \(bind: id) RETURNING id
                """).all()
            guard !deleted.isEmpty else { throw AppError.notFound("scheduled report") }
            try await db.raw("DELETE FROM analytics_report_recipients WHERE tenant_id = \(bind: tenantId) AND report_id = \(bind: id)").run()
            try await audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "analytics.report.deleted", target: "report:\(id)"),
                on: db, kind: kind)
        }
    }

    private static func schedule(_ row: ScheduleRow, recipients: [String]) -> ReportSchedule? {
        guard let cadence = ReportCadence(rawValue: row.cadence) else { return nil }
        return ReportSchedule(
            id: row.id, name: row.name, cadence: cadence, currency: row.currency, recipients: recipients, createdBy: row.created_by,
            createdAtMillis: row.created_at_ms, nextRunAtMillis: row.next_run_at_ms,
            lastPeriod: row.last_period_from.flatMap { from in row.last_period_to.map { (from, $0) } }, lastSentAtMillis: row.last_sent_at_ms,
            sentCount: row.sent_count)
    }

    /// Mails every report whose time has come, each about the latest complete period (a process that was stopped for
    /// weeks sends the latest, not one per missed period). Each send claims the schedule's next run in the transaction
    /// that writes the mail, so one process sends it once even when several look at the same time. A report that
    /// cannot be worked out is tried again in an hour. Answers how many reports went out.
    func sendDueReports(logger: Logger) async throws -> Int {
        let now = self.clock.nowMillis()
        let due = try await self.database.read { db in
            try await db.raw("""
                SELECT * FROM analytics_reports WHERE next_run_at_ms <= \(bind: now) ORDER BY next_run_at_ms, tenant_id, id LIMIT 100
                """).all(decoding: ScheduleRow.self)
        }
        var sent = 0
        for row in due {
            do {
                if try await self.send(row, now: now) { sent += 1 }
            } catch {
                logger.warning("a scheduled report could not be sent; trying again in an hour",
                               metadata: ["tenant": "\(row.tenant_id)", "report": "\(row.id)", "error": "\(error)"])
                try await self.database.tenantTransaction(tenantId: row.tenant_id) { db in
                    try await db.raw("""
                        UPDATE analytics_reports SET next_run_at_ms = \(bind: now + 3_600_000)
                        WHERE tenant_id = \(bind: row.tenant_id) AND id = \(bind: row.id) AND next_run_at_ms = \(bind: row.next_run_at_ms)
                        """).run()
                }
            }
        }
        return sent
    }

    private func send(_ row: ScheduleRow, now: Int64) async throws -> Bool {
        guard let cadence = ReportCadence(rawValue: row.cadence) else { return false }
        let period = cadence.covered(at: now)
        let dashboard = try await self.dashboard(tenantId: row.tenant_id, from: period.from, to: period.to, currency: row.currency)
        let recipients = try await self.database.tenantRead(tenantId: row.tenant_id) { db in
            try await db.raw("""
                SELECT report_id, email FROM analytics_report_recipients WHERE tenant_id = \(bind: row.tenant_id) AND report_id = \(bind: row.id)
                ORDER BY email
                """).all(decoding: RecipientRow.self).map(\.email)
        }
        let subject = "FinFlow \(cadence.rawValue) report: \(row.name), \(period.from) to \(period.to)"
        let body = ReportText.render(name: row.name, cadence: cadence, from: period.from, to: period.to, dashboard: dashboard, reportId: row.id)
        let next = cadence.nextRun(after: now), mail = self.mail
        return try await self.database.tenantTransaction(tenantId: row.tenant_id) { db in
            let claimed = try await db.raw("""
                UPDATE analytics_reports SET next_run_at_ms = \(bind: next), last_period_from = \(bind: period.from.description),
                    last_period_to = \(bind: period.to.description), last_sent_at_ms = \(bind: now), sent_count = sent_count + 1
                WHERE tenant_id = \(bind: row.tenant_id) AND id = \(bind: row.id) AND next_run_at_ms = \(bind: row.next_run_at_ms)
                RETURNING id
                """).all()
            guard !claimed.isEmpty else { return false }
            for email in recipients {
                try await mail.enqueue(to: email, subject: subject, body: body, purpose: "analytics-report", on: db)
            }
            return true
        }
    }
}

/// Mails the reports that are due, every minute.
struct ReportScheduler: ScheduledWork {
    let desk: AnalyticsDesk
    let logger: Logger
    static let intervalSeconds = 60

    func runDue() async throws -> Int { try await self.desk.sendDueReports(logger: self.logger) }

    func run() async throws {
        while await Periodic.wait(.seconds(Self.intervalSeconds)) {
            do { _ = try await self.runDue() } catch {
                self.logger.warning("scheduled reports could not be read", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// A scheduled report as plain text: the period's key figures against the period before, and the largest customers,
/// vendors and categories.
enum ReportText {
    static func render(name: String, cadence: ReportCadence, from: CalendarDay, to: CalendarDay, dashboard d: Dashboard, reportId: String) -> String {
        func money(_ minor: Int64) -> String {
            guard let currency = Currency(code: d.currency), let value = try? Money(amountMinor: minor, currency: currency) else { return "\(minor)" }
            return value.decimalText
        }
        func change(_ now: Int64, _ before: Int64) -> String {
            guard let percent = AnalyticsDesk.change(now, from: before) else { return "" }
            return "  (\(percent >= 0 ? "+" : "")\(String(format: "%.1f", percent))% on \(money(before)))"
        }
        func ratio(_ value: Double?) -> String { value.map { String(format: "%.2f", $0) } ?? "–" }
        let k = d.kpis, p = d.previous
        var lines = [
            "\(name): the \(cadence.rawValue) report of \(from) to \(to), in \(d.currency)",
            "",
            "Revenue              \(money(k.revenueMinor))\(change(k.revenueMinor, p.revenueMinor))",
            "Gross profit         \(money(k.grossProfitMinor))  (margin \(ratio(k.grossMarginPercent))%)",
            "Operating expenses   \(money(k.operatingExpensesMinor))\(change(k.operatingExpensesMinor, p.operatingExpensesMinor))",
            "Net income           \(money(k.netIncomeMinor))  (margin \(ratio(k.netMarginPercent))%)",
            "Cash                 \(money(k.cashMinor))  (net flow \(money(k.netCashFlowMinor)))",
            "Runway               \(k.runwayMonths.map { String(format: "%.1f months", $0) } ?? "no burn")",
            "Receivables          \(money(k.receivablesMinor))  (DSO \(ratio(k.daysSalesOutstanding)) days)",
            "Payables             \(money(k.payablesMinor))  (DPO \(ratio(k.daysPayableOutstanding)) days)",
            "Current ratio        \(ratio(k.currentRatio))",
            "Transactions         \(k.transactionCount)  (volume \(money(k.transactionVolumeMinor)))",
        ]
        for (title, breakdown) in [("Largest customers", d.topCustomers), ("Largest vendors", d.topVendors), ("Categories", d.categories)]
        where !breakdown.items.isEmpty {
            lines += ["", title + ":"]
            lines += breakdown.items.prefix(5).enumerated().map { index, item in
                "  \(index + 1). \(item.key)  \(money(item.amountMinor))" + (item.sharePercent.map { String(format: "  (%.1f%%)", $0) } ?? "")
            }
        }
        lines += ["", "Scheduled report \(reportId). To stop it: DELETE /v1/analytics/reports/\(reportId)."]
        return lines.joined(separator: "\n") + "\n"
    }
}
