import FinFlowCore
import Foundation
import Logging
import SQLKit

extension TenancyService {
    /// The tenants `userId` owns, oldest first (for operator tools such as the demo).
    public static func tenantsOwned(by userId: String, database: any Database) async throws -> [String] {
        struct Row: Decodable { let tenant_id: String }
        return try await database.read { db in
            try await db.raw("""
                SELECT m.tenant_id FROM memberships m JOIN tenants t ON t.id = m.tenant_id
                WHERE m.user_id = \(bind: userId) AND m.roles LIKE '%owner%' ORDER BY t.created_at_ms
                """).all(decoding: Row.self).map(\.tenant_id)
        }
    }

    /// Reactivates a suspended tenant as the platform operator `operatorName`, for `reason` (audited; announced with
    /// `TenantStatusChanged`, which the running services apply). False when the tenant was not suspended.
    public static func reactivate(
        tenantId: String, operatorName: String, reason: String, database: any Database, settings: Settings
    ) async throws -> Bool {
        let env = ServiceEnvironment.forOperator(
            settings: settings, database: database, clock: SystemClock(), logger: Logger(label: "finflow.tenancy.operator"))
        return try await TenantDirectory(env: env).reactivate(tenantId: tenantId, operatorName: operatorName, reason: reason)
    }
}
