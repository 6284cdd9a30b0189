import ArgumentParser
import AsyncHTTPClient
import FinFlowAuth
import FinFlowCore
import FinFlowServer
import FinFlowTenancy
import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// Measures the time from a transaction's commit to its anomaly reaching a connected WebSocket client
/// (`Benchmarks/realtime-push.sh`), with transactions committed at a steady rate. A producing service's outbox (its own
/// SQLite database, relay and wake-up, as the transaction service has) commits batches of `TransactionCreated` every
/// ten milliseconds; one in `extremeEvery` is far above its account's usual amount. The realtime service in a system of
/// its own (with auth and tenancy for the token) consumes them from the in-process bus and pushes what it finds to a
/// client connected over a real socket, which notes when each arrives.
struct RealtimePushBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "realtime-push-bench", abstract: "Measure commit-to-push latency of the realtime feed.", shouldDisplay: false)

    @Option(help: "Transactions committed per second.") var rate = 1_000
    @Option(help: "Seconds to run.") var seconds = 20
    @Option(help: "One transaction in this many is an outlier.") var extremeEvery = 20

    /// Transactions per commit: the rate's share of each ten-millisecond tick.
    static let ticksPerSecond = 100

    func run() async throws {
        guard (100...20_000).contains(self.rate), (5...600).contains(self.seconds), (2...1_000).contains(self.extremeEvery) else {
            throw ValidationError("--rate is 100 to 20,000, --seconds 5 to 600, --extreme-every 2 to 1,000")
        }
        JSONLogHandler.bootstrap(format: "text", level: "error")
        let logger = Logger(label: "finflow.bench")
        let directory = NSTemporaryDirectory() + "finflow-push-bench-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var settings = try Settings.load(flags: ["dataDirectory": directory, "logLevel": "error"], environment: [:])
        settings.services = ["auth", "tenancy", "realtime"]
        settings.host = "127.0.0.1"
        settings.port = 0
        let system = try await FinFlowSystem.build(settings: settings, logger: logger)
        guard let auth = system.databases["auth"], let tenancy = system.databases["tenancy"] else {
            throw ValidationError("the bench needs the auth and tenancy services")
        }
        let password = "Bench-" + Digest.randomToken(byteCount: 12)
        let userId = try await AuthService.createVerifiedUser(
            database: auth, settings: settings, clock: system.clock, email: "push-bench@finflow.example", password: password,
            displayName: "Bench", organizationName: "Bench Ltd")
        try await system.deliverEvents()
        guard let tenantId = try await TenancyService.tenantsOwned(by: userId, database: tenancy).first else {
            throw ValidationError("the bench tenant was not created")
        }

        // The producing service's side: its database, outbox, wake-up and relay to the system's bus.
        let source = try await SQLiteDatabase.open(path: directory + "/source.sqlite", logger: logger)
        _ = try await Migrator(database: source, track: "platform", migrations: PlatformMigrations.all, clock: SystemClock()).migrate()
        let wakeup = OutboxWakeup()
        let outbox = Outbox(serviceName: "transactions", ids: IdentifierGenerator(clock: SystemClock()), clock: SystemClock(), wakeup: wakeup)
        let relay = OutboxRelay(database: source, bus: system.bus, clock: SystemClock(), logger: logger, wakeup: wakeup)

        let port = Mutex<Int?>(nil)
        let app = system.application(onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } })
        let group = ServiceGroup(services: [app, relay], gracefulShutdownSignals: [], logger: logger)
        let server = Task { try await group.run() }
        defer { server.cancel() }
        var waited = 0
        while port.withLock({ $0 }) == nil, waited < 500 {
            try await Task.sleep(for: .milliseconds(10))
            waited += 1
        }
        guard let bound = port.withLock({ $0 }) else { throw ValidationError("the server did not start") }
        let token = try await Self.signIn(port: bound, password: password)

        let clock = ContinuousClock()
        let arrivals = Mutex<[String: ContinuousClock.Instant]>([:])
        let opened = Mutex(false)
        let client = Task {
            _ = try? await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(bound)/v1/realtime/anomalies/ws", configuration: .init(additionalHeaders: [.authorization: "Bearer \(token)"]),
                logger: logger
            ) { inbound, _, _ in
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    let now = clock.now
                    guard case .text(let text) = message else { continue }
                    if text.hasPrefix("{\"type\":\"opened\"") { opened.withLock { $0 = true } }
                    // The anomaly's subject is the transaction's id: `"subjectId":"…"`.
                    guard let start = text.range(of: "\"subjectId\":\""), let end = text[start.upperBound...].firstIndex(of: "\"") else { continue }
                    let subject = String(text[start.upperBound..<end])
                    arrivals.withLock { $0[subject] = now }
                }
            }
        }
        defer { client.cancel() }
        waited = 0
        while !opened.withLock({ $0 }), waited < 500 {
            try await Task.sleep(for: .milliseconds(10))
            waited += 1
        }
        guard opened.withLock({ $0 }) else { throw ValidationError("the WebSocket did not open") }

        // Commit at the rate, a batch every tick, noting each outlier's commit time.
        var random = SeededRandom(seed: 17)
        func uniform() -> Double { Double(random.next() >> 11) / 9_007_199_254_740_992 }
        let perTick = max(1, self.rate / Self.ticksPerSecond)
        var commits: [String: ContinuousClock.Instant] = [:]
        var sent = 0
        let began = clock.now
        for tick in 0..<(self.seconds * Self.ticksPerSecond) {
            var batch: [(payload: TransactionCreated, subject: String?, tenantId: String?)] = []
            var outliers: [String] = []
            for _ in 0..<perTick {
                let account = Int(random.next() % 50)
                let usual = pow(10, 3.0 + Double(account % 7) * 0.3 + 0.15 * (uniform() + uniform() + uniform() - 1.5))
                let outlier = sent % self.extremeEvery == self.extremeEvery - 1
                let id = "push-\(sent)"
                if outlier { outliers.append(id) }
                batch.append((TransactionCreated(
                    transactionId: id, tenantId: tenantId, kind: "expense", amountMinor: Int64(outlier ? usual * 1_000 : usual), currency: "EUR",
                    valueDate: "2026-12-01", sourceAccountId: "acct-\(account)", destinationAccountId: "expenses",
                    counterparty: "party-\(random.next() % 200)"), id, tenantId))
                sent += 1
            }
            let rows = batch
            try await source.transaction { db in _ = try await outbox.enqueue(rows, on: db) }
            let committed = clock.now
            for id in outliers { commits[id] = committed }
            try await Task.sleep(until: began.advanced(by: .milliseconds(10 * (tick + 1))), clock: clock)
        }
        let took = began.duration(to: clock.now)
        // What is still on its way arrives within a few seconds.
        for _ in 0..<300 where arrivals.withLock({ $0.count }) < commits.count {
            try await Task.sleep(for: .milliseconds(10))
        }
        let arrived = arrivals.withLock { $0 }
        let latencies = commits.compactMap { id, committed in arrived[id].map { committed.duration(to: $0) } }
            .map(\.inMilliseconds)
        let spread = Percentiles(latencies)
        func at(_ q: Double) -> Double { spread.at(q) ?? .nan }
        let achieved = Double(sent) / took.inSeconds
        print(String(format: "realtime push: %d transactions committed at %.0f/s (batches of %d every 10 ms); %d of %d outliers pushed as anomalies",
                     sent, achieved, perTick, latencies.count, commits.count))
        print(String(format: "commit to WebSocket client: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms", at(0.5), at(0.9), at(0.99), at(1)))
        client.cancel()
        await group.triggerGracefulShutdown()
        _ = try? await server.value
        try await source.shutdown()
        try await system.shutdown()
    }

    /// The bench owner's access token, signed in over HTTP.
    static func signIn(port: Int, password: String) async throws -> String {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/auth/login")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let body = try JSONSerialization.data(withJSONObject: ["email": "push-bench@finflow.example", "password": password])
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let data = Data(String(buffer: try await response.body.collect(upTo: 1 << 20)).utf8)
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any], let tokens = object["tokens"] as? [String: Any],
            let token = tokens["accessToken"] as? String
        else { throw ValidationError("signing in failed: \(String(decoding: data, as: UTF8.self))") }
        return token
    }
}
