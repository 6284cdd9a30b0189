@testable import FinFlowCore
import Foundation
import Logging
import Synchronization
import Testing

@Suite("outbox relay wake-up")
struct OutboxRelayTests {
    @Test("a wait ends at a signal given before it, and at its timeout without one")
    func waitSemantics() async {
        let wakeup = OutboxWakeup()
        wakeup.signal()
        wakeup.signal()
        #expect(await wakeup.wait(timeout: .seconds(600)) == true)
        #expect(await wakeup.wait(timeout: .milliseconds(20)) == false, "two signals before a wait wake it once")
        let waiting = Task { await wakeup.wait(timeout: .seconds(600)) }
        try? await Task.sleep(for: .milliseconds(50))
        wakeup.signal()
        #expect(await waiting.value == true)
    }

    @Test("a relay woken by its outbox publishes every event without waiting for its poll")
    func relayWakesOnWrite() async throws {
        let database = try await CoreTests.database()
        let clock = SystemClock()
        let bus = InProcessEventBus(clock: clock)
        let seen = Mutex<[Int]>([])
        bus.subscribe(.inMemory(CoreTests.Ping.self, name: "test.ping") { event in seen.withLock { $0.append(event.data.n) } })
        let wakeup = OutboxWakeup()
        let outbox = Outbox(serviceName: "test", ids: IdentifierGenerator(clock: clock), clock: clock, wakeup: wakeup)
        // A poll so slow that only the wake-up can deliver within the test.
        let relay = OutboxRelay(database: database, bus: bus, clock: clock, logger: Logger(label: "test"), pollIntervalMillis: 3_600_000, wakeup: wakeup)
        let running = Task { try await relay.run() }
        for n in 1...20 {
            try await database.transaction { db in _ = try await outbox.enqueue(CoreTests.Ping(n: n), subject: nil, tenantId: "t", on: db) }
            if n % 5 == 0 { try await Task.sleep(for: .milliseconds(30)) }
        }
        let deadline = Date().addingTimeInterval(60)
        while seen.withLock({ $0.count }) < 20, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(seen.withLock { $0 } == Array(1...20))
        running.cancel()
        _ = try? await running.value
        try await database.shutdown()
    }
}
