import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization

/// A Server-Sent Events client for tests: reads a stream in the background and keeps each event's id, type and data.
final class EventStreamClient: Sendable {
    struct Message: Sendable, Equatable {
        let id: String?
        let event: String?
        let data: String
    }

    private let messages = Mutex<[Message]>([])
    private let ended = Mutex(false)
    private let task = Mutex<Task<Void, Never>?>(nil)
    let status: Int

    private init(status: Int) { self.status = status }

    /// Opens `url` with the bearer `token` (and `lastEventId`), reading until `close()`.
    static func open(_ url: String, token: String, lastEventId: String? = nil) async throws -> EventStreamClient {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "text/event-stream")
        if let lastEventId { request.headers.add(name: "Last-Event-ID", value: lastEventId) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let client = EventStreamClient(status: Int(response.status.code))
        let body = response.body
        client.task.withLock { task in
            task = Task {
                var buffer = ""
                do {
                    for try await chunk in body {
                        buffer += String(buffer: chunk)
                        while let end = buffer.range(of: "\n\n") {
                            let block = String(buffer[..<end.lowerBound])
                            buffer = String(buffer[end.upperBound...])
                            client.take(block)
                        }
                    }
                } catch {}
                client.ended.withLock { $0 = true }
            }
        }
        return client
    }

    private func take(_ block: String) {
        var id: String?, event: String?, data: [String] = []
        for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
            if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
            if line.hasPrefix("data: ") { data.append(String(line.dropFirst(6))) }
        }
        guard event != nil || !data.isEmpty else { return }
        self.messages.withLock { $0.append(Message(id: id, event: event, data: data.joined(separator: "\n"))) }
    }

    /// The messages of type `event` so far.
    func received(_ event: String = "anomaly") -> [Message] { self.messages.withLock { $0.filter { $0.event == event } } }

    var hasEnded: Bool { self.ended.withLock { $0 } }

    /// Waits until `count` messages of type `event` arrived (or `seconds` passed); answers them.
    func waitFor(_ count: Int, event: String = "anomaly", seconds: Double = 10) async throws -> [Message] {
        let deadline = Date().addingTimeInterval(seconds)
        while self.received(event).count < count, Date() < deadline, !self.hasEnded { try await Task.sleep(for: .milliseconds(20)) }
        return self.received(event)
    }

    func close() { self.task.withLock { $0?.cancel() } }
}
