import AsyncHTTPClient
import FinFlowCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// Sends what is due: each delivery claimed (so two replicas never send it at once, and one that died mid-send is
/// picked up when its claim lapses), signed, POSTed, and its attempt logged. A 2xx answer delivers it; anything else
/// (a 3xx too: deliveries are never redirected) is tried again with growing pauses until 24 hours after it was
/// queued, and then given up, which disables the endpoint with an event and a mail to its contact.
struct WebhookDispatcher: ScheduledWork {
    let desk: WebhookDesk
    let logger: Logger
    let client: HTTPClient

    static let intervalSeconds = 5
    /// Deliveries read per pass, and sent at once.
    static let batchMax = 100
    static let concurrencyMax = 8
    /// How long a claimed delivery is left to its sender before another may take it.
    static let claimMillis: Int64 = 120_000
    static let timeout = TimeAmount.seconds(10)
    /// The most of an answer kept in the log.
    static let excerptBytesMax = 1_024
    /// The pause after each failed attempt (the first, the second, …), the last repeating; each is drawn within ±20%.
    static let pausesSeconds: [Int64] = [60, 300, 900, 1_800, 3_600, 7_200, 14_400, 28_800]

    /// The client deliveries go through: no redirects, a short connect timeout.
    static let sharedClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(5))
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    func runDue() async throws -> Int {
        let due = try await self.desk.claimDue(limit: Self.batchMax, claimMillis: Self.claimMillis)
        guard !due.isEmpty else { return 0 }
        return await withTaskGroup(of: Int.self) { group in
            var running = 0, sent = 0
            for claimed in due {
                if running == Self.concurrencyMax, let one = await group.next() {
                    sent += one
                    running -= 1
                }
                group.addTask { await self.send(claimed) ? 1 : 0 }
                running += 1
            }
            for await one in group { sent += one }
            return sent
        }
    }

    /// One attempt of `claimed`, logged; answers whether it was delivered.
    func send(_ claimed: WebhookDesk.Claimed) async -> Bool {
        let started = ContinuousClock.now
        var outcome = WebhookDesk.Outcome(statusCode: nil, error: nil, excerpt: nil, retryAfterSeconds: nil, durationMillis: 0)
        do {
            var request = HTTPClientRequest(url: claimed.url)
            request.method = .POST
            let body = Data(claimed.payload.utf8)
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: "FinFlow-Webhooks/1")
            request.headers.add(name: "FinFlow-Event-Id", value: claimed.eventId)
            request.headers.add(name: "FinFlow-Event-Type", value: claimed.eventType)
            request.headers.add(name: "FinFlow-Delivery-Id", value: claimed.id)
            request.headers.add(name: "FinFlow-Delivery-Attempt", value: "\(claimed.attempts + 1)")
            request.headers.add(
                name: WebhookSigner.headerName,
                value: WebhookSigner.header(body: body, secrets: claimed.secrets, timestamp: claimed.nowMillis / 1_000))
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await self.client.execute(request, timeout: Self.timeout)
            outcome.statusCode = Int(response.status.code)
            outcome.retryAfterSeconds = response.headers.first(name: "Retry-After").flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
            var answer = try await response.body.collect(upTo: Self.excerptBytesMax * 4)
            outcome.excerpt = answer.readString(length: min(answer.readableBytes, Self.excerptBytesMax))
        } catch let error as NIOTooManyBytesError {
            outcome.error = "the answer was longer than \(Self.excerptBytesMax * 4) bytes: \(error)"
        } catch {
            outcome.error = "\(error)".prefix(500).description
        }
        outcome.durationMillis = Int64((ContinuousClock.now - started).inMilliseconds)
        do {
            return try await self.desk.record(claimed, outcome: outcome)
        } catch {
            // The claim lapses and the delivery is sent again: at least once.
            self.logger.warning("a webhook attempt could not be recorded", metadata: ["delivery": "\(claimed.id)", "error": "\(error)"])
            return false
        }
    }

    func run() async throws {
        while await Periodic.wait(.seconds(Self.intervalSeconds)) {
            do { _ = try await self.runDue() } catch {
                self.logger.warning("webhook deliveries could not be read", metadata: ["error": "\(error)"])
            }
        }
    }
}
