import AsyncHTTPClient
import FinFlowCore
import Foundation
import NIOCore
import NIOHTTP1

/// Stripe's PaymentIntents API v1 over async-http-client. Every call carries the caller's idempotency key, and a call
/// that fails for want of Stripe (network error, 5xx, 429) goes again with the same key after a jittered pause, so a
/// retry can never charge twice. Declines are answers, not faults.
public struct StripeGateway: Sendable {
    public let baseURL: String
    private let secretKey: String
    private let client: HTTPClient
    private let backoff: Backoff
    private let timeout: TimeAmount
    /// Shared by every call to this Stripe account: while it is open, calls fail at once without reaching Stripe.
    public let breaker: CircuitBreaker?

    /// `baseURL` is `https://api.stripe.com` in production (or a localstripe address in tests).
    public init(
        baseURL: String, secretKey: String, client: HTTPClient = .shared, backoff: Backoff = Backoff(),
        timeout: TimeAmount = .seconds(20), breaker: CircuitBreaker? = nil
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.secretKey = secretKey
        self.client = client
        self.backoff = backoff
        self.timeout = timeout
        self.breaker = breaker
    }

    /// A call's result: the PaymentIntent as Stripe now holds it, or a refusal of the card.
    public enum Answer: Sendable, Equatable {
        case intent(StripeWire.PaymentIntent)
        case declined(code: String, message: String)
    }

    /// A call that did not get an answer Stripe meant for it.
    public enum CallError: Error, Sendable {
        /// Still failing for want of Stripe after every attempt; whether the last attempt reached it is unknown.
        case unavailable(String)
        /// Not sent: the circuit breaker is open after repeated faults, so no charge attempt can have happened
        /// (the case where failing over to another gateway is safe).
        case circuitOpen
        /// Stripe refused the request itself.
        case refused(AppError)
    }

    /// Creates a PaymentIntent, confirming it at once when `confirm` is set.
    public func create(
        amount: Int64, currency: String, paymentMethod: String?, captureMethod: CaptureMethod, description: String?,
        metadata: [String: String], confirm: Bool, returnURL: String?, idempotencyKey: String
    ) async throws -> Answer {
        let fields = StripeWire.createFields(
            amount: amount, currency: currency, paymentMethod: paymentMethod, captureMethod: captureMethod,
            description: description, metadata: metadata, confirm: confirm, returnURL: returnURL)
        return try await self.call("/v1/payment_intents", fields: fields, idempotencyKey: idempotencyKey)
    }

    public func confirm(_ id: String, idempotencyKey: String) async throws -> Answer {
        try await self.call("/v1/payment_intents/\(try Self.checked(id))/confirm", fields: [], idempotencyKey: idempotencyKey)
    }

    /// Captures `amount` of the authorized amount, or all of it.
    public func capture(_ id: String, amount: Int64?, idempotencyKey: String) async throws -> Answer {
        let fields = amount.map { [("amount_to_capture", String($0))] } ?? []
        return try await self.call("/v1/payment_intents/\(try Self.checked(id))/capture", fields: fields, idempotencyKey: idempotencyKey)
    }

    public func cancel(_ id: String, idempotencyKey: String) async throws -> Answer {
        try await self.call("/v1/payment_intents/\(try Self.checked(id))/cancel", fields: [], idempotencyKey: idempotencyKey)
    }

    public func retrieve(_ id: String) async throws -> Answer {
        try await self.call("/v1/payment_intents/\(try Self.checked(id))", method: .GET, fields: [], idempotencyKey: nil)
    }

    /// A refund as Stripe reports it.
    public struct Refund: Decodable, Sendable, Equatable {
        public let id: String
        public let amount: Int64
        public let status: String
    }

    /// Refunds `amount` of a PaymentIntent's received amount.
    public func refund(paymentIntent id: String, amount: Int64, idempotencyKey: String) async throws -> Refund {
        let sent = try await self.send(
            "/v1/refunds", method: .POST, fields: [("payment_intent", try Self.checked(id)), ("amount", String(amount))],
            idempotencyKey: idempotencyKey)
        switch sent {
        case .answered(let body): return try Self.decode(Refund.self, body)
        case .declined(let code, let message):
            throw CallError.refused(AppError.conflict(code: "refund-refused", "Stripe refused the refund: \(code): \(message)"))
        }
    }

    private func call(_ path: String, method: HTTPMethod = .POST, fields: [(String, String)], idempotencyKey: String?) async throws -> Answer {
        switch try await self.send(path, method: method, fields: fields, idempotencyKey: idempotencyKey) {
        case .answered(let body): return .intent(try Self.decode(StripeWire.PaymentIntent.self, body))
        case .declined(let code, let message): return .declined(code: code, message: message)
        }
    }

    /// A 2xx body, or the card's refusal.
    private enum Sent { case answered(Data), declined(code: String, message: String) }

    /// Sends once, then again with the same key while the failure is Stripe's (network, 5xx, 429), up to the backoff's
    /// attempts. A refusal of the request itself is thrown as `CallError.refused`.
    private func send(_ path: String, method: HTTPMethod, fields: [(String, String)], idempotencyKey: String?) async throws -> Sent {
        var request = HTTPClientRequest(url: self.baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(self.secretKey)")
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        if method == .POST {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: StripeWire.formEncoded(fields)))
        }
        var generator = SystemRandomNumberGenerator()
        var attempt = 1
        var lastProblem = ""
        while true {
            if let breaker = self.breaker, !breaker.permits() {
                // A first attempt that is refused reached nobody; a later one follows attempts that may have.
                if attempt == 1 { throw CallError.circuitOpen }
                throw CallError.unavailable("\(lastProblem); then the circuit opened")
            }
            do {
                let response = try await self.client.execute(request, timeout: self.timeout)
                let body = Data(try await response.body.collect(upTo: 1 << 20).readableBytesView)
                let status = Int(response.status.code)
                if (200..<300).contains(status) {
                    self.breaker?.succeeded()
                    return .answered(body)
                }
                switch StripeWire.failure(status: status, body: body) {
                case .declined(let code, let message):
                    self.breaker?.succeeded()
                    return .declined(code: code, message: message)
                case .refused(let error):
                    self.breaker?.succeeded()
                    throw CallError.refused(error)
                case .retryable(let message):
                    self.breaker?.failed()
                    lastProblem = message
                }
            } catch let error as CallError {
                throw error
            } catch {
                self.breaker?.failed()
                lastProblem = "\(error)"
            }
            guard attempt < self.backoff.attemptsMax else { throw CallError.unavailable(lastProblem) }
            attempt += 1
            try await Task.sleep(for: .milliseconds(self.backoff.pauseMillis(beforeAttempt: attempt, using: &generator)))
        }
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ body: Data) throws -> T {
        do { return try JSONDecoder().decode(type, from: body) } catch {
            throw CallError.unavailable("Stripe's answer could not be read: \(error)")
        }
    }

    /// Stripe ids are letters, digits and underscores; anything else would change the path.
    private static func checked(_ id: String) throws -> String {
        guard !id.isEmpty, id.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }) else {
            throw CallError.refused(AppError.invalid(code: "invalid-gateway-reference", "'\(id)' is not a Stripe id"))
        }
        return id
    }
}
