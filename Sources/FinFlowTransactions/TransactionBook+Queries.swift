import FinFlowCore
import Foundation
import SQLKit

extension TransactionBook {
    /// One of the caller's transactions with its history.
    func transaction(principal: Principal, id: String) async throws -> TransactionRecord {
        guard UUID(uuidString: id) != nil else { throw AppError.notFound("transaction") }
        return try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            try await self.record(tenantId: principal.tenantId, id: id.lowercased(), db: db)
        }
    }

    /// Records for rows just written or read, with their histories.
    func records(tenantId: String, rows: [TransactionRow]) async throws -> [TransactionRecord] {
        let histories = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await TransactionStore.history(tenantId: tenantId, transactionIds: rows.map(\.id), db: db)
        }
        return rows.map { TransactionRecord(row: $0, history: histories[$0.id] ?? []) }
    }

    /// A page of the caller's transactions, newest first.
    func search(principal: Principal, filter: TransactionFilter, page: PageRequest) async throws
        -> (items: [TransactionRow], nextCursor: String?)
    {
        let rows = try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            try await TransactionStore.search(tenantId: principal.tenantId, filter: filter, page: page, db: db)
        }
        return page.page(rows, key: \.id)
    }

    /// The accounts this service knows of the caller's ledger.
    func accounts(principal: Principal) async throws -> [AccountRow] {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            try await TransactionStore.allAccounts(tenantId: principal.tenantId, db: db)
        }
    }

    /// The caller's limits (the defaults until the tenant sets its own).
    func limits(principal: Principal) async throws -> TransactionLimits {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            try await TransactionStore.limits(tenantId: principal.tenantId, db: db) ?? .defaults
        }
    }

    /// Replaces the caller's limits, audited.
    func setLimits(principal: Principal, _ limits: TransactionLimits) async throws -> TransactionLimits {
        try limits.validate()
        let now = self.now
        let kind = self.kind
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            try await TransactionStore.setLimits(limits, tenantId: principal.tenantId, by: principal.subject, nowMillis: now, db: db)
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "transactions.limits.updated",
                           target: principal.tenantId, details: ["limits": String(decoding: try TransactionBook.sortedEncoder.encode(limits), as: UTF8.self)]),
                on: db, kind: kind)
            return limits
        }
    }
}
