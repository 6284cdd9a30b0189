import FinFlowCore
import FinFlowServer
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("platform routes: docs, health, metrics")
struct PlatformRoutesTests {
    @Test("the merged OpenAPI document has every service's paths, and every operation declares its permission and its problem response")
    func documentation() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let merged = try await client.send(.get, "/openapi.json")
            #expect(merged.status == 200)
            #expect(merged.body["openapi"] as? String == "3.1.0")
            let paths = try #require(merged.body["paths"] as? [String: [String: Any]])
            #expect(paths["/v1/auth/login"] != nil)
            #expect(paths["/v1/tenants/current"] != nil)
            var operations = 0
            for (path, methods) in paths {
                for (method, operation) in methods {
                    guard let operation = operation as? [String: Any] else { continue }
                    operations += 1
                    let permission = try #require(operation["x-permission"] as? String, "\(method) \(path) declares no permission")
                    #expect(
                        ["public", "authenticated"].contains(permission) || Roles.allPermissions.contains(permission),
                        "\(method) \(path): unknown permission \(permission)")
                    // Every refusal is a problem document, and a generated client knows its shape.
                    let responses = operation["responses"] as? [String: Any] ?? [:]
                    let problem = (responses["default"] as? [String: Any])?["$ref"] as? String ?? ""
                    #expect(problem.hasPrefix("#/components/responses/") && problem.hasSuffix("Problem"),
                            "\(method) \(path) declares no default problem response")
                }
            }
            #expect(operations > 30)
            #expect(try await client.send(.get, "/openapi/auth.json").status == 200)
            #expect(try await client.send(.get, "/openapi/tenancy.json").status == 200)
            #expect(try await client.send(.get, "/openapi/transactions.json").status == 200)
            #expect(try await client.send(.get, "/openapi/payments.json").status == 200)
            #expect(paths["/v1/payments/{paymentId}/refunds"] != nil)
            #expect(paths["/v1/transactions/imports"] != nil)
            #expect(try await client.send(.get, "/openapi/nothing.json").status == 404)
            // The pages load nothing from outside the process: their scripts and styles are served from the binary.
            for page in ["/docs", "/redoc"] {
                let html = try await client.execute(uri: page, method: .get) { response in
                    #expect(response.status == .ok)
                    return String(buffer: response.body)
                }
                #expect(html.contains("/openapi.json"))
                #expect(!html.contains("http://") && !html.contains("https://"), "\(page) loads from another host")
                for asset in html.matches(of: /(?:src|href)="(\/docs\/assets\/[^"]+)"/).map({ String($0.1) }) {
                    try await client.execute(uri: asset, method: .get) { response in
                        #expect(response.status == .ok && response.body.readableBytes > 100_000, "\(asset)")
                        #expect(response.headers[.contentType]?.hasPrefix(asset.hasSuffix(".css") ? "text/css" : "text/javascript") == true)
                    }
                }
            }
            #expect(try await client.send(.get, "/docs/assets/swagger-ui/nothing.js").status == 404)
        }
    }

    @Test("merged, each service's components keep their own definitions: a name two services use differently is renamed after its service")
    func mergedComponentsAreUnique() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let merged = try await client.send(.get, "/openapi.json")
            let schemas = try #require((merged.body["components"] as? [String: Any])?["schemas"] as? [String: Any])
            let paths = try #require(merged.body["paths"] as? [String: [String: Any]])
            var renamed = 0
            for service in ["auth", "tenancy", "accounting", "transactions", "payments", "credit", "compliance", "tax"] {
                let own = try await client.send(.get, "/openapi/\(service).json").body
                let ownSchemas = (own["components"] as? [String: Any])?["schemas"] as? [String: Any] ?? [:]
                let prefix = service.prefix(1).uppercased() + service.dropFirst()
                for (name, definition) in ownSchemas {
                    let same = { (other: Any?) in other.map { NSDictionary(dictionary: ["v": $0]).isEqual(to: ["v": definition]) } ?? false }
                    if !same(schemas[name]) {
                        #expect(same(schemas[prefix + name]), "\(service)'s \(name) is neither \(name) nor \(prefix + name) in the merged document")
                        renamed += 1
                    }
                }
            }
            // The case that broke a generated client: both the ledger and the transaction service have an Account.
            #expect(renamed > 0)
            let accounts = try #require((paths["/v1/transactions/accounts"]?["get"] as? [String: Any]).map { "\($0)" })
            #expect(accounts.contains("TransactionsAccount"), "\(accounts)")
            // Every reference resolves.
            let text = String(decoding: try JSONSerialization.data(withJSONObject: merged.body), as: UTF8.self)
            for match in text.matches(of: /#\\?\/components\\?\/schemas\\?\/([A-Za-z0-9_.-]+)/) {
                #expect(schemas[String(match.1)] != nil, "\(match.1) is referenced but not defined")
            }
        }
    }

    @Test("health answers, readiness checks every database, and /metrics counts requests by route and status")
    func healthAndMetrics() async throws {
        PrometheusSetup.bootstrap()
        let sut = try await TestSystem.make()
        try await sut.test { client in
            #expect(try await client.send(.get, "/health/live").status == 200)
            let ready = try await client.send(.get, "/health/ready")
            #expect(ready.status == 200)
            #expect((ready.body["checks"] as? [String: String]) == ["auth": "ok", "tenancy": "ok", "accounting": "ok", "transactions": "ok", "payments": "ok", "credit": "ok", "compliance": "ok", "tax": "ok", "insights": "ok", "integrations": "ok", "analytics": "ok", "realtime": "ok", "performance": "ok"])
            _ = try await client.send(.get, "/v1/auth/me")
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(text.contains("/v1/auth/me"))
                #expect(text.contains("401"))
                // Every database statement, by service and fingerprint id (docs/performance.md names them).
                #expect(text.contains("finflow_db_statement_duration_seconds_bucket{"))
                #expect(text.contains("finflow_db_statement_rows_total{"))
                #expect(text.contains(#"service="auth""#))
            }
            let traced = try await client.send(.get, "/health/live", headers: [.xRequestId: "trace-me-123"])
            #expect(traced.headers[.xRequestId] == "trace-me-123")
        }
    }

    @Test("the role table in docs/rbac.md is the one the code enforces")
    func rbacDocument() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/rbac.md")
        let document = try String(contentsOf: url, encoding: .utf8)
        #expect(document.contains(Roles.markdownTable()), "regenerate docs/rbac.md with `finflow roles`")
    }
}
