@testable import FinFlowAccounting
import FinFlowCore
import Foundation
import Logging
import SQLKit
import Testing

/// The ledger's use cases called directly, on the accounting database of a whole test system (SQLite, or
/// PostgreSQL when FINFLOW_TEST_POSTGRES_URL is set), for tests that run thousands of operations.
struct LedgerHarness {
    let sut: TestSystem
    let ledger: Ledger
    let tenantId: String
    let principal: Principal
    var database: any Database { self.ledger.database }

    static func make() async throws -> LedgerHarness {
        let sut = try await TestSystem.make()
        let database = try #require(sut.system.databases["accounting"])
        let ledger = AccountingService.operatorLedger(database: database, settings: Settings(), clock: sut.clock)
        let tenantId = UUID().uuidString.lowercased()
        try await database.transaction { db in
            try await ledger.open(
                tenant: TenantCreated(tenantId: tenantId, name: "Harness", baseCurrency: "USD", fiscalYearStartMonth: 1, ownerUserId: nil),
                on: db)
        }
        let principal = Principal(
            subject: UUID().uuidString.lowercased(), tenantId: tenantId, roles: ["owner"], permissions: Set(Roles.allPermissions),
            sessionId: nil)
        return LedgerHarness(sut: sut, ledger: ledger, tenantId: tenantId, principal: principal)
    }

    func close() async throws { try await self.sut.system.shutdown() }

    /// Opens an account and returns its id.
    func account(_ code: String, _ type: AccountType, constraint: BalanceConstraint = .none, currency: String? = nil) async throws -> String {
        try await self.ledger.createAccount(
            principal: self.principal, account: ChartAccount(code, "Account \(code)", type, currency: currency, constraint: constraint),
            parentId: nil
        ).id
    }

    /// A validated two-or-more-line entry.
    static func request(
        _ lines: [(String, Side, Int64)], date: String = "2026-03-10", mode: PostingMode = .post, timeoutSeconds: Int64? = nil,
        id: String? = nil
    ) throws -> EntryRequest {
        try EntryRequest.validated(
            id: id, date: date, description: "generated", reference: nil, metadata: nil,
            lines: lines.map { LineRequest(accountId: $0.0, side: $0.1, amountMinor: $0.2, currency: nil, memo: nil) },
            source: .manual, mode: mode, timeoutSeconds: timeoutSeconds)
    }

    struct Count: Decodable {
        let n: Int64
    }

    struct Totals: Decodable, Equatable {
        let account_id: String
        let posted_debits: Int64
        let posted_credits: Int64
        let pending_debits: Int64
        let pending_credits: Int64
    }

    /// Checks every invariant of the books: debits equal credits per currency, the trial balance sums to zero,
    /// every account's running totals equal the sums of its lines, and no balance constraint is broken.
    func checkInvariants(_ context: String) async throws {
        let accounts = try await self.ledger.accounts(principal: self.principal)
        let fromLines = try await self.database.read { db in
            try await db.raw("""
                SELECT a.id AS account_id,
                  CAST(COALESCE(SUM(CASE WHEN l.state = 'posted' THEN l.debit_minor ELSE 0 END), 0) AS BIGINT) AS posted_debits,
                  CAST(COALESCE(SUM(CASE WHEN l.state = 'posted' THEN l.credit_minor ELSE 0 END), 0) AS BIGINT) AS posted_credits,
                  CAST(COALESCE(SUM(CASE WHEN e.status = 'pending' THEN l.debit_minor ELSE 0 END), 0) AS BIGINT) AS pending_debits,
                  CAST(COALESCE(SUM(CASE WHEN e.status = 'pending' THEN l.credit_minor ELSE 0 END), 0) AS BIGINT) AS pending_credits
                FROM accounts a LEFT JOIN journal_lines l ON l.account_id = a.id
                LEFT JOIN journal_entries e ON e.id = l.entry_id
                WHERE a.tenant_id = \(bind: self.tenantId) GROUP BY a.id
                """).all(decoding: Totals.self)
        }
        let expected = Dictionary(uniqueKeysWithValues: fromLines.map { ($0.account_id, $0) })
        var net: [String: Int64] = [:]
        for account in accounts {
            let lines = try #require(expected[account.id])
            let running = Totals(
                account_id: account.id, posted_debits: account.posted_debits_minor, posted_credits: account.posted_credits_minor,
                pending_debits: account.pending_debits_minor, pending_credits: account.pending_credits_minor)
            #expect(running == lines, "\(context): running totals of \(account.code) differ from its lines")
            #expect((try? PostingContext.checkConstraint(account)) != nil, "\(context): \(account.code) breaks its constraint")
            net[account.currency, default: 0] += account.posted_debits_minor - account.posted_credits_minor
        }
        #expect(net.values.allSatisfy { $0 == 0 }, "\(context): debits differ from credits \(net)")
        // The day totals the statements read equal the posted lines of each account and day, closing ones apart.
        let dayMismatches = try await self.database.read { db in
            try await db.raw("""
                SELECT COUNT(*) AS n FROM (
                  SELECT tenant_id, accounting_date, account_id, SUM(debit_minor) AS d, SUM(credit_minor) AS c,
                    SUM(CASE WHEN source = 'close' THEN debit_minor ELSE 0 END) AS cd,
                    SUM(CASE WHEN source = 'close' THEN credit_minor ELSE 0 END) AS cc
                  FROM journal_lines WHERE tenant_id = \(bind: self.tenantId) AND state = 'posted'
                  GROUP BY tenant_id, accounting_date, account_id) l
                FULL OUTER JOIN (SELECT * FROM account_day_totals WHERE tenant_id = \(bind: self.tenantId)) t
                  ON t.accounting_date = l.accounting_date AND t.account_id = l.account_id
                WHERE l.d IS NULL AND (t.debits_minor <> 0 OR t.credits_minor <> 0)
                   OR t.debits_minor IS NULL OR l.d <> t.debits_minor OR l.c <> t.credits_minor
                   OR l.cd <> t.close_debits_minor OR l.cc <> t.close_credits_minor
                """).first(decoding: Count.self)?.n ?? -1
        }
        #expect(dayMismatches == 0, "\(context): \(dayMismatches) day totals differ from their lines")
        let trial = try await self.ledger.trialBalance(principal: self.principal, range: ReportRange(from: nil, to: LedgerDate("2999-12-31")!))
        for balance in trial {
            #expect(balance.totalDebitsMinor == balance.totalCreditsMinor, "\(context): trial balance of \(balance.currency)")
            #expect(balance.rows.reduce(0) { $0 + $1.closingMinor } == 0)
        }
    }
}
