import FinFlowCore
import Foundation
import Hummingbird
import NIOCore
import JWTKit
import Metrics
import Prometheus

extension FinFlowSystem {
    /// One router: health, metrics and docs, then each service's routes behind its idempotency middleware.
    static func router(
        settings: Settings, descriptors: [ServiceDescriptor], services: [any FinFlowService],
        databases: [String: any Database], ids: IdentifierGenerator, verifier: TokenVerifier, clock: any FinFlowClock,
        shared: (any SharedStore)?
    ) throws -> FinFlowRouter {
        let router = FinFlowRouter(context: FinFlowRequestContext.self)
        if FinFlowTracing.isEnabled {
            // A server span per request, continuing the caller's `traceparent`; query values that may name a person or
            // carry a secret are not written into it.
            router.add(middleware: TracingMiddleware(redactingQueryParameters: Self.redactedQueryParameters))
            router.add(middleware: TraceSamplingMiddleware())
        }
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ProblemMiddleware(ids: ids))
        router.add(middleware: BodyLimitMiddleware(requestBodyBytesMax: settings.requestBodyBytesMax))
        router.add(middleware: EmptyBodyMiddleware())
        router.add(middleware: AuthenticationMiddleware(verifier: verifier))

        router.get("/health/live") { _, _ in HealthStatus(status: "ok", checks: [:]) }
        router.get("/health/ready") { _, _ -> Response in
            var checks: [String: String] = [:]
            for (name, database) in databases {
                do { try await database.ping(); checks[name] = "ok" } catch { checks[name] = "unavailable" }
            }
            let ready = checks.values.allSatisfy { $0 == "ok" }
            let body = try JSONEncoder().encode(HealthStatus(status: ready ? "ok" : "unavailable", checks: checks))
            return Response(
                status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: PrometheusSetup.registry.emitToBuffer())))
        }

        let docs = try APIDocumentation(descriptors: descriptors)
        router.get("/openapi.json") { _, _ in Self.json(docs.merged) }
        router.get("/openapi/{service}") { _, context -> Response in
            let file = context.parameters.get("service") ?? ""
            guard file.hasSuffix(".json"), let document = docs.perService[String(file.dropLast(5))] else {
                throw AppError.notFound("service document")
            }
            return Self.json(document)
        }
        WebApp.register(on: router)
        router.get("/docs") { _, _ in Self.html(APIDocumentation.swaggerHTML) }
        router.get("/redoc") { _, _ in Self.html(APIDocumentation.redocHTML) }
        let assets = try APIDocumentation.assets()
        router.get("/docs/assets/{folder}/{file}") { _, context -> Response in
            let path = "\(context.parameters.get("folder") ?? "")/\(context.parameters.get("file") ?? "")"
            guard let asset = assets[path] else { throw AppError.notFound("documentation asset") }
            return Response(
                status: .ok, headers: [.contentType: asset.contentType, .cacheControl: "public, max-age=86400"],
                body: .init(byteBuffer: ByteBuffer(bytes: asset.data)))
        }

        for (descriptor, service) in zip(descriptors, services) {
            guard let database = databases[descriptor.name] else { continue }
            let api = router.group().add(middleware: IdempotencyMiddleware(
                database: database, clock: clock, shared: shared, namespace: descriptor.name,
                staleRunningMillis: Int64(settings.idempotencyRunningTimeoutSeconds) * 1_000, fault: settings.faultInjection))
            try service.registerRoutes(api: api, root: router)
        }
        return router
    }

    /// Query parameters a request span records as `REDACTED`.
    static let redactedQueryParameters: Set<String> = [
        "code", "state", "token", "access_token", "id_token", "email", "q", "search", "name", "counterparty", "iban", "reference",
    ]

    static func json(_ data: Data) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func html(_ text: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// The body of the health routes.
struct HealthStatus: ResponseCodable {
    let status: String
    let checks: [String: String]
}

/// The process's Prometheus registry; swift-metrics is bootstrapped onto it once.
public enum PrometheusSetup {
    public static let registry = PrometheusCollectorRegistry()

    private static let once: Void = {
        var factory = PrometheusMetricsFactory(registry: registry)
        // Statements are many (a series per service and fingerprint): fewer buckets, from 100 µs to 10 s.
        factory.durationHistogramBuckets["finflow_db_statement_duration_seconds"] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(10),
        ]
        MetricsSystem.bootstrap(factory)
    }()

    /// Routes swift-metrics (request counts and latency histograms by route and status) to `/metrics`; once per
    /// process, however often it is called.
    public static func bootstrap() {
        _ = self.once
    }
}
