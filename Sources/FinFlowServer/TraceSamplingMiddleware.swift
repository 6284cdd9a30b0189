import FinFlowCore
import Hummingbird
import Tracing

/// Runs after the tracing middleware, inside the request's span: tells the statements of the request whether its trace
/// is sampled (read once from the span's context), so an unsampled request starts no statement spans.
struct TraceSamplingMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let current = ServiceContext.current else { return try await next(request, context) }
        return try await FinFlowTracing.$sampled.withValue(FinFlowTracing.isSampled(current)) { try await next(request, context) }
    }
}
