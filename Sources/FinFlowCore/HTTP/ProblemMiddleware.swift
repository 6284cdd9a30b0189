import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OpenAPIRuntime

/// Gives every request an id (kept from `X-Request-Id` when well formed), puts it in the task-local scope, the
/// logger and the response, and turns every error into an RFC 9457 problem. A 500 says nothing but the request id.
public struct ProblemMiddleware: RouterMiddleware {
    public typealias Context = FinFlowRequestContext
    let ids: IdentifierGenerator

    /// A middleware drawing new request ids from `ids`.
    public init(ids: IdentifierGenerator) {
        self.ids = ids
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let requestId = Self.acceptedRequestId(request.headers[.xRequestId]) ?? self.ids.nextString()
        var context = context
        context.logger[metadataKey: "request_id"] = .string(requestId)
        let scope = RequestScope(
            requestId: requestId, clientAddress: context.remoteAddress?.ipAddress,
            userAgent: request.headers[.userAgent])
        var response: Response
        do {
            response = try await RequestScope.$current.withValue(scope) {
                try await next(request, context)
            }
        } catch {
            response = Self.problemResponse(for: error, request: request, requestId: requestId, logger: context.logger)
        }
        response.headers[.xRequestId] = requestId
        return response
    }

    /// Accepts a caller's request id if it is short and plain, so it can be logged safely.
    static func acceptedRequestId(_ value: String?) -> String? {
        guard let value, (1...128).contains(value.count),
            value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:".contains($0)) })
        else { return nil }
        return value
    }

    /// Maps any error to a problem response; unknown errors are logged and become an opaque 500.
    static func problemResponse(for error: any Error, request: Request, requestId: String, logger: Logger) -> Response {
        let instance = request.uri.path
        if let appError = Self.clientError(from: error) {
            if appError.kind == .unavailable {
                logger.warning("service unavailable", metadata: ["error": "\(error)"])
            }
            return Problem.response(for: appError, requestId: requestId, instance: instance)
        }
        logger.error("request failed", metadata: ["error": "\(String(reflecting: error))", "path": "\(instance)"])
        var response = Problem.response(
            for: AppError(.unavailable, code: "internal-error", "an internal error occurred; quote the request id"),
            requestId: requestId, instance: instance)
        response.status = .internalServerError
        return response
    }

    /// The domain error a thrown error stands for, or nil when it is the server's fault.
    static func clientError(from error: any Error) -> AppError? {
        switch error {
        case let appError as AppError:
            return appError
        case let serverError as ServerError:
            if let appError = serverError.underlyingError as? AppError { return appError }
            // A failure before the handler had its input is a request the generated decoder refused.
            if serverError.operationInput == nil {
                return AppError.invalid(code: "malformed-request", Self.describe(serverError))
            }
            return nil
        case let decodingError as DecodingError:
            return AppError.invalid(code: "malformed-request", Self.describe(decodingError))
        case let httpError as HTTPError:
            return Self.appError(from: httpError)
        default:
            return nil
        }
    }

    static func appError(from httpError: HTTPError) -> AppError? {
        switch httpError.status.code {
        case 404: return AppError.notFound("route")
        case 405: return AppError(.invalidInput, code: "method-not-allowed", "this method is not allowed on this route")
        case 413: return AppError(.payloadTooLarge, code: "body-too-large", "the request body is too large")
        case 400..<500: return AppError.invalid(code: "bad-request", httpError.body ?? "bad request")
        default: return nil
        }
    }

    static func describe(_ serverError: ServerError) -> String {
        if let decodingError = serverError.underlyingError as? DecodingError { return describe(decodingError) }
        return "\(serverError.causeDescription) \(serverError.underlyingError)"
            .replacingOccurrences(of: "\n", with: " ")
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            let text = codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return text.isEmpty ? "the body" : "'\(text)'"
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing field '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
        case .typeMismatch(let type, let context):
            return "wrong type at \(path(context.codingPath)): expected \(type)"
        case .valueNotFound(let type, let context):
            return "missing value at \(path(context.codingPath)): expected \(type)"
        case .dataCorrupted(let context):
            return "invalid value at \(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "the body could not be read"
        }
    }
}

extension HTTPField.Name {
    /// `X-Request-Id`.
    public static let xRequestId = Self("X-Request-Id")!
    /// `Idempotency-Key`.
    public static let idempotencyKey = Self("Idempotency-Key")!
    /// `Idempotency-Replayed`.
    public static let idempotencyReplayed = Self("Idempotency-Replayed")!
}

extension Configuration {
    /// How every service's generated API encodes its JSON: compact, with sorted keys (the runtime's default also
    /// pretty-prints, which costs each response a second pass for whitespace no client reads).
    public static let finFlow = Configuration(jsonEncodingOptions: [.sortedKeys])
}
