import FinFlowCore
import Foundation
import SQLKit

/// What a synced document does in FinFlow's books: the account it opens, or the double entry it makes in the
/// provider's books, read from the provider's JSON into `IntegrationSynced` for the ledger to post. Customers and
/// vendors make none (the documents name them).
enum BooksPosting {
    /// FinFlow's id of a provider's document, derived from the connection, its kind and its id there: the same in
    /// every run and every process, so a document naming another (an invoice line its account) names it by FinFlow id
    /// without a look-up, and a synced account's id in the chart is its document id.
    static func documentId(connectionId: String, entity: SyncEntity, externalId: String) -> String {
        UUID.derived(from: "finflow-sync\u{1F}\(connectionId)\u{1F}\(entity.rawValue)\u{1F}\(externalId)").canonical
    }

    /// Whether documents of `entity` reach the books.
    static func posts(_ entity: SyncEntity) -> Bool { entity != .customer && entity != .vendor }

    /// How a document reads, for the event: an account, a posting, or nothing left in the books.
    enum Reading: Equatable {
        case account(IntegrationSynced.Account)
        case posting(IntegrationSynced.Posting)
        /// Deleted, voided, or not in the provider's books (a draft): nothing of it stays posted.
        case none
    }

    /// The event for one document kept by a sync; nil for customers and vendors. A document that reads badly is a
    /// problem of its own, and its kept record stays (its next version may read).
    static func event(
        _ document: ProviderDocument, documentId: String, provider: AccountingProvider, tenantId: String, connectionId: String,
        xeroAccountIds: [String: String]
    ) -> Result<IntegrationSynced, DocumentProblem>? {
        guard Self.posts(document.entity) else { return nil }
        let reading: Reading
        if document.deleted {
            reading = .none
        } else {
            guard let object = (try? JSONSerialization.jsonObject(with: document.json)) as? [String: Any] else {
                return .failure(DocumentProblem(entity: document.entity, externalId: document.externalId, message: "the document is not a JSON object"))
            }
            let reader = Reader(entity: document.entity, connectionId: connectionId, xeroAccountIds: xeroAccountIds)
            do {
                reading = switch provider {
                case .quickbooks: try reader.quickbooks(object)
                case .xero: try reader.xero(object)
                }
            } catch let problem as Reader.Problem {
                return .failure(DocumentProblem(entity: document.entity, externalId: document.externalId, message: problem.message))
            } catch {
                return .failure(DocumentProblem(entity: document.entity, externalId: document.externalId, message: "\(error)"))
            }
        }
        var account: IntegrationSynced.Account?, posting: IntegrationSynced.Posting?
        switch reading {
        case .account(let read): account = read
        case .posting(let read): posting = read
        case .none: break
        }
        return .success(IntegrationSynced(
            tenantId: tenantId, connectionId: connectionId, provider: provider.rawValue, kind: document.entity.rawValue,
            externalId: document.externalId, documentId: documentId, version: document.version,
            deleted: reading == .none, label: document.label, account: account, posting: posting))
    }

    /// Reads one provider object of one kind.
    struct Reader {
        struct Problem: Error { let message: String }

        let entity: SyncEntity
        let connectionId: String
        /// Xero names accounts by code on invoice lines and journals: each code's AccountID, from the synced chart.
        let xeroAccountIds: [String: String]

        // MARK: QuickBooks Online

        func quickbooks(_ object: [String: Any]) throws -> Reading {
            let currency = Self.text(Self.field(object, "CurrencyRef", "value"))
            let date = Self.text(object["TxnDate"])
            var entry = Entry()
            switch self.entity {
            case .account:
                let type = Self.text(object["Classification"]).flatMap(Self.quickbooksClass) ?? Self.text(object["AccountType"]).flatMap(Self.quickbooksType)
                guard let type else { throw Problem(message: "the Account has no Classification FinFlow knows") }
                return .account(IntegrationSynced.Account(
                    code: Self.text(object["AcctNum"]), name: try self.name(object["Name"]), type: type, currency: currency,
                    active: (object["Active"] as? Bool) ?? true))
            case .invoice:
                try self.quickbooksSales(object["Line"], into: &entry)
                if let tax = try Self.amount(Self.field(object, "TxnTaxDetail", "TotalTax")) { entry.add(.credit, tax, role: "sales_tax", "tax") }
                try Self.check(entry.balance(.debit, role: "receivables"), total: object["TotalAmt"])
            case .bill:
                for line in Self.lines(object["Line"]) where Self.text(line["DetailType"]) != "DescriptionOnly" {
                    guard let account = Self.text(Self.field(line, "AccountBasedExpenseLineDetail", "AccountRef", "value")) else {
                        throw Problem(message: "a bill line without an account (item-based lines) cannot be posted yet")
                    }
                    entry.add(.debit, try Self.amount(line["Amount"]) ?? 0, accountId: self.accountId(account), Self.text(line["Description"]))
                }
                if let tax = try Self.amount(Self.field(object, "TxnTaxDetail", "TotalTax")) { entry.add(.debit, tax, role: "input_tax", "tax") }
                try Self.check(entry.balance(.credit, role: "payables"), total: object["TotalAmt"])
            case .payment:
                let total = try Self.amount(object["TotalAmt"]) ?? 0
                let deposit = Self.text(Self.field(object, "DepositToAccountRef", "value"))
                entry.add(.debit, total, accountId: deposit.map(self.accountId), role: deposit == nil ? "payment_clearing" : nil, "received")
                entry.add(.credit, total, role: "receivables", nil)
            case .billPayment:
                let total = try Self.amount(object["TotalAmt"]) ?? 0
                let paidFrom = Self.text(Self.field(object, "CheckPayment", "BankAccountRef", "value"))
                    ?? Self.text(Self.field(object, "CreditCardPayment", "CCAccountRef", "value"))
                guard let paidFrom else { throw Problem(message: "the BillPayment names no bank or credit card account") }
                entry.add(.debit, total, role: "payables", nil)
                entry.add(.credit, total, accountId: self.accountId(paidFrom), "paid")
            case .journalEntry:
                for line in Self.lines(object["Line"]) where Self.text(line["DetailType"]) == "JournalEntryLineDetail" {
                    let detail = line["JournalEntryLineDetail"] as? [String: Any] ?? [:]
                    guard let account = Self.text(Self.field(detail, "AccountRef", "value")) else { throw Problem(message: "a journal line names no account") }
                    let side: Side = Self.text(detail["PostingType"]) == "Credit" ? .credit : .debit
                    entry.add(side, try Self.amount(line["Amount"]) ?? 0, accountId: self.accountId(account), Self.text(line["Description"]))
                }
                guard entry.balanced else { throw Problem(message: "the journal entry's debits and credits differ") }
            case .customer, .vendor:
                return .none
            }
            return try self.posting(entry, date: date, currency: currency, number: Self.text(object["DocNumber"]),
                                    contact: Self.text(Self.field(object, "CustomerRef", "name")) ?? Self.text(Self.field(object, "VendorRef", "name")))
        }

        /// An invoice's sales lines (groups opened), discounts against them.
        private func quickbooksSales(_ lines: Any?, into entry: inout Entry) throws {
            for line in Self.lines(lines) {
                switch Self.text(line["DetailType"]) {
                case "SalesItemLineDetail":
                    let account = Self.text(Self.field(line, "SalesItemLineDetail", "ItemAccountRef", "value"))
                    entry.add(.credit, try Self.amount(line["Amount"]) ?? 0, accountId: account.map(self.accountId),
                              role: account == nil ? "revenue" : nil, Self.text(line["Description"]))
                case "GroupLineDetail":
                    try self.quickbooksSales(Self.field(line, "GroupLineDetail", "Line"), into: &entry)
                case "DiscountLineDetail":
                    let account = Self.text(Self.field(line, "DiscountLineDetail", "DiscountAccountRef", "value"))
                    entry.add(.debit, try Self.amount(line["Amount"]) ?? 0, accountId: account.map(self.accountId),
                              role: account == nil ? "revenue" : nil, "discount")
                default:
                    continue  // sub-totals and description-only lines carry no amount of their own
                }
            }
        }

        static func quickbooksClass(_ text: String) -> String? {
            ["Asset": "asset", "Liability": "liability", "Equity": "equity", "Revenue": "revenue", "Expense": "expense"][text]
        }

        static func quickbooksType(_ text: String) -> String? {
            switch text {
            case "Bank", "Accounts Receivable", "Other Current Asset", "Fixed Asset", "Other Asset": "asset"
            case "Accounts Payable", "Credit Card", "Other Current Liability", "Long Term Liability": "liability"
            case "Equity": "equity"
            case "Income", "Other Income": "revenue"
            case "Expense", "Other Expense", "Cost of Goods Sold": "expense"
            default: nil
            }
        }

        // MARK: Xero

        func xero(_ object: [String: Any]) throws -> Reading {
            let status = Self.text(object["Status"]) ?? ""
            let currency = Self.text(object["CurrencyCode"])
            let date = Self.text(object["DateString"]).map { String($0.prefix(10)) }
                ?? Self.text(object["Date"]).flatMap(ProviderDocuments.xeroMillis).map { CalendarDay(instant: Date(unixMillis: $0)).description }
            var entry = Entry()
            switch self.entity {
            case .account:
                guard let type = Self.text(object["Class"]).flatMap(Self.xeroClass) ?? Self.text(object["Type"]).flatMap(Self.xeroType)
                else { throw Problem(message: "the account has no Class FinFlow knows") }
                return .account(IntegrationSynced.Account(
                    code: Self.text(object["Code"]), name: try self.name(object["Name"]), type: type, currency: currency, active: status == "ACTIVE"))
            case .invoice, .bill:
                // Drafts and invoices awaiting approval are not in Xero's books yet; voided and deleted ones are out of them.
                guard status == "AUTHORISED" || status == "PAID" else { return .none }
                let sales = self.entity == .invoice
                let inclusive = Self.text(object["LineAmountTypes"]) == "Inclusive"
                for line in Self.lines(object["LineItems"]) {
                    let amount = try Self.amount(line["LineAmount"]) ?? 0, tax = try Self.amount(line["TaxAmount"]) ?? 0
                    let account = try self.xeroAccount(line)
                    entry.add(sales ? .credit : .debit, inclusive ? amount - tax : amount, accountId: account, Self.text(line["Description"]))
                    entry.add(sales ? .credit : .debit, tax, role: sales ? "sales_tax" : "input_tax", "tax")
                }
                try Self.check(entry.balance(sales ? .debit : .credit, role: sales ? "receivables" : "payables"), total: object["Total"])
            case .payment, .billPayment:
                guard status == "AUTHORISED" else { return .none }
                let amount = try Self.amount(object["Amount"]) ?? 0
                guard let account = try self.xeroAccount(object["Account"] as? [String: Any] ?? [:]) else {
                    throw Problem(message: "the payment names no account")
                }
                let received = self.entity == .payment
                entry.add(received ? .debit : .credit, amount, accountId: account, received ? "received" : "paid")
                entry.add(received ? .credit : .debit, amount, role: received ? "receivables" : "payables", nil)
            case .journalEntry:
                guard status == "POSTED" else { return .none }
                for line in Self.lines(object["JournalLines"]) {
                    guard let account = try self.xeroAccount(line) else { throw Problem(message: "a journal line names no account") }
                    entry.add(.debit, try Self.signedAmount(line["LineAmount"]) ?? 0, accountId: account, Self.text(line["Description"]))
                }
                guard entry.balanced else { throw Problem(message: "the manual journal's debits and credits differ") }
            case .customer, .vendor:
                return .none
            }
            let contact = Self.text(Self.field(object, "Contact", "Name")) ?? Self.text(Self.field(object, "Invoice", "Contact", "Name"))
            let number = Self.text(object["InvoiceNumber"]) ?? Self.text(object["Reference"]) ?? Self.text(Self.field(object, "Invoice", "InvoiceNumber"))
            return try self.posting(entry, date: date, currency: currency, number: number, contact: contact)
        }

        static func xeroClass(_ text: String) -> String? {
            ["ASSET": "asset", "LIABILITY": "liability", "EQUITY": "equity", "REVENUE": "revenue", "EXPENSE": "expense"][text]
        }

        /// An account's class from its type, where Xero's answer leaves `Class` out.
        static func xeroType(_ text: String) -> String? {
            switch text {
            case "BANK", "CURRENT", "FIXED", "INVENTORY", "NONCURRENT", "PREPAYMENT": "asset"
            case "CURRLIAB", "LIABILITY", "TERMLIAB", "PAYGLIABILITY", "SUPERANNUATIONLIABILITY", "WAGESPAYABLELIABILITY": "liability"
            case "EQUITY": "equity"
            case "REVENUE", "SALES", "OTHERINCOME": "revenue"
            case "EXPENSE", "DIRECTCOSTS", "OVERHEADS", "DEPRECIATN", "WAGESEXPENSE", "SUPERANNUATIONEXPENSE": "expense"
            default: nil
            }
        }

        /// The FinFlow id of the account a Xero line or payment names, by `AccountID` or by `Code` in the synced chart.
        private func xeroAccount(_ object: [String: Any]) throws -> String? {
            if let id = Self.text(object["AccountID"]) { return self.accountId(id) }
            guard let code = Self.text(object["AccountCode"]) ?? Self.text(object["Code"]) else { return nil }
            guard let id = self.xeroAccountIds[code] else {
                throw Problem(message: "the account code \(code.prefix(20)) is not in the synced chart of accounts")
            }
            return self.accountId(id)
        }

        // MARK: Shared

        private func accountId(_ externalId: String) -> String {
            BooksPosting.documentId(connectionId: self.connectionId, entity: .account, externalId: externalId)
        }

        private func name(_ value: Any?) throws -> String {
            guard let name = Self.text(value)?.trimmingCharacters(in: .whitespacesAndNewlines), !name.isEmpty else {
                throw Problem(message: "the account has no name")
            }
            return String(name.prefix(120))
        }

        private func posting(_ entry: Entry, date: String?, currency: String?, number: String?, contact: String?) throws -> Reading {
            guard !entry.lines.isEmpty else { return .none }  // a voided QuickBooks document keeps its lines at zero
            guard let date, date.count == 10 else { throw Problem(message: "the document has no date") }
            guard entry.lines.count <= 500 else { throw Problem(message: "the document has \(entry.lines.count) lines; FinFlow posts at most 500") }
            return .posting(IntegrationSynced.Posting(
                date: date, currency: currency, number: number.map { String($0.prefix(100)) }, contact: contact.map { String($0.prefix(200)) },
                lines: entry.lines))
        }

        /// Refuses a document whose lines do not come to the total the provider states.
        private static func check(_ control: Decimal, total: Any?) throws {
            guard let total = try Self.amount(total) else { return }
            guard control == total else {
                throw Problem(message: "the document's lines come to \(control), its total is \(total)")
            }
        }

        /// A text or number field as text; nil when absent or empty.
        static func text(_ value: Any?) -> String? {
            ProviderDocuments.text(value).flatMap { $0.isEmpty ? nil : $0 }
        }

        static func field(_ object: [String: Any], _ path: String...) -> Any? {
            var value: Any? = object
            for key in path { value = (value as? [String: Any])?[key] }
            return value
        }

        static func lines(_ value: Any?) -> [[String: Any]] { (value as? [Any] ?? []).compactMap { $0 as? [String: Any] } }

        /// A non-negative amount.
        static func amount(_ value: Any?) throws -> Decimal? {
            guard let amount = try Self.signedAmount(value) else { return nil }
            guard amount >= 0 else { throw Problem(message: "an amount is negative") }
            return amount
        }

        static func signedAmount(_ value: Any?) throws -> Decimal? {
            guard let text = Self.text(value) else { return nil }
            guard let amount = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")), amount.isFinite,
                abs(amount) < Decimal(1_000_000_000_000_000)
            else { throw Problem(message: "'\(text.prefix(40))' is not an amount") }
            return amount
        }
    }

    enum Side { case debit, credit }

    /// Lines being gathered: amounts in major units, a negative amount put on the other side, zero left out.
    struct Entry {
        private(set) var lines: [IntegrationSynced.Line] = []
        private var debits = Decimal(0), credits = Decimal(0)

        var balanced: Bool { self.debits == self.credits }

        mutating func add(_ side: Side, _ amount: Decimal, accountId: String? = nil, role: String? = nil, _ description: String?) {
            guard amount != 0 else { return }
            let side = amount < 0 ? (side == .debit ? Side.credit : .debit) : side
            let size = abs(amount)
            if side == .debit { self.debits += size } else { self.credits += size }
            self.lines.append(IntegrationSynced.Line(
                side: side == .debit ? "debit" : "credit", amount: NSDecimalNumber(decimal: size).stringValue, accountId: accountId, role: role,
                description: description.map { String($0.prefix(200)) }))
        }

        /// Adds the control line (receivables, payables) that balances the rest, on `side`; answers its amount.
        mutating func balance(_ side: Side, role: String) -> Decimal {
            let difference = side == .debit ? self.credits - self.debits : self.debits - self.credits
            self.add(side, difference, role: role, nil)
            return difference
        }
    }
}

/// Sends the documents of one page to the books, in the page's transaction: each created, changed or deleted document
/// becomes an `IntegrationSynced` in the outbox, with the connection as subject so the ledger takes them in order.
struct BooksOutbound {
    let claimed: SyncDesk.Claimed
    let outbox: Outbox
    let db: any SQLDatabase
    private var xeroAccountIds: [String: String]?

    init(claimed: SyncDesk.Claimed, outbox: Outbox, db: any SQLDatabase) {
        self.claimed = claimed
        self.outbox = outbox
        self.db = db
    }

    /// The record's books status (`sent`, `unreadable`, nil for contacts) and the problem that made it unreadable.
    mutating func send(_ document: ProviderDocument, documentId: String) async throws -> (status: String?, problem: DocumentProblem?) {
        guard BooksPosting.posts(document.entity) else { return (nil, nil) }
        let accounts = try await self.accountCodes(for: document)
        let tenantId = self.claimed.tenantId, connectionId = self.claimed.run.connectionId
        switch BooksPosting.event(document, documentId: documentId, provider: self.claimed.provider, tenantId: tenantId,
                                  connectionId: connectionId, xeroAccountIds: accounts) {
        case .none: return (nil, nil)
        case .failure(let problem)?: return ("unreadable", problem)
        case .success(let event)?:
            try await self.outbox.enqueue(event, subject: connectionId, tenantId: tenantId, on: self.db)
            return ("sent", nil)
        }
    }

    /// What a document FinFlow pushed posts in the provider's books (`BooksPush.contentKey`), or `unreadable`.
    mutating func contentKey(_ document: ProviderDocument) async throws -> String {
        let accounts = try await self.accountCodes(for: document)
        guard case .success(let event)? = BooksPosting.event(
            document, documentId: "", provider: self.claimed.provider, tenantId: self.claimed.tenantId,
            connectionId: self.claimed.run.connectionId, xeroAccountIds: accounts)
        else { return "unreadable" }
        return BooksPush.contentKey(event.posting)
    }

    /// Xero's account codes in the synced chart (read once a page, when a document of it names accounts by code).
    private mutating func accountCodes(for document: ProviderDocument) async throws -> [String: String] {
        guard self.claimed.provider == .xero, !document.deleted, document.entity != .account else { return [:] }
        if let known = self.xeroAccountIds { return known }
        let codes = try await Self.xeroAccountIds(tenantId: self.claimed.tenantId, connectionId: self.claimed.run.connectionId, db: self.db)
        self.xeroAccountIds = codes
        return codes
    }

    /// Each Xero account code of a connection's synced chart, with the account's AccountID.
    static func xeroAccountIds(tenantId: String, connectionId: String, db: any SQLDatabase) async throws -> [String: String] {
        struct Row: Decodable { let external_id, document: String }
        let rows = try await db.raw("""
            SELECT external_id, document FROM integration_records
            WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId) AND entity = 'account' AND status = 'active'
            """).all(decoding: Row.self)
        var codes: [String: String] = [:]
        for row in rows {
            let object = (try? JSONSerialization.jsonObject(with: Data(row.document.utf8))) as? [String: Any]
            if let code = object?["Code"] as? String, !code.isEmpty { codes[code] = row.external_id }
        }
        return codes
    }
}

extension SyncDesk {
    /// The ledger refused a synced document (source `sync`, sourceId `documentId:version:content`): its record shows it
    /// refused, with the reason, unless a later version has been sent since.
    static func refused(_ refusal: JournalEntryRejected, on db: any SQLDatabase) async throws {
        guard refusal.source == "sync", let first = refusal.sourceId.firstIndex(of: ":"), let last = refusal.sourceId.lastIndex(of: ":"),
            first < last
        else { return }
        let documentId = String(refusal.sourceId[..<first])
        let version = String(refusal.sourceId[refusal.sourceId.index(after: first)..<last])
        try await db.raw("""
            UPDATE integration_records SET books_status = 'refused', books_problem = \(bind: String("\(refusal.code): \(refusal.reason)".prefix(1_000)))
            WHERE tenant_id = \(bind: refusal.tenantId) AND finflow_id = \(bind: documentId) AND version = \(bind: version)
            """).run()
    }
}
