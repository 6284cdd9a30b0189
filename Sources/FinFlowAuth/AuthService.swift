import FinFlowCore
import Foundation
import Logging
import OpenAPIHummingbird
import SQLKit
import ServiceLifecycle

/// auth-service: users, credentials, sessions, tokens, MFA and roles.
public enum AuthService {
    /// The descriptor `FinFlowServer` lists.
    public static let descriptor = ServiceDescriptor(
        name: "auth", title: "auth-service", migrations: AuthMigrations.all,
        openAPIIn: .module, sendsMail: true,
        personalData: AuthService.personalData,
        make: { env in try await Running.make(env: env) })

    /// Starts signing with a new key; the old ones keep verifying until every token they signed has expired.
    /// Running processes pick the new key up within `KeyReloader.intervalSeconds`. Returns the new key id.
    public static func rotateSigningKey(database: any Database, settings: Settings, clock: any FinFlowClock) async throws
        -> String
    {
        let keys = KeyRing(database: database, clock: clock, ids: IdentifierGenerator(clock: clock), settings: settings)
        try await keys.rotate()
        return await keys.activeKeyId() ?? ""
    }

    /// The auth service of a running process.
    struct Running: FinFlowService {
        let authenticator: Authenticator
        let env: ServiceEnvironment

        static func make(env: ServiceEnvironment) async throws -> Running {
            let keys = KeyRing(database: env.database, clock: env.clock, ids: env.ids, settings: env.settings)
            try await keys.load()
            if !keys.sealedWithConfiguredKey {
                env.logger.notice("""
                    auth: signing keys are sealed with a key kept in the auth database; set FINFLOW_AUTH_KEY_ENCRYPTION_KEY \
                    (openssl rand -base64 32) so a copy of the database alone cannot mint tokens
                    """)
            }
            // In this process, tokens are verified with the keys the ring holds.
            try await env.verifier.trust(jwks: await keys.jwks())
            let authenticator = await Authenticator(env: env, keys: keys, policy: .standard)
            return Running(authenticator: authenticator, env: env)
        }

        var backgroundServices: [any Service] {
            [KeyReloader(keys: self.authenticator.keys, verifier: self.env.verifier, logger: self.env.logger)]
        }

        func registerRoutes(api: FinFlowRouterGroup, root: FinFlowRouter) throws {
            try AuthAPI(auth: self.authenticator).registerHandlers(on: api, configuration: .finFlow)
        }

        var consumers: [EventConsumer] {
            let database = self.env.database
            let env = self.env
            let authenticator = self.authenticator
            return [
                .of(MembershipChanged.self, name: "auth.membership-changed", database: database) { event, db in
                    let change = event.data
                    try await db.raw("""
                        INSERT INTO memberships (tenant_id, user_id, roles, status, changed_at_ms, permissions)
                        VALUES (\(bind: change.tenantId), \(bind: change.userId), \(bind: change.roles.joined(separator: ",")),
                                \(bind: change.status), \(bind: change.changedAtMillis),
                                \(bind: change.permissions?.joined(separator: " ")))
                        ON CONFLICT (tenant_id, user_id) DO UPDATE SET roles = excluded.roles, status = excluded.status,
                            changed_at_ms = excluded.changed_at_ms, permissions = excluded.permissions
                        WHERE memberships.changed_at_ms <= excluded.changed_at_ms
                        """).run()
                    if change.status == "removed" {
                        // A removed member's sessions in that tenant end now, not when their tokens expire.
                        try await authenticator.endSessions(userId: change.userId, tenantId: change.tenantId, reason: "membership-ended", on: db)
                    }
                },
                .of(ComplianceAlert.self, name: "auth.compliance-alert", database: database) { event, db in
                    // An alert that asks for it ends the user's sessions in that tenant now, on record.
                    guard event.data.action == "end-sessions", let userId = event.data.userId else { return }
                    try await authenticator.endSessions(userId: userId, tenantId: event.data.tenantId, reason: "compliance-alert", on: db)
                    try await authenticator.env.audit.append(
                        AuditEntry(tenantId: event.data.tenantId, actorId: "system:compliance", action: "auth.sessions.ended-by-compliance",
                                   target: userId, details: ["alertId": String(event.data.alertId.prefix(64)), "kind": String(event.data.kind.prefix(32)),
                                                             "severity": String(event.data.severity.prefix(16)), "reason": String(event.data.reason.prefix(500))]),
                        on: db, kind: database.kind)
                },
                .of(TenantStatusChanged.self, name: "auth.tenant-status", database: database) { event, db in
                    try await db.raw("""
                        INSERT INTO tenant_status (tenant_id, status) VALUES (\(bind: event.data.tenantId), \(bind: event.data.status))
                        ON CONFLICT (tenant_id) DO UPDATE SET status = excluded.status
                        """).run()
                },
.of(TenantPolicyChanged.self, name: "auth.tenant-policy", database: database) { event, db in
                    try await db.raw("""
                        INSERT INTO tenant_status (tenant_id, status, mfa_required_roles)
                        VALUES (\(bind: event.data.tenantId), 'active', \(bind: event.data.mfaRequiredRoles.joined(separator: ",")))
                        ON CONFLICT (tenant_id) DO UPDATE SET mfa_required_roles = excluded.mfa_required_roles
                        """).run()
                },
                .of(MailRequested.self, name: "auth.mail-channel", database: database) { event, db in
                    // Mail another service asks for (none that carries a secret: those services keep their own mail
                    // outbox) joins auth's mail outbox; a message that is no valid mail is set aside as a bad event.
                    try await env.mail.enqueue(
                        to: event.data.to, subject: event.data.subject, body: event.data.body, purpose: event.data.purpose, on: db)
                },
            ]
        }
    }
}

/// Reloads the signing keys from the database now and then, so keys rotated by another replica or by
/// `finflow auth rotate-key` are used and trusted here too.
struct KeyReloader: Service {
    let keys: KeyRing
    let verifier: TokenVerifier
    let logger: Logger
    static let intervalSeconds = 60

    func run() async throws {
        while await Periodic.wait(.seconds(Self.intervalSeconds)) {
            do {
                try await self.keys.load()
                try await self.verifier.trust(jwks: await self.keys.jwks())
            } catch {
                self.logger.warning("could not reload the signing keys", metadata: ["error": "\(error)"])
            }
        }
    }
}
