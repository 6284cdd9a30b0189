/// A tenant's webhook endpoint was disabled (integrations → whoever tells the tenant): its deliveries failed for a
/// whole retry window, or a manager disabled it.
public struct WebhookEndpointDisabled: EventContract, Equatable {
    public static let eventType = "finflow.webhook-endpoint.disabled"
    public static let schemaVersion = 1
    public let tenantId: String
    public let endpointId: String
    public let url: String
    /// `failing` (deliveries failed for the whole retry window) or `manual`.
    public let reason: String
    /// What the last attempt met (the status code or the network error), when the endpoint was failing.
    public let lastError: String?
    public let disabledAtMillis: Int64

    public init(tenantId: String, endpointId: String, url: String, reason: String, lastError: String?, disabledAtMillis: Int64) {
        self.tenantId = tenantId
        self.endpointId = endpointId
        self.url = url
        self.reason = reason
        self.lastError = lastError
        self.disabledAtMillis = disabledAtMillis
    }
}

/// A tenant's connection to QuickBooks Online or Xero changed state (integrations → whoever tells the tenant): it was
/// authorised (or mended), its organisation chosen, the provider refused its grant (it needs the user again), or a
/// manager disconnected it.
public struct IntegrationConnectionChanged: EventContract, Equatable {
    public static let eventType = "finflow.integration-connection.changed"
    public static let schemaVersion = 1
    public let tenantId: String
    public let connectionId: String
    /// `quickbooks` or `xero`.
    public let provider: String
    /// `connected`, `choosing-organisation`, `needs-authorisation` or `disconnected`.
    public let status: String
    /// The QuickBooks realmId or the Xero tenant id, once known.
    public let externalId: String?
    /// Why: the provider's refusal, or `manual` for a disconnection.
    public let reason: String?
    public let changedAtMillis: Int64

    public init(
        tenantId: String, connectionId: String, provider: String, status: String, externalId: String?, reason: String?, changedAtMillis: Int64
    ) {
        self.tenantId = tenantId
        self.connectionId = connectionId
        self.provider = provider
        self.status = status
        self.externalId = externalId
        self.reason = reason
        self.changedAtMillis = changedAtMillis
    }
}

/// A document of a connected QuickBooks Online or Xero company changed there and was read by a sync (integrations →
/// accounting): an account opened, renamed or closed, or a document (invoice, bill, payment, bill payment, journal
/// entry) with the double entry it makes in the provider's books, in the provider's amounts. Published with the
/// connection as subject, so one connection's documents arrive in the order the sync read them (accounts first).
/// The ledger posts each document once per content: a changed one is reversed and posted again, a deleted or voided
/// one reversed; a refusal is answered with `JournalEntryRejected` (source `sync`, sourceId the document id).
public struct IntegrationSynced: EventContract, Equatable {
    public static let eventType = "finflow.integration.synced"
    public static let schemaVersion = 1
    public let tenantId: String
    public let connectionId: String
    /// `quickbooks` or `xero`.
    public let provider: String
    /// `account`, `invoice`, `bill`, `payment`, `bill_payment` or `journal_entry`.
    public let kind: String
    public let externalId: String
    /// FinFlow's id of the document, given once by the sync's mapping; a synced account's id in the chart.
    public let documentId: String
    /// The provider's version (QuickBooks' `SyncToken`, Xero's `UpdatedDateUTC`).
    public let version: String
    /// Deleted or voided at the provider, or not (yet) in its books (a draft): nothing of it stays posted.
    public let deleted: Bool
    /// What a person calls it: the account's name, the document's number.
    public let label: String?
    /// For `account`.
    public let account: Account?
    /// For the other kinds, when not deleted.
    public let posting: Posting?

    public struct Account: Codable, Sendable, Equatable {
        /// The provider's account code (Xero always, QuickBooks when numbering is on).
        public let code: String?
        public let name: String
        /// `asset`, `liability`, `equity`, `revenue` or `expense`.
        public let type: String
        /// ISO 4217; nil is the ledger's base currency.
        public let currency: String?
        public let active: Bool

        public init(code: String?, name: String, type: String, currency: String?, active: Bool) {
            self.code = code
            self.name = name
            self.type = type
            self.currency = currency
            self.active = active
        }
    }

    /// The double entry a document makes: its lines balance in `currency`.
    public struct Posting: Codable, Sendable, Equatable {
        /// `YYYY-MM-DD`.
        public let date: String
        /// ISO 4217; nil is the ledger's base currency.
        public let currency: String?
        public let number: String?
        /// The customer or vendor, by name.
        public let contact: String?
        public let lines: [Line]

        public init(date: String, currency: String?, number: String?, contact: String?, lines: [Line]) {
            self.date = date
            self.currency = currency
            self.number = number
            self.contact = contact
            self.lines = lines
        }
    }

    public struct Line: Codable, Sendable, Equatable {
        /// `debit` or `credit`.
        public let side: String
        /// A positive decimal in the currency's major unit, as the provider wrote it (`"1250.50"`).
        public let amount: String
        /// The synced account's document id; else `role`.
        public let accountId: String?
        /// One of the ledger's system roles (`receivables`, `payables`, `sales_tax`, `input_tax`, `payment_clearing`),
        /// for what the provider keeps in its own control accounts.
        public let role: String?
        public let description: String?

        public init(side: String, amount: String, accountId: String?, role: String?, description: String?) {
            self.side = side
            self.amount = amount
            self.accountId = accountId
            self.role = role
            self.description = description
        }
    }

    public init(
        tenantId: String, connectionId: String, provider: String, kind: String, externalId: String, documentId: String, version: String,
        deleted: Bool, label: String?, account: Account?, posting: Posting?
    ) {
        self.tenantId = tenantId
        self.connectionId = connectionId
        self.provider = provider
        self.kind = kind
        self.externalId = externalId
        self.documentId = documentId
        self.version = version
        self.deleted = deleted
        self.label = label
        self.account = account
        self.posting = posting
    }
}

/// A tenant turned pushing of its ledger to one of its QuickBooks Online or Xero connections on or off (integrations →
/// accounting). While any connection of a tenant pushes, the ledger shares each entry it posts (`JournalEntryShared`);
/// turned on with `since`, it shares the entries already posted from that date too, so the provider's books catch up.
public struct IntegrationPushChanged: EventContract, Equatable {
    public static let eventType = "finflow.integration-push.changed"
    public static let schemaVersion = 1
    public let tenantId: String
    public let connectionId: String
    public let enabled: Bool
    /// `YYYY-MM-DD`: the entries posted on or after this accounting date are shared again (a first push or a catch-up).
    public let since: String?
    public let changedAtMillis: Int64

    public init(tenantId: String, connectionId: String, enabled: Bool, since: String?, changedAtMillis: Int64) {
        self.tenantId = tenantId
        self.connectionId = connectionId
        self.enabled = enabled
        self.since = since
        self.changedAtMillis = changedAtMillis
    }
}

/// A journal entry the ledger posted, whole, for the connections that push it to the provider's books (accounting →
/// integrations). Published only for tenants with a pushing connection (`IntegrationPushChanged`), with the tenant as
/// subject so an entry and its reversal arrive in order. Entries the ledger took from a sync (source `sync`) are not
/// shared: they came from there.
public struct JournalEntryShared: EventContract, Equatable {
    public static let eventType = "finflow.journal-entry.shared"
    public static let schemaVersion = 1
    public let tenantId: String
    public let entryId: String
    /// manual, transaction, payment, invoice, bill, loan, close, revaluation, tax…
    public let source: String
    /// `YYYY-MM-DD`.
    public let accountingDate: String
    public let description: String
    public let reference: String?
    public let reversesEntryId: String?
    /// The connection asking for a catch-up, when this is one (`IntegrationPushChanged.since`); nil for every pushing
    /// connection.
    public let connectionId: String?
    public let lines: [Line]
    /// The invoice or bill the entry posts, or the payment of one it records: pushed as the provider's own document
    /// (an invoice its customer owes, a payment applied to it) rather than as a journal. Absent for any other entry.
    public var document: Document?

    /// An invoice, bill, or a payment of one, as FinFlow keeps it.
    public struct Document: Codable, Sendable, Equatable {
        /// invoice, credit_note, bill, vendor_credit, invoice_payment, bill_payment.
        public let kind: String
        /// FinFlow's invoice or bill (for a payment: the one paid).
        public let documentId: String
        public let number: String
        /// The customer or vendor, by FinFlow's id and name.
        public let contactId: String
        public let contactName: String
        /// The issue, bill or payment date, `YYYY-MM-DD`.
        public let date: String
        public let dueDate: String?
        public let currency: String
        /// Decimals in the currency's major unit: the total (for a payment, the amount paid) and its tax.
        public let total: String
        public let tax: String
        /// For a payment: the entry that posted the invoice or bill it pays.
        public let paidEntryId: String?
        public let lines: [DocumentLine]
        /// The document's tax, as the entry posted it: one line per account it went to (sales or input tax, or the
        /// expense that bears tax not reclaimed), quantity one. The lines and these come to `total`.
        public let taxLines: [DocumentLine]?

        public init(
            kind: String, documentId: String, number: String, contactId: String, contactName: String, date: String, dueDate: String?,
            currency: String, total: String, tax: String, paidEntryId: String?, lines: [DocumentLine], taxLines: [DocumentLine]? = nil
        ) {
            self.kind = kind
            self.documentId = documentId
            self.number = number
            self.contactId = contactId
            self.contactName = contactName
            self.date = date
            self.dueDate = dueDate
            self.currency = currency
            self.total = total
            self.tax = tax
            self.paidEntryId = paidEntryId
            self.lines = lines
            self.taxLines = taxLines
        }
    }

    /// One line of an invoice or bill: what was sold or bought, and the revenue or expense account it posts to.
    public struct DocumentLine: Codable, Sendable, Equatable {
        public let description: String
        /// A decimal, as entered (`"1.5"`).
        public let quantity: String
        /// Decimals in the currency's major unit; `amount` is the line's net as FinFlow rounded it.
        public let unitPrice: String
        public let amount: String
        public let accountId: String
        public let accountCode: String
        public let accountName: String

        public init(description: String, quantity: String, unitPrice: String, amount: String, accountId: String, accountCode: String, accountName: String) {
            self.description = description
            self.quantity = quantity
            self.unitPrice = unitPrice
            self.amount = amount
            self.accountId = accountId
            self.accountCode = accountCode
            self.accountName = accountName
        }
    }

    public struct Line: Codable, Sendable, Equatable {
        public let accountId: String
        public let accountCode: String
        public let accountName: String
        /// `debit` or `credit`.
        public let side: String
        /// A positive decimal in the currency's major unit (`"1250.50"`).
        public let amount: String
        /// ISO 4217.
        public let currency: String
        public let memo: String?

        public init(accountId: String, accountCode: String, accountName: String, side: String, amount: String, currency: String, memo: String?) {
            self.accountId = accountId
            self.accountCode = accountCode
            self.accountName = accountName
            self.side = side
            self.amount = amount
            self.currency = currency
            self.memo = memo
        }
    }

    public init(
        tenantId: String, entryId: String, source: String, accountingDate: String, description: String, reference: String?,
        reversesEntryId: String?, connectionId: String?, lines: [Line], document: Document? = nil
    ) {
        self.tenantId = tenantId
        self.entryId = entryId
        self.source = source
        self.accountingDate = accountingDate
        self.description = description
        self.reference = reference
        self.reversesEntryId = reversesEntryId
        self.connectionId = connectionId
        self.lines = lines
        self.document = document
    }
}
