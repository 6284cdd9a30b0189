import AsyncHTTPClient
import FinFlowCore
import FinFlowPayments
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import SQLKit
import Testing

/// Helpers for driving the payment API in tests: a signed-up owner whose tenant has a gateway at `gatewayURL` (`open`
/// configures Stripe there: localstripe, or a stand-in, with a webhook secret).
struct Till {
    let client: any TestClientProtocol
    let sut: TestSystem
    let user: SignedIn
    let gatewayURL: String
    static let webhookSecret = "whsec_finflow_test"
    var token: String { self.user.accessToken }

    static func open(_ client: any TestClientProtocol, _ sut: TestSystem, gatewayURL: String, tag: String = "till") async throws -> Till {
        let user = try await Fixtures.signUp(client, sut, tag: tag)
        try await sut.deliver()
        let configured = try await client.send(
            .put, "/v1/payments/gateways/stripe",
            json: Self.json(["baseUrl": gatewayURL, "credentials": ["secretKey": "sk_test_finflow"], "webhookSecret": Self.webhookSecret]),
            token: user.accessToken)
        try #require(configured.status == 200, "gateway: \(configured.body)")
        return Till(client: client, sut: sut, user: user, gatewayURL: gatewayURL)
    }

    static func json(_ object: Any) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// Creates a payment (confirmed at once when `confirm`), returning the response.
    @discardableResult
    func create(
        _ amount: Int64, currency: String = "USD", method: String? = "pm_card_visa", capture: String = "automatic", confirm: Bool = true,
        id: String? = nil, headers: HTTPFields = [:], extra: [String: Any] = [:]
    ) async throws -> (status: Int, body: [String: Any], headers: HTTPFields) {
        var object: [String: Any] = ["amount": amount, "currency": currency, "captureMethod": capture, "confirm": confirm]
        if let method { object["paymentMethod"] = ["token": method, "brand": "visa", "last4": "4242", "expMonth": 12, "expYear": 2034] }
        if let id { object["id"] = id }
        for (key, value) in extra { object[key] = value }
        return try await self.client.send(.post, "/v1/payments", json: Self.json(object), token: self.token, headers: headers)
    }

    /// POSTs to one of a payment's actions.
    @discardableResult
    func act(_ id: String, _ action: String, _ body: [String: Any]? = nil, headers: HTTPFields = [:]) async throws
        -> (status: Int, body: [String: Any], headers: HTTPFields)
    {
        try await self.client.send(.post, "/v1/payments/\(id)/\(action)", json: body.map(Self.json), token: self.token, headers: headers)
    }

    func payment(_ id: String) async throws -> [String: Any] {
        let response = try await self.client.send(.get, "/v1/payments/\(id)", token: self.token)
        try #require(response.status == 200, "payment: \(response.body)")
        return response.body
    }

    /// The actions of a payment's timeline, in order.
    func timeline(_ id: String) async throws -> [String] {
        ((try await self.payment(id))["timeline"] as? [[String: Any]] ?? []).map { $0["action"] as? String ?? "" }
    }

    /// A card made at localstripe from a test number, as a customer's browser would.
    func card(_ number: String) async throws -> String {
        let card = try await StripeGatewayTests.post(
            self.gatewayURL + "/v1/payment_methods",
            "type=card&card%5Bnumber%5D=\(number)&card%5Bexp_month%5D=12&card%5Bexp_year%5D=2034&card%5Bcvc%5D=123")
        return try #require(card["id"] as? String)
    }

    /// A signed Stripe webhook delivery of `event` to this tenant's endpoint, `ageSeconds` old.
    @discardableResult
    func webhook(_ event: [String: Any], secret: String = Till.webhookSecret, ageSeconds: Int64 = 0) async throws
        -> (status: Int, body: [String: Any], headers: HTTPFields)
    {
        let body = Self.json(event)
        let timestamp = Int64(self.sut.clock.now().timeIntervalSince1970) - ageSeconds
        let header = WebhookSignature.stripeHeader(body: Data(body.utf8), secret: secret, timestamp: timestamp)
        return try await self.client.send(
            .post, "/v1/payments/webhooks/stripe/\(self.user.tenantId)", json: body, headers: [.init("Stripe-Signature")!: header])
    }

    /// Journal entries the ledger posted for `sourceId` (a payment id, or `refund:<id>`).
    func ledgerEntries(sourceId: String) async throws -> Int {
        struct Row: Decodable { let n: Int }
        let database = try #require(self.sut.system.databases["accounting"])
        return try await database.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM journal_entries WHERE source = 'payment' AND source_id = \(bind: sourceId)").first(decoding: Row.self)?.n ?? 0
        }
    }
}
