import FinFlowCore
import Foundation
import HTTPTypes
import SQLKit

/// Inbound webhooks: verified with the tenant's secret, recorded by the provider's event id in the same transaction
/// that applies them (a redelivery changes nothing), and applied only where the payment's status allows, so a late
/// or reordered event cannot move a payment backwards.
extension PaymentDesk {
    /// What a delivery came to.
    struct WebhookReceipt: Sendable, Encodable {
        let received: Bool
        /// Seen before: nothing was done again.
        let duplicate: Bool
        /// It moved a payment.
        let applied: Bool
    }

    static let stripeSignature = HTTPField.Name("Stripe-Signature")!
    static let squareSignature = HTTPField.Name("x-square-hmacsha256-signature")!

    /// The largest webhook body read, in bytes (Stripe's events are a few kilobytes).
    static let webhookBodyBytesMax = 256 * 1024

    /// Stripe's events about PaymentIntents (`payment_intent.*`); other types are acknowledged and ignored.
    func receiveStripe(tenantId: String, headers: HTTPFields, body: Data) async throws -> WebhookReceipt {
        let (tenantId, settings) = try await self.webhookSettings(tenantId: tenantId, provider: .stripe)
        guard let secret = settings.webhookSecret else { throw AppError.notFound("webhook endpoint") }
        try WebhookSignature.verifyStripe(header: headers[Self.stripeSignature], body: body, secret: secret, now: self.env.clock.now())
        struct Event: Decodable {
            let id: String
            let type: String
        }
        struct IntentEvent: Decodable {
            struct Payload: Decodable { let object: StripeWire.PaymentIntent }
            let data: Payload
        }
        let event = try Self.decodeEvent(Event.self, body, provider: "Stripe")
        // Only events about PaymentIntents are read further; their object must then be one.
        let intent = event.type.hasPrefix("payment_intent.") ? try Self.decodeEvent(IntentEvent.self, body, provider: "Stripe").data.object : nil
        let report: GatewayReport? = intent.map { intent in
            intent.status == "canceled" ? .canceled : ((try? StripeGateway.payment(.intent(intent))).map(GatewayReport.payment) ?? .unreadable)
        }
        return try await self.applyWebhook(
            tenantId: tenantId, provider: .stripe, eventId: event.id, eventType: event.type, reference: intent?.id, report: report)
    }

    /// Square's events about payments (`payment.created`, `payment.updated`); other types are acknowledged and ignored.
    /// The signature covers the notification URL registered at Square, so the gateway's `webhookUrl` (else the public
    /// base URL and this endpoint's path) must be that address.
    func receiveSquare(tenantId: String, headers: HTTPFields, body: Data) async throws -> WebhookReceipt {
        let (tenantId, settings) = try await self.webhookSettings(tenantId: tenantId, provider: .square)
        let notificationURL = settings.webhookURL
            ?? self.env.settings.publicBaseURL.map { ($0.hasSuffix("/") ? String($0.dropLast()) : $0) + "/v1/payments/webhooks/square/\(tenantId)" }
        guard let secret = settings.webhookSecret, let notificationURL else { throw AppError.notFound("webhook endpoint") }
        try WebhookSignature.verifySquare(header: headers[Self.squareSignature], body: body, notificationURL: notificationURL, signatureKey: secret)
        struct Event: Decodable {
            let event_id: String
            let type: String
        }
        struct PaymentEvent: Decodable {
            struct Payload: Decodable {
                struct Object: Decodable { let payment: SquareWire.Payment }
                let object: Object
            }
            let data: Payload
        }
        let event = try Self.decodeEvent(Event.self, body, provider: "Square")
        let payment = event.type.hasPrefix("payment.") ? try Self.decodeEvent(PaymentEvent.self, body, provider: "Square").data.object.payment : nil
        let report: GatewayReport? = payment.map { payment in
            payment.status == "CANCELED" ? .canceled : ((try? SquareGateway.payment(.payment(payment))).map(GatewayReport.payment) ?? .unreadable)
        }
        return try await self.applyWebhook(
            tenantId: tenantId, provider: .square, eventId: event.event_id, eventType: event.type, reference: payment?.id, report: report)
    }

    /// PayPal's events about orders and their payments (`CHECKOUT.ORDER.*`, `PAYMENT.CAPTURE.*`,
    /// `PAYMENT.AUTHORIZATION.*`), verified by PayPal itself (its verify-signature call, with the tenant's webhook id);
    /// other types are acknowledged and ignored. An approved order is completed (captured or authorized) at once.
    func receivePayPal(tenantId: String, headers: HTTPFields, body: Data) async throws -> WebhookReceipt {
        let (tenantId, settings) = try await self.webhookSettings(tenantId: tenantId, provider: .paypal)
        guard let webhookId = settings.webhookSecret, let gateway = self.gateways.client(tenantId: tenantId, settings) as? PayPalGateway else {
            throw AppError.notFound("webhook endpoint")
        }
        let verified: Bool
        do { verified = try await gateway.verifyWebhook(headers: headers, webhookId: webhookId, event: body) } catch {
            // PayPal could not be asked: the delivery is refused for now, and PayPal delivers it again.
            throw Self.problem(error, sent: false)
        }
        guard verified else { throw AppError(.unauthenticated, code: "invalid-webhook-signature", "PayPal did not verify this delivery") }
        struct Event: Decodable {
            let id: String
            let event_type: String
        }
        struct OrderEvent: Decodable { let resource: PayPalWire.Order }
        struct PaymentEvent: Decodable { let resource: PayPalWire.Payment }
        let event = try Self.decodeEvent(Event.self, body, provider: "PayPal")
        var reference: String?
        var report: GatewayReport?
        if event.event_type.hasPrefix("CHECKOUT.ORDER.") {
            let order = try Self.decodeEvent(OrderEvent.self, body, provider: "PayPal").resource
            reference = order.id
            if order.status == "APPROVED" {
                // The buyer approved: take the payment now, as the order's intent says.
                do { report = .payment(try await gateway.status(reference: order.id)) } catch { throw Self.problem(error, sent: true) }
            } else {
                report = (try? PayPalGateway.payment(order, declined: nil, reference: order.id)).map(GatewayReport.payment) ?? .unreadable
            }
        } else if event.event_type.hasPrefix("PAYMENT.CAPTURE.") || event.event_type.hasPrefix("PAYMENT.AUTHORIZATION.") {
            let payment = try Self.decodeEvent(PaymentEvent.self, body, provider: "PayPal").resource
            reference = payment.orderId
            if event.event_type.hasPrefix("PAYMENT.AUTHORIZATION.") {
                report = payment.status == "VOIDED" ? .canceled
                    : payment.status == "CREATED" ? .payment(GatewayPayment(reference: reference, outcome: .authorized)) : .unreadable
            } else {
                report = (try? PayPalWire.outcome(ofCapture: payment)).map {
                    .payment(GatewayPayment(reference: reference, outcome: $0, feeMinor: PayPalWire.fee(of: payment)))
                } ?? .unreadable
            }
        }
        return try await self.applyWebhook(
            tenantId: tenantId, provider: .paypal, eventId: event.id, eventType: event.event_type, reference: reference, report: report)
    }

    /// What a webhook says about a payment.
    enum GatewayReport: Sendable {
        case payment(GatewayPayment)
        case canceled
        /// In a state this code does not read: recorded, not applied.
        case unreadable
    }

    /// The tenant's settings for `provider` (an unknown tenant or provider is a 404, as for any unknown address).
    private func webhookSettings(tenantId: String, provider: GatewayProvider) async throws -> (String, GatewaySettings) {
        guard UUID(uuidString: tenantId) != nil else { throw AppError.notFound("webhook endpoint") }
        let tenantId = tenantId.lowercased()
        guard let settings = try await self.gateways.settings(tenantId: tenantId).first(where: { $0.provider == provider }) else {
            throw AppError.notFound("webhook endpoint")
        }
        return (tenantId, settings)
    }

    private static func decodeEvent<Event: Decodable>(_ type: Event.Type, _ body: Data, provider: String) throws -> Event {
        do { return try JSONDecoder().decode(type, from: body) } catch {
            throw AppError.invalid(code: "invalid-webhook-event", "the body is not a \(provider) event object")
        }
    }

    /// Records the event by its id (a redelivery finds it and changes nothing) and applies its report to the payment
    /// with gateway reference `reference`, where the payment's status allows, all in one transaction.
    private func applyWebhook(
        tenantId: String, provider: GatewayProvider, eventId: String, eventType: String, reference: String?, report: GatewayReport?
    ) async throws -> WebhookReceipt {
        guard (1...255).contains(eventId.count), (1...255).contains(eventType.count) else {
            throw AppError.invalid(code: "invalid-webhook-event", "the event's id or type is out of bounds")
        }
        let kind = self.kind
        let now = self.now
        let source = "webhook:\(provider.rawValue)"
        return try await self.database.tenantTransaction(tenantId: tenantId) { db in
            // Recorded first: a concurrent redelivery waits on this row and then finds it.
            struct Inserted: Decodable { let event_id: String }
            let inserted = try await db.raw("""
                INSERT INTO payment_webhooks (tenant_id, provider, event_id, event_type, payment_id, outcome, received_at_ms)
                VALUES (\(bind: tenantId), \(bind: provider.rawValue), \(bind: eventId), \(bind: eventType), NULL, 'received', \(bind: now))
                ON CONFLICT DO NOTHING RETURNING event_id
                """).first(decoding: Inserted.self)
            guard inserted != nil else { return WebhookReceipt(received: true, duplicate: true, applied: false) }
            guard let reference, let report,
                let row = try await PaymentStore.payment(tenantId: tenantId, gateway: provider.rawValue, reference: reference, kind: kind, db: db)
            else {
                try await Self.recordWebhook(tenantId: tenantId, provider: provider, eventId: eventId, paymentId: nil, outcome: "ignored", db: db)
                return WebhookReceipt(received: true, duplicate: false, applied: false)
            }
            let applied: Bool
            switch report {
            case .canceled: applied = try await self.cancelReported(row, source: source, detail: eventId, db: db)
            case .payment(let answer): applied = try await self.observe(answer, row: row, source: source, actor: provider.rawValue, db: db)
            case .unreadable: applied = false
            }
            try await Self.recordWebhook(
                tenantId: tenantId, provider: provider, eventId: eventId, paymentId: row.id, outcome: applied ? "applied" : "ignored", db: db)
            return WebhookReceipt(received: true, duplicate: false, applied: applied)
        }
    }

    private static func recordWebhook(
        tenantId: String, provider: GatewayProvider, eventId: String, paymentId: String?, outcome: String, db: any SQLDatabase
    ) async throws {
        try await db.raw("""
            UPDATE payment_webhooks SET payment_id = \(bind: paymentId), outcome = \(bind: outcome)
            WHERE tenant_id = \(bind: tenantId) AND provider = \(bind: provider.rawValue) AND event_id = \(bind: eventId)
            """).run()
    }

    /// A cancel the gateway reports (made at the gateway, or an authorization that expired).
    func cancelReported(_ row: PaymentRow, source: String, detail: String, db: any SQLDatabase) async throws -> Bool {
        var row = row
        let before = row
        guard let next = try? row.state.applying(.cancel) else { return false }
        row.adopt(next)
        row.next_action_url = nil
        try await self.write(row, before: before, events: [
            self.event(row, action: source, from: before.status, amount: nil, key: nil, detail: "canceled at the gateway (\(detail))", actor: source),
        ], db: db)
        return true
    }
}
