import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import Synchronization

/// A WebSocket client of the live feed for tests: connects in the background and keeps each message's JSON.
final class SocketFeedClient: Sendable {
    private let texts = Mutex<[String]>([])
    private let ended = Mutex(false)
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let closing = Mutex<(code: String, reason: String?)?>(nil)

    private init() {}

    /// Connects to `url` (ws://…) with `headers` (the token in `Authorization`, or a browser's `Sec-WebSocket-Protocol`).
    static func connect(_ url: String, headers: HTTPFields) -> SocketFeedClient {
        let client = SocketFeedClient()
        client.task.withLock { task in
            task = Task {
                let frame = try? await WebSocketClient.connect(
                    url: url, configuration: .init(additionalHeaders: headers), logger: Logger(label: "test.ws")
                ) { inbound, _, _ in
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        guard case .text(let text) = message else { continue }
                        client.texts.withLock { $0.append(text) }
                    }
                }
                if let frame { client.closing.withLock { $0 = ("\(frame.closeCode)", frame.reason) } }
                client.ended.withLock { $0 = true }
            }
        }
        return client
    }

    /// The messages of `type` so far.
    func received(_ type: String = "anomaly") -> [[String: Any]] {
        self.texts.withLock { $0 }.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["type"] as? String == type }
    }

    var hasEnded: Bool { self.ended.withLock { $0 } }

    /// The server's close frame, once the connection ended with one: its code (`policyViolation`) and reason.
    var closeFrame: (code: String, reason: String?)? { self.closing.withLock { $0 } }

    /// Waits until `count` messages of `type` arrived, the connection ended, or `seconds` passed; answers them.
    func waitFor(_ count: Int, type: String = "anomaly", seconds: Double = 10) async throws -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(seconds)
        while self.received(type).count < count, Date() < deadline, !self.hasEnded { try await Task.sleep(for: .milliseconds(20)) }
        return self.received(type)
    }

    /// The sequence numbers of the anomalies received, in order.
    var ids: [Int64] { self.received().compactMap { ($0["id"] as? NSNumber)?.int64Value } }

    func close() { self.task.withLock { $0?.cancel() } }
}
