import FinFlowCore
import Foundation
import SQLKit

/// Sharing posted entries with the connections that push a tenant's ledger to QuickBooks Online or Xero: whole
/// (`JournalEntryShared`, lines with their accounts' codes and names), only while a connection pushes, and never the
/// entries the ledger took from a sync.
extension Ledger {
    /// Shares `entries` (posted in the caller's transaction) when the tenant pushes; `accounts` are those already read.
    func shareIfPushed(_ entries: [EntryRow], context: PostingContext, db: any SQLDatabase) async throws {
        guard context.ledger.books_pushed == 1, !entries.isEmpty else { return }
        try await self.share(entries, tenantId: context.tenantId, accounts: context.accounts, connectionId: nil, db: db)
    }

    /// Entries not shared: those taken from a sync came from the provider's books; year-end closings the providers make
    /// themselves (QuickBooks and Xero close the year into retained earnings on their own), so pushed they would count twice.
    static let unshared: Set<String> = [EntrySource.sync.rawValue, EntrySource.close.rawValue]

    /// Publishes each entry of `entries` (except the `unshared` sources) with its lines, in order.
    func share(_ entries: [EntryRow], tenantId: String, accounts known: [String: AccountRow], connectionId: String?, db: any SQLDatabase)
        async throws
    {
        let entries = entries.filter { !Self.unshared.contains($0.source) && $0.status == EntryStatus.posted.rawValue }
        guard !entries.isEmpty else { return }
        let lines = try await LedgerStore.lines(entryIds: entries.map(\.id), db: db)
        var accounts = known
        let missing = Set(lines.values.joined().map(\.account_id)).subtracting(accounts.keys)
        if !missing.isEmpty {
            for account in try await LedgerStore.accounts(tenantId: tenantId, ids: missing.sorted(), forUpdate: false, db: db) {
                accounts[account.id] = account
            }
        }
        for entry in entries {
            let shared = (lines[entry.id] ?? []).map { line in
                let account = accounts[line.account_id]
                // A ledger currency always has a minor unit; were one not to, the empty amount refuses the push, visibly.
                let amount = Currency(code: line.currency).flatMap { try? Money(amountMinor: line.amountMinor, currency: $0).decimalText } ?? ""
                return JournalEntryShared.Line(
                    accountId: line.account_id, accountCode: account?.code ?? "", accountName: account?.name ?? "", side: line.side.rawValue,
                    amount: amount, currency: line.currency, memo: line.memo)
            }
            try await self.outbox.enqueue(
                JournalEntryShared(
                    tenantId: tenantId, entryId: entry.id, source: entry.source, accountingDate: entry.accounting_date,
                    description: entry.description, reference: entry.reference, reversesEntryId: entry.reverses_id, connectionId: connectionId,
                    lines: shared),
                subject: tenantId, tenantId: tenantId, on: db)
        }
    }

    /// How far before a push was turned on its catch-up reaches, for clocks that disagree between services.
    static let pushClockMarginMillis: Int64 = 5 * 60_000

    /// A connection started or stopped pushing the tenant's ledger: the ledger keeps whether any still pushes, and a
    /// connection started with `since` is sent the entries already posted from that date, oldest first.
    func pushChanged(_ change: IntegrationPushChanged, on db: any SQLDatabase) async throws {
        let tenantId = change.tenantId
        guard try await LedgerStore.ledgerIfAny(tenantId: tenantId, db: db) != nil else { throw AccountingError.ledgerNotReady() }
        if change.enabled {
            try await db.raw("""
                INSERT INTO ledger_push_connections (tenant_id, connection_id, since, changed_at_ms)
                VALUES (\(bind: tenantId), \(bind: change.connectionId), \(bind: change.since), \(bind: change.changedAtMillis))
                ON CONFLICT (tenant_id, connection_id) DO UPDATE SET since = excluded.since, changed_at_ms = excluded.changed_at_ms
                """).run()
        } else {
            try await db.raw("""
                DELETE FROM ledger_push_connections WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: change.connectionId)
                """).run()
        }
        try await db.raw("""
            UPDATE ledgers SET books_pushed = CASE WHEN EXISTS (SELECT 1 FROM ledger_push_connections WHERE tenant_id = \(bind: tenantId))
                THEN 1 ELSE 0 END
            WHERE tenant_id = \(bind: tenantId)
            """).run()
        guard change.enabled else { return }
        // With `since`, the entries of those dates; without, those posted since pushing was turned on (less a margin for
        // clocks that disagree): the entries posted before this event arrived are not missed. What is shared twice is
        // queued once.
        let from: SQLQueryString
        if let since = change.since {
            guard LedgerDate(since) != nil else { return }  // validated by the producer; a bad date catches nothing up
            from = "accounting_date >= \(bind: since)"
        } else {
            // An event's time is outside input: a margin taken from a time near the smallest stops at it, never traps.
            let earliest = change.changedAtMillis.subtractingReportingOverflow(Self.pushClockMarginMillis)
            from = "posted_at_ms >= \(bind: earliest.overflow ? Int64.min : earliest.partialValue)"
        }
        // Oldest first, a page at a time, all in this transaction: the catch-up is queued whole or not at all.
        var after: (date: String, posted: Int64, id: String)?
        while true {
            let cursor = after.map {
                SQLQueryString("AND (accounting_date, posted_at_ms, id) > (\(bind: $0.date), \(bind: $0.posted), \(bind: $0.id))")
            } ?? SQLQueryString("")
            let page = try await db.raw("""
                SELECT * FROM journal_entries
                WHERE tenant_id = \(bind: tenantId) AND status = 'posted' AND source NOT IN (\(binds: Self.unshared.sorted()))
                    AND \(from) \(cursor)
                ORDER BY accounting_date, posted_at_ms, id LIMIT \(unsafeRaw: "\(LedgerLimits.insertChunkRows)")
                """).all(decoding: EntryRow.self)
            guard let last = page.last else { return }
            try await self.share(page, tenantId: tenantId, accounts: [:], connectionId: change.connectionId, db: db)
            after = (last.accounting_date, last.posted_at_ms ?? 0, last.id)
        }
    }
}
