import HTTPTypes
import Hummingbird

/// Refuses request bodies over `requestBodyBytesMax` with a 413 problem, whether or not they declare a length,
/// and hands the handlers a body already in memory.
public struct BodyLimitMiddleware: RouterMiddleware {
    public typealias Context = FinFlowRequestContext
    /// The largest body accepted, in bytes.
    public let requestBodyBytesMax: Int

    /// A limit of `requestBodyBytesMax` bytes.
    public init(requestBodyBytesMax: Int) {
        self.requestBodyBytesMax = requestBodyBytesMax
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let tooLarge = AppError(
            .payloadTooLarge, code: "body-too-large",
            "the request body exceeds the limit of \(self.requestBodyBytesMax) bytes")
        let declared = request.headers[.contentLength].flatMap(Int.init)
        if let declared, declared > self.requestBodyBytesMax { throw tooLarge }
        // Nothing to read: no length and no chunked body (most GETs).
        if declared == 0 || (declared == nil && request.headers[.transferEncoding] == nil) {
            return try await next(request, context)
        }
        var request = request
        do {
            let buffer = try await request.body.collect(upTo: self.requestBodyBytesMax)
            request.body = .init(buffer: buffer)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw tooLarge
        }
        return try await next(request, context)
    }
}
