import FinFlowCore
import Foundation
import SQLKit

extension PaymentDesk {
    /// Most characters of one credential or webhook secret.
    static let secretLengthMax = 500

    /// Validates and stores the tenant's settings for `provider`, audited (names only, never values).
    func configureGateway(
        principal: Principal, provider name: String, priority: Int?, baseURL: String?, credentials: [String: String],
        webhookSecret: String?, webhookURL: String?, enabled: Bool?
    ) async throws -> GatewaySettings {
        var validator = Validator()
        let provider = GatewayProvider(rawValue: name)
        validator.check(provider != nil, "provider", "must be one of \(GatewayProvider.allCases.map(\.rawValue).joined(separator: ", "))")
        if let priority { validator.check((1...100).contains(priority), "priority", "must be 1–100") }
        if let baseURL { Self.checkBaseURL(baseURL, into: &validator) }
        if let provider {
            for needed in provider.credentialNames {
                validator.check(credentials[needed] != nil, "credentials.\(needed)", "is required for \(provider.rawValue)")
            }
            for (key, value) in credentials {
                validator.check((provider.credentialNames + provider.optionalCredentialNames).contains(key), "credentials.\(key)", "is not a \(provider.rawValue) credential")
                validator.check((1...Self.secretLengthMax).contains(value.count) && value.allSatisfy { $0.isASCII && !$0.isWhitespace },
                                "credentials.\(key)", "must be 1–\(Self.secretLengthMax) visible ASCII characters")
            }
        }
        if let webhookSecret {
            validator.check((1...Self.secretLengthMax).contains(webhookSecret.count), "webhookSecret", "must be 1–\(Self.secretLengthMax) characters")
        }
        if let webhookURL {
            let url = URL(string: webhookURL)
            validator.check(webhookURL.count <= 500 && url?.host != nil && ["https", "http"].contains(url?.scheme ?? ""), "webhookUrl", "must be an http(s) URL of at most 500 characters")
        }
        try validator.throwIfInvalid()
        guard let provider else { preconditionFailure("validated above") }
        let settings = GatewaySettings(
            provider: provider, priority: priority ?? 1, baseURL: baseURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? provider.defaultBaseURL,
            credentials: credentials, webhookSecret: webhookSecret, webhookURL: webhookURL, enabled: enabled ?? true, updatedAtMillis: self.now)
        let kind = self.kind
        let row = try await self.gateways.sealed(settings, tenantId: principal.tenantId, by: principal.subject)
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            try await self.gateways.save(row, on: db)
            try await self.env.audit.append(
                AuditEntry(
                    tenantId: principal.tenantId, actorId: principal.subject, action: "payments.gateway.configured", target: provider.rawValue,
                    details: ["baseUrl": settings.baseURL, "priority": String(settings.priority), "enabled": String(settings.enabled),
                              "credentials": credentials.keys.sorted().joined(separator: ","), "webhookSecret": String(webhookSecret != nil)]),
                on: db, kind: kind)
        }
        return settings
    }

    /// An http(s) address; plain http only to this machine (a test server or a local proxy).
    static func checkBaseURL(_ text: String, into validator: inout Validator) {
        guard text.count <= 500, let url = URL(string: text), let scheme = url.scheme, let host = url.host, url.query == nil else {
            validator.fail("baseUrl", "must be an http(s) URL without a query")
            return
        }
        let loopback = ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host)
        validator.check(scheme == "https" || (scheme == "http" && loopback), "baseUrl", "must use https (plain http only on loopback)")
    }
}
