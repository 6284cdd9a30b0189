import FinFlowCore
import Foundation
import Logging
import SQLKit

/// What the command line does with the books directly on the accounting database, as an operator of one tenant.
extension AccountingService {
    static func operatorLedger(database: any Database, settings: Settings, clock: any FinFlowClock) -> Ledger {
        Ledger(env: .forOperator(settings: settings, database: database, clock: clock, logger: Logger(label: "finflow.accounting.operator")))
    }

    static func operatorPrincipal(tenantId: String) throws -> Principal {
        guard UUID(uuidString: tenantId) != nil else { throw AppError.validation([.init(field: "tenant", message: "must be a tenant id (UUID)")]) }
        return Principal(
            subject: "operator:command-line", tenantId: tenantId.lowercased(), roles: ["owner"], permissions: Set(Roles.allPermissions),
            sessionId: nil)
    }

    /// Writes `tenantId`'s posted journal in hledger's format through `write`, a chunk at a time.
    public static func exportJournal(
        database: any Database, settings: Settings, tenantId: String, from: String?, to: String?,
        write: @escaping @Sendable (String) async throws -> Void
    ) async throws {
        var validator = Validator()
        let start = LedgerDate.parse(from, field: "from", into: &validator)
        let end = LedgerDate.parse(to, field: "to", into: &validator)
        try validator.throwIfInvalid()
        let ledger = Self.operatorLedger(database: database, settings: settings, clock: SystemClock())
        try await ledger.exportJournal(principal: try Self.operatorPrincipal(tenantId: tenantId), from: start, to: end, write: write)
    }

    /// Posts an hledger journal into `tenantId`'s books, all or nothing; returns the entries and accounts created.
    public static func importJournal(database: any Database, settings: Settings, tenantId: String, text: String) async throws
        -> (entries: Int, accountsCreated: Int, lines: Int, postingSeconds: Double)
    {
        let ledger = Self.operatorLedger(database: database, settings: settings, clock: SystemClock())
        let summary = try await ledger.importJournal(principal: try Self.operatorPrincipal(tenantId: tenantId), text: text)
        return (summary.entries, summary.accountsCreated, summary.lines, summary.postingSeconds)
    }

    /// Announces every account of `tenantId` (of every tenant when nil) again with `LedgerAccountChanged`, through the
    /// accounting outbox: a service added to a deployment that already keeps books (the transaction service's read
    /// model) learns the existing accounts from it. Returns how many were announced.
    public static func announceAccounts(database: any Database, settings: Settings, tenantId: String?) async throws -> Int {
        if let tenantId { _ = try Self.operatorPrincipal(tenantId: tenantId) }
        let ledger = Self.operatorLedger(database: database, settings: settings, clock: SystemClock())
        return try await database.transaction { db in
            let accounts: [AccountRow]
            if let tenantId {
                accounts = try await LedgerStore.allAccounts(tenantId: tenantId.lowercased(), db: db)
            } else {
                accounts = try await db.raw("SELECT * FROM accounts ORDER BY tenant_id, code").all(decoding: AccountRow.self)
            }
            for account in accounts { try await ledger.announce(account, on: db) }
            return accounts.count
        }
    }
}
