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
        var components: [String: [String: Any]] = [:]
        var tags: [Any] = []
        for descriptor in descriptors {
            guard var document = try Yams.load(yaml: try descriptor.openAPIDocument()) as? [String: Any] else {
                throw InvariantViolation("the OpenAPI document of \(descriptor.name) is not a mapping")
            }
            perService[descriptor.name] = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
            document = Self.renamingCollisions(in: document, service: descriptor.name, against: components)
            paths.merge(document["paths"] as? [String: Any] ?? [:]) { first, _ in first }
            for (kind, entries) in document["components"] as? [String: Any] ?? [:] {
                components[kind, default: [:]].merge(entries as? [String: Any] ?? [:]) { first, _ in first }
            }
            tags += document["tags"] as? [Any] ?? []
        }
        let schemas = components["schemas"] ?? [:], securitySchemes = components["securitySchemes"] ?? [:]
        let responses = components["responses"] ?? [:], parameters = components["parameters"] ?? [:]
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

    /// `document` with each component whose name an earlier service already gave to a different definition renamed
    /// after its service (`Account` of transactions becomes `TransactionsAccount`), and every reference to it in the
    /// document rewritten: the merged document then describes each operation exactly as its service does.
    static func renamingCollisions(in document: [String: Any], service: String, against merged: [String: [String: Any]]) -> [String: Any] {
        guard document["components"] is [String: Any] else { return document }
        var renames: [String: String] = [:]
        func rewrite(_ value: Any) -> Any {
            switch value {
            case let object as [String: Any]:
                var result: [String: Any] = [:]
                for (key, inner) in object {
                    if key == "$ref", let reference = inner as? String, let renamed = renames[reference] {
                        result[key] = renamed
                    } else {
                        result[key] = rewrite(inner)
                    }
                }
                return result
            case let array as [Any]: return array.map(rewrite)
            default: return value
            }
        }
        // Until nothing more is renamed: a definition that reads the same as another service's but refers to a renamed
        // one (a list of the other `Account`) differs once its references are rewritten, and is renamed in turn.
        var rewritten = document
        repeat {
            let before = renames.count
            for (kind, entries) in rewritten["components"] as? [String: Any] ?? [:] {
                for (name, definition) in entries as? [String: Any] ?? [:] {
                    let reference = "#/components/\(kind)/\(name)"
                    guard renames[reference] == nil, let earlier = merged[kind]?[name],
                        !NSDictionary(dictionary: ["v": earlier]).isEqual(to: ["v": definition])
                    else { continue }
                    renames[reference] = "#/components/\(kind)/\(service.prefix(1).uppercased() + service.dropFirst())\(name)"
                }
            }
            guard renames.count > before else { break }
            rewritten = rewrite(document) as? [String: Any] ?? document
        } while true
        guard !renames.isEmpty else { return document }
        var renamedComponents: [String: Any] = [:]
        for (kind, entries) in rewritten["components"] as? [String: Any] ?? [:] {
            var renamedEntries: [String: Any] = [:]
            for (name, definition) in entries as? [String: Any] ?? [:] {
                let target = renames["#/components/\(kind)/\(name)"].map { String($0.split(separator: "/").last ?? "") } ?? name
                renamedEntries[target] = definition
            }
            renamedComponents[kind] = renamedEntries
        }
        rewritten["components"] = renamedComponents
        return rewritten
    }

    /// Swagger UI on the merged document, as FastAPI serves it.
    static let swaggerHTML = """
        <!doctype html>
        <html><head><meta charset="utf-8"><title>FinFlow API</title>
        <link rel="stylesheet" href="/docs/assets/swagger-ui/swagger-ui.css"></head>
        <body><div id="swagger-ui"></div>
        <script src="/docs/assets/swagger-ui/swagger-ui-bundle.js"></script>
        <script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", persistAuthorization: true});</script>
        </body></html>
        """

    /// ReDoc on the merged document.
    static let redocHTML = """
        <!doctype html>
        <html><head><meta charset="utf-8"><title>FinFlow API</title></head>
        <body><redoc spec-url="/openapi.json"></redoc>
        <script src="/docs/assets/redoc/redoc.standalone.js"></script>
        </body></html>
        """

    /// The Swagger UI and ReDoc files, served from the binary so the pages work offline (see Resources/docs/SOURCE.md):
    /// path under `/docs/assets/` → content type and bytes.
    static func assets() throws -> [String: (contentType: String, data: Data)] {
        var assets: [String: (contentType: String, data: Data)] = [:]
        for (path, contentType) in [
            ("swagger-ui/swagger-ui-bundle.js", "text/javascript; charset=utf-8"), ("swagger-ui/swagger-ui.css", "text/css; charset=utf-8"),
            ("redoc/redoc.standalone.js", "text/javascript; charset=utf-8"),
        ] {
            guard let url = Bundle.module.url(forResource: "Resources/docs/\(path)", withExtension: nil) else {
                throw InvariantViolation("the documentation asset \(path) is missing from the build")
            }
            assets[path] = (contentType, try Data(contentsOf: url))
        }
        return assets
    }
}
