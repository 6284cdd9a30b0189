import Foundation
import HTTPTypes
import Hummingbird

/// An RFC 9457 problem document, the body of every FinFlow error response.
public struct Problem: Codable, Sendable, Equatable {
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String
    /// Stable machine-readable code (`insufficient-funds`).
    public var code: String
    /// The request id, for finding the log lines of this request.
    public var requestId: String
    public var instance: String?
    /// Fields that failed validation.
    public var errors: [AppError.FieldError]?

    /// The problem for a domain error.
    public init(error: AppError, requestId: String, instance: String?) {
        let status = Problem.status(for: error.kind)
        self.type = "urn:finflow:problem:\(error.code)"
        self.title = status.reasonPhrase
        self.status = status.code
        self.detail = error.message
        self.code = error.code
        self.requestId = requestId
        self.instance = instance
        self.errors = error.fieldErrors.isEmpty ? nil : error.fieldErrors
    }

    /// The HTTP status of each kind of domain error.
    public static func status(for kind: AppError.Kind) -> HTTPResponse.Status {
        switch kind {
        case .invalidInput: .badRequest
        case .notFound: .notFound
        case .conflict: .conflict
        case .rejected: .unprocessableContent
        case .unauthenticated: .unauthorized
        case .forbidden: .forbidden
        case .locked: .init(code: 423, reasonPhrase: "Locked")
        case .tooManyRequests: .tooManyRequests
        case .payloadTooLarge: .contentTooLarge
        case .upgradeRequired: .init(code: 426, reasonPhrase: "Upgrade Required")
        case .unavailable: .serviceUnavailable
        }
    }

    /// The media type of problem documents.
    public static let mediaType = "application/problem+json"

    /// Encodes the problem as a response, with `Retry-After` when the error carries one.
    public static func response(for error: AppError, requestId: String, instance: String?) -> Response {
        let problem = Problem(error: error, requestId: requestId, instance: instance)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(problem)) ?? Data("{}".utf8)
        var headers: HTTPFields = [.contentType: Problem.mediaType]
        if let retryAfter = error.retryAfterSeconds { headers[.retryAfter] = String(retryAfter) }
        if error.kind == .unauthenticated { headers[.wwwAuthenticate] = "Bearer" }
        return Response(
            status: Problem.status(for: error.kind), headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
