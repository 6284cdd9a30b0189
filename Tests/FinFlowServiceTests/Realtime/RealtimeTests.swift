import FinFlowCore
import Foundation
import HTTPTypes
import HummingbirdTesting
import SQLKit
import Testing

/// The realtime service through its API and live feed: a burst of transactions on one account is scored on arrival,
/// stored, announced, and pushed to the tenant's connected clients (and nobody else's), who resume without a gap.
@Suite("realtime: anomalies found on arrival, pushed live to their tenant only, resumable")
struct RealtimeTests {
    /// Posts `count` movements of `desk`'s tenant from the bank to utilities, `gapSeconds` apart on the system's clock.
    static func movements(_ desk: Desk, _ sut: TestSystem, count: Int, gapSeconds: Double, base: Int64 = 12_000) async throws {
        for i in 0..<count {
            sut.clock.advance(seconds: gapSeconds)
            let created = try await desk.create(desk.body(
                base + Int64((i * 37) % 900), date: "2026-03-03", counterparty: "City Power", extra: ["allowDuplicate": true]))
            try #require(created.status == 201, "\(created.body)")
        }
        try await sut.deliver()
    }

    @Test("a burst is found, stored, announced and pushed to its tenant's clients only; a client resumes after its last id")
    func burstPushedLive() async throws {
        // Hours of movements pass on the test's clock: tokens that outlive them.
        let sut = try await TestSystem.make { $0.accessTokenTTLSeconds = 86_400 }
        try await sut.testLive { client, base in
            let a = try await Desk.open(client, sut, tag: "realtime-a")
            let b = try await Desk.open(client, sut, tag: "realtime-b")
            let feedA = try await EventStreamClient.open(base + "/v1/realtime/anomalies/stream", token: a.token)
            let feedB = try await EventStreamClient.open(base + "/v1/realtime/anomalies/stream", token: b.token)
            #expect(feedA.status == 200 && feedB.status == 200)
            // The same feed over WebSocket: the token in the header, or offered as a sub-protocol as a browser does.
            let socketBase = base.replacingOccurrences(of: "http://", with: "ws://") + "/v1/realtime/anomalies/ws"
            let socketA = SocketFeedClient.connect(socketBase, headers: [.authorization: "Bearer \(a.token)"])
            let socketB = SocketFeedClient.connect(socketBase, headers: [.secWebSocketProtocol: "finflow.v1, bearer.\(b.token)"])
            #expect(try await socketA.waitFor(1, type: "opened").count == 1, "the upgrade was taken")
            #expect(try await socketB.waitFor(1, type: "opened").count == 1, "the upgrade with the token as a sub-protocol was taken")
            for headers: HTTPFields in [[:], [.secWebSocketProtocol: "finflow.v1, bearer.not-a-token"], [.authorization: "Bearer \(a.token)x"]] {
                let stranger = SocketFeedClient.connect(socketBase, headers: headers)
                _ = try await stranger.waitFor(1, type: "opened", seconds: 5)
                #expect(stranger.hasEnded && stranger.received("opened").isEmpty, "no upgrade without a valid token: \(headers)")
            }
            try await Self.movements(a, sut, count: 25, gapSeconds: 300)
            try await Self.movements(b, sut, count: 25, gapSeconds: 300)
            let quiet = try await client.send(.get, "/v1/realtime/anomalies", token: a.token)
            #expect(quiet.status == 200 && (quiet.body["items"] as? [[String: Any]])?.isEmpty == true, "ordinary movements are no anomaly: \(quiet.body)")

            try await Self.movements(a, sut, count: 15, gapSeconds: 5)
            let listed = try await client.send(.get, "/v1/realtime/anomalies", token: a.token)
            let items = try #require(listed.body["items"] as? [[String: Any]])
            try #require(items.count >= 2, "the burst is found: \(listed.body)")
            let first = items[0]
            #expect(first["subjectType"] as? String == "transaction" && ((first["score"] as? NSNumber)?.doubleValue ?? 0) >= 0.9)
            let reasons = try #require(first["reasons"] as? [[String: Any]])
            #expect(reasons.first?["feature"] as? String == "burst", "\(reasons)")
            #expect((reasons.first?["detail"] as? String)?.contains("movements of this account in 10 minutes") == true)
            let sequences = items.map { StatementTests.amount($0["sequence"]) }

            let pushed = try await feedA.waitFor(items.count)
            #expect(pushed.map(\.id) == sequences.map { "\($0)" }, "pushed in order, as stored")
            #expect(pushed.first.map { $0.data.contains("\"subjectId\":\"\(first["subjectId"] as? String ?? "?")\"") } == true)
            #expect(try await socketA.waitFor(items.count).count == items.count)
            #expect(socketA.ids == sequences, "the WebSocket pushes the same, in order")
            try await Task.sleep(for: .milliseconds(300))
            #expect(feedB.received().isEmpty && socketB.received().isEmpty, "the other tenant's clients see none of it")
            let theirs = try await client.send(.get, "/v1/realtime/anomalies", token: b.token)
            #expect((theirs.body["items"] as? [[String: Any]])?.isEmpty == true)
            let one = try await client.send(.get, "/v1/realtime/anomalies/\(first["id"] as? String ?? "")", token: b.token)
            #expect(one.status == 404, "nor can it read one by id")

            // Resuming after the first: the rest, from the database, then live.
            let resumed = try await EventStreamClient.open(base + "/v1/realtime/anomalies/stream", token: a.token, lastEventId: "\(sequences[0])")
            let again = try await resumed.waitFor(items.count - 1)
            #expect(again.map(\.id) == sequences.dropFirst().map { "\($0)" })
            try await Self.movements(a, sut, count: 3, gapSeconds: 2)
            let later = try await client.send(.get, "/v1/realtime/anomalies?after=\(sequences.last!)", token: a.token)
            let more = (later.body["items"] as? [[String: Any]])?.count ?? 0
            #expect(more >= 1, "the burst goes on: \(later.body)")
            #expect(try await resumed.waitFor(items.count - 1 + more).count == items.count - 1 + more)
            #expect(try await feedA.waitFor(items.count + more).count == items.count + more)
            let socketResumed = SocketFeedClient.connect(socketBase + "?after=\(sequences[0])", headers: [.authorization: "Bearer \(a.token)"])
            #expect(try await socketResumed.waitFor(items.count - 1 + more).count == items.count - 1 + more)
            #expect(socketResumed.ids == Array(sequences.dropFirst()) + socketA.ids.suffix(more), "resumed over WebSocket without a gap")
            #expect(socketA.received().count == items.count + more && socketB.received().isEmpty)

            let database = try #require(sut.system.databases["realtime"])
            let announced = try await database.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM outbox WHERE topic = \(bind: AnomalyDetected.topic)").first()?.decode(column: "n", as: Int.self)
            }
            #expect(announced == items.count + more)
            for feed in [feedA, feedB, resumed] { feed.close() }
            for socket in [socketA, socketB, socketResumed] { socket.close() }
        }
    }

    @Test("a live feed ends when its token stops holding: its session signed out, or the token expired; another session's feed goes on")
    func feedEndsWithItsToken() async throws {
        let sut = try await TestSystem.make()
        try await sut.testLive { client, base in
            let desk = try await Desk.open(client, sut, tag: "realtime-token")
            let login = try await client.send(.post, "/v1/auth/login", json: #"{"email":"\#(desk.user.email)","password":"\#(desk.user.password)"}"#)
            let other = try #require((login.body["tokens"] as? [String: Any])?["accessToken"] as? String, "\(login.body)")
            let stream = base + "/v1/realtime/anomalies/stream"
            let socketURL = base.replacingOccurrences(of: "http://", with: "ws://") + "/v1/realtime/anomalies/ws"
            let feed = try await EventStreamClient.open(stream, token: desk.token)
            let socket = SocketFeedClient.connect(socketURL, headers: [.authorization: "Bearer \(desk.token)"])
            let otherFeed = try await EventStreamClient.open(stream, token: other)
            #expect(feed.status == 200 && otherFeed.status == 200)
            #expect(try await socket.waitFor(1, type: "opened").count == 1)

            // Signing out ends the session: both of its feeds are refused within a tick, the other session's is not.
            #expect(try await client.send(.post, "/v1/auth/logout", token: desk.token).status == 204)
            try await sut.deliver()
            let refused = try await feed.waitFor(1, event: "refused", seconds: 10)
            #expect(refused.first?.data == #"{"code":"session-revoked"}"#, "\(refused)")
            let socketRefused = try await socket.waitFor(1, type: "refused", seconds: 10)
            #expect(socketRefused.first?["code"] as? String == "session-revoked", "\(socketRefused)")
            for _ in 0..<100 where !(feed.hasEnded && socket.hasEnded) { try await Task.sleep(for: .milliseconds(50)) }
            #expect(feed.hasEnded && socket.hasEnded, "the signed-out session's feeds are closed")
            #expect(socket.closeFrame?.code == "policyViolation" && socket.closeFrame?.reason == "session-revoked", "\(String(describing: socket.closeFrame))")
            try await Task.sleep(for: .milliseconds(2_500))
            #expect(!otherFeed.hasEnded && otherFeed.received("refused").isEmpty, "another session's feed goes on")

            // Its token's lifetime passed on the system's clock: the next check refuses it.
            sut.clock.advance(seconds: TimeInterval(sut.system.settings.accessTokenTTLSeconds) + TokenVerifier.leewaySeconds + 1)
            let expired = try await otherFeed.waitFor(1, event: "refused", seconds: 10)
            #expect(expired.first?.data == #"{"code":"invalid-token"}"#, "\(expired)")
            for feed in [feed, otherFeed] { feed.close() }
            socket.close()
        }
    }

    @Test("thresholds are the tenant's to set within bounds, audited; bad resumptions and pages are refused")
    func settingsAndRefusals() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let desk = try await Desk.open(client, sut, tag: "realtime-settings")
            let defaults = try await client.send(.get, "/v1/realtime/settings", token: desk.token)
            #expect((defaults.body["anomalyThreshold"] as? NSNumber)?.doubleValue == 0.9 && (defaults.body["complianceThreshold"] as? NSNumber)?.doubleValue == 0.97)
            for body in [#"{"anomalyThreshold":0.2,"complianceThreshold":0.9}"#, #"{"anomalyThreshold":0.95,"complianceThreshold":0.9}"#,
                         #"{"anomalyThreshold":0.9}"#, #"{"anomalyThreshold":"high","complianceThreshold":0.9}"#] {
                let refused = try await client.send(.put, "/v1/realtime/settings", json: body, token: desk.token)
                #expect(refused.status == 400, "\(body): \(refused.body)")
            }
            let set = try await client.send(.put, "/v1/realtime/settings", json: #"{"anomalyThreshold":0.8,"complianceThreshold":0.95}"#, token: desk.token)
            #expect(set.status == 200)
            let now = try await client.send(.get, "/v1/realtime/settings", token: desk.token)
            #expect((now.body["anomalyThreshold"] as? NSNumber)?.doubleValue == 0.8)
            for path in ["/v1/realtime/anomalies?after=-1", "/v1/realtime/anomalies?limit=0", "/v1/realtime/anomalies?limit=501"] {
                let refused = try await client.send(.get, path, token: desk.token)
                #expect(refused.status == 400, "\(path): \(refused.body)")
            }
            let resume = try await client.send(.get, "/v1/realtime/anomalies/stream", token: desk.token, headers: [.init("Last-Event-ID")!: "yesterday"])
            #expect(resume.status == 400, "\(resume.body)")
            let anonymous = try await client.send(.get, "/v1/realtime/anomalies/stream")
            #expect(anonymous.status == 401)
            // The WebSocket path without an upgrade: the problem, not a hang.
            let plain = try await client.send(.get, "/v1/realtime/anomalies/ws", token: desk.token)
            #expect(plain.status == 426 && plain.body["code"] as? String == "websocket-upgrade-required", "\(plain.body)")
            #expect(try await client.send(.get, "/v1/realtime/anomalies/ws?after=-1", token: desk.token).status == 400)
            #expect(try await client.send(.get, "/v1/realtime/anomalies/ws").status == 401)
        }
    }
}
