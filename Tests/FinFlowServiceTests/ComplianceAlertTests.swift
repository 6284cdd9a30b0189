import FinFlowCore
import Foundation
import HummingbirdTesting
import Testing

@Suite("auth: compliance alerts")
struct ComplianceAlertTests {
    static func alert(_ user: SignedIn, action: String) -> ComplianceAlert {
        ComplianceAlert(
            alertId: UUID().uuidString.lowercased(), tenantId: user.tenantId, kind: "aml", severity: "critical", subjectType: "user",
            subjectId: user.userId, userId: user.userId, action: action, reason: "structured cash deposits", raisedAtMillis: 1)
    }

    @Test("an alert asking for it ends the user's sessions in the tenant at once; an alert for review changes nothing")
    func endsSessions() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut, tag: "flagged")
            let bystander = try await Fixtures.signUp(client, sut, tag: "bystander")
            try await LedgerEventTests.publish(Self.alert(user, action: "review"), tenantId: user.tenantId, on: sut)
            #expect(try await client.send(.get, "/v1/auth/me", token: user.accessToken).status == 200)
            try await LedgerEventTests.publish(Self.alert(user, action: "end-sessions"), tenantId: user.tenantId, on: sut)
            try await sut.deliver()
            #expect(try await client.send(.get, "/v1/auth/me", token: user.accessToken).status == 401)
            let refreshed = try await client.send(.post, "/v1/auth/token/refresh", json: #"{"refreshToken":"\#(user.refreshToken)"}"#)
            #expect(refreshed.status == 401, "\(refreshed.body)")
            #expect(try await client.send(.get, "/v1/auth/me", token: bystander.accessToken).status == 200)
        }
    }
}
