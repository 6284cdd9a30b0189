import FinFlowCore
import Foundation
import Yams

/// The OpenAPI documents of the services in this process, as JSON: one each, and one merged.
struct APIDocumentation: Sendable {
    /// Service name → OpenAPI JSON.
    let perService: [String: Data]
    /// Every service's paths and components in one document.
    let merged: Data

    init(descriptors: [ServiceDescriptor]) throws {
        var perService: [String: Data] = [:]
        var paths: [String: Any] = [:]
        var schemas: [String: Any] = [:]
        var securitySchemes: [String: Any] = [:]
        var responses: [String: Any] = [:]
        var parameters: [String: Any] = [:]
        var tags: [Any] = []
        for descriptor in descriptors {
            guard let document = try Yams.load(yaml: try descriptor.openAPIDocument()) as? [String: Any] else {
                preconditionFailure("the OpenAPI document of \(descriptor.name) is not a mapping")
            }
            perService[descriptor.name] = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
            paths.merge(document["paths"] as? [String: Any] ?? [:]) { first, _ in first }
            let components = document["components"] as? [String: Any] ?? [:]
            schemas.merge(components["schemas"] as? [String: Any] ?? [:]) { first, _ in first }
            securitySchemes.merge(components["securitySchemes"] as? [String: Any] ?? [:]) { first, _ in first }
            responses.merge(components["responses"] as? [String: Any] ?? [:]) { first, _ in first }
            parameters.merge(components["parameters"] as? [String: Any] ?? [:]) { first, _ in first }
            tags += document["tags"] as? [Any] ?? []
        }
        let merged: [String: Any] = [
            "openapi": "3.1.0",
            "info": [
                "title": "FinFlow",
                "version": "1.0.0",
                "description": "The HTTP API of every FinFlow service in this process: \(descriptors.map(\.title).joined(separator: ", ")).",
            ],
            "tags": tags,
            "paths": paths,
            "components": [
                "schemas": schemas, "securitySchemes": securitySchemes, "responses": responses, "parameters": parameters,
            ],
        ]
        self.perService = perService
        self.merged = try JSONSerialization.data(withJSONObject: merged, options: [.sortedKeys])
    }

    /// Swagger UI on the merged document, as FastAPI serves it.
    static let swaggerHTML = """
        <!doctype html>
        <html><head><meta charset="utf-8"><title>FinFlow API</title>
        <link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"></head>
        <body><div id="swagger-ui"></div>
        <script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
        <script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", persistAuthorization: true});</script>
        </body></html>
        """

    /// ReDoc on the merged document.
    static let redocHTML = """
        <!doctype html>
        <html><head><meta charset="utf-8"><title>FinFlow API</title></head>
        <body><redoc spec-url="/openapi.json"></redoc>
        <script src="https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"></script>
        </body></html>
        """
}
