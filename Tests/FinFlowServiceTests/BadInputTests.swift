import FinFlowCore
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOPosix
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

    /// Sends `bytes` on a new connection to `port` and reads until the server closes it, or 10 s pass (then `closed`
    /// is false). Blocking socket calls, on NIO's thread pool rather than a thread of the cooperative pool.
    static func exchange(port: Int, _ bytes: [UInt8]) async throws -> (answer: String, closed: Bool) {
        try await NIOThreadPool.singleton.runIfActive {
            let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(socket) }
            var wait = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            try #require(connected == 0, "no connection to the server")
            // The server may answer and close before the whole request is sent: a failed send is not the test's end.
            var sent = 0
            while sent < bytes.count {
                let written = bytes[sent...].withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if written <= 0 { break }
                sent += written
            }
            var answer: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = recv(socket, &buffer, buffer.count, 0)
                if count == 0 { return (String(decoding: answer, as: UTF8.self), true) }
                if count < 0 { return (String(decoding: answer, as: UTF8.self), errno == ECONNRESET) }
                answer += buffer[0..<count]
            }
        }
    }

    /// A request that cannot be parsed, named by what is wrong with it (its bytes would flood a failure's report).
    struct Unparsable: CustomTestStringConvertible, Sendable {
        let name: String
        let request: String
        let status: Int
        let code: String
        var testDescription: String { self.name }
    }

    @Test("a request that cannot be parsed gets a problem and a closed connection, and the server serves on", arguments: [
        Unparsable(name: "a garbled request line", request: "GARBAGE\r\n\r\n", status: 400, code: "malformed-request"),
        Unparsable(name: "a header name with a space", request: "GET /health/live HTTP/1.1\r\nHo st: x\r\n\r\n", status: 400, code: "malformed-request"),
        Unparsable(
            name: "a header over 80 KB", request: "GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 90_000))\r\n\r\n",
            status: 431, code: "request-headers-too-large"),
        Unparsable(
            name: "1,200 header fields", request: "GET /health/live HTTP/1.1\r\nHost: x\r\n\(String(repeating: "X-A: b\r\n", count: 1_200))\r\n",
            status: 431, code: "request-headers-too-large"),
        Unparsable(
            name: "2 MB of header", request: "GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 2_000_000))\r\n\r\n",
            status: 431, code: "request-headers-too-large"),
    ])
    func unparsable(_ bad: Unparsable) async throws {
        let (name, request, status, code) = (bad.name, Array(bad.request.utf8), bad.status, bad.code)
        let sut = try await TestSystem.make()
        try await sut.testLive { client, _ in
            let port = try #require(client.port)
            let (answer, closed) = try await Self.exchange(port: port, request)
            #expect(closed, "\(name): the connection was left open")
            #expect(answer.hasPrefix("HTTP/1.1 \(status) "), "\(name): \(answer.prefix(200))")
            #expect(answer.lowercased().contains("content-type: application/problem+json"), "\(name): \(answer.prefix(300))")
            #expect(answer.lowercased().contains("connection: close"), "\(name)")
            let body = try #require(answer.range(of: "\r\n\r\n").map { answer[$0.upperBound...] })
            let problem = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], "\(name): \(body)")
            #expect(problem["code"] as? String == code && problem["status"] as? Int == status, "\(name): \(problem)")
            #expect((problem["requestId"] as? String)?.isEmpty == false)
            // The server answers the next connection as before.
            let live = try await Self.exchange(port: port, Array("GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            #expect(live.answer.hasPrefix("HTTP/1.1 200 "), "\(live.answer.prefix(200))")
        }
    }

    @Test("a second request that cannot be parsed, on a connection kept alive, is refused after the first is answered")
    func unparsableSecond() async throws {
        let sut = try await TestSystem.make()
        try await sut.testLive { client, _ in
            let port = try #require(client.port)
            let request = "GET /health/live HTTP/1.1\r\nHost: x\r\n\r\nGET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 90_000))\r\n\r\n"
            let (answer, closed) = try await Self.exchange(port: port, Array(request.utf8))
            #expect(closed)
            let statuses = answer.matches(of: #/HTTP/1\.1 (\d{3}) /#).map { String($0.1) }
            #expect(statuses.count == 2 && statuses.first == "200" && statuses.last?.hasPrefix("4") == true, "\(statuses)")
        }
    }

    @Test("a connection that sends no request, or its head too slowly, gets a 408 at the idle timeout; an idle kept-alive one is closed")
    func silentConnections() async throws {
        let sut = try await TestSystem.make { $0.httpIdleTimeoutSeconds = 1 }
        try await sut.testLive { client, _ in
            let port = try #require(client.port)
            for (name, request) in [("nothing", ""), ("half a head", "GET /health/live HTTP/1.1\r\nHost: x\r\n")] {
                let started = Date()
                let (answer, closed) = try await Self.exchange(port: port, Array(request.utf8))
                #expect(closed && answer.hasPrefix("HTTP/1.1 408 "), "\(name): \(answer.prefix(200))")
                #expect(answer.contains(#""code":"request-timeout""#), "\(name): \(answer)")
                #expect(Date().timeIntervalSince(started) < 8, "\(name): answered at the deadline, not the client's")
            }
            // A request answered on a kept-alive connection, then silence: the server closes it.
            let started = Date()
            let (answer, closed) = try await Self.exchange(port: port, Array("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(closed && answer.hasPrefix("HTTP/1.1 200 ") && Date().timeIntervalSince(started) < 8, "\(answer.prefix(200))")
        }
    }
}
