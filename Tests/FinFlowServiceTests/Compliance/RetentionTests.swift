import FinFlowCore
import FinFlowServer
import Foundation
import HummingbirdTesting
import SQLKit
import Testing

/// Each service's retention sweep deletes the personal data its declaration says has passed its period, exactly that,
/// and records each deletion in the tenant's audit chain.
@Suite("privacy: retention sweeps")
struct RetentionTests {
    struct Count: Decodable { let n: Int }

    static func count(_ database: any Database, _ sql: SQLQueryString) async throws -> Int {
        try await database.read { db in try await db.raw(sql).first(decoding: Count.self)?.n ?? -1 }
    }

    @Test("expired sessions (with their refresh tokens) and old behaviour months go; what is not due stays; each sweep is audited")
    func sweep() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let owner = try await Fixtures.signUp(client, sut, tag: "retention")
            let auth = try #require(sut.system.databases["auth"])
            let credit = try #require(sut.system.databases["credit"])
            let months = (2019...2026).flatMap { year in (1...12).map { String(format: "%04d-%02d", year, $0) } }
            try await credit.transaction { db in
                for month in months {
                    try await db.raw("""
                        INSERT INTO credit_behaviour (tenant_id, customer_id, currency, month, payments_succeeded, payments_failed, payments_refunded,
                            paid_minor, refunded_minor, inflow_minor, outflow_minor, transactions)
                        VALUES (\(bind: owner.tenantId), 'cust-1', 'EUR', \(bind: month), 1, 0, 0, 100, 0, 100, 0, 1)
                        """).run()
                }
            }
            #expect(try await Self.count(auth, "SELECT COUNT(*) AS n FROM sessions") == 1)
            func cutoff() -> String {
                String(ISO8601DateFormatter().string(from: Date(unixMillis: sut.clock.nowMillis() - 3 * 366 * 86_400_000)).prefix(10))
            }
            // Today only the months more than three years back are due; the session is not.
            let dueNow = months.filter { $0 < cutoff() }.count
            #expect(try await sut.system.sweepRetention() == ["credit_behaviour": dueNow])

            // 121 days on, the first session expired more than 90 days ago; a new sign-in makes one that is not due.
            sut.clock.advance(seconds: 121 * 86_400)
            let login = try await client.send(.post, "/v1/auth/login", json: #"{"email":"\#(owner.email)","password":"\#(owner.password)"}"#)
            try #require(login.status == 200, "\(login.body)")
            #expect(try await Self.count(auth, "SELECT COUNT(*) AS n FROM sessions") == 2)
            let later = cutoff()
            let dueMonths = months.filter { $0 < later }.count - dueNow
            try #require(dueMonths > 0)

            let deleted = try await sut.system.sweepRetention()
            #expect(deleted == ["sessions": 1, "credit_behaviour": dueMonths], "\(deleted)")
            #expect(try await Self.count(auth, "SELECT COUNT(*) AS n FROM sessions") == 1)
            #expect(try await Self.count(auth, "SELECT COUNT(*) AS n FROM refresh_tokens WHERE session_id NOT IN (SELECT id FROM sessions)") == 0)
            #expect(try await Self.count(credit, "SELECT COUNT(*) AS n FROM credit_behaviour") == months.count - dueNow - dueMonths)
            #expect(try await Self.count(credit, "SELECT COUNT(*) AS n FROM credit_behaviour WHERE month < \(bind: later)") == 0)
            #expect(try await sut.system.sweepRetention().isEmpty, "a second sweep finds nothing")

            struct Audit: Decodable { let tenant_id: String; let target: String?; let details: String }
            let audited = try await credit.read { db in
                try await db.raw("SELECT tenant_id, target, details FROM audit_log WHERE action = 'privacy.retention.deleted' ORDER BY seq").all(decoding: Audit.self)
            }
            #expect(audited.count == 2 && audited.allSatisfy { $0.tenant_id == owner.tenantId && $0.target == "credit_behaviour" })
            #expect(audited.last?.details.contains("\"rows\":\"\(dueMonths)\"") == true, "\(audited)")
            #expect(try await Self.count(auth, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'privacy.retention.deleted'") == 1)
        }
    }
}
