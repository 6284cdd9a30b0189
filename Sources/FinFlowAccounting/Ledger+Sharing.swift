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
            let document = try await self.sharedDocument(entry, lines: lines[entry.id] ?? [], tenantId: tenantId, accounts: &accounts, db: db)
            let shared = (lines[entry.id] ?? []).map { line in
                let account = accounts[line.account_id]
                let amount = Self.decimalText(line.amountMinor, line.currency)
                return JournalEntryShared.Line(
                    accountId: line.account_id, accountCode: account?.code ?? "", accountName: account?.name ?? "", side: line.side.rawValue,
                    amount: amount, currency: line.currency, memo: line.memo)
            }
            try await self.outbox.enqueue(
                JournalEntryShared(
                    tenantId: tenantId, entryId: entry.id, source: entry.source, accountingDate: entry.accounting_date,
                    description: entry.description, reference: entry.reference, reversesEntryId: entry.reverses_id, connectionId: connectionId,
                    lines: shared, document: document),
                subject: tenantId, tenantId: tenantId, on: db)
        }
    }

    /// An amount in the currency's major unit. A ledger currency always has a minor unit; were one not to, the empty
    /// amount refuses the push, visibly.
    static func decimalText(_ minor: Int64, _ currency: String) -> String {
        Currency(code: currency).flatMap { try? Money(amountMinor: minor, currency: $0).decimalText } ?? ""
    }

    /// The invoice or bill `entry` posts, or the payment of one it records (a reversal is none: the provider voids the
    /// document instead); nil for any other entry.
    func sharedDocument(_ entry: EntryRow, lines entryLines: [LineRow], tenantId: String, accounts: inout [String: AccountRow], db: any SQLDatabase) async throws
        -> JournalEntryShared.Document?
    {
        guard entry.reverses_id == nil, entry.source == EntrySource.invoice.rawValue || entry.source == EntrySource.bill.rawValue else { return nil }
        let sales = entry.source == EntrySource.invoice.rawValue
        let metadata = entry.metadataDictionary
        guard let documentId = metadata[sales ? "invoiceId" : "billId"] else { return nil }
        let issue = entry.source_id == (sales ? "issue:" : "post:") + documentId
        // A payment is keyed by nothing of its own; an entry with another source id (a credit applied) is no payment.
        guard issue || entry.source_id == nil else { return nil }
        struct Part {
            let kind, number, contactId, contactName, date, currency: String
            let dueDate, paidEntryId: String?
            let total, tax: Int64
            let lines: [(description: String, quantity: String, unitPrice: Int64, net: Int64, account: String)]
        }
        let part: Part
        if sales {
            guard let invoice = try await self.invoiceRow(id: documentId, tenantId: tenantId, db: db) else { return nil }
            if issue {
                let lines = try await db.raw("SELECT * FROM invoice_lines WHERE invoice_id = \(bind: invoice.id) ORDER BY line_no")
                    .all(decoding: InvoiceLineRow.self)
                part = Part(kind: invoice.kind, number: invoice.number, contactId: invoice.customer_id, contactName: invoice.customer_name,
                            date: invoice.issue_date, currency: invoice.currency, dueDate: invoice.due_date, paidEntryId: nil,
                            total: invoice.total_minor, tax: invoice.tax_minor,
                            lines: lines.map { ($0.description, $0.quantity, $0.unit_price_minor, $0.net_minor, $0.revenue_account_id) })
            } else {
                guard let paid = Self.moved(entryLines, on: invoice.receivable_account_id), let paidEntry = invoice.entry_id
                else { return nil }
                part = Part(kind: "invoice_payment", number: invoice.number, contactId: invoice.customer_id, contactName: invoice.customer_name,
                            date: entry.accounting_date, currency: invoice.currency, dueDate: nil, paidEntryId: paidEntry, total: paid, tax: 0, lines: [])
            }
        } else {
            guard let bill = try await self.billRow(id: documentId, tenantId: tenantId, db: db) else { return nil }
            if issue {
                let lines = try await db.raw("SELECT * FROM bill_lines WHERE bill_id = \(bind: bill.id) ORDER BY line_no").all(decoding: BillLineRow.self)
                part = Part(kind: bill.kind, number: bill.vendor_reference ?? bill.number, contactId: bill.vendor_id, contactName: bill.vendor_name,
                            date: bill.bill_date, currency: bill.currency, dueDate: bill.due_date, paidEntryId: nil,
                            total: bill.total_minor, tax: bill.tax_minor,
                            lines: lines.map { ($0.description, $0.quantity, $0.unit_price_minor, $0.net_minor, $0.expense_account_id) })
            } else {
                guard let paid = Self.moved(entryLines, on: bill.payable_account_id), let paidEntry = bill.entry_id
                else { return nil }
                part = Part(kind: "bill_payment", number: bill.vendor_reference ?? bill.number, contactId: bill.vendor_id, contactName: bill.vendor_name,
                            date: entry.accounting_date, currency: bill.currency, dueDate: nil, paidEntryId: paidEntry, total: paid, tax: 0, lines: [])
            }
        }
        let missing = Set(part.lines.map(\.account)).subtracting(accounts.keys)
        if !missing.isEmpty {
            for account in try await LedgerStore.accounts(tenantId: tenantId, ids: missing.sorted(), forUpdate: false, db: db) { accounts[account.id] = account }
        }
        // The tax, as posted: what the entry put on each account on the document's side beyond the lines' nets (the sales
        // or input tax account; an expense bearing tax not reclaimed). None for a payment.
        var taxed: [String: Int64] = [:]
        if !part.lines.isEmpty {
            let reversed = part.kind == "credit_note" || part.kind == "vendor_credit"
            let side: Side = sales != reversed ? .credit : .debit
            for line in entryLines where line.side == side { taxed[line.account_id, default: 0] += line.amountMinor }
            for line in part.lines { taxed[line.account, default: 0] -= line.net }
        }
        let taxAccounts = taxed.filter { $0.value != 0 }.keys.sorted()
        let absent = Set(taxAccounts).subtracting(accounts.keys)
        if !absent.isEmpty {
            for account in try await LedgerStore.accounts(tenantId: tenantId, ids: absent.sorted(), forUpdate: false, db: db) { accounts[account.id] = account }
        }
        let known = accounts
        let taxLines = taxAccounts.map { account in
            JournalEntryShared.DocumentLine(
                description: "Tax", quantity: "1", unitPrice: Self.decimalText(taxed[account]!, part.currency),
                amount: Self.decimalText(taxed[account]!, part.currency), accountId: account, accountCode: known[account]?.code ?? "",
                accountName: known[account]?.name ?? "")
        }
        return JournalEntryShared.Document(
            kind: part.kind, documentId: documentId, number: part.number, contactId: part.contactId, contactName: part.contactName, date: part.date,
            dueDate: part.dueDate, currency: part.currency, total: Self.decimalText(part.total, part.currency),
            tax: Self.decimalText(part.tax, part.currency), paidEntryId: part.paidEntryId,
            lines: part.lines.map { line in
                JournalEntryShared.DocumentLine(
                    description: line.description, quantity: line.quantity, unitPrice: Self.decimalText(line.unitPrice, part.currency),
                    amount: Self.decimalText(line.net, part.currency), accountId: line.account, accountCode: known[line.account]?.code ?? "",
                    accountName: known[line.account]?.name ?? "")
            },
            taxLines: part.lines.isEmpty ? nil : taxLines)
    }

    /// What a payment's entry moved on the invoice's receivable (or the bill's payable) account; nil when it moved none.
    private static func moved(_ lines: [LineRow], on account: String) -> Int64? {
        let moved = lines.filter { $0.account_id == account }.reduce(Int64(0)) { $0 + $1.amountMinor }
        return moved > 0 ? moved : nil
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
