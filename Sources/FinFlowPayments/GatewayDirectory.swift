import AsyncHTTPClient
import Crypto
import FinFlowCore
import Foundation
import SQLKit
import Synchronization

/// The processors FinFlow speaks to, with what each needs to be reached.
public enum GatewayProvider: String, Sendable, CaseIterable {
    case stripe, square, paypal

    /// The credential fields a tenant must supply.
    var credentialNames: [String] {
        switch self {
        case .stripe: ["secretKey"]
        case .square: ["accessToken"]
        case .paypal: ["clientId", "clientSecret"]
        }
    }

    /// The credential fields a tenant may supply.
    var optionalCredentialNames: [String] {
        switch self {
        case .stripe: []
        case .square: ["locationId"]
        case .paypal: []
        }
    }

    /// The production address.
    var defaultBaseURL: String {
        switch self {
        case .stripe: "https://api.stripe.com"
        case .square: "https://connect.squareup.com"
        case .paypal: "https://api-m.paypal.com"
        }
    }
}

/// A tenant's settings for one gateway, credentials in the clear (only in memory).
struct GatewaySettings: Sendable {
    let provider: GatewayProvider
    let priority: Int
    let baseURL: String
    let credentials: [String: String]
    let webhookSecret: String?
    /// The address the gateway posts its webhooks to, as registered there (Square signs it with the body).
    let webhookURL: String?
    let enabled: Bool
    let updatedAtMillis: Int64
}

/// Each tenant's gateways: their settings (credentials sealed with AES-GCM at rest), and the gateway clients built from
/// them, with one circuit breaker per tenant and gateway that lives as long as the process.
final class GatewayDirectory: Sendable {
    private let database: any Database
    private let clock: any FinFlowClock
    private let configuredKey: String?
    private let sealingKey = Mutex<SymmetricKey?>(nil)
    private let breakers = Mutex<[String: CircuitBreaker]>([:])
    /// Most tenants whose breakers are kept; past it the oldest are dropped (a fresh breaker is closed).
    static let breakersMax = 10_000

    init(database: any Database, clock: any FinFlowClock, configuredKey: String?) {
        self.database = database
        self.clock = clock
        self.configuredKey = configuredKey
    }

    /// The tenant's gateway `provider`, enabled or not (an existing payment keeps its gateway).
    func gateway(tenantId: String, provider: String) async throws -> any PaymentGateway {
        guard let found = try await self.settings(tenantId: tenantId).first(where: { $0.provider.rawValue == provider }) else {
            throw AppError(.unavailable, code: "gateway-not-configured", "the tenant has no \(provider) gateway configured")
        }
        return self.client(tenantId: tenantId, found)
    }

    /// The tenant's settings, first choice first.
    func settings(tenantId: String) async throws -> [GatewaySettings] {
        let rows = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.select().column("*").from("payment_gateways").where("tenant_id", .equal, tenantId)
                .orderBy("priority").orderBy("provider").all(decoding: GatewayRow.self)
        }
        let key = try await self.key()
        return try rows.compactMap { row in
            guard let provider = GatewayProvider(rawValue: row.provider) else { return nil }
            let credentials = try JSONDecoder().decode([String: String].self, from: Self.open(row.credentials_sealed, key: key))
            let webhookSecret = try row.webhook_secret_sealed.map { String(decoding: try Self.open($0, key: key), as: UTF8.self) }
            return GatewaySettings(
                provider: provider, priority: row.priority, baseURL: row.base_url, credentials: credentials, webhookSecret: webhookSecret, webhookURL: row.webhook_url,
                enabled: row.enabled != 0, updatedAtMillis: row.updated_at_ms)
        }
    }

    /// The tenant's settings for one gateway as stored, credentials sealed. Called before the transaction that saves
    /// them: the sealing key may have to be made in a transaction of its own.
    func sealed(_ settings: GatewaySettings, tenantId: String, by actor: String) async throws -> GatewayRow {
        let key = try await self.key()
        let credentials = try Self.seal(JSONEncoder().encode(settings.credentials), key: key)
        let webhookSecret = try settings.webhookSecret.map { try Self.seal(Data($0.utf8), key: key) }
        return GatewayRow(
            tenant_id: tenantId, provider: settings.provider.rawValue, priority: settings.priority, base_url: settings.baseURL,
            credentials_sealed: credentials, webhook_secret_sealed: webhookSecret, webhook_url: settings.webhookURL, enabled: settings.enabled ? 1 : 0,
            updated_by: actor, updated_at_ms: settings.updatedAtMillis)
    }

    /// Stores a tenant's sealed settings for one gateway, replacing earlier ones.
    func save(_ row: GatewayRow, on db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM payment_gateways WHERE tenant_id = \(bind: row.tenant_id) AND provider = \(bind: row.provider)").run()
        try await db.insert(into: "payment_gateways").model(row).run()
    }

    /// The gateway client for settings already read (with the tenant's breaker).
    func client(tenantId: String, _ settings: GatewaySettings) -> any PaymentGateway {
        let breaker = self.breaker(tenantId: tenantId, provider: settings.provider.rawValue)
        switch settings.provider {
        case .stripe:
            return StripeGateway(baseURL: settings.baseURL, secretKey: settings.credentials["secretKey"] ?? "", breaker: breaker)
        case .square:
            return SquareGateway(
                baseURL: settings.baseURL, accessToken: settings.credentials["accessToken"] ?? "", locationId: settings.credentials["locationId"],
                breaker: breaker)
        case .paypal:
            return PayPalGateway(
                baseURL: settings.baseURL, clientId: settings.credentials["clientId"] ?? "", clientSecret: settings.credentials["clientSecret"] ?? "",
                breaker: breaker)
        }
    }

    private func breaker(tenantId: String, provider: String) -> CircuitBreaker {
        let name = "\(tenantId):\(provider)"
        return self.breakers.withLock { breakers in
            if let found = breakers[name] { return found }
            if breakers.count >= Self.breakersMax { breakers.removeAll() }
            let made = CircuitBreaker(clock: self.clock)
            breakers[name] = made
            return made
        }
    }

    /// The sealing key: the configured one, else the one this database keeps (made on first use).
    private func key() async throws -> SymmetricKey {
        if let known = self.sealingKey.withLock({ $0 }) { return known }
        let key: SymmetricKey
        if let configured = self.configuredKey, let data = Data(base64Encoded: configured) {
            key = SymmetricKey(data: data)
        } else {
            struct Row: Decodable { let secret: String }
            let fresh = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
            let now = self.clock.nowMillis()
            let stored = try await self.database.transaction { db in
                try await db.raw("""
                    INSERT INTO payment_keys (name, secret, created_at_ms) VALUES ('credentials', \(bind: fresh), \(bind: now))
                    ON CONFLICT DO NOTHING
                    """).run()
                return try await db.raw("SELECT secret FROM payment_keys WHERE name = 'credentials'").first(decoding: Row.self)
            }
            guard let secret = stored?.secret, let data = Data(base64Encoded: secret) else {
                throw AppError(.unavailable, code: "credential-key-missing", "the payment service's credential key cannot be read")
            }
            key = SymmetricKey(data: data)
        }
        self.sealingKey.withLock { $0 = key }
        return key
    }

    static func seal(_ data: Data, key: SymmetricKey) throws -> String {
        guard let combined = try AES.GCM.seal(data, using: key).combined else {
            throw AppError(.unavailable, code: "credential-seal-failed", "credentials could not be sealed")
        }
        return combined.base64EncodedString()
    }

    static func open(_ text: String, key: SymmetricKey) throws -> Data {
        do {
            guard let data = Data(base64Encoded: text) else { throw AppError.invalid("not base64") }
            return try AES.GCM.open(AES.GCM.SealedBox(combined: data), using: key)
        } catch {
            throw AppError(
                .unavailable, code: "credential-key-mismatch",
                "stored gateway credentials cannot be opened with this key (FINFLOW_PAYMENTS_CREDENTIAL_KEY changed?)")
        }
    }
}
