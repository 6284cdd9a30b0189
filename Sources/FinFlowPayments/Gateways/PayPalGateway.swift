import AsyncHTTPClient
import FinFlowCore
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import Synchronization

/// PayPal's Orders v2 and Payments v2 over async-http-client, authenticated by OAuth2 client credentials (the access
/// token cached until shortly before it expires, and fetched again once when PayPal refuses it). An order is created
/// with intent CAPTURE or AUTHORIZE and the customer's payment source: a vaulted PayPal wallet (`vault_id`, the token
/// FinFlow keeps), which PayPal processes at once, or `paypal` alone, which sends the buyer to approve the order
/// (`requires_action` with PayPal's approval address) and is completed by the next sync. Every call that moves money
/// carries the caller's key as `PayPal-Request-Id`; the payment's reference is the order id, and captures, voids and
/// refunds find their authorization or capture in the order.
public struct PayPalGateway: Sendable {
    public let baseURL: String
    private let clientId: String
    private let clientSecret: String
    private let transport: GatewayTransport

    /// Access tokens by gateway account, shared by every gateway value of the process.
    private static let tokens = Mutex<[String: (token: String, expiresAt: Date)]>([:])

    /// `baseURL` is `https://api-m.paypal.com` in production, `https://api-m.sandbox.paypal.com` in PayPal's sandbox.
    public init(
        baseURL: String, clientId: String, clientSecret: String, client: HTTPClient = GatewayTransport.client, backoff: Backoff = Backoff(),
        timeout: TimeAmount = .seconds(20), breaker: CircuitBreaker? = nil
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.clientId = clientId
        self.clientSecret = clientSecret
        self.transport = GatewayTransport(
            name: "PayPal", client: client, backoff: backoff, timeout: timeout, breaker: breaker, classify: PayPalWire.failure)
    }

    /// The token that asks the buyer to approve the order at PayPal instead of charging a vaulted wallet.
    public static let approvalToken = "paypal"

    private var tokenKey: String { "\(self.baseURL)|\(self.clientId)|\(Digest.sha256Hex(self.clientSecret))" }

    /// A valid access token, from the cache or fetched (`POST /v1/oauth2/token`, client credentials).
    private func accessToken(refresh: Bool) async throws -> String {
        let key = self.tokenKey
        if !refresh, let cached = Self.tokens.withLock({ $0[key] }), cached.expiresAt > Date() { return cached.token }
        var request = HTTPClientRequest(url: self.baseURL + "/v1/oauth2/token")
        request.method = .POST
        let basic = Data("\(self.clientId):\(self.clientSecret)".utf8).base64EncodedString()
        request.headers.add(name: "Authorization", value: "Basic \(basic)")
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(string: "grant_type=client_credentials"))
        struct Granted: Decodable {
            let access_token: String
            let expires_in: Int
        }
        guard case .answered(let body) = try await self.transport.send(request) else {
            throw GatewayError.refused(AppError(.unavailable, code: "gateway-credentials-rejected", "PayPal refused the client credentials"))
        }
        let granted = try self.transport.decode(Granted.self, body)
        // A minute's margin, so a token is not used in its last seconds.
        let expiresAt = Date().addingTimeInterval(TimeInterval(max(0, granted.expires_in - 60)))
        Self.tokens.withLock { $0[key] = (granted.access_token, expiresAt) }
        return granted.access_token
    }

    /// Sends an authorized call; a refused token is fetched again once.
    private func send(_ method: HTTPMethod, _ path: String, body: Data?, requestId: String?) async throws -> GatewayTransport.Sent {
        func attempt(refresh: Bool) async throws -> GatewayTransport.Sent {
            var request = HTTPClientRequest(url: self.baseURL + path)
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer \(try await self.accessToken(refresh: refresh))")
            request.headers.add(name: "Accept", value: "application/json")
            request.headers.add(name: "Prefer", value: "return=representation")
            if let requestId { request.headers.add(name: "PayPal-Request-Id", value: requestId) }
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: body))
            }
            return try await self.transport.send(request)
        }
        do { return try await attempt(refresh: false) } catch GatewayError.refused(let refusal) where refusal.code == "gateway-credentials-rejected" {
            return try await attempt(refresh: true)
        }
    }

    /// An order-returning call: the order, or the payer's refusal.
    private func order(_ method: HTTPMethod, _ path: String, body: Data?, requestId: String?) async throws -> (PayPalWire.Order?, GatewayOutcome?) {
        switch try await self.send(method, path, body: body, requestId: requestId) {
        case .answered(let data): return (try self.transport.decode(PayPalWire.Order.self, data), nil)
        case .declined(let code, let message): return (nil, .declined(code: code, message: message))
        }
    }

    public func getOrder(_ id: String) async throws -> PayPalWire.Order {
        guard case (let order?, _) = try await self.order(.GET, "/v2/checkout/orders/\(try self.transport.checked(id))", body: nil, requestId: nil) else {
            throw GatewayError.refused(AppError.conflict(code: "gateway-unexpected-state", "PayPal declined reading order \(id)"))
        }
        return order
    }

    /// Completes an order the buyer approved: captures or authorizes it as its intent says.
    private func complete(_ order: PayPalWire.Order) async throws -> GatewayPayment {
        let action = order.intent == "AUTHORIZE" ? "authorize" : "capture"
        let (completed, declined) = try await self.order(
            .POST, "/v2/checkout/orders/\(try self.transport.checked(order.id))/\(action)", body: Data("{}".utf8), requestId: "\(order.id)-\(action)")
        return try Self.payment(completed, declined: declined, reference: order.id)
    }

    static func payment(_ order: PayPalWire.Order?, declined: GatewayOutcome?, reference: String?) throws -> GatewayPayment {
        guard let order else { return GatewayPayment(reference: reference, outcome: declined ?? .declined(code: "declined", message: "PayPal declined")) }
        return GatewayPayment(reference: order.id, outcome: try PayPalWire.outcome(of: order), feeMinor: PayPalWire.fee(of: order.capture))
    }

    /// Verifies a webhook delivery with PayPal (`POST /v1/notifications/verify-webhook-signature`): true when PayPal
    /// answers SUCCESS for the tenant's webhook id.
    public func verifyWebhook(headers: HTTPFields, webhookId: String, event: Data) async throws -> Bool {
        let names = ["auth_algo": "paypal-auth-algo", "cert_url": "paypal-cert-url", "transmission_id": "paypal-transmission-id",
                     "transmission_sig": "paypal-transmission-sig", "transmission_time": "paypal-transmission-time"]
        var fields: [String: String] = [:]
        for (field, header) in names {
            guard let value = HTTPField.Name(header).flatMap({ headers[$0] }), !value.isEmpty, value.count <= 2_000 else { return false }
            fields[field] = value
        }
        // The event goes back verbatim: PayPal checks the signature over the bytes it sent.
        let head = try GatewayTransport.json(fields.merging(["webhook_id": webhookId]) { $1 })
        var body = Data(head.dropLast())
        body.append(Data(#","webhook_event":"#.utf8))
        body.append(event)
        body.append(Data("}".utf8))
        struct Verdict: Decodable { let verification_status: String }
        guard case .answered(let data) = try await self.send(.POST, "/v1/notifications/verify-webhook-signature", body: body, requestId: nil) else {
            return false
        }
        return try self.transport.decode(Verdict.self, data).verification_status == "SUCCESS"
    }
}

extension PayPalGateway: PaymentGateway {
    public var provider: String { "paypal" }

    public func authorize(_ charge: GatewayCharge, idempotencyKey: String) async throws -> GatewayPayment {
        struct Unit: Encodable {
            let reference_id: String?
            let custom_id: String?
            let description: String?
            let amount: PayPalWire.Money
        }
        struct Context: Encodable {
            let return_url: String?
            let user_action: String
        }
        struct Wallet: Encodable {
            let vault_id: String?
            let experience_context: Context?
        }
        struct Source: Encodable { let paypal: Wallet }
        struct Body: Encodable {
            let intent: String
            let purchase_units: [Unit]
            let payment_source: Source
        }
        let approval = charge.paymentMethodToken == Self.approvalToken
        let paymentId = charge.metadata["finflow_payment_id"].map { String($0.prefix(127)) }
        let body = Body(
            intent: charge.captureMethod == .manual ? "AUTHORIZE" : "CAPTURE",
            purchase_units: [Unit(
                reference_id: paymentId, custom_id: paymentId, description: charge.description.map { String($0.prefix(127)) },
                amount: try PayPalWire.money(charge.amountMinor, currency: charge.currency))],
            payment_source: Source(paypal: approval
                ? Wallet(vault_id: nil, experience_context: Context(return_url: charge.returnURL, user_action: "PAY_NOW"))
                : Wallet(vault_id: charge.paymentMethodToken, experience_context: nil)))
        let (order, declined) = try await self.order(.POST, "/v2/checkout/orders", body: try GatewayTransport.json(body), requestId: idempotencyKey)
        // A vaulted wallet can come back APPROVED rather than done: completing it is part of taking the payment.
        if let order, order.status == "APPROVED" { return try await self.complete(order) }
        return try Self.payment(order, declined: declined, reference: nil)
    }

    /// Captures `amountMinor` (all when nil) of the order's authorization, as its final capture.
    public func capture(reference: String, amountMinor: Int64?, idempotencyKey: String) async throws -> GatewayPayment {
        let order = try await self.getOrder(reference)
        if let capture = order.capture { return GatewayPayment(reference: order.id, outcome: try PayPalWire.outcome(ofCapture: capture), feeMinor: PayPalWire.fee(of: capture)) }
        guard let authorization = order.authorization else { return try Self.payment(order, declined: nil, reference: reference) }
        struct Body: Encodable {
            let amount: PayPalWire.Money?
            let final_capture: Bool
        }
        let amount = try amountMinor.map { minor in try PayPalWire.money(minor, currency: authorization.amount?.currency_code ?? "USD") }
        let sent = try await self.send(
            .POST, "/v2/payments/authorizations/\(try self.transport.checked(authorization.id))/capture",
            body: try GatewayTransport.json(Body(amount: amount, final_capture: true)), requestId: idempotencyKey)
        switch sent {
        case .answered(let data):
            let capture = try self.transport.decode(PayPalWire.Payment.self, data)
            return GatewayPayment(reference: order.id, outcome: try PayPalWire.outcome(ofCapture: capture), feeMinor: PayPalWire.fee(of: capture))
        case .declined(let code, let message):
            return GatewayPayment(reference: order.id, outcome: .declined(code: code, message: message))
        }
    }

    /// Voids the order's authorization; an order the buyer never approved has nothing to void and lapses at PayPal.
    public func cancel(reference: String, idempotencyKey: String) async throws -> GatewayPayment {
        let order = try await self.getOrder(reference)
        if let authorization = order.authorization, authorization.status == "CREATED" {
            _ = try await self.send(
                .POST, "/v2/payments/authorizations/\(try self.transport.checked(authorization.id))/void", body: nil, requestId: idempotencyKey)
        }
        return GatewayPayment(reference: order.id, outcome: .failed(code: "canceled", message: "voided at PayPal"))
    }

    public func refund(reference: String, amountMinor: Int64, currency: String, idempotencyKey: String) async throws -> GatewayRefund {
        let order = try await self.getOrder(reference)
        guard let capture = order.capture else {
            throw GatewayError.refused(AppError.conflict(code: "refund-refused", "PayPal order \(reference) holds no capture to refund"))
        }
        struct Body: Encodable { let amount: PayPalWire.Money }
        let sent = try await self.send(
            .POST, "/v2/payments/captures/\(try self.transport.checked(capture.id))/refund",
            body: try GatewayTransport.json(Body(amount: try PayPalWire.money(amountMinor, currency: currency))), requestId: idempotencyKey)
        guard case .answered(let data) = sent else {
            throw GatewayError.refused(AppError.conflict(code: "refund-refused", "PayPal refused the refund"))
        }
        let refund = try self.transport.decode(PayPalWire.Refund.self, data)
        return GatewayRefund(
            reference: refund.id, amountMinor: refund.amount.flatMap(PayPalWire.minor) ?? amountMinor,
            accepted: ["COMPLETED", "PENDING"].contains(refund.status))
    }

    /// Where the order stands; one the buyer has approved is completed now (captured or authorized).
    public func status(reference: String) async throws -> GatewayPayment {
        let order = try await self.getOrder(reference)
        if order.status == "APPROVED" { return try await self.complete(order) }
        return try Self.payment(order, declined: nil, reference: reference)
    }
}
