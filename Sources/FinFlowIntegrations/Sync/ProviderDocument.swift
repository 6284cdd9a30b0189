import FinFlowCore
import Foundation

/// The kinds of document a connection keeps in step with FinFlow's books.
enum SyncEntity: String, CaseIterable, Sendable, Codable {
    case account, customer, vendor, invoice, bill, payment
    case billPayment = "bill_payment"
    case journalEntry = "journal_entry"

    /// QuickBooks Online's name for it (in queries, change data capture and answers).
    var quickbooksName: String {
        switch self {
        case .account: "Account"
        case .customer: "Customer"
        case .vendor: "Vendor"
        case .invoice: "Invoice"
        case .bill: "Bill"
        case .payment: "Payment"
        case .billPayment: "BillPayment"
        case .journalEntry: "JournalEntry"
        }
    }

    init?(quickbooksName: String) {
        guard let entity = Self.allCases.first(where: { $0.quickbooksName == quickbooksName }) else { return nil }
        self = entity
    }
}

/// One document as a provider has it now: its id there, its version (QuickBooks' `SyncToken`, Xero's `UpdatedDateUTC`),
/// whether it was deleted, and the provider's own JSON of it, kept whole for the books to read.
struct ProviderDocument: Sendable, Equatable {
    let entity: SyncEntity
    let externalId: String
    let version: String
    let deleted: Bool
    /// When the provider last changed it, Unix milliseconds, where it says.
    let updatedAtMillis: Int64?
    /// What a person calls it: an account's or contact's name, a document's number.
    let label: String?
    let json: Data

    /// The largest document kept; a larger one is reported as an error of its own and skipped.
    static let jsonBytesMax = 256 * 1_024
}

/// A document the provider answered that FinFlow cannot take, with the reason (kept per sync run, shown to the user).
struct DocumentProblem: Error, Sendable, Equatable {
    let entity: SyncEntity
    let externalId: String?
    let message: String
}

/// Reads providers' JSON into `ProviderDocument`s.
enum ProviderDocuments {
    /// A QuickBooks Online object (a query or change data capture answer's element) of `entity`. Deleted objects come
    /// as `{"status": "Deleted", "Id": …, "MetaData": {"LastUpdatedTime": …}}`.
    static func quickbooks(_ object: [String: Any], entity: SyncEntity) -> Result<ProviderDocument, DocumentProblem> {
        guard let id = Self.text(object["Id"]), !id.isEmpty, id.count <= 100 else {
            return .failure(DocumentProblem(entity: entity, externalId: nil, message: "the \(entity.quickbooksName) has no Id"))
        }
        let deleted = (object["status"] as? String) == "Deleted"
        let updated = ((object["MetaData"] as? [String: Any])?["LastUpdatedTime"] as? String).flatMap(Self.isoMillis)
        // A deleted object carries no SyncToken; its deletion time stands for its version.
        guard let version = Self.text(object["SyncToken"]) ?? (deleted ? updated.map { "deleted-\($0)" } ?? "deleted" : nil) else {
            return .failure(DocumentProblem(entity: entity, externalId: id, message: "the \(entity.quickbooksName) has no SyncToken"))
        }
        let label = Self.text(object["DocNumber"]) ?? Self.text(object["DisplayName"]) ?? Self.text(object["Name"])
        return Self.document(entity: entity, id: id, version: deleted ? "deleted:" + version : version, deleted: deleted, updated: updated,
                             label: label, object: object)
    }

    /// The Xero collections a sync reads, each holding one or two of FinFlow's kinds of document.
    enum XeroFeed: String, CaseIterable, Sendable, Codable {
        case accounts = "Accounts", contacts = "Contacts", invoices = "Invoices", payments = "Payments", manualJournals = "ManualJournals"

        /// Whether Xero answers it a page (100) at a time.
        var paged: Bool { self != .accounts }

        var idField: String {
            switch self {
            case .accounts: "AccountID"
            case .contacts: "ContactID"
            case .invoices: "InvoiceID"
            case .payments: "PaymentID"
            case .manualJournals: "ManualJournalID"
            }
        }

        var entities: [SyncEntity] {
            switch self {
            case .accounts: [.account]
            case .contacts: [.customer, .vendor]
            case .invoices: [.invoice, .bill]
            case .payments: [.payment, .billPayment]
            case .manualJournals: [.journalEntry]
            }
        }
    }

    /// The documents one Xero object is: a contact that is both customer and supplier is two; a contact that is
    /// neither yet is a customer (Xero marks a contact only once a document names it).
    static func xero(_ object: [String: Any], feed: XeroFeed) -> [Result<ProviderDocument, DocumentProblem>] {
        let entities: [SyncEntity]
        switch feed {
        case .accounts: entities = [.account]
        case .manualJournals: entities = [.journalEntry]
        case .contacts:
            let customer = object["IsCustomer"] as? Bool ?? false, supplier = object["IsSupplier"] as? Bool ?? false
            entities = supplier && !customer ? [.vendor] : supplier ? [.customer, .vendor] : [.customer]
        case .invoices: entities = [(object["Type"] as? String) == "ACCPAY" ? .bill : .invoice]
        case .payments:
            let type = (object["PaymentType"] as? String) ?? ""
            entities = [type.hasPrefix("ACCPAY") || type == "APCREDITPAYMENT" || type == "APOVERPAYMENTPAYMENT" || type == "APPREPAYMENTPAYMENT"
                ? .billPayment : .payment]
        }
        return entities.map { entity -> Result<ProviderDocument, DocumentProblem> in
            guard let id = Self.text(object[feed.idField]), !id.isEmpty, id.count <= 100 else {
                return .failure(DocumentProblem(entity: entity, externalId: nil, message: "the \(feed.rawValue) item has no \(feed.idField)"))
            }
            guard let updated = (object["UpdatedDateUTC"] as? String).flatMap(Self.xeroMillis) else {
                return .failure(DocumentProblem(entity: entity, externalId: id, message: "the \(feed.rawValue) item has no readable UpdatedDateUTC"))
            }
            let status = (object["Status"] as? String) ?? ""
            let deleted = status == "DELETED"
            let label = Self.text(object["InvoiceNumber"]) ?? Self.text(object["Name"]) ?? Self.text(object["Reference"])
                ?? Self.text(object["Narration"])
            return Self.document(entity: entity, id: id, version: "\(updated)" + (deleted ? ":deleted" : ""), deleted: deleted, updated: updated,
                                 label: label, object: object)
        }
    }

    private static func document(
        entity: SyncEntity, id: String, version: String, deleted: Bool, updated: Int64?, label: String?, object: [String: Any]
    ) -> Result<ProviderDocument, DocumentProblem> {
        guard let json = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            return .failure(DocumentProblem(entity: entity, externalId: id, message: "the document could not be written as JSON"))
        }
        guard json.count <= ProviderDocument.jsonBytesMax else {
            return .failure(DocumentProblem(
                entity: entity, externalId: id, message: "the document is \(json.count) bytes; FinFlow keeps at most \(ProviderDocument.jsonBytesMax)"))
        }
        return .success(ProviderDocument(
            entity: entity, externalId: id, version: version, deleted: deleted, updatedAtMillis: updated,
            label: label.map { String($0.prefix(200)) }, json: json))
    }

    static func text(_ value: Any?) -> String? {
        switch value {
        case let text as String: text
        case let number as NSNumber: number.stringValue
        default: nil
        }
    }

    /// `2026-12-01T10:00:00-08:00` (QuickBooks writes an offset, sometimes fractions) as Unix milliseconds.
    static func isoMillis(_ text: String) -> Int64? {
        guard let date = (try? Date(text, strategy: Self.iso)) ?? (try? Date(text, strategy: Self.isoFractions)) else { return nil }
        return Int64((date.timeIntervalSince1970 * 1_000).rounded())
    }

    /// Read once per document of every page: value types made once, safe to share.
    private static let iso = Date.ISO8601FormatStyle()
    private static let isoFractions = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// Xero's `/Date(1573755038314+0000)/` as Unix milliseconds.
    static func xeroMillis(_ text: String) -> Int64? {
        guard text.hasPrefix("/Date("), let close = text.firstIndex(of: ")") else { return nil }
        let inner = text[text.index(text.startIndex, offsetBy: 6)..<close]
        let digits = inner.prefix { $0.isNumber || $0 == "-" }
        return Int64(digits)
    }

    /// Unix milliseconds as QuickBooks' `changedSince` and Xero's `If-Modified-Since` take them (UTC, whole seconds).
    static func isoText(millis: Int64) -> String {
        Date(timeIntervalSince1970: TimeInterval(millis / 1_000)).formatted(Self.iso)
    }
}
