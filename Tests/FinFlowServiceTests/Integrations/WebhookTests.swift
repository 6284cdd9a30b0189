import FinFlowCore
import Foundation
import HummingbirdTesting
import SQLKit
import Testing

/// Webhooks out through the API, the event consumers and the dispatcher, against a real receiver on 127.0.0.1: what is
/// delivered, how it is signed, what a failing receiver gets, the log, replay, secret rotation and bad endpoints.
@Suite("integrations webhooks out: signed, retried for 24 hours, logged, replayable")
struct WebhookTests {
    static let created = "finflow.transaction.created"

    /// A system that lets endpoints be on the loopback address (the receiver), with tokens that outlive the days a test
    /// moves its clock on.
    static func system() async throws -> TestSystem {
        try await TestSystem.make {
            $0.integrationsWebhookAllowLoopback = true
            $0.accessTokenTTLSeconds = 30 * 86_400
        }
    }

    static func register(
        _ client: any TestClientProtocol, _ desk: Desk, url: String, types: [String] = [created], extra: [String: Any] = [:]
    ) async throws -> (id: String, secret: String) {
        var body: [String: Any] = ["url": url, "eventTypes": types]
        for (key, value) in extra { body[key] = value }
        let made = try await client.send(.post, "/v1/integrations/webhooks", json: TaxAPITests.json(body), token: desk.token)
        try #require(made.status == 201, "\(made.body)")
        let id = try #require(made.body["id"] as? String)
        let secret = try await client.send(.get, "/v1/integrations/webhooks/\(id)/secret", token: desk.token)
        try #require(secret.status == 200, "\(secret.body)")
        return (id, try #require(secret.body["secret"] as? String))
    }

    static func deliveries(_ client: any TestClientProtocol, _ desk: Desk, _ endpoint: String, status: String? = nil) async throws -> [[String: Any]] {
        let answer = try await client.send(
            .get, "/v1/integrations/webhooks/\(endpoint)/deliveries" + (status.map { "?status=\($0)" } ?? ""), token: desk.token)
        try #require(answer.status == 200, "\(answer.body)")
        return try #require(answer.body["items"] as? [[String: Any]])
    }

    /// A transaction created and its events delivered to the services; answers its id.
    @discardableResult
    static func transact(_ desk: Desk, _ sut: TestSystem, amount: Int64 = 4_200) async throws -> String {
        let made = try await desk.create(desk.body(amount, counterparty: "City Power", extra: ["allowDuplicate": true]))
        try #require(made.status == 201, "\(made.body)")
        try await sut.deliver()
        return try #require(made.body["id"] as? String)
    }

    static func rows<Row: Decodable & Sendable>(_ sut: TestSystem, _ sql: String, as: Row.Type) async throws -> [Row] {
        let database = try #require(sut.system.databases["integrations"])
        return try await database.read { db in try await db.raw(SQLQueryString(stringLiteral: sql)).all(decoding: Row.self) }
    }

    @Test("an event goes, signed, once, to the tenant's endpoints that take its type, and its delivery is logged")
    func deliveredSignedOnce() async throws {
        let sut = try await Self.system()
        let receiver = WebhookReceiver()
        try await receiver.serving { base in
            try await sut.test { client in
                let desk = try await Desk.open(client, sut, tag: "webhooks-out")
                let types = try await client.send(.get, "/v1/integrations/webhook-event-types", token: desk.token)
                let offered = (types.body["items"] as? [[String: Any]])?.compactMap { $0["type"] as? String } ?? []
                #expect(offered.contains(Self.created) && !offered.contains("finflow.session.revoked"), "\(offered)")

                let takes = try await Self.register(client, desk, url: base + "/hooks/a")
                let other = try await Self.register(client, desk, url: base + "/hooks/b", types: ["finflow.payment.processed"])
                #expect(takes.secret.hasPrefix("whsec_") && takes.secret != other.secret)
                let listed = try await client.send(.get, "/v1/integrations/webhooks", token: desk.token)
                #expect((listed.body["items"] as? [[String: Any]])?.count == 2)
                #expect(listed.body.description.contains("whsec_") == false, "a listing never shows a secret")

                let transaction = try await Self.transact(desk, sut)
                #expect(try await sut.system.runScheduledWork() >= 1)
                let hits = receiver.received
                try #require(hits.count == 1, "one delivery, to the endpoint that takes the type: \(hits.map(\.path))")
                let hit = hits[0]
                #expect(hit.path == "/hooks/a")
                #expect(hit.headers["finflow-event-type"] == Self.created && hit.headers["content-type"] == "application/json")
                #expect(hit.isSigned(with: takes.secret), "signed with the endpoint's secret: \(hit.headers)")
                #expect(!hit.isSigned(with: other.secret))
                #expect(hit.signatures.timestamp == Int64(sut.clock.now().timeIntervalSince1970), "the timestamp is the sending time")
                #expect(hit.signatures.v1.count == 1)
                #expect(hit.json["type"] as? String == Self.created && hit.json["id"] as? String == hit.eventId)
                #expect((hit.json["data"] as? [String: Any])?["transactionId"] as? String == transaction)

                // Sent once: nothing is due any more, and the same event delivered to the service again (as the bus may,
                // at least once) queues nothing.
                #expect(try await sut.system.runScheduledWork() == 0)
                struct Queued: Decodable { let event_id: String; let event_type: String; let payload: String }
                let queued = try await Self.rows(sut, "SELECT event_id, event_type, payload FROM webhook_deliveries", as: Queued.self)
                try #require(queued.count == 1)
                let again = PublishedEvent(
                    id: queued[0].event_id, topic: queued[0].event_type + ".v1", type: queued[0].event_type, tenantId: desk.user.tenantId,
                    json: Data(queued[0].payload.utf8))
                try await sut.system.bus.publish(again)
                try await sut.system.bus.publish(again)
                #expect(try await Self.rows(sut, "SELECT event_id, event_type, payload FROM webhook_deliveries", as: Queued.self).count == 1)
                #expect(try await sut.system.runScheduledWork() == 0)
                #expect(receiver.received.count == 1)

                let log = try await Self.deliveries(client, desk, takes.id)
                try #require(log.count == 1)
                #expect(log[0]["status"] as? String == "delivered" && StatementTests.amount(log[0]["attempts"]) == 1)
                #expect(StatementTests.amount(log[0]["lastStatusCode"]) == 200 && log[0]["eventId"] as? String == hit.eventId)
                let id = try #require(log[0]["id"] as? String)
                let one = try await client.send(.get, "/v1/integrations/webhooks/\(takes.id)/deliveries/\(id)", token: desk.token)
                #expect((one.body["event"] as? [String: Any])?["type"] as? String == Self.created)
                let attempts = try #require(one.body["log"] as? [[String: Any]])
                #expect(attempts.count == 1 && StatementTests.amount(attempts.first?["statusCode"]) == 200)
                #expect(attempts.first?["responseExcerpt"] as? String == "noted")
                #expect(try await Self.deliveries(client, desk, other.id).isEmpty)

                // Another tenant's books reach none of these endpoints, and it cannot see them.
                let stranger = try await Desk.open(client, sut, tag: "webhooks-out-other")
                try await Self.transact(stranger, sut)
                #expect(try await sut.system.runScheduledWork() == 0)
                #expect(receiver.received.count == 1)
                #expect(try await client.send(.get, "/v1/integrations/webhooks/\(takes.id)", token: stranger.token).status == 404)
                #expect(try await client.send(.get, "/v1/integrations/webhooks/\(takes.id)/secret", token: stranger.token).status == 404)
                #expect(try await client.send(.get, "/v1/integrations/webhooks/\(takes.id)/deliveries/\(id)", token: stranger.token).status == 404)
            }
        }
    }

    @Test("a failing receiver is retried with growing pauses for 24 hours; then the endpoint is disabled with an event and a mail, and a replay delivers")
    func failingEndpointDisabledThenReplayed() async throws {
        let sut = try await Self.system()
        let receiver = WebhookReceiver()
        receiver.status.withLock { $0 = 500 }
        try await receiver.serving { base in
            try await sut.test { client in
                let desk = try await Desk.open(client, sut, tag: "webhooks-failing")
                let endpoint = try await Self.register(client, desk, url: base + "/hooks/down", extra: ["notifyEmail": "Ops@Example.com"])
                try await Self.transact(desk, sut)
                let queuedAt = sut.clock.now()
                #expect(try await sut.system.runScheduledWork() == 0, "tried, not delivered")
                #expect(receiver.received.count == 1)
                var log = try await Self.deliveries(client, desk, endpoint.id)
                #expect(log.first?["status"] as? String == "pending" && StatementTests.amount(log.first?["lastStatusCode"]) == 500)
                let next = try #require(ISO8601DateFormatter().date(from: log.first?["nextAttemptAt"] as? String ?? ""))
                #expect((47...72).contains(next.timeIntervalSince(queuedAt)), "the first pause is about a minute (48–72 s; the answer is in whole seconds): \(next.timeIntervalSince(queuedAt))")
                _ = try await sut.system.runScheduledWork()
                #expect(receiver.received.count == 1, "not again before its time")

                // A day on, half an hour at a time: the pauses grow to hours, and the last attempt falls at the end of the window
                // (so the gap before it may be short).
                var times: [Date] = []
                while sut.clock.now().timeIntervalSince(queuedAt) < 25 * 3_600 {
                    sut.clock.advance(seconds: 1_800)
                    let before = receiver.received.count
                    _ = try await sut.system.runScheduledWork()
                    if receiver.received.count > before { times.append(sut.clock.now()) }
                }
                let attempts = receiver.received.count
                #expect((8...13).contains(attempts), "attempts in 24 hours: \(attempts)")
                let gaps = zip(times.dropFirst(), times).map { $0.timeIntervalSince($1) }
                #expect(gaps.max() ?? 0 >= 3 * 3_600 && (gaps.first ?? 0) <= 1_800, "the pauses grow to hours: \(gaps)")
                #expect(Set(receiver.received.map(\.eventId)).count == 1, "the same event each time")
                #expect(receiver.received.map { $0.headers["finflow-delivery-attempt"] ?? "" } == (1...attempts).map(String.init))
                log = try await Self.deliveries(client, desk, endpoint.id, status: "failed")
                try #require(log.count == 1, "given up")
                #expect(StatementTests.amount(log[0]["attempts"]) == Int64(attempts) && (log[0]["lastError"] as? String)?.contains("500") == true)

                let disabled = try await client.send(.get, "/v1/integrations/webhooks/\(endpoint.id)", token: desk.token)
                #expect(disabled.body["status"] as? String == "disabled" && disabled.body["disabledReason"] as? String == "failing")
                struct Topic: Decodable { let topic: String }
                let topics = try await Self.rows(sut, "SELECT topic FROM outbox", as: Topic.self).map(\.topic)
                #expect(topics.contains(WebhookEndpointDisabled.topic), "\(topics)")
                struct Mail: Decodable { let to_address: String; let body: String }
                let mails = try await Self.rows(sut, "SELECT to_address, body FROM mail_outbox WHERE purpose = 'webhook-disabled'", as: Mail.self)
                #expect(mails.map(\.to_address) == ["ops@example.com"] && mails.first?.body.contains(endpoint.id) == true)

                // Disabled: new events are not queued for it.
                try await Self.transact(desk, sut)
                #expect(try await Self.deliveries(client, desk, endpoint.id).count == 1)
                let failedId = try #require(log[0]["id"] as? String)
                let early = try await client.send(
                    .post, "/v1/integrations/webhooks/\(endpoint.id)/deliveries/\(failedId)/replay", token: desk.token)
                #expect(early.status == 409 && early.body["code"] as? String == "endpoint-disabled")

                // Mended and enabled: the failed delivery is replayed by its id, as a new delivery with its own log.
                receiver.status.withLock { $0 = 204 }
                let enabled = try await client.send(
                    .patch, "/v1/integrations/webhooks/\(endpoint.id)", json: #"{"enabled":true}"#, token: desk.token)
                #expect(enabled.status == 200 && enabled.body["status"] as? String == "active" && enabled.body["disabledReason"] == nil)
                let replay = try await client.send(
                    .post, "/v1/integrations/webhooks/\(endpoint.id)/deliveries/\(failedId)/replay", token: desk.token)
                #expect(replay.status == 202 && replay.body["replayOf"] as? String == failedId, "\(replay.body)")
                #expect(try await sut.system.runScheduledWork() == 1)
                #expect(receiver.received.last?.eventId == receiver.received.first?.eventId)
                #expect(try await Self.deliveries(client, desk, endpoint.id, status: "delivered").count == 1)
            }
        }
    }

    @Test("a rotated secret signs beside the old one for the overlap, then alone")
    func secretRotation() async throws {
        let sut = try await Self.system()
        let receiver = WebhookReceiver()
        try await receiver.serving { base in
            try await sut.test { client in
                let desk = try await Desk.open(client, sut, tag: "webhooks-rotation")
                let endpoint = try await Self.register(client, desk, url: base + "/hooks/rotating")
                let rotated = try await client.send(
                    .post, "/v1/integrations/webhooks/\(endpoint.id)/rotate-secret", json: #"{"overlapSeconds":3600}"#, token: desk.token)
                #expect(rotated.status == 200 && rotated.body["previousSecretUntil"] != nil, "\(rotated.body)")
                #expect(rotated.body.description.contains("whsec_") == false, "a stored answer never holds a secret")
                let secrets = try await client.send(.get, "/v1/integrations/webhooks/\(endpoint.id)/secret", token: desk.token)
                let new = try #require(secrets.body["secret"] as? String)
                #expect(secrets.body["previousSecret"] as? String == endpoint.secret && new != endpoint.secret)

                try await Self.transact(desk, sut)
                _ = try await sut.system.runScheduledWork()
                let during = try #require(receiver.received.last)
                #expect(during.signatures.v1.count == 2 && during.isSigned(with: new) && during.isSigned(with: endpoint.secret))

                sut.clock.advance(seconds: 3_601)
                try await Self.transact(desk, sut)
                _ = try await sut.system.runScheduledWork()
                let after = try #require(receiver.received.last)
                #expect(receiver.received.count == 2)
                #expect(after.signatures.v1.count == 1 && after.isSigned(with: new) && !after.isSigned(with: endpoint.secret))
                let later = try await client.send(.get, "/v1/integrations/webhooks/\(endpoint.id)/secret", token: desk.token)
                #expect(later.body["previousSecret"] == nil)
            }
        }
    }

    @Test("bad endpoints are refused naming the field, and change nothing")
    func badEndpointsRefused() async throws {
        // Without the loopback allowance, as a deployment runs.
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let desk = try await Desk.open(client, sut, tag: "webhooks-bad")
            let cases: [([String: Any], String)] = [
                (["url": "http://example.com/hook", "eventTypes": [Self.created]], "url"),
                (["url": "https://127.0.0.1:8443/hook", "eventTypes": [Self.created]], "url"),
                (["url": "https://localhost/hook", "eventTypes": [Self.created]], "url"),
                (["url": "https://10.1.2.3/hook", "eventTypes": [Self.created]], "url"),
                (["url": "https://[fd00::1]/hook", "eventTypes": [Self.created]], "url"),
                (["url": "https://2130706433/hook", "eventTypes": [Self.created]], "url"),
                (["url": "https://user:pw@example.com/hook", "eventTypes": [Self.created]], "url"),
                (["url": "https://printer.local/hook", "eventTypes": [Self.created]], "url"),
                (["url": "not a url", "eventTypes": [Self.created]], "url"),
                (["url": "https://example.com/hook", "eventTypes": ["finflow.session.revoked"]], "eventTypes"),
                (["url": "https://example.com/hook", "eventTypes": [Self.created], "notifyEmail": "nobody"], "notifyEmail"),
                (["url": "https://example.com/hook", "eventTypes": [Self.created], "description": "two\nlines"], "description"),
            ]
            for (body, field) in cases {
                let answer = try await client.send(.post, "/v1/integrations/webhooks", json: TaxAPITests.json(body), token: desk.token)
                #expect(answer.status == 400, "\(body): \(answer.body)")
                let fields = (answer.body["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? []
                #expect(fields.contains(field), "\(body): \(answer.body)")
            }
            let fine = try await client.send(
                .post, "/v1/integrations/webhooks", json: TaxAPITests.json(["url": "https://hooks.example.com/finflow", "eventTypes": [Self.created]]),
                token: desk.token)
            #expect(fine.status == 201, "\(fine.body)")
            let id = try #require(fine.body["id"] as? String)
            let badRotation = try await client.send(
                .post, "/v1/integrations/webhooks/\(id)/rotate-secret", json: #"{"overlapSeconds":9999999}"#, token: desk.token)
            #expect(badRotation.status == 400)
            let badPatch = try await client.send(.patch, "/v1/integrations/webhooks/\(id)", json: #"{"url":"http://example.com"}"#, token: desk.token)
            #expect(badPatch.status == 400)
            let listed = try await client.send(.get, "/v1/integrations/webhooks", token: desk.token)
            let items = try #require(listed.body["items"] as? [[String: Any]])
            #expect(items.count == 1 && items.first?["url"] as? String == "https://hooks.example.com/finflow", "nothing else was made or changed")
            #expect(try await client.send(.delete, "/v1/integrations/webhooks/\(id)", token: desk.token).status == 204)
            #expect(try await client.send(.get, "/v1/integrations/webhooks/\(id)", token: desk.token).status == 404)
        }
    }
}
