import AsyncHTTPClient
import FinFlowCore
import Foundation
import NIOCore
import NIOHTTP1

/// Square's Payments API v2 over async-http-client: CreatePayment with `idempotency_key` and `amount_money` (held when
/// capture is manual, `autocomplete: false`), UpdatePayment to lower a held amount before CompletePayment, CancelPayment,
/// RefundPayment, GetPayment. Calls that change money carry the caller's key (shortened to Square's 45 characters by a
/// digest when longer); CompletePayment and CancelPayment take none, so they read the payment first and do nothing when
/// it is already where they would take it, which makes their resend harmless too.
public struct SquareGateway: Sendable {
    public let baseURL: String
    private let accessToken: String
    /// The seller's location that takes the payments (Square uses the main one when nil).
    private let locationId: String?
    private let transport: GatewayTransport

    /// `baseURL` is `https://connect.squareup.com` in production, `https://connect.squareupsandbox.com` in Square's sandbox.
    public init(
        baseURL: String, accessToken: String, locationId: String? = nil, client: HTTPClient = GatewayTransport.client, backoff: Backoff = Backoff(),
        timeout: TimeAmount = .seconds(20), breaker: CircuitBreaker? = nil
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.accessToken = accessToken
        self.locationId = locationId
        self.transport = GatewayTransport(
            name: "Square", client: client, backoff: backoff, timeout: timeout, breaker: breaker, classify: SquareWire.failure)
    }

    /// A call's result: the Payment as Square now holds it, or a refusal of the card.
    public enum Answer: Sendable, Equatable {
        case payment(SquareWire.Payment)
        case declined(code: String, message: String)
    }

    public func createPayment(_ charge: GatewayCharge, idempotencyKey: String) async throws -> Answer {
        try await self.call(.POST, "/v2/payments", SquareWire.createPayment(charge, idempotencyKey: idempotencyKey, locationId: self.locationId))
    }

    public func getPayment(_ id: String) async throws -> Answer {
        try await self.call(.GET, "/v2/payments/\(try self.transport.checked(id))", Optional<Empty>.none)
    }

    /// Lowers (or raises, within Square's limits) the amount of an APPROVED payment.
    public func updateAmount(_ id: String, to amount: SquareWire.Money, versionToken: String?, idempotencyKey: String) async throws -> Answer {
        struct Body: Encodable {
            struct Change: Encodable {
                let amount_money: SquareWire.Money
                let version_token: String?
            }
            let payment: Change
            let idempotency_key: String
        }
        let body = Body(payment: .init(amount_money: amount, version_token: versionToken), idempotency_key: SquareWire.idempotencyKey(idempotencyKey))
        return try await self.call(.PUT, "/v2/payments/\(try self.transport.checked(id))", body)
    }

    public func completePayment(_ id: String, versionToken: String?) async throws -> Answer {
        struct Body: Encodable { let version_token: String? }
        return try await self.call(.POST, "/v2/payments/\(try self.transport.checked(id))/complete", Body(version_token: versionToken))
    }

    public func cancelPayment(_ id: String) async throws -> Answer {
        try await self.call(.POST, "/v2/payments/\(try self.transport.checked(id))/cancel", Empty())
    }

    public func refundPayment(_ id: String, amount: SquareWire.Money, idempotencyKey: String) async throws -> SquareWire.Refund {
        struct Body: Encodable {
            let idempotency_key: String
            let amount_money: SquareWire.Money
            let payment_id: String
        }
        let body = Body(idempotency_key: SquareWire.idempotencyKey(idempotencyKey), amount_money: amount, payment_id: try self.transport.checked(id))
        struct Answered: Decodable { let refund: SquareWire.Refund }
        switch try await self.send(.POST, "/v2/refunds", body) {
        case .answered(let data): return try self.transport.decode(Answered.self, data).refund
        case .declined(let code, let message):
            throw GatewayError.refused(AppError.conflict(code: "refund-refused", "Square refused the refund: \(code): \(message)"))
        }
    }

    private struct Empty: Encodable {}
    private struct Answered: Decodable { let payment: SquareWire.Payment }

    private func call(_ method: HTTPMethod, _ path: String, _ body: (some Encodable)?) async throws -> Answer {
        switch try await self.send(method, path, body) {
        case .answered(let data): return .payment(try self.transport.decode(Answered.self, data).payment)
        case .declined(let code, let message): return .declined(code: code, message: message)
        }
    }

    private func send(_ method: HTTPMethod, _ path: String, _ body: (some Encodable)?) async throws -> GatewayTransport.Sent {
        var request = HTTPClientRequest(url: self.baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(self.accessToken)")
        request.headers.add(name: "Square-Version", value: SquareWire.version)
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try GatewayTransport.json(body)))
        }
        return try await self.transport.send(request)
    }
}

extension SquareGateway: PaymentGateway {
    public var provider: String { "square" }

    public func authorize(_ charge: GatewayCharge, idempotencyKey: String) async throws -> GatewayPayment {
        try Self.payment(await self.createPayment(charge, idempotencyKey: idempotencyKey))
    }

    /// Takes `amountMinor` of a held payment: the amount is lowered first when less is taken, then the payment completed.
    public func capture(reference: String, amountMinor: Int64?, idempotencyKey: String) async throws -> GatewayPayment {
        guard case .payment(var payment) = try await self.getPayment(reference) else {
            throw GatewayError.refused(AppError.conflict(code: "gateway-unexpected-state", "Square declined reading payment \(reference)"))
        }
        if payment.status == "COMPLETED" { return try Self.payment(.payment(payment)) }
        if let amountMinor, amountMinor != payment.amount_money.amount, payment.status == "APPROVED" {
            let lowered = try await self.updateAmount(
                reference, to: .init(amount: amountMinor, currency: payment.amount_money.currency), versionToken: payment.version_token,
                idempotencyKey: idempotencyKey)
            guard case .payment(let updated) = lowered else { return try Self.payment(lowered, reference: reference) }
            payment = updated
        }
        return try Self.payment(await self.completePayment(reference, versionToken: payment.version_token), reference: reference)
    }

    public func cancel(reference: String, idempotencyKey: String) async throws -> GatewayPayment {
        let current = try await self.getPayment(reference)
        if case .payment(let payment) = current, payment.status == "CANCELED" { return try Self.payment(current) }
        return try Self.payment(await self.cancelPayment(reference), reference: reference)
    }

    public func refund(reference: String, amountMinor: Int64, currency: String, idempotencyKey: String) async throws -> GatewayRefund {
        let refund = try await self.refundPayment(reference, amount: .init(amount: amountMinor, currency: currency.uppercased()), idempotencyKey: idempotencyKey)
        return GatewayRefund(reference: refund.id, amountMinor: refund.amount_money.amount, accepted: ["PENDING", "COMPLETED"].contains(refund.status))
    }

    public func status(reference: String) async throws -> GatewayPayment {
        try Self.payment(await self.getPayment(reference), reference: reference)
    }

    static func payment(_ answer: Answer, reference: String? = nil) throws -> GatewayPayment {
        switch answer {
        case .declined(let code, let message):
            return GatewayPayment(reference: reference, outcome: .declined(code: code, message: message))
        case .payment(let payment):
            return GatewayPayment(reference: payment.id, outcome: try SquareWire.outcome(of: payment), feeMinor: SquareWire.fee(of: payment))
        }
    }
}
