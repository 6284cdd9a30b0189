import FinFlowCore

/// Where a payment stands. The names and meanings are Stripe's PaymentIntent statuses, which Hyperswitch and most
/// processors map to, plus the two refund states.
public enum PaymentStatus: String, Sendable, Codable, CaseIterable {
    /// Waiting for a payment method (new, or the last one was declined).
    case requiresPaymentMethod = "requires_payment_method"
    /// Has a payment method; waiting for the confirm call.
    case requiresConfirmation = "requires_confirmation"
    /// The customer must act (3-D Secure redirect); the gateway reports the outcome.
    case requiresAction = "requires_action"
    /// The gateway is working on it; the outcome arrives later (webhook or poll).
    case processing
    /// Authorized; funds are held until captured or canceled (manual capture).
    case requiresCapture = "requires_capture"
    /// Funds received.
    case succeeded
    /// Canceled before any funds moved; final.
    case canceled
    /// The gateway failed the payment after it was processing; final.
    case failed
    /// Some of the received amount was refunded.
    case partiallyRefunded = "partially_refunded"
    /// All of the received amount was refunded; final.
    case refunded

    /// No request or gateway event moves a payment out of these.
    public var isFinal: Bool { [.canceled, .failed, .refunded].contains(self) }
}

/// Whether the captured amount is taken at confirmation or later by a capture call.
public enum CaptureMethod: String, Sendable, Codable {
    case automatic, manual
}

/// What the gateway said about a confirm, a completed customer action or a processing payment.
public enum GatewayOutcome: Sendable, Equatable {
    /// The customer must act first (3-D Secure): where to send them, when the gateway gives an address (some hand
    /// the step to their client library instead).
    case actionRequired(redirectURL: String?)
    /// Accepted; the result comes later.
    case processing
    /// Authorized for `amount` minor units (manual capture): held, not yet taken.
    case authorized
    /// Taken in full.
    case captured
    /// Refused (declined card, failed authentication): the payment needs another payment method.
    case declined(code: String, message: String)
    /// Failed for good after processing.
    case failed(code: String, message: String)
}

/// A change asked of a payment, by the API or by what the gateway reports.
public enum PaymentCommand: Sendable, Equatable {
    case attachPaymentMethod
    case confirm(GatewayOutcome)
    /// The customer finished the required action; the gateway's verdict.
    case actionCompleted(GatewayOutcome)
    /// A processing payment settled.
    case settled(GatewayOutcome)
    /// Takes `amount` of the authorized amount (nil: all of it); the rest is released.
    case capture(amount: Int64?)
    case cancel
    /// Returns `amount` of the received amount to the customer.
    case refund(amount: Int64)

    /// The name used in errors and timelines.
    public var name: String {
        switch self {
        case .attachPaymentMethod: "attach_payment_method"
        case .confirm: "confirm"
        case .actionCompleted: "action_completed"
        case .settled: "settled"
        case .capture: "capture"
        case .cancel: "cancel"
        case .refund: "refund"
        }
    }
}

/// The amounts and status of one payment, and the only transitions it allows. A pure value: the service stores it,
/// and a request or a gateway event that this refuses changes nothing.
public struct PaymentState: Sendable, Equatable, Codable {
    public private(set) var status: PaymentStatus
    /// Asked for, in minor units.
    public let amount: Int64
    public let captureMethod: CaptureMethod
    /// Authorized and not yet captured.
    public private(set) var amountCapturable: Int64 = 0
    /// Taken from the customer.
    public private(set) var amountReceived: Int64 = 0
    /// Returned to the customer, of `amountReceived`.
    public private(set) var amountRefunded: Int64 = 0
    /// Why the last attempt was refused or failed.
    public private(set) var lastError: String?

    /// A new payment; with a payment method token it waits for confirmation, without one for a method.
    public init(amount: Int64, captureMethod: CaptureMethod, hasPaymentMethod: Bool) throws {
        guard amount > 0 else { throw AppError.invalid(code: "invalid-amount", "the amount must be positive") }
        self.amount = amount
        self.captureMethod = captureMethod
        self.status = hasPaymentMethod ? .requiresConfirmation : .requiresPaymentMethod
    }

    /// A state read back from storage, as it was written.
    public init(
        restoring status: PaymentStatus, amount: Int64, captureMethod: CaptureMethod, amountCapturable: Int64,
        amountReceived: Int64, amountRefunded: Int64, lastError: String?
    ) {
        self.status = status
        self.amount = amount
        self.captureMethod = captureMethod
        self.amountCapturable = amountCapturable
        self.amountReceived = amountReceived
        self.amountRefunded = amountRefunded
        self.lastError = lastError
    }

    /// The state after `command`, or a 409 `invalid-state-transition` naming the current status when this status
    /// does not allow it, or a 422 when an amount is out of range.
    public func applying(_ command: PaymentCommand) throws -> PaymentState {
        var next = self
        switch (self.status, command) {
        case (.requiresPaymentMethod, .attachPaymentMethod), (.requiresConfirmation, .attachPaymentMethod):
            next.status = .requiresConfirmation
        case (.requiresConfirmation, .confirm(let outcome)):
            try next.take(outcome, allowAction: true)
        case (.requiresAction, .actionCompleted(let outcome)):
            try next.take(outcome, allowAction: false)
        case (.processing, .settled(let outcome)):
            switch outcome {
            case .authorized, .captured: try next.take(outcome, allowAction: false)
            case .failed(let code, let message), .declined(let code, let message):
                next.status = .failed
                next.lastError = "\(code): \(message)"
            case .actionRequired, .processing: throw self.refusal(command)
            }
        case (.requiresCapture, .capture(let amount)):
            let taken = amount ?? self.amountCapturable
            guard taken > 0, taken <= self.amountCapturable else {
                throw AppError.invalid(
                    code: "invalid-capture-amount", "the capture must be between 1 and \(self.amountCapturable) minor units")
            }
            next.amountReceived = taken
            next.amountCapturable = 0
            next.status = .succeeded
        case (.requiresPaymentMethod, .cancel), (.requiresConfirmation, .cancel), (.requiresAction, .cancel),
            (.requiresCapture, .cancel):
            next.amountCapturable = 0
            next.status = .canceled
        case (.succeeded, .refund(let amount)), (.partiallyRefunded, .refund(let amount)):
            let refundable = self.amountReceived - self.amountRefunded
            guard amount > 0, amount <= refundable else {
                throw AppError.invalid(code: "invalid-refund-amount", "the refund must be between 1 and \(refundable) minor units")
            }
            next.amountRefunded += amount
            next.status = next.amountRefunded == next.amountReceived ? .refunded : .partiallyRefunded
        default:
            throw self.refusal(command)
        }
        return next
    }

    /// Whether `command` is allowed now (amounts aside).
    public func allows(_ command: PaymentCommand) -> Bool {
        do {
            _ = try self.applying(command)
            return true
        } catch let error as AppError {
            return error.code != "invalid-state-transition"
        } catch {
            return false
        }
    }

    private mutating func take(_ outcome: GatewayOutcome, allowAction: Bool) throws {
        switch outcome {
        case .actionRequired:
            guard allowAction else { throw self.refusal(.actionCompleted(outcome)) }
            self.status = .requiresAction
        case .processing:
            self.status = .processing
        case .authorized:
            if self.captureMethod == .manual {
                self.amountCapturable = self.amount
                self.status = .requiresCapture
            } else {
                self.amountReceived = self.amount
                self.status = .succeeded
            }
        case .captured:
            self.amountReceived = self.amount
            self.status = .succeeded
        case .declined(let code, let message):
            self.lastError = "\(code): \(message)"
            self.status = .requiresPaymentMethod
        case .failed(let code, let message):
            self.lastError = "\(code): \(message)"
            self.status = .failed
        }
    }

    private func refusal(_ command: PaymentCommand) -> AppError {
        AppError(
            .conflict, code: "invalid-state-transition",
            "a payment in status \(self.status.rawValue) does not allow \(command.name)")
    }
}
