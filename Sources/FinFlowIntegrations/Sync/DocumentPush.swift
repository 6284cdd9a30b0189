import FinFlowCore
import Foundation
import SQLKit

/// FinFlow's invoices and bills written as the provider's own documents (QuickBooks `Invoice` and `Bill`, Xero `ACCREC`
/// and `ACCPAY` invoices) on the customer or vendor they name, their payments as the provider's payments applied to them,
/// and a voided one voided there: the provider's receivables and payables then list FinFlow's documents, not journals.
enum DocumentPush {
    /// How a shared entry goes to the provider.
    enum Plan: Equatable {
        /// As a journal (any entry that is no document, a credit note or vendor credit, or a document whose lines do not
        /// come to its total).
        case journal
        /// An invoice or bill made there.
        case document(SyncEntity)
        /// A payment applied to the provider's invoice or bill `paid` (its id there).
        case payment(SyncEntity, paid: String, paidEntity: SyncEntity)
        /// The provider's invoice or bill `externalId` voided (a FinFlow void reverses the entry that posted it).
        case void(SyncEntity, externalId: String)
        /// The document this one depends on is still being pushed.
        case wait(String)
    }

    /// What another entry's push made, for a payment or reversal that depends on it.
    struct Earlier: Decodable {
        let status: String
        let entity, external_id: String?
    }

    /// The plan for `entry`, given the push of the entry it pays or reverses (`earlier`).
    static func plan(_ entry: JournalEntryShared, earlier: Earlier?) -> Plan {
        if entry.reversesEntryId != nil {
            guard let earlier, let entity = earlier.entity.flatMap(SyncEntity.init(rawValue:)), entity == .invoice || entity == .bill else {
                return .journal
            }
            guard earlier.status == "pushed", let id = earlier.external_id else {
                return earlier.status == "queued" ? .wait("the \(entity.rawValue) it voids is not pushed yet") : .journal
            }
            return .void(entity, externalId: id)
        }
        guard let document = entry.document else { return .journal }
        switch document.kind {
        case "invoice", "bill":
            return Self.carried(document) ? .document(document.kind == "invoice" ? .invoice : .bill) : .journal
        case "invoice_payment", "bill_payment":
            let paidEntity: SyncEntity = document.kind == "invoice_payment" ? .invoice : .bill
            guard let earlier, earlier.entity == paidEntity.rawValue else { return .journal }
            guard earlier.status == "pushed", let id = earlier.external_id else {
                return earlier.status == "queued" ? .wait("the \(paidEntity.rawValue) it pays is not pushed yet") : .journal
            }
            return .payment(paidEntity == .invoice ? .payment : .billPayment, paid: id, paidEntity: paidEntity)
        default:
            // Credit notes and vendor credits go as the journals they post.
            return .journal
        }
    }

    /// The document's lines as the provider's document carries them: FinFlow's lines, then its tax as lines on the
    /// accounts the entry posted it to (the provider's own tax codes are not used: its tax reports do not see them).
    static func lines(_ document: JournalEntryShared.Document) -> [JournalEntryShared.DocumentLine] {
        document.lines + (document.taxLines ?? [])
    }

    /// Whether the provider's invoice or bill carries the document as FinFlow posted it: one to 500 lines of amounts
    /// not below zero that come to its total (tax included); else it goes as the journal it posts.
    static func carried(_ document: JournalEntryShared.Document) -> Bool {
        let lines = Self.lines(document)
        guard (1...500).contains(lines.count), let total = Self.decimal(document.total) else { return false }
        // A document whose tax the ledger did not share (written before it did) has nothing to carry its tax.
        guard document.taxLines != nil || Self.decimal(document.tax) == 0 else { return false }
        let amounts = lines.map { Self.decimal($0.amount) ?? -1 }
        return amounts.allSatisfy { $0 >= 0 } && amounts.reduce(0, +) == total
    }

    static func decimal(_ text: String) -> Decimal? { Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) }

    /// The note every pushed document carries, naming the entry: how a sync reading it back knows it.
    static func note(_ entry: JournalEntryShared) -> String {
        "\(entry.description.prefix(200)) — \(BooksPush.marker)\(entry.entryId)"
    }

    // MARK: bodies

    /// A line's quantity and unit price as the provider multiplies them: FinFlow's when they make its rounded amount
    /// exactly, else one at the line's amount (the provider would round the product otherwise).
    static func quantityAndPrice(_ line: JournalEntryShared.DocumentLine) -> (quantity: Decimal, price: Decimal, amount: Decimal) {
        let amount = Self.decimal(line.amount) ?? 0
        if let quantity = Self.decimal(line.quantity), let price = Self.decimal(line.unitPrice), quantity > 0, quantity * price == amount {
            return (quantity, price, amount)
        }
        return (1, amount, amount)
    }

    /// The provider account a FinFlow account maps to, as `BooksPush.Accounts` finds it.
    static func target(_ accounts: BooksPush.Accounts, id: String, code: String, name: String, provider: AccountingProvider) throws
        -> BooksPush.Accounts.Target
    {
        try accounts.target(
            JournalEntryShared.Line(accountId: id, accountCode: code, accountName: name, side: "debit", amount: "0", currency: "", memo: nil),
            provider: provider)
    }

    /// The invoice or bill for `entry`, on the contact `contact`; QuickBooks invoice lines name `items` (by FinFlow
    /// revenue account id).
    static func documentBody(
        _ entry: JournalEntryShared, entity: SyncEntity, contact: String, items: [String: String], accounts: BooksPush.Accounts,
        provider: AccountingProvider
    ) throws -> Data {
        guard let document = entry.document else { throw BooksPush.Unpushable(message: "the entry carries no document") }
        let sales = entity == .invoice
        // The payable account FinFlow posted: the entry's line on it is the bill's whole.
        let control = entry.lines.first { (sales ? "debit" : "credit") == $0.side && $0.amount == document.total }
        var lines: [[String: Any]] = []
        for line in Self.lines(document) {
            let (quantity, price, amount) = Self.quantityAndPrice(line)
            let description = String(line.description.prefix(4_000))
            switch (provider, sales) {
            case (.quickbooks, true):
                guard let item = items[line.accountId] else { throw BooksPush.Unpushable(message: "no QuickBooks item for account \(line.accountCode)") }
                lines.append([
                    "Amount": NSDecimalNumber(decimal: amount), "Description": description, "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": ["ItemRef": ["value": item], "Qty": NSDecimalNumber(decimal: quantity), "UnitPrice": NSDecimalNumber(decimal: price)],
                ])
            case (.quickbooks, false):
                let target = try Self.target(accounts, id: line.accountId, code: line.accountCode, name: line.accountName, provider: provider)
                lines.append([
                    "Amount": NSDecimalNumber(decimal: amount), "Description": description, "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": ["AccountRef": ["value": target.id]],
                ])
            case (.xero, _):
                let target = try Self.target(accounts, id: line.accountId, code: line.accountCode, name: line.accountName, provider: provider)
                guard let code = target.code else {
                    throw BooksPush.Unpushable(message: "the Xero account FinFlow's account \(line.accountCode) maps to has no code")
                }
                lines.append([
                    "Description": description, "Quantity": NSDecimalNumber(decimal: quantity), "UnitAmount": NSDecimalNumber(decimal: price),
                    "LineAmount": NSDecimalNumber(decimal: amount), "AccountCode": code,
                ])
            }
        }
        let object: [String: Any]
        switch provider {
        case .quickbooks:
            var fields: [String: Any] = [
                sales ? "CustomerRef" : "VendorRef": ["value": contact], "TxnDate": document.date, "DocNumber": String(document.number.prefix(21)),
                "PrivateNote": Self.note(entry), "CurrencyRef": ["value": document.currency], "Line": lines,
            ]
            if let due = document.dueDate { fields["DueDate"] = due }
            // A bill names its payable account; a QuickBooks invoice has no receivable account of its own (it goes to the
            // company's Accounts Receivable).
            if !sales, let control, let target = try? Self.target(accounts, id: control.accountId, code: control.accountCode,
                                                                  name: control.accountName, provider: provider)
            {
                fields["APAccountRef"] = ["value": target.id]
            }
            object = fields
        case .xero:
            var fields: [String: Any] = [
                "Type": sales ? "ACCREC" : "ACCPAY", "Contact": ["ContactID": contact], "Date": document.date,
                "InvoiceNumber": String(document.number.prefix(255)), "Reference": Self.note(entry), "CurrencyCode": document.currency,
                "Status": "AUTHORISED", "LineAmountTypes": "NoTax", "LineItems": lines,
            ]
            if let due = document.dueDate { fields["DueDate"] = due }
            object = ["Invoices": [fields]]
        }
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    /// The payment for `entry`, applied to the provider's invoice or bill `paid`, into or out of the account the entry
    /// moved cash on.
    static func paymentBody(
        _ entry: JournalEntryShared, entity: SyncEntity, paid: String, contact: String, accounts: BooksPush.Accounts, provider: AccountingProvider
    ) throws -> Data {
        guard let document = entry.document, let amount = Self.decimal(document.total), amount > 0 else {
            throw BooksPush.Unpushable(message: "the payment carries no amount")
        }
        let received = entity == .payment
        // The cash side: the line that is not on the receivable or payable.
        guard let cash = entry.lines.first(where: { $0.side == (received ? "debit" : "credit") }) else {
            throw BooksPush.Unpushable(message: "the payment's entry names no account the money moved on")
        }
        let target = try Self.target(accounts, id: cash.accountId, code: cash.accountCode, name: cash.accountName, provider: provider)
        let total = NSDecimalNumber(decimal: amount)
        let object: [String: Any]
        switch provider {
        case .quickbooks:
            var fields: [String: Any] = [
                received ? "CustomerRef" : "VendorRef": ["value": contact], "TotalAmt": total, "TxnDate": document.date,
                "PrivateNote": Self.note(entry), "CurrencyRef": ["value": document.currency],
                "Line": [["Amount": total, "LinkedTxn": [["TxnId": paid, "TxnType": received ? "Invoice" : "Bill"]]]],
            ]
            if received {
                fields["DepositToAccountRef"] = ["value": target.id]
            } else {
                fields["PayType"] = "Check"
                fields["CheckPayment"] = ["BankAccountRef": ["value": target.id]]
            }
            object = fields
        case .xero:
            guard let code = target.code else {
                throw BooksPush.Unpushable(message: "the Xero account FinFlow's account \(cash.accountCode) maps to has no code")
            }
            object = ["Payments": [[
                "Invoice": ["InvoiceID": paid], "Account": ["Code": code], "Date": document.date, "Amount": total, "Reference": Self.note(entry),
            ]]]
        }
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    /// The provider path a new document of `entity` is sent to (QuickBooks by POST, Xero by PUT).
    static func path(_ entity: SyncEntity, provider: AccountingProvider, company: String) -> String {
        switch provider {
        case .quickbooks: "/v3/company/\(company)/\(entity.quickbooksName.lowercased())"
        case .xero: "/api.xro/2.0/" + (entity == .payment || entity == .billPayment ? "Payments" : "Invoices")
        }
    }

    /// The document the provider answered a write with, as a sync would read it.
    static func document(answer: Data, entity: SyncEntity, provider: AccountingProvider) throws -> ProviderDocument {
        let object = (try? JSONSerialization.jsonObject(with: answer)) as? [String: Any]
        let result: Result<ProviderDocument, DocumentProblem>?
        switch provider {
        case .quickbooks:
            result = (object?[entity.quickbooksName] as? [String: Any]).map { ProviderDocuments.quickbooks($0, entity: entity) }
        case .xero:
            let feed: ProviderDocuments.XeroFeed = entity == .payment || entity == .billPayment ? .payments : .invoices
            result = ((object?[feed.rawValue] as? [Any])?.first as? [String: Any]).flatMap { ProviderDocuments.xero($0, feed: feed).first }
        }
        switch result {
        case .success(let document)?: return document
        case .failure(let problem)?:
            throw AppError(.unavailable, code: "provider-unreadable", "\(provider.title) answered a push unreadably: \(problem.message)")
        case nil:
            throw AppError(.unavailable, code: "provider-unreadable", "\(provider.title) answered a push without the \(entity.rawValue) it made")
        }
    }

    /// A name a provider takes for a contact or item: QuickBooks refuses a colon in names, and both limit their length.
    static func providerName(_ name: String, limit: Int) -> String {
        let cleaned = name.replacingOccurrences(of: ":", with: " ").trimmingCharacters(in: .whitespacesAndNewlines)
        return String((cleaned.isEmpty ? "FinFlow contact" : cleaned).prefix(limit))
    }

    /// A QuickBooks query's string literal.
    static func quoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}
