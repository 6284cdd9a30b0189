import FinFlowCore
import Foundation
import HummingbirdTesting
import SQLKit
import Testing

/// Scheduled reports through the API and the scheduler: a daily report goes out once after the day it covers, with
/// that day's figures, to every recipient; a process stopped for days sends the latest day once; a deleted schedule
/// sends nothing; bad schedules are refused naming the field.
@Suite("analytics scheduled reports: mailed once per period, with the period's figures")
struct ReportScheduleTests {
    struct Mail: Decodable, Sendable { let to_address: String; let subject: String; let body: String }

    static func mails(_ sut: TestSystem) async throws -> [Mail] {
        let database = try #require(sut.system.databases["analytics"])
        return try await database.read { db in
            try await db.raw("""
                SELECT to_address, subject, body FROM mail_outbox WHERE purpose = 'analytics-report' ORDER BY created_at_ms, to_address
                """).all(decoding: Mail.self)
        }
    }

    @Test("a daily report is mailed once after its day, with its figures, to each recipient; deleting it stops it")
    func dailyReportMailedOnce() async throws {
        // Days pass on the test's clock: tokens that outlive them.
        let sut = try await TestSystem.make { $0.accessTokenTTLSeconds = 30 * 86_400 }
        try await sut.test { client in
            let desk = try await Desk.open(client, sut, tag: "analytics-reports")
            let made = try await client.send(.post, "/v1/analytics/reports", json: TaxAPITests.json([
                "name": "Daily cash", "cadence": "daily", "recipients": ["CFO@Example.com", "books@example.com", "cfo@example.com"],
            ]), token: desk.token)
            try #require(made.status == 201, "\(made.body)")
            let id = try #require(made.body["id"] as? String)
            #expect(made.body["recipients"] as? [String] == ["books@example.com", "cfo@example.com"], "normalised, each once")
            #expect(try await sut.system.runScheduledWork() == 0, "nothing is due before its time")
            #expect(try await Self.mails(sut).isEmpty)
            // It goes out at 06:00 UTC about the day before: today, or yesterday before six.
            let nextRun = try #require(ISO8601DateFormatter().date(from: made.body["nextRunAt"] as? String ?? ""))
            let covered = CalendarDay(instant: nextRun).addingDays(-1)
            for amount in [4_000, 6_000] as [Int64] {
                let created = try await desk.create(desk.body(amount, date: covered.description, counterparty: "City Power", extra: ["allowDuplicate": true]))
                try #require(created.status == 201, "\(created.body)")
            }
            try await sut.deliver()

            // The morning after: the report of the day goes out, once.
            sut.clock.advance(seconds: nextRun.timeIntervalSince(sut.clock.now()) + 60)
            #expect(try await sut.system.runScheduledWork() == 1)
            #expect(try await sut.system.runScheduledWork() == 0, "a period goes out once")
            let mails = try await Self.mails(sut)
            #expect(mails.map(\.to_address).sorted() == ["books@example.com", "cfo@example.com"])
            let first = try #require(mails.first)
            #expect(first.subject == "FinFlow daily report: Daily cash, \(covered) to \(covered)")
            #expect(first.body.contains("Transactions         2  (volume 100.00)"), "\(first.body)")
            #expect(first.body.contains("Categories:") && first.body.contains("DELETE /v1/analytics/reports/\(id)"))

            // Stopped for three days: the latest day goes out once, not three reports.
            sut.clock.advance(seconds: 3 * 86_400)
            #expect(try await sut.system.runScheduledWork() == 1)
            #expect(try await sut.system.runScheduledWork() == 0)
            #expect(try await Self.mails(sut).count == 4)
            let listed = try await client.send(.get, "/v1/analytics/reports", token: desk.token)
            let item = try #require((listed.body["items"] as? [[String: Any]])?.first)
            #expect(StatementTests.amount(item["sentCount"]) == 2 && item["lastPeriodFrom"] as? String == covered.addingDays(3).description)

            #expect(try await client.send(.delete, "/v1/analytics/reports/\(id)", token: desk.token).status == 204)
            #expect(try await client.send(.get, "/v1/analytics/reports/\(id)", token: desk.token).status == 404)
            #expect(try await client.send(.delete, "/v1/analytics/reports/\(id)", token: desk.token).status == 404)
            sut.clock.advance(seconds: 2 * 86_400)
            #expect(try await sut.system.runScheduledWork() == 0, "a deleted schedule sends nothing")
            #expect(try await Self.mails(sut).count == 4)

            let other = try await Desk.open(client, sut, tag: "analytics-reports-other")
            let theirs = try await client.send(.get, "/v1/analytics/reports", token: other.token)
            #expect((theirs.body["items"] as? [[String: Any]])?.isEmpty == true, "another tenant sees none of them")
        }
    }

    @Test("bad schedules are refused naming the field, and change nothing")
    func badSchedulesRefused() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let desk = try await Desk.open(client, sut, tag: "analytics-reports-bad")
            let cases: [([String: Any], String)] = [
                (["name": "R", "cadence": "hourly", "recipients": ["a@example.com"]], "cadence"),
                (["name": "R", "cadence": "daily", "recipients": ["a@example.com", "not-an-address"]], "recipients"),
                (["name": "R", "cadence": "daily", "recipients": (0..<11).map { "p\($0)@example.com" }], "recipients"),
                (["name": "R", "cadence": "daily", "recipients": [String]()], "recipients"),
                (["name": "   ", "cadence": "daily", "recipients": ["a@example.com"]], "name"),
                (["name": "R", "cadence": "daily", "recipients": ["a@example.com"], "currency": "XXQ"], "currency"),
                (["name": "R", "cadence": "daily", "recipients": ["a@example.com"], "extra": true], ""),
            ]
            for (body, field) in cases {
                let refused = try await client.send(.post, "/v1/analytics/reports", json: TaxAPITests.json(body), token: desk.token)
                #expect(refused.status == 400, "\(body): \(refused.body)")
                if !field.isEmpty {
                    let named = (refused.body["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? []
                    #expect(named.contains { $0.hasPrefix(field) } || (refused.body["detail"] as? String)?.contains(field) == true, "\(refused.body)")
                }
            }
            #expect(try await client.send(.post, "/v1/analytics/reports", json: #"{"name":"R","cadence":"daily","recipients":["a@example.com"]}"#).status == 401)
            let listed = try await client.send(.get, "/v1/analytics/reports", token: desk.token)
            #expect((listed.body["items"] as? [[String: Any]])?.isEmpty == true)
        }
    }
}
