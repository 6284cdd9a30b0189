import AsyncHTTPClient
import FinFlowCore
import FinFlowPayments
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Foundation
import Testing

/// localstripe on 127.0.0.1, started for one test and stopped after it.
final class LocalStripe: Sendable {
    let process: ChildProcess
    let port = FreePort.next()
    var baseURL: String { "http://127.0.0.1:\(self.port)" }

    init() throws {
        let path = try #require(
            ProcessInfo.processInfo.environment["FINFLOW_LOCALSTRIPE_PATH"],
            "run the tests through scripts/test.sh, or source scripts/payment-tools.sh first")
        // Bound to loopback (its own start binds every interface) and with an empty store (its start loads the last one).
        self.process = try ChildProcess(
            "python3",
            [
                "-c",
                "import sys; from aiohttp import web; from localstripe.server import app; web.run_app(app, host='127.0.0.1', port=int(sys.argv[1]), print=None)",
                String(self.port),
            ],
            environment: ProcessInfo.processInfo.environment.merging(["PYTHONPATH": path]) { $1 })
    }

    /// Waits until it answers: any answer of Stripe's (here a 404 for an unknown payment) means it is serving.
    func ready(_ gateway: StripeGateway) async throws {
        for _ in 0..<200 {
            // A process that has ended will never answer: fail now rather than after the whole wait.
            if let status = self.process.exitStatus { Issue.record("localstripe exited before serving (status \(status))"); return }
            do {
                _ = try await gateway.retrieve("pi_none")
                return
            } catch GatewayError.refused {
                return
            } catch {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        Issue.record("localstripe did not start")
    }

    /// Kills it.
    func stop() {
        self.process.send(SIGKILL)
    }
}

@Suite("payments: the Stripe gateway (localstripe, and a stand-in that fails on purpose)")
struct StripeGatewayTests {
    @Test("card paid at once, held and partly captured, declined, challenged by 3-D Secure, canceled and refunded")
    func lifecycle() async throws {
        let stripe = try LocalStripe()
        defer { stripe.stop() }
        // One attempt only while waiting for the server to come up, so a refused connection is quick to see.
        let probe = StripeGateway(baseURL: stripe.baseURL, secretKey: "sk_test_finflow", backoff: Backoff(attemptsMax: 1), timeout: .seconds(2))
        try await stripe.ready(probe)
        let gateway = StripeGateway(baseURL: stripe.baseURL, secretKey: "sk_test_finflow")
        func key() -> String { UUID().uuidString }

        // Paid at once: the state machine follows Stripe's answer.
        let paid = try await gateway.create(
            amount: 2_500, currency: "EUR", paymentMethod: "pm_card_visa", captureMethod: .automatic, description: nil,
            metadata: ["order": "1"], confirm: true, returnURL: nil, idempotencyKey: key())
        guard case .intent(let paidIntent) = paid else { Issue.record("not paid: \(paid)"); return }
        #expect(paidIntent.status == "succeeded")
        #expect(paidIntent.currency == "eur")
        var state = try PaymentState(amount: 2_500, captureMethod: .automatic, hasPaymentMethod: true)
        state = try state.applying(.confirm(StripeWire.outcome(of: paidIntent)))
        #expect(state.status == .succeeded)
        #expect(state.amountReceived == 2_500)

        // Refunded in two parts; Stripe and the state machine agree.
        let firstRefund = try await gateway.refund(paymentIntent: paidIntent.id, amount: 1_000, idempotencyKey: key())
        #expect(firstRefund.amount == 1_000)
        #expect(firstRefund.status == "succeeded")
        state = try state.applying(.refund(amount: 1_000)).applying(.refund(amount: 1_500))
        _ = try await gateway.refund(paymentIntent: paidIntent.id, amount: 1_500, idempotencyKey: key())
        #expect(state.status == .refunded)

        // Held, then 1,200 of 2,000 captured.
        let held = try await gateway.create(
            amount: 2_000, currency: "usd", paymentMethod: "pm_card_visa", captureMethod: .manual, description: nil,
            metadata: [:], confirm: true, returnURL: nil, idempotencyKey: key())
        guard case .intent(let heldIntent) = held else { Issue.record("not held: \(held)"); return }
        #expect(try StripeWire.outcome(of: heldIntent) == .authorized)
        let captured = try await gateway.capture(heldIntent.id, amount: 1_200, idempotencyKey: key())
        guard case .intent(let capturedIntent) = captured else { Issue.record("not captured: \(captured)"); return }
        #expect(capturedIntent.status == "succeeded")
        // localstripe keeps a partial capture as the charge's amount less what was released.
        let charge = try #require(try await Self.get(stripe.baseURL + "/v1/payment_intents/\(heldIntent.id)")["latest_charge"] as? [String: Any])
        #expect((charge["amount"] as? Int ?? 0) - (charge["amount_refunded"] as? Int ?? 0) == 1_200)

        // Declined (localstripe's card that is refused when charged): an answer, not a fault.
        let refusedCard = try await Self.post(
            stripe.baseURL + "/v1/payment_methods",
            "type=card&card%5Bnumber%5D=4000000000000341&card%5Bexp_month%5D=12&card%5Bexp_year%5D=2034&card%5Bcvc%5D=123")
        let declined = try await gateway.create(
            amount: 700, currency: "usd", paymentMethod: try #require(refusedCard["id"] as? String), captureMethod: .automatic,
            description: nil, metadata: [:], confirm: true, returnURL: nil, idempotencyKey: key())
        guard case .declined(let code, _) = declined else { Issue.record("not declined: \(declined)"); return }
        #expect(!code.isEmpty)

        // 3-D Secure: the card needs the customer's action first; the customer passes it and the payment succeeds.
        let card = try await Self.post(
            stripe.baseURL + "/v1/payment_methods",
            "type=card&card%5Bnumber%5D=4000002760003184&card%5Bexp_month%5D=12&card%5Bexp_year%5D=2034&card%5Bcvc%5D=123")
        let method = try #require(card["id"] as? String)
        let secure = try await gateway.create(
            amount: 4_200, currency: "eur", paymentMethod: method, captureMethod: .automatic, description: nil, metadata: [:],
            confirm: true, returnURL: nil, idempotencyKey: key())
        guard case .intent(let secureIntent) = secure else { Issue.record("not challenged: \(secure)"); return }
        #expect(try StripeWire.outcome(of: secureIntent) == .actionRequired(redirectURL: nil))
        var secureState = try PaymentState(amount: 4_200, captureMethod: .automatic, hasPaymentMethod: true)
        secureState = try secureState.applying(.confirm(StripeWire.outcome(of: secureIntent)))
        #expect(secureState.status == .requiresAction)
        let raw = try await Self.get(stripe.baseURL + "/v1/payment_intents/\(secureIntent.id)")
        let secret = try #require(raw["client_secret"] as? String)
        _ = try await Self.post(
            stripe.baseURL + "/v1/payment_intents/\(secureIntent.id)/_authenticate", "client_secret=\(secret)&success=true")
        guard case .intent(let passed) = try await gateway.retrieve(secureIntent.id) else { Issue.record("not found"); return }
        secureState = try secureState.applying(.actionCompleted(StripeWire.outcome(of: passed)))
        #expect(secureState.status == .succeeded)

        let challenged = try await gateway.create(
            amount: 900, currency: "eur", paymentMethod: nil, captureMethod: .automatic, description: nil, metadata: [:],
            confirm: false, returnURL: nil, idempotencyKey: key())
        guard case .intent(let unconfirmed) = challenged else { Issue.record("not created: \(challenged)"); return }
        #expect(unconfirmed.status == "requires_payment_method")
        let canceled = try await gateway.cancel(unconfirmed.id, idempotencyKey: key())
        guard case .intent(let canceledIntent) = canceled else { Issue.record("not canceled: \(canceled)"); return }
        #expect(canceledIntent.status == "canceled")

        // Stripe refuses a capture of a canceled payment: a refusal, not a retry.
        await #expect(throws: GatewayError.self) { try await gateway.capture(canceledIntent.id, amount: nil, idempotencyKey: key()) }
        // An id that would change the path is refused before any call.
        await #expect(throws: GatewayError.self) { try await gateway.confirm("pi_1/../../v1/refunds", idempotencyKey: key()) }
    }

    /// A raw call to localstripe, for what a customer's browser would do (create a card, pass 3-D Secure).
    static func post(_ url: String, _ form: String) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer sk_test_finflow")
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: form))
        return try await Self.json(request)
    }

    static func get(_ url: String) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: "Bearer sk_test_finflow")
        return try await Self.json(request)
    }

    static func json(_ request: HTTPClientRequest) async throws -> [String: Any] {
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        try #require(response.status == .ok, "\(request.url): \(response.status) \(String(buffer: body))")
        return try #require(try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])
    }

    @Test("a gateway that takes no connection is tried the named number of times, then reported unreachable: nothing was sent")
    func unavailable() async throws {
        // Nothing listens on this port.
        let gateway = StripeGateway(
            baseURL: "http://127.0.0.1:9", secretKey: "sk_test_finflow", backoff: Backoff(baseMillis: 10, capMillis: 20, attemptsMax: 3),
            timeout: .seconds(1))
        let started = ContinuousClock.now
        await #expect {
            try await gateway.confirm("pi_123", idempotencyKey: "k")
        } throws: { error in
            guard case GatewayError.unreachable = error else { return false }
            return true
        }
        // A guard against hanging on a refused connection, not a speed figure: generous for a loaded machine.
        #expect(ContinuousClock.now - started < .seconds(60))
    }

    /// A Stripe stand-in that answers 503 to the first `failures` calls, then a succeeded PaymentIntent; it records
    /// the idempotency key of every call.
    final class FlakyStripe: Sendable {
        let failures: Int
        let keys = Mutex<[String]>([])
        init(failures: Int) { self.failures = failures }

        var router: Router<BasicRequestContext> {
            let router = Router()
            router.post("/v1/payment_intents/{id}/confirm") { request, context -> Response in
                let id = context.parameters.get("id") ?? ""
                let count = self.keys.withLock { keys in
                    keys.append(request.headers[.init("Idempotency-Key")!] ?? "")
                    return keys.count
                }
                if count <= self.failures {
                    return Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"type":"api_error","message":"try later"}}"#)))
                }
                return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: #"{"id":"\#(id)","status":"succeeded","amount":500,"currency":"usd","amount_received":500}"#)))
            }
            return router
        }
    }

    @Test("a 5xx is retried with the same idempotency key until Stripe answers")
    func retriesKeepTheKey() async throws {
        let stripe = FlakyStripe(failures: 2)
        try await StandIn.serving(stripe.router) { url in
            let gateway = StripeGateway(
                baseURL: url, secretKey: "sk_test_finflow", backoff: Backoff(baseMillis: 5, capMillis: 10, attemptsMax: 3))
            let answer = try await gateway.confirm("pi_flaky", idempotencyKey: "order-7-confirm")
            guard case .intent(let intent) = answer else { Issue.record("no answer: \(answer)"); return }
            #expect(intent.status == "succeeded")
            #expect(stripe.keys.withLock { $0 } == ["order-7-confirm", "order-7-confirm", "order-7-confirm"])
        }
    }

    @Test("the breaker opens after repeated faults; then calls fail at once, unsent, until its cool-down ends")
    func breakerStopsCalls() async throws {
        let stripe = FlakyStripe(failures: 4)
        let clock = ManualClock()
        let breaker = CircuitBreaker(failuresToOpen: 3, openSeconds: 30, clock: clock)
        try await StandIn.serving(stripe.router) { url in
            let gateway = StripeGateway(
                baseURL: url, secretKey: "sk_test_finflow", backoff: Backoff(baseMillis: 5, capMillis: 10, attemptsMax: 3),
                breaker: breaker)
            // Three 503s: the call gives up and the breaker opens.
            await #expect(throws: GatewayError.self) { try await gateway.confirm("pi_1", idempotencyKey: "a") }
            #expect(stripe.keys.withLock { $0.count } == 3)
            // Open: refused before sending, which makes failing over safe.
            await #expect {
                try await gateway.confirm("pi_2", idempotencyKey: "b")
            } throws: { error in
                guard case GatewayError.circuitOpen = error else { return false }
                return true
            }
            #expect(stripe.keys.withLock { $0.count } == 3)
            // After the cool-down one trial goes through (a fourth 503 reopens it), and after another, Stripe answers.
            clock.advance(seconds: 30)
            await #expect(throws: GatewayError.self) { try await gateway.confirm("pi_3", idempotencyKey: "c") }
            #expect(stripe.keys.withLock { $0.count } == 4)
            clock.advance(seconds: 30)
            let answer = try await gateway.confirm("pi_4", idempotencyKey: "d")
            guard case .intent = answer else { Issue.record("no answer: \(answer)"); return }
            #expect(breaker.current == .closed(failures: 0))
        }
    }
}
