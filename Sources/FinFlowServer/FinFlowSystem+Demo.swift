import FinFlowAccounting
import FinFlowAuth
import FinFlowCore
import FinFlowTenancy
import FinFlowTransactions
import Foundation

/// The sign-in of a demo tenant.
public struct DemoCredentials: Sendable {
    public let email: String
    public let password: String
    public let tenantId: String
    public let entries: Int
}

extension FinFlowSystem {
    /// Creates a demo owner (email verified) with a tenant holding a year of realistic books; needs auth, tenancy and
    /// accounting in this process.
    public func createDemo() async throws -> DemoCredentials {
        guard let auth = self.databases["auth"], let tenancy = self.databases["tenancy"], let accounting = self.databases["accounting"] else {
            throw AppError.invalid(code: "demo-needs-services", "the demo needs the auth, tenancy and accounting services in this process")
        }
        let suffix = String(Digest.randomToken(byteCount: 4).lowercased().filter(\.isLetter).prefix(6))
        let email = "demo-\(suffix.isEmpty ? "owner" : suffix)@finflow.example"
        let password = "Demo-" + Digest.randomToken(byteCount: 12)
        let userId = try await AuthService.createVerifiedUser(
            database: auth, settings: self.settings, clock: self.clock, email: email, password: password, displayName: "Demo Owner",
            organizationName: "Demo Trading Ltd")
        try await self.deliverEvents()
        guard let tenantId = try await TenancyService.tenantsOwned(by: userId, database: tenancy).first else {
            throw AppError(.unavailable, code: "demo-tenant-missing", "the demo tenant was not created")
        }
        let entries = try await AccountingService.seedDemo(database: accounting, settings: self.settings, clock: self.clock, tenantId: tenantId)
        try await self.deliverEvents()
        // A month of bank activity through the transaction service, posted by the ledger as the events are delivered.
        if let transactions = self.databases["transactions"] {
            _ = try await TransactionsService.seedDemo(database: transactions, settings: self.settings, clock: self.clock, tenantId: tenantId)
            try await self.deliverEvents()
        }
        return DemoCredentials(email: email, password: password, tenantId: tenantId, entries: entries)
    }
}
