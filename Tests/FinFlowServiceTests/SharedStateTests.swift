#if Redis
import FinFlowCore
import FinFlowRedis
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import SQLKit
import Testing

/// Debian's redis-server on 127.0.0.1, started for one test and stopped after it.
final class RedisServer: Sendable {
    let process: ChildProcess
    let port = FreePort.next()
    var url: String { "redis://127.0.0.1:\(self.port)" }

    init() throws {
        let binary = try #require(
            ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "redis-server is missing: run the tests through scripts/test.sh, which installs it")
        self.process = try ChildProcess(binary, ["--port", String(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
    }

    /// A store on this server that retries at once after a failure (for tests that wait for the server).
    func store(pauseMillis: Int64 = 0) -> RedisStore {
        RedisStore(address: RedisAddress(url: self.url)!, pauseMillis: pauseMillis, logger: Logger(label: "test.redis"))
    }

    func ready() async throws {
        for _ in 0..<100 {
            // A process that has ended will never answer: fail now rather than after the whole wait.
            if let status = self.process.exitStatus { Issue.record("redis-server exited before serving (status \(status))"); return }
            do {
                _ = try await self.store().get("ping")
                return
            } catch {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        Issue.record("redis-server did not start")
    }

    /// Stops the server and waits until it takes no connection.
    func stop() async {
        self.process.send(SIGKILL)
        for _ in 0..<100 {
            do {
                _ = try await self.store().get("ping")
                try? await Task.sleep(for: .milliseconds(50))
            } catch {
                return
            }
        }
    }
}

@Suite("shared state across replicas: Redis present and absent")
struct SharedStateTests {
    /// Runs `body` with a fresh redis-server, stopped after it whatever happens.
    static func withRedis(_ body: (RedisServer) async throws -> Void) async throws {
        let redis = try RedisServer()
        do {
            try await redis.ready()
            try await body(redis)
        } catch {
            await redis.stop()
            throw error
        }
        await redis.stop()
    }

    @Test("the store: values binary-safe and expiring, counters per window, stamped maps, a bad URL refused")
    func store() async throws {
        try await Self.withRedis { redis in
            let store = redis.store()
            let bytes = Data([0, 1, 2, 255, 0x0D, 0x0A, 36])
            try await store.set("k", bytes, ttlSeconds: 60)
            #expect(try await store.get("k") == bytes)
            #expect(try await store.get("absent") == nil)
            let first = try await store.hit("counter", windowMillis: 60_000)
            let second = try await store.hit("counter", windowMillis: 60_000)
            #expect(first.count == 1 && second.count == 2)
            #expect((1...60_000).contains(second.resetsInMillis))
            // A stamped map: changes land on the stamp expected; written under another, it holds only the new changes.
            try await store.writeStamped("map", expected: nil, stamp: "s1", changes: [("a", Data("1".utf8)), ("b", bytes)], ttlSeconds: 60)
            try await store.writeStamped("map", expected: "s1", stamp: "s2", changes: [("a", nil), ("c", Data("3".utf8))], ttlSeconds: 60)
            let kept = try await store.stampedFields("map", fields: ["a", "b", "c"])
            #expect(kept.stamp == "s2" && kept.values == [nil, bytes, Data("3".utf8)])
            try await store.writeStamped("map", expected: "s1", stamp: "s3", changes: [("d", Data("4".utf8))], ttlSeconds: 60)
            let emptied = try await store.stampedFields("map", fields: ["b", "c", "d"])
            #expect(emptied.stamp == "s3" && emptied.values == [nil, nil, Data("4".utf8)])
            #expect(try await store.stampedFields("absent", fields: ["a"]).stamp == nil)
            #expect(RedisAddress(url: "redis://:s3cret@cache.internal:6380/2") == RedisAddress(url: "redis://:s3cret@cache.internal:6380/2"))
            #expect(RedisAddress(url: "redis://:s3cret@cache.internal:6380/2")?.database == 2)
            #expect(RedisAddress(url: "http://cache:6379") == nil)
            #expect(RedisAddress(url: "redis://cache:6379/99") == nil)
            #expect(throws: (any Error).self) { try Settings.load(flags: [:], environment: ["FINFLOW_REDIS_URL": "cache:6379"]) }
            #expect(try Settings.load(flags: [:], environment: ["FINFLOW_REDIS_URL": redis.url]).redisURL == redis.url)
            // Monitoring's shared figures: off by default, a yes or no, and only with Redis.
            #expect(try Settings.load(flags: [:], environment: ["FINFLOW_REDIS_URL": redis.url]).complianceSharedFigures == false)
            #expect(try Settings.load(flags: [:], environment: ["FINFLOW_REDIS_URL": redis.url, "FINFLOW_COMPLIANCE_SHARED_FIGURES": "yes"]).complianceSharedFigures)
            #expect(throws: (any Error).self) { try Settings.load(flags: [:], environment: ["FINFLOW_COMPLIANCE_SHARED_FIGURES": "true"]) }
            #expect(throws: (any Error).self) {
                try Settings.load(flags: [:], environment: ["FINFLOW_REDIS_URL": redis.url, "FINFLOW_COMPLIANCE_SHARED_FIGURES": "maybe"])
            }
        }
    }

    /// Signs in with a wrong password: the status (401 while under the limit, 429 over it).
    static func wrongSignIn(_ client: any TestClientProtocol) async throws -> Int {
        try await client.send(.post, "/v1/auth/login", json: #"{"email":"nobody@example.com","password":"not-the-password"}"#).status
    }

    @Test("the sign-in limit per address holds across two processes sharing Redis; without Redis each counts alone")
    func signInLimitAcrossReplicas() async throws {
        try await Self.withRedis { redis in
            func system(redisURL: String?) async throws -> TestSystem {
                try await TestSystem.make { settings in
                    settings.redisURL = redisURL
                    settings.signInAttemptsPerAddressPerMinute = 3
                }
            }
            let first = try await system(redisURL: redis.url)
            let second = try await system(redisURL: redis.url)
            // The fourth attempt from this address, whichever replica takes it, is over the limit.
            try await Self.alternate(first, second, expecting: [401, 401, 401, 429, 429])
            try await Self.alternate(try await system(redisURL: nil), try await system(redisURL: nil), expecting: [401, 401, 401, 401])
        }
    }

    /// Wrong sign-ins sent to `first` and `second` in turn; `expecting` their statuses.
    static func alternate(_ first: TestSystem, _ second: TestSystem, expecting: [Int]) async throws {
        try await first.test { (a: any TestClientProtocol) async throws in
            try await second.test { (b: any TestClientProtocol) async throws in
                var statuses: [Int] = []
                for index in expecting.indices { statuses.append(try await Self.wrongSignIn(index % 2 == 0 ? a : b)) }
                #expect(statuses == expecting)
            }
        }
    }

    @Test("a finished idempotent answer is replayed from Redis by any replica; with Redis gone, from the database; nothing fails")
    func idempotencyCache() async throws {
        try await Self.withRedis { redis in
            let sut = try await TestSystem.make { $0.redisURL = redis.url }
            try await sut.test { client in
                let owner = try await Fixtures.signUp(client, sut, tag: "shared")
                try await sut.deliver()
                func createRole(_ name: String, key: String) async throws -> (status: Int, body: [String: Any], headers: HTTPFields) {
                    try await client.send(
                        .post, "/v1/tenants/current/roles", json: #"{"name":"\#(name)","permissions":["journal:read"]}"#, token: owner.accessToken,
                        headers: [.init("Idempotency-Key")!: key])
                }
                #expect(try await createRole("bookkeeper", key: "role-1").status == 201)
                // The database forgets the key; the replay still comes from the shared copy.
                let tenancy = try #require(sut.system.databases["tenancy"])
                try await tenancy.read { db in try await db.raw("DELETE FROM idempotency_keys").run() }
                let cached = try await createRole("bookkeeper", key: "role-1")
                #expect(cached.status == 201)
                #expect(cached.headers[.init("Idempotency-Replayed")!] == "true")
                // The shared copy still tells another body apart.
                #expect(try await createRole("clerk", key: "role-1").status == 422)

                #expect(try await createRole("auditor-2", key: "role-2").status == 201)
                await redis.stop()
                // Redis is gone: the database answers the replay, and new requests go on.
                let fromDatabase = try await createRole("auditor-2", key: "role-2")
                #expect(fromDatabase.status == 201)
                #expect(fromDatabase.headers[.init("Idempotency-Replayed")!] == "true")
                #expect(try await createRole("clerk", key: "role-3").status == 201)
                #expect(try await Self.wrongSignIn(client) == 401)
            }
        }
    }
}
#endif
