import FinFlowCore
import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// A test server for Square's Payments API v2, written to Square's published reference: bearer access token, JSON
/// bodies, `idempotency_key` (at most 45 characters; the same key with the same body answers the first answer, with
/// another body `IDEMPOTENCY_KEY_REUSED`), Payment objects with `status` APPROVED/COMPLETED/CANCELED/FAILED and their
/// `card_details`, `processing_fee` once completed, `version_token`, error bodies `{"errors":[{category, code, detail}]}`,
/// and the sandbox's test nonces (`cnon:card-nonce-ok`, `cnon:card-nonce-declined`, `cnon:card-nonce-rejected-cvv`).
final class SquareSandbox: Sendable {
    static let accessToken = "EAAAl-finflow-sandbox"
    static let locationId = "LFINFLOWTEST"

    struct StoredPayment {
        var id: String
        var amount: Int64
        var approved: Int64
        var currency: String
        var status: String
        var cardStatus: String
        var version: Int
        var referenceId: String?
        var refunded: Int64 = 0
    }

    struct State {
        var payments: [String: StoredPayment] = [:]
        /// idempotency key → (the request's body, the answer's status and body).
        var answers: [String: (request: String, status: HTTPResponse.Status, body: String)] = [:]
        var squareVersions: [String] = []
        var createCalls = 0
        var refunds = 0
    }

    let state = Mutex(State())
    /// The first this many CreatePayment calls are carried out but answered 500 (`API_ERROR`), as if the answer were lost.
    let lostAnswers: Int
    init(lostAnswers: Int = 0) { self.lostAnswers = lostAnswers }

    var createCalls: Int { self.state.withLock { $0.createCalls } }
    var paymentCount: Int { self.state.withLock { $0.payments.count } }
    func payment(_ id: String) -> StoredPayment? { self.state.withLock { $0.payments[id] } }

    var router: Router<BasicRequestContext> {
        let router = Router()
        router.post("/v2/payments") { request, _ in try await self.guarded(request) { body in try self.create(body) } }
        router.get("/v2/payments/{id}") { request, context in
            try await self.guarded(request) { _ in try self.existing(context.parameters.get("id")) { _ in } }
        }
        router.put("/v2/payments/{id}") { request, context in
            try await self.guarded(request) { body in try self.update(context.parameters.get("id") ?? "", body) }
        }
        router.post("/v2/payments/{id}/complete") { request, context in
            try await self.guarded(request) { _ in
                try self.existing(context.parameters.get("id")) { payment in
                    guard payment.status == "APPROVED" else { throw Self.error(400, "INVALID_REQUEST_ERROR", "BAD_REQUEST", "payment is \(payment.status), not APPROVED") }
                    payment.status = "COMPLETED"
                    payment.cardStatus = "CAPTURED"
                }
            }
        }
        router.post("/v2/payments/{id}/cancel") { request, context in
            try await self.guarded(request) { _ in
                try self.existing(context.parameters.get("id")) { payment in
                    guard payment.status == "APPROVED" else { throw Self.error(400, "INVALID_REQUEST_ERROR", "BAD_REQUEST", "payment is \(payment.status), not APPROVED") }
                    payment.status = "CANCELED"
                    payment.cardStatus = "VOIDED"
                }
            }
        }
        router.post("/v2/refunds") { request, _ in try await self.guarded(request) { body in try self.refund(body) } }
        return router
    }

    /// An error answer in Square's shape.
    static func error(_ status: Int, _ category: String, _ code: String, _ detail: String, field: String? = nil) -> StandIn.Failure {
        var item: [String: String] = ["category": category, "code": code, "detail": detail]
        if let field { item["field"] = field }
        return StandIn.Failure(status: .init(code: status), body: Till.json(["errors": [item]]))
    }

    /// Checks the access token and the JSON body, runs `handle`, and answers in Square's shape.
    private func guarded(_ request: Request, _ handle: @Sendable (Data) throws -> (HTTPResponse.Status, String)) async throws -> Response {
        let body = Data(try await request.body.collect(upTo: 1 << 16).readableBytesView)
        let answer: (HTTPResponse.Status, String)
        if request.headers[.authorization] != "Bearer \(Self.accessToken)" {
            let failure = Self.error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "This request could not be authorized.")
            answer = (failure.status, failure.body)
        } else if request.method != .get, !body.isEmpty, request.headers[.contentType]?.hasPrefix("application/json") != true {
            let failure = Self.error(400, "INVALID_REQUEST_ERROR", "INVALID_CONTENT_TYPE", "Content-Type must be application/json")
            answer = (failure.status, failure.body)
        } else {
            let version = request.headers[.init("Square-Version")!] ?? ""
            self.state.withLock { $0.squareVersions.append(version) }
            do { answer = try handle(body) } catch let failure as StandIn.Failure { answer = (failure.status, failure.body) }
        }
        return StandIn.response(answer.0, answer.1)
    }

    private static func object(_ body: Data) throws -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw Self.error(400, "INVALID_REQUEST_ERROR", "INVALID_VALUE", "the body is not a JSON object")
        }
        return object
    }

    /// The answer stored for `key`, or the new one `make` gives (stored unless it is a 5xx).
    private func idempotent(_ key: Any?, request: [String: Any], _ make: () throws -> (HTTPResponse.Status, String)) throws -> (HTTPResponse.Status, String) {
        guard let key = key as? String, !key.isEmpty else {
            throw Self.error(400, "INVALID_REQUEST_ERROR", "MISSING_REQUIRED_PARAMETER", "idempotency_key is required", field: "idempotency_key")
        }
        guard key.count <= 45 else {
            throw Self.error(400, "INVALID_REQUEST_ERROR", "VALUE_TOO_LONG", "idempotency_key must be at most 45 characters", field: "idempotency_key")
        }
        if let stored = self.state.withLock({ $0.answers[key] }) {
            guard stored.request == Till.json(request) else {
                throw Self.error(400, "INVALID_REQUEST_ERROR", "IDEMPOTENCY_KEY_REUSED", "the idempotency key was used with other parameters")
            }
            return (stored.status, stored.body)
        }
        let answer: (HTTPResponse.Status, String)
        do { answer = try make() } catch let failure as StandIn.Failure { answer = (failure.status, failure.body) }
        if answer.0.code < 500 { self.state.withLock { $0.answers[key] = (Till.json(request), answer.0, answer.1) } }
        return answer
    }

    private func create(_ body: Data) throws -> (HTTPResponse.Status, String) {
        let object = try Self.object(body)
        let calls = self.state.withLock { state in
            state.createCalls += 1
            return state.createCalls
        }
        let answer = try self.idempotent(object["idempotency_key"], request: object) {
            guard let source = object["source_id"] as? String else {
                throw Self.error(400, "INVALID_REQUEST_ERROR", "MISSING_REQUIRED_PARAMETER", "source_id is required", field: "source_id")
            }
            guard let money = object["amount_money"] as? [String: Any], let amount = (money["amount"] as? NSNumber)?.int64Value, amount > 0,
                let currency = money["currency"] as? String, currency.count == 3
            else { throw Self.error(400, "INVALID_REQUEST_ERROR", "INVALID_VALUE", "amount_money is invalid", field: "amount_money") }
            if let location = object["location_id"] as? String, location != Self.locationId {
                throw Self.error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "location \(location) not found", field: "location_id")
            }
            let autocomplete = object["autocomplete"] as? Bool ?? true
            let id = "sqpay_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(20)
            var payment = StoredPayment(
                id: id, amount: amount, approved: amount, currency: currency, status: "APPROVED", cardStatus: "AUTHORIZED", version: 1,
                referenceId: object["reference_id"] as? String)
            switch source {
            case "cnon:card-nonce-ok":
                if autocomplete {
                    payment.status = "COMPLETED"
                    payment.cardStatus = "CAPTURED"
                }
            case "cnon:card-nonce-declined", "cnon:card-nonce-rejected-cvv":
                let code = source == "cnon:card-nonce-declined" ? "GENERIC_DECLINE" : "CVV_FAILURE"
                payment.status = "FAILED"
                payment.cardStatus = "FAILED"
                self.state.withLock { $0.payments[id] = payment }
                let error: [String: String] = ["category": "PAYMENT_METHOD_ERROR", "code": code, "detail": "Authorization error: '\(code)'"]
                return (.badRequest, Till.json(["errors": [error], "payment": Self.render(payment, errors: [error])]))
            default:
                throw Self.error(400, "INVALID_REQUEST_ERROR", "INVALID_CARD_DATA", "source_id \(source) is not a card nonce of this sandbox", field: "source_id")
            }
            self.state.withLock { $0.payments[id] = payment }
            return (.ok, Till.json(["payment": Self.render(payment)]))
        }
        if calls <= self.lostAnswers {
            let failure = Self.error(500, "API_ERROR", "INTERNAL_SERVER_ERROR", "the answer was lost")
            return (failure.status, failure.body)
        }
        return answer
    }

    private func existing(_ id: String?, _ change: (inout StoredPayment) throws -> Void) throws -> (HTTPResponse.Status, String) {
        try self.state.withLock { state in
            guard let id, var payment = state.payments[id] else { throw Self.error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "payment not found") }
            let before = payment.status
            try change(&payment)
            if payment.status != before { payment.version += 1 }
            state.payments[id] = payment
            return (.ok, Till.json(["payment": Self.render(payment)]))
        }
    }

    private func update(_ id: String, _ body: Data) throws -> (HTTPResponse.Status, String) {
        let object = try Self.object(body)
        return try self.idempotent(object["idempotency_key"], request: object) {
            guard let change = object["payment"] as? [String: Any], let money = change["amount_money"] as? [String: Any],
                let amount = (money["amount"] as? NSNumber)?.int64Value
            else { throw Self.error(400, "INVALID_REQUEST_ERROR", "INVALID_VALUE", "payment.amount_money is required") }
            return try self.existing(id) { payment in
                guard payment.status == "APPROVED" else { throw Self.error(400, "INVALID_REQUEST_ERROR", "BAD_REQUEST", "only APPROVED payments can be updated") }
                if let token = change["version_token"] as? String, token != "v\(payment.version)" {
                    throw Self.error(400, "INVALID_REQUEST_ERROR", "VERSION_MISMATCH", "version_token is stale")
                }
                guard amount > 0, amount <= payment.approved, money["currency"] as? String == payment.currency else {
                    throw Self.error(400, "INVALID_REQUEST_ERROR", "INVALID_VALUE", "amount_money must be positive, in the payment's currency, within the approved amount")
                }
                payment.amount = amount
                payment.version += 1
            }
        }
    }

    private func refund(_ body: Data) throws -> (HTTPResponse.Status, String) {
        let object = try Self.object(body)
        return try self.idempotent(object["idempotency_key"], request: object) {
            guard let paymentId = object["payment_id"] as? String, let money = object["amount_money"] as? [String: Any],
                let amount = (money["amount"] as? NSNumber)?.int64Value, let currency = money["currency"] as? String
            else { throw Self.error(400, "INVALID_REQUEST_ERROR", "MISSING_REQUIRED_PARAMETER", "payment_id and amount_money are required") }
            return try self.state.withLock { state in
                guard var payment = state.payments[paymentId] else { throw Self.error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "payment not found") }
                guard payment.status == "COMPLETED" else { throw Self.error(400, "REFUND_ERROR", "PAYMENT_NOT_REFUNDABLE", "payment is \(payment.status)") }
                guard currency == payment.currency, amount > 0, payment.refunded + amount <= payment.amount else {
                    throw Self.error(400, "REFUND_ERROR", "REFUND_AMOUNT_INVALID", "the refund exceeds what is left of the payment")
                }
                payment.refunded += amount
                state.payments[paymentId] = payment
                state.refunds += 1
                let refund: [String: Any] = [
                    "id": "sqref_\(state.refunds)", "status": "PENDING", "payment_id": paymentId,
                    "amount_money": ["amount": amount, "currency": currency],
                ]
                return (.ok, Till.json(["refund": refund]))
            }
        }
    }

    /// A Payment object as Square renders it.
    static func render(_ payment: StoredPayment, errors: [[String: String]]? = nil) -> [String: Any] {
        var card: [String: Any] = [
            "status": payment.cardStatus, "card": ["card_brand": "VISA", "last_4": "1111", "exp_month": 11, "exp_year": 2034],
        ]
        if let errors { card["errors"] = errors }
        var object: [String: Any] = [
            "id": payment.id, "status": payment.status, "source_type": "CARD", "location_id": Self.locationId,
            "amount_money": ["amount": payment.amount, "currency": payment.currency],
            "approved_money": ["amount": payment.approved, "currency": payment.currency],
            "total_money": ["amount": payment.amount, "currency": payment.currency],
            "card_details": card, "version_token": "v\(payment.version)", "delay_action": "CANCEL",
        ]
        if let reference = payment.referenceId { object["reference_id"] = reference }
        if payment.status == "COMPLETED" {
            object["processing_fee"] = [["type": "INITIAL", "amount_money": ["amount": payment.amount * 29 / 1_000 + 30, "currency": payment.currency]]]
        }
        if payment.refunded > 0 { object["refunded_money"] = ["amount": payment.refunded, "currency": payment.currency] }
        return object
    }
}
