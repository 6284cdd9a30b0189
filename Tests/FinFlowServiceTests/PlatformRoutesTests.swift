import FinFlowCore
import FinFlowServer
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("platform routes: docs, health, metrics")
struct PlatformRoutesTests {
    @Test("the merged OpenAPI document has every service's paths, and every operation declares its permission")
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
            for page in ["/docs", "/redoc"] {
                try await client.execute(uri: page, method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body).contains("/openapi.json"))
                }
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
            #expect((ready.body["checks"] as? [String: String]) == ["auth": "ok", "tenancy": "ok", "accounting": "ok", "transactions": "ok", "payments": "ok", "credit": "ok"])
            _ = try await client.send(.get, "/v1/auth/me")
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(text.contains("/v1/auth/me"))
                #expect(text.contains("401"))
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
