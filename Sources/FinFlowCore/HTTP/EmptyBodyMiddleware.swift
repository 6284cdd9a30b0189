import HTTPTypes
import Hummingbird
import NIOCore

/// Lets a client call a command whose JSON body is optional (`POST …/reverse`) with no body at all: a write with
/// neither a body nor a `Content-Type` reaches the handlers as an empty JSON object, which every optional body
/// accepts and every required body refuses field by field.
public struct EmptyBodyMiddleware: RouterMiddleware {
    public typealias Context = FinFlowRequestContext

    public init() {}

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let writes: Set<HTTPRequest.Method> = [.post, .put, .patch]
        let declared = request.headers[.contentLength].flatMap(Int.init)
        guard writes.contains(request.method), request.headers[.contentType] == nil,
            declared == 0 || (declared == nil && request.headers[.transferEncoding] == nil)
        else { return try await next(request, context) }
        var head = request.head
        head.headerFields[.contentType] = "application/json"
        head.headerFields[.contentLength] = "2"
        return try await next(Request(head: head, body: .init(buffer: ByteBuffer(string: "{}"))), context)
    }
}
