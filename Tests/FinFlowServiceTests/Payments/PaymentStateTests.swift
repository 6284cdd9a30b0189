import FinFlowCore
import FinFlowPayments
import Foundation
import Testing

@Suite("payments: the state machine")
struct PaymentStateTests {
    /// A payment brought to `status` through allowed steps (manual capture where the status needs it).
    static func payment(in status: PaymentStatus, amount: Int64 = 10_000) throws -> PaymentState {
        let manual = try PaymentState(amount: amount, captureMethod: .manual, hasPaymentMethod: true)
        let automatic = try PaymentState(amount: amount, captureMethod: .automatic, hasPaymentMethod: true)
        switch status {
        case .requiresPaymentMethod: return try PaymentState(amount: amount, captureMethod: .automatic, hasPaymentMethod: false)
        case .requiresConfirmation: return automatic
        case .requiresAction: return try automatic.applying(.confirm(.actionRequired(redirectURL: "https://bank.example/3ds")))
        case .processing: return try automatic.applying(.confirm(.processing))
        case .requiresCapture: return try manual.applying(.confirm(.authorized))
        case .succeeded: return try automatic.applying(.confirm(.captured))
        case .canceled: return try automatic.applying(.cancel)
        case .failed: return try automatic.applying(.confirm(.processing)).applying(.settled(.failed(code: "x", message: "y")))
        case .partiallyRefunded: return try automatic.applying(.confirm(.captured)).applying(.refund(amount: 1))
        case .refunded: return try automatic.applying(.confirm(.captured)).applying(.refund(amount: amount))
        }
    }

    static let commands: [PaymentCommand] = [
        .attachPaymentMethod, .confirm(.captured), .actionCompleted(.captured), .settled(.captured), .capture(amount: nil),
        .cancel, .refund(amount: 1),
    ]

    /// The documented table: which command each status accepts.
    static let allowed: [PaymentStatus: Set<String>] = [
        .requiresPaymentMethod: ["attach_payment_method", "cancel"],
        .requiresConfirmation: ["attach_payment_method", "confirm", "cancel"],
        .requiresAction: ["action_completed", "cancel"],
        .processing: ["settled"],
        .requiresCapture: ["capture", "cancel"],
        .succeeded: ["refund"],
        .canceled: [],
        .failed: [],
        .partiallyRefunded: ["refund"],
        .refunded: [],
    ]

    @Test("every status allows exactly the documented commands; the rest get 409 naming the status and change nothing")
    func transitionTable() throws {
        for status in PaymentStatus.allCases {
            let payment = try Self.payment(in: status)
            #expect(payment.status == status)
            for command in Self.commands {
                let expected = Self.allowed[status]!.contains(command.name)
                if expected {
                    #expect(throws: Never.self, "\(status) \(command.name)") { try payment.applying(command) }
                } else {
                    let error = #expect(throws: AppError.self, "\(status) \(command.name)") { try payment.applying(command) }
                    #expect(error?.code == "invalid-state-transition")
                    #expect(error?.kind == .conflict)
                    #expect(error?.message.contains(status.rawValue) == true)
                }
            }
            #expect(status.isFinal == Self.allowed[status]!.isEmpty)
        }
    }

    @Test("confirm outcomes: 3-D Secure, processing, authorized, captured, declined")
    func confirmOutcomes() throws {
        let automatic = try PaymentState(amount: 5_000, captureMethod: .automatic, hasPaymentMethod: true)
        let challenged = try automatic.applying(.confirm(.actionRequired(redirectURL: "https://bank.example/3ds")))
        #expect(challenged.status == .requiresAction)
        // The customer passed the challenge: automatic capture takes the money.
        let passed = try challenged.applying(.actionCompleted(.authorized))
        #expect(passed.status == .succeeded)
        #expect(passed.amountReceived == 5_000)
        // A failed challenge sends the payment back for another method, with the reason.
        let failed = try challenged.applying(.actionCompleted(.declined(code: "authentication_failed", message: "3DS failed")))
        #expect(failed.status == .requiresPaymentMethod)
        #expect(failed.lastError == "authentication_failed: 3DS failed")
        #expect(try failed.applying(.attachPaymentMethod).status == .requiresConfirmation)
        // A second challenge inside the first is not a thing.
        #expect(throws: AppError.self) { try challenged.applying(.actionCompleted(.actionRequired(redirectURL: "x"))) }

        let declined = try automatic.applying(.confirm(.declined(code: "card_declined", message: "Your card was declined.")))
        #expect(declined.status == .requiresPaymentMethod)
        #expect(declined.amountReceived == 0)

        let manual = try PaymentState(amount: 5_000, captureMethod: .manual, hasPaymentMethod: true)
        let held = try manual.applying(.confirm(.authorized))
        #expect(held.status == .requiresCapture)
        #expect(held.amountCapturable == 5_000)
        #expect(held.amountReceived == 0)
        let released = try held.applying(.cancel)
        #expect(released.status == .canceled)
        #expect(released.amountCapturable == 0)
    }

    @Test("partial capture takes part and releases the rest; refunds add up to the received amount and no further")
    func amounts() throws {
        let held = try Self.payment(in: .requiresCapture, amount: 10_000)
        for bad: Int64 in [0, -1, 10_001] {
            let error = #expect(throws: AppError.self) { try held.applying(.capture(amount: bad)) }
            #expect(error?.code == "invalid-capture-amount")
        }
        let captured = try held.applying(.capture(amount: 7_500))
        #expect(captured.status == .succeeded)
        #expect(captured.amountReceived == 7_500)
        #expect(captured.amountCapturable == 0)
        #expect(throws: AppError.self) { try captured.applying(.capture(amount: 2_500)) }

        let first = try captured.applying(.refund(amount: 2_500))
        #expect(first.status == .partiallyRefunded)
        let second = try first.applying(.refund(amount: 2_500))
        #expect(second.amountRefunded == 5_000)
        let error = #expect(throws: AppError.self) { try second.applying(.refund(amount: 2_501)) }
        #expect(error?.code == "invalid-refund-amount")
        let last = try second.applying(.refund(amount: 2_500))
        #expect(last.status == .refunded)
        #expect(last.amountRefunded == last.amountReceived)
        #expect(throws: AppError.self) { try last.applying(.refund(amount: 1)) }
        #expect(throws: AppError.self) { try PaymentState(amount: 0, captureMethod: .automatic, hasPaymentMethod: true) }
    }

    @Test("gateway reports that arrive late or twice cannot move a payment backwards")
    func reorderedReports() throws {
        let processing = try Self.payment(in: .processing)
        let succeeded = try processing.applying(.settled(.captured))
        // The earlier "processing" and a repeated "succeeded" arrive after the payment succeeded: both refused.
        #expect(!succeeded.allows(.settled(.processing)))
        #expect(!succeeded.allows(.settled(.captured)))
        #expect(!succeeded.allows(.confirm(.processing)))
        let refunded = try succeeded.applying(.refund(amount: succeeded.amountReceived))
        #expect(!refunded.allows(.settled(.captured)))
        #expect(!refunded.allows(.cancel))
    }
}

@Suite("payments: webhook signatures")
struct WebhookSignatureTests {
    let body = Data(#"{"id":"evt_1","type":"payment_intent.succeeded"}"#.utf8)
    let now = Date(timeIntervalSince1970: 1_796_000_000)

    @Test("Stripe: a good signature passes; a wrong secret, a changed body, a stale or future time, a bad header fail")
    func stripe() throws {
        let secret = "whsec_test_secret"
        let t: Int64 = 1_796_000_000
        let header = WebhookSignature.stripeHeader(body: body, secret: secret, timestamp: t)
        try WebhookSignature.verifyStripe(header: header, body: body, secret: secret, now: now)
        // Stripe's documented example shape: several v1 values while a secret rolls; one good one is enough.
        try WebhookSignature.verifyStripe(header: header.replacingOccurrences(of: "v1=", with: "v1=00,v0=ab,v1="), body: body, secret: secret, now: now)
        // Inside the tolerance either side.
        try WebhookSignature.verifyStripe(header: header, body: body, secret: secret, now: now.addingTimeInterval(300))

        let refusals: [(String?, Data, String, Date)] = [
            (header, body, "whsec_other", now),
            (header, Data(#"{"id":"evt_1","type":"payment_intent.failed"}"#.utf8), secret, now),
            (header, body, secret, now.addingTimeInterval(301)),
            (header, body, secret, now.addingTimeInterval(-301)),
            (nil, body, secret, now),
            ("", body, secret, now),
            ("v1=abc", body, secret, now),
            ("t=\(t)", body, secret, now),
            ("t=soon,v1=abc", body, secret, now),
            (header.uppercased(), body, secret, now),
        ]
        for (header, body, secret, now) in refusals {
            let error = #expect(throws: AppError.self, "\(header ?? "nil")") {
                try WebhookSignature.verifyStripe(header: header, body: body, secret: secret, now: now)
            }
            #expect(error?.code == "invalid-webhook-signature")
            #expect(error?.kind == .unauthenticated)
        }
    }

    @Test("Stripe: the signature matches one computed independently by its published scheme")
    func stripeKnownValue() throws {
        // HMAC-SHA256("secret", "1700000000.{}") computed with Python's hmac module.
        let header = "t=1700000000,v1=\(Self.pythonStripeHex)"
        try WebhookSignature.verifyStripe(
            header: header, body: Data("{}".utf8), secret: "secret", now: Date(timeIntervalSince1970: 1_700_000_000))
    }
    static let pythonStripeHex = "b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"

    @Test("Square: base64 HMAC-SHA256 over the notification URL and body; another URL or key fails")
    func square() throws {
        let url = "https://finflow.example/v1/payments/webhooks/square"
        let key = "square-signature-key"
        let signature = WebhookSignature.squareSignature(body: body, notificationURL: url, signatureKey: key)
        #expect(signature == Self.pythonSquare)
        try WebhookSignature.verifySquare(header: signature, body: body, notificationURL: url, signatureKey: key)
        for (header, url, key) in [
            (signature, url + "/", key), (signature, url, "other"), (nil, url, key), ("", url, key), ("abc", url, key),
        ] {
            let error = #expect(throws: AppError.self) {
                try WebhookSignature.verifySquare(header: header, body: body, notificationURL: url, signatureKey: key)
            }
            #expect(error?.code == "invalid-webhook-signature")
        }
    }
    static let pythonSquare = "qFFb+JT6pbPyNr4eBD0aZ1U4X0JW5F2vahLbwsXv2Lw="
}
