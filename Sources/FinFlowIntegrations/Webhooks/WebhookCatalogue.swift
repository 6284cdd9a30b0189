import FinFlowCore

/// The events a tenant may have delivered to its webhook endpoints: the business facts of its own books, never the
/// platform's internals (sessions, mail, audit, membership). Each is delivered as the CloudEvents envelope it travels in
/// between the services, documented in `docs/events.md` with a JSON Schema per type.
enum WebhookCatalogue {
    struct Entry: Sendable {
        let type: String
        let topic: String
        let description: String
    }

    static func entry<Contract: EventContract>(_ contract: Contract.Type, _ description: String) -> Entry {
        Entry(type: Contract.eventType, topic: Contract.topic, description: description)
    }

    static let entries: [Entry] = [
        entry(TransactionCreated.self, "a transaction was accepted"),
        entry(TransactionStatusChanged.self, "a transaction was posted, rejected, held, released or reversed"),
        entry(PaymentProcessed.self, "a payment or refund reached an outcome at its gateway"),
        entry(JournalEntryPosted.self, "a journal entry was posted to the ledger"),
        entry(LedgerAccountChanged.self, "a ledger account was opened, renamed or closed"),
        entry(InvoiceIssued.self, "an invoice or credit note was issued"),
        entry(InvoiceSettled.self, "an invoice became fully paid"),
        entry(InvoiceVoided.self, "an invoice was voided"),
        entry(BillPosted.self, "a vendor bill or vendor credit was posted"),
        entry(BillSettled.self, "a vendor bill became fully settled"),
        entry(TaxCommitted.self, "tax on a document was committed"),
        entry(TaxReturnFiled.self, "a tax return was filed"),
        entry(LoanOfferAccepted.self, "a loan offer was accepted"),
        entry(InsightRaised.self, "an advisory insight was raised"),
        entry(AnomalyDetected.self, "a transaction or payment was scored anomalous"),
        entry(ComplianceAlert.self, "a compliance alert was raised"),
    ]

    static let types: Set<String> = Set(entries.map(\.type))
}
