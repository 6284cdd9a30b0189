import FinFlowCore
import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// A test server for PayPal's REST APIs, written to PayPal's published reference: OAuth2 client credentials
/// (`POST /v1/oauth2/token` with HTTP Basic, answering `access_token` and `expires_in`), Orders v2 (create with
/// `intent` and `payment_source.paypal`, `PayPal-Request-Id` idempotency, `PAYER_ACTION_REQUIRED` with a `payer-action`
/// link, capture and authorize of an approved order), Payments v2 (capture and void of an authorization, refund of a
/// capture), amounts as decimal strings, error bodies `{name, message, details: [{issue, description}]}`, and the
/// webhook verify-signature call. Vault ids: `vault-ok` is charged at once, `vault-declined` answers 422
/// `INSTRUMENT_DECLINED`; the token `paypal` sends the buyer to approve (`POST /test/approve/{orderId}` approves).
final class PayPalSandbox: Sendable {
    static let clientId = "finflow-client"
    static let clientSecret = "finflow-secret"
    static let webhookId = "WH-FINFLOW-1"

    struct StoredOrder {
        var id: String
        var intent: String
        var status: String
        var amount: [String: String]
        var authorizationId: String?
        var authorizationStatus: String?
        var captureId: String?
        var captureAmount: [String: String]?
        var refunded: Int64 = 0
    }

    struct State {
        var orders: [String: StoredOrder] = [:]
        var requests: [String: String] = [:]
        var tokensIssued = 0
        var validTokens: Set<String> = []
        var signedTransmissions: Set<String> = []
        var createCalls = 0
        var count = 0
    }

    let state = Mutex(State())

    var tokensIssued: Int { self.state.withLock { $0.tokensIssued } }
    var orderCount: Int { self.state.withLock { $0.orders.count } }
    func order(_ id: String) -> StoredOrder? { self.state.withLock { $0.orders[id] } }
    /// Makes every issued token invalid, as an expiry would.
    func expireTokens() { self.state.withLock { $0.validTokens.removeAll() } }

    /// Headers of a delivery that PayPal's verify-signature call will answer SUCCESS for.
    func sign() -> [String: String] {
        let transmission = UUID().uuidString
        self.state.withLock { _ = $0.signedTransmissions.insert(transmission) }
        return [
            "PAYPAL-AUTH-ALGO": "SHA256withRSA", "PAYPAL-CERT-URL": "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1",
            "PAYPAL-TRANSMISSION-ID": transmission, "PAYPAL-TRANSMISSION-SIG": "sig-\(transmission)",
            "PAYPAL-TRANSMISSION-TIME": "2026-12-02T10:00:00Z",
        ]
    }

    static func error(_ status: Int, _ name: String, _ issue: String?, _ description: String) -> StandIn.Failure {
        var object: [String: Any] = ["name": name, "message": description, "debug_id": "dbg-finflow"]
        if let issue { object["details"] = [["issue": issue, "description": description]] }
        return StandIn.Failure(status: .init(code: status), body: Till.json(object))
    }

    var router: Router<BasicRequestContext> {
        let router = Router()
        router.post("/v1/oauth2/token") { request, _ -> Response in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 12))
            let expected = "Basic " + Data("\(Self.clientId):\(Self.clientSecret)".utf8).base64EncodedString()
            guard request.headers[.authorization] == expected, body == "grant_type=client_credentials" else {
                return StandIn.response(.unauthorized, #"{"error":"invalid_client","error_description":"Client Authentication failed"}"#)
            }
            let token = self.state.withLock { state in
                state.tokensIssued += 1
                let token = "A21AA-token-\(state.tokensIssued)"
                state.validTokens.insert(token)
                return token
            }
            return StandIn.response(.ok, Till.json(["access_token": token, "token_type": "Bearer", "expires_in": 32_400, "app_id": "APP-FINFLOW"]))
        }
        router.post("/v2/checkout/orders") { request, _ in try await self.guarded(request) { body, requestId in try self.create(body, requestId: requestId) } }
        router.get("/v2/checkout/orders/{id}") { request, context in
            try await self.guarded(request) { _, _ in try self.withOrder(context.parameters.get("id")) { _ in (.ok, nil) } }
        }
        for action in ["capture", "authorize"] {
            router.post("/v2/checkout/orders/{id}/\(action)") { request, context in
                try await self.guarded(request) { _, requestId in
                    try self.remembered(requestId) { try self.complete(context.parameters.get("id"), action: action) }
                }
            }
        }
        router.post("/v2/payments/authorizations/{id}/capture") { request, context in
            try await self.guarded(request) { body, requestId in
                try self.remembered(requestId) { try self.captureAuthorization(context.parameters.get("id") ?? "", body) }
            }
        }
        router.post("/v2/payments/authorizations/{id}/void") { request, context in
            try await self.guarded(request) { _, requestId in
                try self.remembered(requestId) { try self.void(context.parameters.get("id") ?? "") }
            }
        }
        router.post("/v2/payments/captures/{id}/refund") { request, context in
            try await self.guarded(request) { body, requestId in
                try self.remembered(requestId) { try self.refund(context.parameters.get("id") ?? "", body) }
            }
        }
        router.post("/v1/notifications/verify-webhook-signature") { request, _ in
            try await self.guarded(request) { body, _ in
                let object = try Self.object(body)
                let transmission = object["transmission_id"] as? String ?? ""
                let known = self.state.withLock { $0.signedTransmissions.contains(transmission) }
                let valid = known && object["transmission_sig"] as? String == "sig-\(transmission)" && object["webhook_id"] as? String == Self.webhookId
                    && object["webhook_event"] is [String: Any]
                return (.ok, Till.json(["verification_status": valid ? "SUCCESS" : "FAILURE"]))
            }
        }
        router.post("/test/approve/{id}") { _, context -> Response in
            self.state.withLock { state in
                if let id = context.parameters.get("id"), state.orders[id]?.status == "PAYER_ACTION_REQUIRED" { state.orders[id]?.status = "APPROVED" }
            }
            return StandIn.response(.ok, "{}")
        }
        return router
    }

    private func guarded(_ request: Request, _ handle: @Sendable (Data, String?) throws -> (HTTPResponse.Status, String)) async throws -> Response {
        let body = Data(try await request.body.collect(upTo: 1 << 16).readableBytesView)
        let bearer = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        guard let bearer, self.state.withLock({ $0.validTokens.contains(bearer) }) else {
            return StandIn.response(.unauthorized, #"{"error":"invalid_token","error_description":"Token signature verification failed"}"#)
        }
        do {
            let (status, text) = try handle(body, request.headers[.init("PayPal-Request-Id")!])
            return StandIn.response(status, text)
        } catch let failure as StandIn.Failure {
            return StandIn.response(failure.status, failure.body)
        }
    }

    private static func object(_ body: Data) throws -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw Self.error(400, "INVALID_REQUEST", "MALFORMED_REQUEST_JSON", "the body is not JSON")
        }
        return object
    }

    /// The answer stored for a `PayPal-Request-Id`, or the new one (kept unless a 5xx).
    private func remembered(_ requestId: String?, _ make: () throws -> (HTTPResponse.Status, String)) throws -> (HTTPResponse.Status, String) {
        if let requestId, let stored = self.state.withLock({ $0.requests[requestId] }) { return (.ok, stored) }
        let answer = try make()
        if let requestId, answer.0.code < 300 { self.state.withLock { $0.requests[requestId] = answer.1 } }
        return answer
    }

    private func nextId(_ prefix: String) -> String {
        self.state.withLock { state in
            state.count += 1
            return "\(prefix)\(String(format: "%011d", state.count))"
        }
    }

    private func create(_ body: Data, requestId: String?) throws -> (HTTPResponse.Status, String) {
        guard requestId != nil else { throw Self.error(400, "INVALID_REQUEST", "PAYPAL_REQUEST_ID_REQUIRED", "PayPal-Request-Id is required with payment_source") }
        self.state.withLock { $0.createCalls += 1 }
        return try self.remembered(requestId) {
            let object = try Self.object(body)
            guard let intent = object["intent"] as? String, ["CAPTURE", "AUTHORIZE"].contains(intent),
                let unit = (object["purchase_units"] as? [[String: Any]])?.first, let amount = unit["amount"] as? [String: String],
                let value = amount["value"], value.range(of: #"^[0-9]+(\.[0-9]{1,3})?$"#, options: .regularExpression) != nil,
                let wallet = (object["payment_source"] as? [String: Any])?["paypal"] as? [String: Any]
            else { throw Self.error(400, "INVALID_REQUEST", "INVALID_PARAMETER_VALUE", "intent, purchase_units[0].amount and payment_source.paypal are required") }
            var order = StoredOrder(id: self.nextId("ORD"), intent: intent, status: "PAYER_ACTION_REQUIRED", amount: amount)
            switch wallet["vault_id"] as? String {
            case nil: break
            case "vault-ok": order = self.completed(order)
            case "vault-declined": throw Self.error(422, "UNPROCESSABLE_ENTITY", "INSTRUMENT_DECLINED", "The instrument presented was declined")
            case let other?: throw Self.error(422, "UNPROCESSABLE_ENTITY", "INVALID_RESOURCE_ID", "vault id \(other) not found")
            }
            self.state.withLock { $0.orders[order.id] = order }
            return (.created, Till.json(self.render(order)))
        }
    }

    /// The order with its intent carried out.
    private func completed(_ order: StoredOrder) -> StoredOrder {
        var order = order
        order.status = "COMPLETED"
        if order.intent == "CAPTURE" {
            order.captureId = self.nextId("CAP")
            order.captureAmount = order.amount
        } else {
            order.authorizationId = self.nextId("AUT")
            order.authorizationStatus = "CREATED"
        }
        return order
    }

    private func withOrder(_ id: String?, _ change: (inout StoredOrder) throws -> (HTTPResponse.Status, String?)) throws -> (HTTPResponse.Status, String) {
        guard let id, var order = self.state.withLock({ $0.orders[id] }) else { throw Self.error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "order not found") }
        let (status, text) = try change(&order)
        self.state.withLock { $0.orders[id] = order }
        return (status, text ?? Till.json(self.render(order)))
    }

    private func complete(_ id: String?, action: String) throws -> (HTTPResponse.Status, String) {
        try self.withOrder(id) { order in
            guard order.status == "APPROVED" else { throw Self.error(422, "UNPROCESSABLE_ENTITY", "ORDER_NOT_APPROVED", "the payer has not approved the order") }
            guard (action == "capture") == (order.intent == "CAPTURE") else { throw Self.error(422, "UNPROCESSABLE_ENTITY", "ACTION_DOES_NOT_MATCH_INTENT", "wrong action") }
            order = self.completed(order)
            return (.created, nil)
        }
    }

    private func orderId(authorization: String) -> String? {
        self.state.withLock { $0.orders.values.first { $0.authorizationId == authorization }?.id }
    }

    private func captureAuthorization(_ authorization: String, _ body: Data) throws -> (HTTPResponse.Status, String) {
        let object = (try? Self.object(body)) ?? [:]
        var capture: [String: Any] = [:]
        _ = try self.withOrder(self.orderId(authorization: authorization)) { order in
            guard order.authorizationStatus == "CREATED" else { throw Self.error(422, "UNPROCESSABLE_ENTITY", "AUTHORIZATION_ALREADY_CAPTURED", "not capturable") }
            let amount = object["amount"] as? [String: String] ?? order.amount
            guard let asked = Decimal(string: amount["value"] ?? ""), let held = Decimal(string: order.amount["value"] ?? ""), asked > 0, asked <= held else {
                throw Self.error(422, "UNPROCESSABLE_ENTITY", "CAPTURE_AMOUNT_EXCEEDS_AUTHORIZED", "the capture exceeds the authorization")
            }
            order.authorizationStatus = "CAPTURED"
            order.captureId = self.nextId("CAP")
            order.captureAmount = amount
            capture = self.renderCapture(order)
            return (.created, nil)
        }
        return (.created, Till.json(capture))
    }

    private func void(_ authorization: String) throws -> (HTTPResponse.Status, String) {
        _ = try self.withOrder(self.orderId(authorization: authorization)) { order in
            guard order.authorizationStatus == "CREATED" else { throw Self.error(422, "UNPROCESSABLE_ENTITY", "PREVIOUSLY_VOIDED", "not voidable") }
            order.authorizationStatus = "VOIDED"
            order.status = "VOIDED"
            return (.noContent, "")
        }
        return (.noContent, "")
    }

    private func refund(_ capture: String, _ body: Data) throws -> (HTTPResponse.Status, String) {
        let object = try Self.object(body)
        let orderId = self.state.withLock { $0.orders.values.first { $0.captureId == capture }?.id }
        var refund: [String: Any] = [:]
        _ = try self.withOrder(orderId) { order in
            guard let amount = object["amount"] as? [String: String], let value = amount["value"], let minor = Int64(value.replacingOccurrences(of: ".", with: "")),
                let captured = Int64((order.captureAmount?["value"] ?? "0").replacingOccurrences(of: ".", with: "")), minor > 0, order.refunded + minor <= captured
            else { throw Self.error(422, "UNPROCESSABLE_ENTITY", "REFUND_AMOUNT_EXCEEDED", "the refund exceeds the captured amount") }
            order.refunded += minor
            refund = ["id": self.nextId("REF"), "status": "COMPLETED", "amount": amount]
            return (.created, nil)
        }
        return (.created, Till.json(refund))
    }

    func renderCapture(_ order: StoredOrder) -> [String: Any] {
        let value = Decimal(string: order.captureAmount?["value"] ?? "0") ?? 0
        let fee = NSDecimalNumber(decimal: value * Decimal(string: "0.0349")! + Decimal(string: "0.49")!)
            .rounding(accordingToBehavior: NSDecimalNumberHandler(roundingMode: .plain, scale: 2, raiseOnExactness: false, raiseOnOverflow: false, raiseOnUnderflow: false, raiseOnDivideByZero: false))
        return [
            "id": order.captureId ?? "", "status": "COMPLETED", "amount": order.captureAmount ?? [:], "final_capture": true,
            "seller_receivable_breakdown": ["gross_amount": order.captureAmount ?? [:], "paypal_fee": ["currency_code": order.amount["currency_code"] ?? "USD", "value": String(format: "%.2f", fee.doubleValue)]],
            "supplementary_data": ["related_ids": ["order_id": order.id]],
        ]
    }

    func render(_ order: StoredOrder) -> [String: Any] {
        var payments: [String: Any] = [:]
        if let authorization = order.authorizationId {
            payments["authorizations"] = [["id": authorization, "status": order.authorizationStatus ?? "CREATED", "amount": order.amount]]
        }
        if order.captureId != nil { payments["captures"] = [self.renderCapture(order)] }
        var unit: [String: Any] = ["reference_id": "default", "amount": order.amount]
        if !payments.isEmpty { unit["payments"] = payments }
        var links: [[String: String]] = [["href": "https://api-m.sandbox.paypal.com/v2/checkout/orders/\(order.id)", "rel": "self", "method": "GET"]]
        if order.status == "PAYER_ACTION_REQUIRED" {
            links.append(["href": "https://www.sandbox.paypal.com/checkoutnow?token=\(order.id)", "rel": "payer-action", "method": "GET"])
        }
        return ["id": order.id, "intent": order.intent, "status": order.status, "purchase_units": [unit], "links": links]
    }
}
