import Foundation
/// A domain error with a stable kebab-case code and a kind that decides its HTTP status.
public struct AppError: Error, Sendable, CustomStringConvertible {
    /// What class of failure this is; the problem middleware maps it to a status.
    public enum Kind: String, Sendable {
        case invalidInput, notFound, conflict, rejected, unauthenticated, forbidden, locked, tooManyRequests,
            payloadTooLarge, upgradeRequired, unavailable
    }

    /// One field that failed validation.
    public struct FieldError: Sendable, Codable, Equatable {
        /// The JSON path of the field (`email`, `lines[2].amount`).
        public let field: String
        /// What is wrong with it.
        public let message: String

        /// A field error.
        public init(field: String, message: String) {
            self.field = field
            self.message = message
        }
    }

    public let kind: Kind
    /// Stable machine-readable code (`insufficient-funds`).
    public let code: String
    /// Human-readable explanation, safe to show to the caller.
    public let message: String
    public let fieldErrors: [FieldError]
    /// Seconds after which a retry may succeed (sent as `Retry-After`).
    public let retryAfterSeconds: Int?
    /// Whether the same request may succeed later (another request in flight, a dependency down): such an answer is
    /// not kept under an idempotency key, so the retry runs again. Always so for 503, 429 and 423.
    public let isTransient: Bool

    /// An error of any kind.
    public init(
        _ kind: Kind, code: String, _ message: String, fieldErrors: [FieldError] = [], retryAfterSeconds: Int? = nil,
        transient: Bool = false
    ) {
        self.kind = kind
        self.code = code
        self.message = message
        self.fieldErrors = fieldErrors
        self.retryAfterSeconds = retryAfterSeconds
        self.isTransient = transient || [.unavailable, .tooManyRequests, .locked].contains(kind)
    }

    public var description: String { "\(self.code): \(self.message)" }

    /// Bad input (400/422).
    public static func invalid(code: String = "invalid-input", _ message: String, fields: [FieldError] = []) -> AppError {
        AppError(.invalidInput, code: code, message, fieldErrors: fields)
    }

    /// Validation failures of named fields.
    public static func validation(_ fields: [FieldError]) -> AppError {
        AppError(.invalidInput, code: "validation-failed", "the request has invalid fields", fieldErrors: fields)
    }

    /// Something that does not exist, or that the caller may not know exists.
    public static func notFound(_ what: String) -> AppError {
        AppError(.notFound, code: "not-found", "\(what) not found")
    }

    /// A state conflict (409).
    /// The answer to a client-supplied id used before for other content (`what`: "decision", "screening").
    public static func idReused(_ what: String) -> AppError {
        AppError.conflict(code: "id-reused", "this \(what) id was used for a different request")
    }

    public static func conflict(code: String, _ message: String) -> AppError {
        AppError(.conflict, code: code, message)
    }

    /// A missing or invalid credential (401).
    public static func unauthenticated(code: String = "unauthenticated", _ message: String = "authentication required")
        -> AppError
    {
        AppError(.unauthenticated, code: code, message)
    }

    /// An authenticated caller lacking a permission (403).
    public static func forbidden(code: String = "forbidden", _ message: String) -> AppError {
        AppError(.forbidden, code: code, message)
    }
}

/// Collects field errors while validating a request, then throws them all at once.
public struct Validator: Sendable {
    public private(set) var errors: [AppError.FieldError] = []

    /// An empty validator.
    public init() {}

    /// Records a failure of `field` when `condition` is false.
    public mutating func check(_ condition: Bool, _ field: String, _ message: String) {
        if !condition { self.errors.append(.init(field: field, message: message)) }
    }

    /// Records a failure of `field`.
    public mutating func fail(_ field: String, _ message: String) {
        self.errors.append(.init(field: field, message: message))
    }

    /// A client-supplied id: a UUID, answered in canonical lower case; anything else is recorded as a failure of
    /// `field` and answered as nil.
    public mutating func clientId(_ text: String?, field: String) -> String? {
        guard let text else { return nil }
        guard let uuid = UUID(uuidString: text) else {
            self.fail(field, "must be a UUID")
            return nil
        }
        return uuid.uuidString.lowercased()
    }

    /// Throws a `validation-failed` error naming every recorded field, if any.
    public func throwIfInvalid() throws {
        if !self.errors.isEmpty { throw AppError.validation(self.errors) }
    }
}
