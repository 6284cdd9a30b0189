import AsyncHTTPClient
import FinFlowCore
import Foundation
import NIOCore
import NIOHTTP1

/// The provider refused one call for a reason of its own (a 4xx other than 401 and 429): the document or query it was
/// about is at fault, not the connection. `message` is the provider's own words.
struct ProviderRefusal: Error, Sendable {
    let status: Int
    let message: String
    /// The provider's error code, where it gives one (QuickBooks' `Fault.Error[].code`: `5010` is its Stale Object Error).
    var code: String? = nil

    /// QuickBooks refused a write made with a `SyncToken` older than the document's: someone changed it since.
    var stale: Bool { self.code == "5010" }
}

/// Authenticated calls to a connection's company or organisation, within the provider's limits: a bearer token kept
/// fresh by `ConnectionDesk` (a 401 refreshes it once and tries again), Xero's `xero-tenant-id` on every call, a 429
/// paused out for its `Retry-After` and tried again, a 5xx or a lost answer tried again with backoff, and the remaining
/// allowance headers (`X-MinLimit-Remaining`, `X-DayLimit-Remaining`) read so the next call waits before it is refused.
struct ProviderAPI: Sendable {
    let tenantId: String
    let connectionId: String
    let provider: AccountingProvider
    let baseURL: String
    let connections: ConnectionDesk
    let limiter: ProviderLimiter
    let client: HTTPClient
    var backoff = Backoff(baseMillis: 500, capMillis: 8_000, attemptsMax: 5)
    var timeout: TimeAmount = .seconds(30)
    /// The most an answer may hold.
    static let answerBytesMax = 32 << 20
    /// The longest `Retry-After` waited out inside one call; a longer one ends the call as unavailable.
    static let retryAfterSecondsMax = 120

    /// GETs `path` (below the API base) with `query`, answering the body of a 2xx.
    func get(_ path: String, query: [(String, String)] = [], headers: [(String, String)] = []) async throws -> Data {
        try await self.call(.GET, path, query: query, headers: headers, json: nil)
    }

    /// Sends `json` to `path` with `method` (POST, PUT), answering the body of a 2xx. A write is sent again after a
    /// lost answer only because the caller names it by an idempotency key the provider keeps (QuickBooks'
    /// `requestid`, Xero's `Idempotency-Key`), so the provider does it once.
    func send(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], headers: [(String, String)] = [], json: Data) async throws
        -> Data
    {
        try await self.call(method, path, query: query, headers: headers, json: json)
    }

    private func call(_ method: HTTPMethod, _ path: String, query: [(String, String)], headers: [(String, String)], json: Data?) async throws
        -> Data
    {
        var url = self.baseURL + path
        if !query.isEmpty { url += "?" + FormEncoding.encode(query) }
        var generator = SystemRandomNumberGenerator()
        var attempt = 1, refreshed = false
        while true {
            let token = try await self.connections.accessToken(tenantId: self.tenantId, id: self.connectionId, force: false)
            var request = HTTPClientRequest(url: url)
            request.method = method
            if let json {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: json))
            }
            request.headers.add(name: "Authorization", value: "Bearer \(token.token)")
            request.headers.add(name: "Accept", value: "application/json")
            if self.provider == .xero { request.headers.add(name: "xero-tenant-id", value: token.externalId) }
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            try await self.limiter.start()
            let answer: (status: Int, headers: HTTPHeaders, body: Data)?
            var failure = ""
            do {
                let response = try await self.client.execute(request, timeout: self.timeout)
                let body = Data(try await response.body.collect(upTo: Self.answerBytesMax).readableBytesView)
                answer = (Int(response.status.code), response.headers, body)
            } catch {
                answer = nil
                failure = "\(error)"
            }
            await self.limiter.finish()
            if let answer {
                await self.heed(answer.headers)
                switch answer.status {
                case 200..<300, 304:
                    return answer.body
                case 401 where !refreshed:
                    // The token lapsed early or was replaced elsewhere: refresh once and try again.
                    refreshed = true
                    _ = try await self.connections.accessToken(tenantId: self.tenantId, id: self.connectionId, force: true)
                    continue
                case 429:
                    let seconds = Int(answer.headers.first(name: "Retry-After")?.trimmingCharacters(in: .whitespaces) ?? "") ?? 60
                    guard seconds <= Self.retryAfterSecondsMax else {
                        throw AppError(
                            .unavailable, code: "provider-rate-limited",
                            "\(self.provider.title) asked FinFlow to wait \(seconds) s before calling again")
                    }
                    await self.limiter.pause(seconds: seconds)
                    failure = "HTTP 429"
                case 500...:
                    failure = "HTTP \(answer.status)"
                default:
                    throw ProviderRefusal(
                        status: answer.status, message: Self.message(answer.body) ?? "HTTP \(answer.status)", code: Self.code(answer.body))
                }
            }
            guard attempt < self.backoff.attemptsMax else {
                throw AppError(.unavailable, code: "provider-unavailable", "\(self.provider.title) could not be reached (\(failure)); the sync resumes later")
            }
            attempt += 1
            // After a 429 the limiter holds the next call for the `Retry-After` asked; otherwise back off.
            if failure != "HTTP 429" {
                try await Task.sleep(for: .milliseconds(self.backoff.pauseMillis(beforeAttempt: attempt, using: &generator)))
            }
        }
    }

    /// Reads what the provider says is left of its allowance: none left this minute pauses the connection for the rest
    /// of it.
    private func heed(_ headers: HTTPHeaders) async {
        if let minute = headers.first(name: "X-MinLimit-Remaining").flatMap({ Int($0) }), minute <= 0 {
            await self.limiter.pause(seconds: 60)
        }
    }

    /// QuickBooks' code for its first error (`Fault.Error[0].code`).
    static func code(_ body: Data) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let errors = (object["Fault"] as? [String: Any])?["Error"] as? [[String: Any]]
        else { return nil }
        return errors.first.flatMap { ProviderDocuments.text($0["code"]) }
    }

    /// The provider's explanation in its error answer: QuickBooks' `Fault.Error[].Detail`/`Message`, Xero's
    /// `Elements[].ValidationErrors[].Message`, `Detail` or `Message`.
    static func message(_ body: Data) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            let text = String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return text.isEmpty ? nil : text
        }
        if let fault = object["Fault"] as? [String: Any], let errors = fault["Error"] as? [[String: Any]], let first = errors.first {
            return [first["Message"] as? String, first["Detail"] as? String].compactMap { $0 }.joined(separator: ": ")
        }
        if let elements = object["Elements"] as? [[String: Any]] {
            let messages = elements.flatMap { ($0["ValidationErrors"] as? [[String: Any]] ?? []).compactMap { $0["Message"] as? String } }
            if !messages.isEmpty { return messages.joined(separator: "; ") }
        }
        return (object["Detail"] as? String) ?? (object["Message"] as? String) ?? (object["error"] as? String)
    }
}
