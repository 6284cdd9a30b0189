import FinFlowCore
import Foundation
import SQLKit

extension AuthService {
    /// Creates a user whose email counts as verified (an operator's act, such as the demo's owner) and announces
    /// `UserRegistered`, so tenancy gives them a tenant. The password must pass the policy.
    public static func createVerifiedUser(
        database: any Database, settings: Settings, clock: any FinFlowClock, email rawEmail: String, password: String, displayName: String,
        organizationName: String
    ) async throws -> String {
        guard let email = EmailAddress.normalized(rawEmail) else { throw AppError.validation([.init(field: "email", message: "is not valid")]) }
        let problems = PasswordPolicy.standard.problems(password: password, email: email, field: "password")
        guard problems.isEmpty else { throw AppError.validation(problems) }
        let hash = await Authenticator.hashPassword(password, cost: UInt8(settings.bcryptCost))
        let ids = IdentifierGenerator(clock: clock)
        let id = ids.nextString()
        let now = clock.nowMillis()
        let outbox = Outbox(serviceName: Authenticator.serviceName, ids: ids, clock: clock)
        try await database.transaction { db in
            guard try await AuthStore().insertUser(id: id, email: email, displayName: displayName, passwordHash: hash, now: now, on: db) else {
                throw AppError.conflict(code: "email-taken", "a user with this email exists")
            }
            try await db.raw("UPDATE users SET email_verified_at_ms = \(bind: now) WHERE id = \(bind: id)").run()
            try await outbox.enqueue(
                UserRegistered(userId: id, email: email, displayName: displayName, organizationName: organizationName),
                subject: id, tenantId: nil, on: db)
            try await AuditLog(ids: ids, clock: clock).append(
                AuditEntry(tenantId: AuditLog.platformTenant, actorId: nil, action: "auth.user.created-by-operator", target: id),
                on: db, kind: database.kind)
        }
        return id
    }
}
