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
    private let sealer: SecretSealer
    private let breakers = Mutex<[String: CircuitBreaker]>([:])
    /// Most tenants whose breakers are kept; past it the oldest are dropped (a fresh breaker is closed).
    static let breakersMax = 10_000

    init(database: any Database, clock: any FinFlowClock, configuredKey: String?) {
        self.database = database
        self.clock = clock
        self.sealer = SecretSealer(
            database: database, clock: clock, configuredKey: configuredKey, keyTable: "payment_keys", keyName: "credentials",
            settingName: "FINFLOW_PAYMENTS_CREDENTIAL_KEY")
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
        var result: [GatewaySettings] = []
        for row in rows {
            guard let provider = GatewayProvider(rawValue: row.provider) else { continue }
            let credentials = try JSONDecoder().decode([String: String].self, from: try await self.sealer.open(row.credentials_sealed).data)
            let webhookSecret = try await row.webhook_secret_sealed.asyncMap { String(decoding: try await self.sealer.open($0).data, as: UTF8.self) }
            result.append(GatewaySettings(
                provider: provider, priority: row.priority, baseURL: row.base_url, credentials: credentials, webhookSecret: webhookSecret, webhookURL: row.webhook_url,
                enabled: row.enabled != 0, updatedAtMillis: row.updated_at_ms))
        }
        return result
    }

    /// The tenant's settings for one gateway as stored, credentials sealed. Called before the transaction that saves
    /// them: the sealing key may have to be made in a transaction of its own.
    func sealed(_ settings: GatewaySettings, tenantId: String, by actor: String) async throws -> GatewayRow {
        let credentials = try await self.sealer.seal(JSONEncoder().encode(settings.credentials))
        let webhookSecret = try await settings.webhookSecret.asyncMap { try await self.sealer.seal(Data($0.utf8)) }
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
}
