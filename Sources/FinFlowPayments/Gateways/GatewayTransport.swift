import AsyncHTTPClient
import FinFlowCore
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// How a gateway's error answer is to be treated.
public enum GatewayFailure: Sendable, Equatable {
    /// The card or its authentication was refused: an answer, not a fault; the payment needs another method.
    case declined(code: String, message: String)
    /// Worth the same request again, with the same idempotency key (5xx, 429, lock timeouts).
    case retryable(message: String)
    /// Our request or configuration is wrong; retrying will not help.
    case refused(AppError)

    public static func == (a: GatewayFailure, b: GatewayFailure) -> Bool {
        switch (a, b) {
        case (.declined(let x, let y), .declined(let z, let w)): x == z && y == w
        case (.retryable(let x), .retryable(let y)): x == y
        case (.refused(let x), .refused(let y)): x.code == y.code && x.kind == y.kind
        default: false
        }
    }
}

/// The HTTP leg every adapter shares: one request sent, then again (the same request, so the same idempotency key)
/// while the failure is the gateway's (network, 5xx, 429), after a pause with full jitter, up to the backoff's attempts;
/// the circuit breaker consulted before each attempt and told each outcome. Declines are answers, not faults.
public struct GatewayTransport: Sendable {
    /// The provider's name in messages ("Stripe").
    let name: String
    let client: HTTPClient
    let backoff: Backoff
    let timeout: TimeAmount
    let breaker: CircuitBreaker?
    /// Reads an error answer (status, body) the provider's way.
    let classify: @Sendable (Int, Data) -> GatewayFailure

    /// A 2xx body, or the card's refusal.
    enum Sent: Sendable {
        case answered(Data)
        case declined(code: String, message: String)
    }

    /// The largest answer read.
    static let answerBytesMax = 1 << 20

    /// The client gateway calls go through by default. The pool does not retry a failed connection by itself (it would
    /// until the request's deadline, so a refused connection took the whole timeout): this transport's own attempts
    /// decide, and a gateway that takes no connection is known at once. No redirects: a payment call is never resent
    /// elsewhere.
    public static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(5))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    func send(_ request: HTTPClientRequest) async throws -> Sent {
        var generator = SystemRandomNumberGenerator()
        var attempt = 1
        var lastProblem = ""
        // Whether any attempt may have reached the gateway; while none has, a failure is `unreachable` (nothing sent).
        var maybeSent = false
        while true {
            if let breaker = self.breaker, !breaker.permits() {
                // A first attempt that is refused reached nobody; a later one follows attempts that may have.
                if attempt == 1 { throw GatewayError.circuitOpen }
                if !maybeSent { throw GatewayError.unreachable("\(lastProblem); then the circuit opened") }
                throw GatewayError.unavailable("\(lastProblem); then the circuit opened")
            }
            do {
                let response = try await self.client.execute(request, timeout: self.timeout)
                maybeSent = true
                let body = Data(try await response.body.collect(upTo: Self.answerBytesMax).readableBytesView)
                let status = Int(response.status.code)
                if (200..<300).contains(status) {
                    self.breaker?.succeeded()
                    return .answered(body)
                }
                switch self.classify(status, body) {
                case .declined(let code, let message):
                    self.breaker?.succeeded()
                    return .declined(code: code, message: message)
                case .refused(let error):
                    self.breaker?.succeeded()
                    throw GatewayError.refused(error)
                case .retryable(let message):
                    self.breaker?.failed()
                    lastProblem = message
                }
            } catch let error as GatewayError {
                throw error
            } catch {
                self.breaker?.failed()
                lastProblem = "\(error)"
                if !Self.neverConnected(error) { maybeSent = true }
            }
            guard attempt < self.backoff.attemptsMax else {
                throw maybeSent ? GatewayError.unavailable(lastProblem) : GatewayError.unreachable(lastProblem)
            }
            attempt += 1
            try await Task.sleep(for: .milliseconds(self.backoff.pauseMillis(beforeAttempt: attempt, using: &generator)))
        }
    }

    /// Whether `error` shows that no connection was made (refused, name not resolved, connect timeout), so the request
    /// cannot have reached the gateway.
    static func neverConnected(_ error: any Error) -> Bool {
        switch error {
        case is NIOConnectionError: return true
        case let error as IOError: return error.errnoCode == ECONNREFUSED
        case let error as HTTPClientError: return error == .connectTimeout
        case let error as ChannelError:
            if case .connectTimeout = error { return true }
            return false
        default: return false
        }
    }

    /// `value` as JSON with sorted keys, so the same request is always the same bytes (a resend included).
    static func json(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try encoder.encode(value)
    }

    /// `body` decoded as `type`; an answer that cannot be read is a fault of the gateway's (the call may have worked).
    func decode<T: Decodable>(_ type: T.Type, _ body: Data) throws -> T {
        do { return try JSONDecoder().decode(type, from: body) } catch {
            throw GatewayError.unavailable("\(self.name)'s answer could not be read: \(error)")
        }
    }

    /// A gateway's own id, checked before it goes into a path: letters, digits, `_` and `-` only.
    func checked(_ id: String) throws -> String {
        guard (1...200).contains(id.count), id.allSatisfy({ $0 == "_" || $0 == "-" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }) else {
            throw GatewayError.refused(AppError.invalid(code: "invalid-gateway-reference", "'\(id)' is not a \(self.name) id"))
        }
        return id
    }
}
