import FinFlowCore
import Foundation
import SQLKit

/// FinFlow's ledger entries written into a provider's books: each entry one journal (QuickBooks `JournalEntry`, Xero
/// `ManualJournal`) whose note names the entry, its lines on the provider accounts FinFlow's accounts map to.
enum BooksPush {
    /// What a pushed journal's note carries, followed by the entry's id: how a sync reading it back knows it.
    static let marker = "FinFlow entry "

    /// An entry FinFlow cannot write into the provider's books as it stands (an account with no match there).
    struct Unpushable: Error { let message: String }

    /// The FinFlow entry a provider journal, invoice, bill or payment was pushed from, by the note FinFlow wrote on it;
    /// nil for any other document.
    static func entryId(pushedAs document: ProviderDocument, provider: AccountingProvider) -> String? {
        // QuickBooks keeps the note in `PrivateNote` on every kind; Xero in a journal's `Narration`, elsewhere `Reference`.
        let field = provider == .quickbooks ? "PrivateNote" : document.entity == .journalEntry ? "Narration" : "Reference"
        guard [.journalEntry, .invoice, .bill, .payment, .billPayment].contains(document.entity), !document.deleted,
            let object = (try? JSONSerialization.jsonObject(with: document.json)) as? [String: Any],
            let note = ProviderDocuments.text(object[field]),
            let range = note.range(of: Self.marker, options: .backwards)
        else { return nil }
        return UUID(uuidString: String(note[range.upperBound...].prefix(36)))?.canonical
    }

    /// A short digest of what a journal posts in the provider's books (date, currency, each line's side, amount and
    /// account): a change of its memo or number keeps it, a change of an amount or account does not.
    static func contentKey(_ posting: IntegrationSynced.Posting?) -> String {
        guard let posting else { return "none" }
        var text = "\(posting.date)|\(posting.currency ?? "")"
        for line in posting.lines.sorted(by: { ($0.side, $0.accountId ?? "", $0.amount) < ($1.side, $1.accountId ?? "", $1.amount) }) {
            text += "|\(line.side):\(line.amount):\(line.accountId ?? line.role ?? "")"
        }
        return String(Digest.sha256Hex(text).prefix(24))
    }

    /// The provider accounts FinFlow's accounts map to: the one an account was synced from (its FinFlow id is the
    /// document id), else the one with the same code.
    struct Accounts {
        struct Target { let id: String; let code: String? }
        var byFinFlowId: [String: Target] = [:]
        var byCode: [String: Target] = [:]

        static func load(tenantId: String, connectionId: String, provider: AccountingProvider, db: any SQLDatabase) async throws -> Accounts {
            struct Row: Decodable { let external_id, finflow_id, document: String }
            let rows = try await db.raw("""
                SELECT external_id, finflow_id, document FROM integration_records
                WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId) AND entity = 'account' AND status = 'active'
                """).all(decoding: Row.self)
            var accounts = Accounts()
            for row in rows {
                let object = (try? JSONSerialization.jsonObject(with: Data(row.document.utf8))) as? [String: Any]
                let code = ProviderDocuments.text(object?[provider == .quickbooks ? "AcctNum" : "Code"]).flatMap { $0.isEmpty ? nil : $0 }
                let target = Target(id: row.external_id, code: code)
                accounts.byFinFlowId[row.finflow_id] = target
                if let code { accounts.byCode[code] = target }
            }
            return accounts
        }

        func target(_ line: JournalEntryShared.Line, provider: AccountingProvider) throws -> Target {
            if let target = self.byFinFlowId[line.accountId] ?? self.byCode[line.accountCode] { return target }
            throw Unpushable(message: """
                FinFlow's account \(line.accountCode) \(line.accountName.prefix(80)) matches no \(provider.title) account: sync the chart of \
                accounts, or give a \(provider.title) account the code \(line.accountCode)
                """)
        }
    }

    /// The JSON body of the provider journal for `entry`; with `existing` (its id and QuickBooks' `SyncToken`), the
    /// body that writes the entry over that journal.
    static func body(
        _ entry: JournalEntryShared, provider: AccountingProvider, accounts: Accounts, existing: (id: String, version: String)? = nil
    ) throws -> Data {
        guard (1...500).contains(entry.lines.count) else { throw Unpushable(message: "the entry has \(entry.lines.count) lines; at most 500 are pushed") }
        let currencies = Set(entry.lines.map(\.currency))
        guard currencies.count == 1, let currency = currencies.first else {
            throw Unpushable(message: "the entry's lines are in \(currencies.sorted().joined(separator: ", ")); an entry is pushed in one currency")
        }
        let note = "\(entry.description.prefix(200)) — \(Self.marker)\(entry.entryId)"
        var lines: [[String: Any]] = []
        for (index, line) in entry.lines.enumerated() {
            let target = try accounts.target(line, provider: provider)
            guard let amount = Decimal(string: line.amount, locale: Locale(identifier: "en_US_POSIX")), amount > 0 else {
                throw Unpushable(message: "line \(index + 1)'s amount '\(line.amount.prefix(40))' is not a positive amount")
            }
            let description = String((line.memo ?? entry.description).prefix(200))
            switch provider {
            case .quickbooks:
                lines.append([
                    "Id": "\(index + 1)", "Description": description, "Amount": NSDecimalNumber(decimal: amount), "DetailType": "JournalEntryLineDetail",
                    "JournalEntryLineDetail": ["PostingType": line.side == "credit" ? "Credit" : "Debit", "AccountRef": ["value": target.id]],
                ])
            case .xero:
                guard let code = target.code else {
                    throw Unpushable(message: "the Xero account FinFlow's account \(line.accountCode) maps to has no code; Xero journals name accounts by code")
                }
                lines.append([
                    "LineAmount": NSDecimalNumber(decimal: line.side == "credit" ? -amount : amount), "AccountCode": code, "Description": description,
                ])
            }
        }
        var object: [String: Any]
        switch provider {
        case .quickbooks:
            object = [
                "TxnDate": entry.accountingDate, "DocNumber": String((entry.reference ?? "FF-\(entry.entryId.prefix(8))").prefix(21)),
                "PrivateNote": note, "CurrencyRef": ["value": currency], "Line": lines,
            ]
            if let existing {
                object["Id"] = existing.id
                object["SyncToken"] = existing.version
                object["sparse"] = false
            }
        case .xero:
            object = ["Narration": note, "Date": entry.accountingDate, "Status": "POSTED", "LineAmountTypes": "NoTax", "JournalLines": lines]
            if let existing { object["ManualJournalID"] = existing.id }
            object = ["ManualJournals": [object]]
        }
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    /// The journal the provider answered a push with, as a sync would read it.
    static func document(answer: Data, provider: AccountingProvider) throws -> ProviderDocument {
        guard let object = (try? JSONSerialization.jsonObject(with: answer)) as? [String: Any] else {
            throw AppError(.unavailable, code: "provider-unreadable", "\(provider.title) answered a push with something other than JSON")
        }
        let result: Result<ProviderDocument, DocumentProblem>?
        switch provider {
        case .quickbooks:
            result = (object["JournalEntry"] as? [String: Any]).map { ProviderDocuments.quickbooks($0, entity: .journalEntry) }
        case .xero:
            result = ((object["ManualJournals"] as? [Any])?.first as? [String: Any]).flatMap { ProviderDocuments.xero($0, feed: .manualJournals).first }
        }
        switch result {
        case .success(let document)?: return document
        case .failure(let problem)?:
            throw AppError(.unavailable, code: "provider-unreadable", "\(provider.title) answered a push unreadably: \(problem.message)")
        case nil:
            throw AppError(.unavailable, code: "provider-unreadable", "\(provider.title) answered a push without the journal it made")
        }
    }

    /// The provider path a new journal is sent to, and the path one is written over at.
    static func path(provider: AccountingProvider, company: String, existingId: String? = nil) -> String {
        switch provider {
        case .quickbooks: "/v3/company/\(company)/journalentry"
        case .xero: existingId.map { "/api.xro/2.0/ManualJournals/\($0)" } ?? "/api.xro/2.0/ManualJournals"
        }
    }
}
