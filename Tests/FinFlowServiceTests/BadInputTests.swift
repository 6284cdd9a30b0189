import FinFlowCore
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("bad input gets its 4xx and changes nothing")
struct BadInputTests {
    static let cases: [(name: String, body: String, status: Int)] = [
        ("malformed JSON", #"{"email": "#, 400),
        ("wrong type", #"{"email": 5, "password": "x", "displayName": "y"}"#, 400),
        ("missing field", #"{"email": "a@example.com", "displayName": "y"}"#, 400),
        ("unknown field", #"{"email": "a@example.com", "password": "violet-Harbour-42-kite", "displayName": "y", "admin": true}"#, 400),
        ("bad email", #"{"email": "not-an-email", "password": "violet-Harbour-42-kite", "displayName": "y"}"#, 400),
        ("short password", #"{"email": "a@example.com", "password": "short", "displayName": "y"}"#, 400),
        ("common password", #"{"email": "a@example.com", "password": "password1234", "displayName": "y"}"#, 400),
        ("password containing the email name", #"{"email": "margaret@example.com", "password": "margaret-2024-xyz!", "displayName": "y"}"#, 400),
        ("empty name", #"{"email": "a@example.com", "password": "violet-Harbour-42-kite", "displayName": " "}"#, 400),
        ("oversize body", #"{"email": "a@example.com", "password": "\#(String(repeating: "x", count: 2_000_000))", "displayName": "y"}"#, 413),
    ]

    @Test("registration refuses each bad body with a problem and creates no user")
    func registration() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            for testCase in Self.cases {
                let response = try await client.send(.post, "/v1/auth/register", json: testCase.body)
                #expect(response.status == testCase.status, "\(testCase.name): \(response.status) \(response.body)")
                #expect(response.headers[.contentType] == Problem.mediaType, "\(testCase.name)")
                #expect(response.body["requestId"] is String, "\(testCase.name)")
            }
            struct Count: Decodable { let n: Int }
            let database = try #require(sut.system.databases["auth"])
            let users = try await database.read { db in try await db.raw("SELECT COUNT(*) AS n FROM users").first(decoding: Count.self) }
            #expect(users?.n == 0)
        }
    }

    @Test("bad path and query parameters, bad tokens and unknown routes are 4xx problems")
    func parameters() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut)
            let checks: [(HTTPRequest.Method, String, String?, Int)] = [
                (.get, "/v1/tenants/current/members/not-a-uuid", user.accessToken, 400),
                (.get, "/v1/tenants/current/members?limit=0", user.accessToken, 400),
                (.get, "/v1/tenants/current/members?limit=abc", user.accessToken, 400),
                (.get, "/v1/tenants/current/members?cursor=%%%", user.accessToken, 400),
                (.delete, "/v1/auth/sessions/nope", user.accessToken, 400),
                (.get, "/v1/auth/me", "garbage", 401),
                (.get, "/v1/auth/me", nil, 401),
                (.get, "/v1/nothing-here", nil, 404),
            ]
            for (method, path, token, status) in checks {
                let response = try await client.send(method, path, token: token)
                #expect(response.status == status, "\(method) \(path): \(response.status) \(response.body)")
                #expect(response.body["code"] is String, "\(method) \(path)")
            }
        }
    }

    @Test("a route checks its permission: a viewer cannot change settings")
    func permissionChecked() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let owner = try await Fixtures.signUp(client, sut, tag: "owner")
            let demoted = try await client.send(
                .patch, "/v1/tenants/current/members/\(owner.userId)", json: #"{"roles":["viewer"]}"#, token: owner.accessToken)
            #expect(demoted.status == 409)
            #expect(demoted.body["code"] as? String == "last-owner")
        }
    }
}
