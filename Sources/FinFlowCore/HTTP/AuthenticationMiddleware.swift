import Foundation
import HTTPTypes
import Hummingbird

/// Verifies a `Bearer` access token when one is sent and puts its principal in the request scope. A request with
/// no token goes on unauthenticated (each route decides); a bad token is refused at once.
public struct AuthenticationMiddleware: RouterMiddleware {
    public typealias Context = FinFlowRequestContext
    let verifier: TokenVerifier

    /// A middleware verifying with `verifier`.
    public init(verifier: TokenVerifier) {
        self.verifier = verifier
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let header = request.headers[.authorization] ?? Self.webSocketBearer(request) else { return try await next(request, context) }
        let parts = header.split(separator: " ", maxSplits: 1)
        if parts.count == 2, parts[0].lowercased() == "basic", header.count <= 1024 {
            // HTTP Basic is for client credentials at the token endpoint; the route reads it from the scope.
            var scope = RequestScope.current ?? RequestScope(requestId: "unknown")
            scope.authorization = header
            return try await RequestScope.$current.withValue(scope) { try await next(request, context) }
        }
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty, parts[1].count <= 8192 else {
            throw AppError.unauthenticated(code: "invalid-token", "the Authorization header must be 'Bearer <token>'")
        }
        let principal = try await self.verifier.verify(String(parts[1]))
        let watch = TokenWatch(verifier: self.verifier, token: String(parts[1]))
        var scope = RequestScope.current ?? RequestScope(requestId: "unknown")
        scope.principal = principal
        scope.tokenWatch = watch
        var context = context
        context.principal = principal
        context.tokenWatch = watch
        return try await RequestScope.$current.withValue(scope) { [context] in
            try await next(request, context)
        }
    }

    /// The prefix of the WebSocket sub-protocol that carries an access token, for browsers, which cannot set headers
    /// on a WebSocket: `new WebSocket(url, ["finflow.v1", "bearer." + token])`.
    public static let webSocketBearerPrefix = "bearer."

    /// `Bearer <token>` from a WebSocket upgrade offering the token as a sub-protocol; nil for any other request.
    static func webSocketBearer(_ request: Request) -> String? {
        guard request.headers[.upgrade]?.lowercased() == "websocket", let offered = request.headers[.secWebSocketProtocol] else { return nil }
        for item in offered.split(separator: ",") {
            let name = item.trimmingCharacters(in: .whitespaces)
            if name.hasPrefix(Self.webSocketBearerPrefix) { return "Bearer " + name.dropFirst(Self.webSocketBearerPrefix.count) }
        }
        return nil
    }
}
