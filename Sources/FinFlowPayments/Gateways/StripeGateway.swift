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
    private let transport: GatewayTransport
    /// Shared by every call to this Stripe account: while it is open, calls fail at once without reaching Stripe.
    public var breaker: CircuitBreaker? { self.transport.breaker }

    /// `baseURL` is `https://api.stripe.com` in production (or a localstripe address in tests).
    public init(
        baseURL: String, secretKey: String, client: HTTPClient = GatewayTransport.client, backoff: Backoff = Backoff(),
        timeout: TimeAmount = .seconds(20), breaker: CircuitBreaker? = nil
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.secretKey = secretKey
        self.transport = GatewayTransport(
            name: "Stripe", client: client, backoff: backoff, timeout: timeout, breaker: breaker, classify: StripeWire.failure)
    }

    /// A call's result: the PaymentIntent as Stripe now holds it, or a refusal of the card.
    public enum Answer: Sendable, Equatable {
        case intent(StripeWire.PaymentIntent)
        case declined(code: String, message: String)
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
        try await self.call("/v1/payment_intents/\(try self.checked(id))/confirm", fields: [], idempotencyKey: idempotencyKey)
    }

    /// Captures `amount` of the authorized amount, or all of it.
    public func capture(_ id: String, amount: Int64?, idempotencyKey: String) async throws -> Answer {
        let fields = amount.map { [("amount_to_capture", String($0))] } ?? []
        return try await self.call("/v1/payment_intents/\(try self.checked(id))/capture", fields: fields, idempotencyKey: idempotencyKey)
    }

    public func cancel(_ id: String, idempotencyKey: String) async throws -> Answer {
        try await self.call("/v1/payment_intents/\(try self.checked(id))/cancel", fields: [], idempotencyKey: idempotencyKey)
    }

    public func retrieve(_ id: String) async throws -> Answer {
        try await self.call("/v1/payment_intents/\(try self.checked(id))", method: .GET, fields: [], idempotencyKey: nil)
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
            "/v1/refunds", method: .POST, fields: [("payment_intent", try self.checked(id)), ("amount", String(amount))],
            idempotencyKey: idempotencyKey)
        switch sent {
        case .answered(let body): return try self.transport.decode(Refund.self, body)
        case .declined(let code, let message):
            throw GatewayError.refused(AppError.conflict(code: "refund-refused", "Stripe refused the refund: \(code): \(message)"))
        }
    }

    private func call(_ path: String, method: HTTPMethod = .POST, fields: [(String, String)], idempotencyKey: String?) async throws -> Answer {
        switch try await self.send(path, method: method, fields: fields, idempotencyKey: idempotencyKey) {
        case .answered(let body): return .intent(try self.transport.decode(StripeWire.PaymentIntent.self, body))
        case .declined(let code, let message): return .declined(code: code, message: message)
        }
    }

    /// Sends the call through the shared transport (retries with the same key, breaker, declines as answers).
    private func send(
        _ path: String, method: HTTPMethod, fields: [(String, String)], idempotencyKey: String?
    ) async throws -> GatewayTransport.Sent {
        var request = HTTPClientRequest(url: self.baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(self.secretKey)")
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        if method == .POST {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: StripeWire.formEncoded(fields)))
        }
        return try await self.transport.send(request)
    }

    private func checked(_ id: String) throws -> String { try self.transport.checked(id) }
}
