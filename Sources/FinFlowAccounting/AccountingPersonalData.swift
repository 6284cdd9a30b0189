import FinFlowCore

extension AccountingService {
    /// Why the books' records stay after an erasure.
    static let bookkeeping = "bookkeeping law: accounting records are kept 10 years"

    /// Where the books name a person: the customers and vendors of invoices and bills.
    static let personalData: [PersonalDataSource] = [
        PersonalDataSource(
            category: "invoices", purpose: "bill the customer and keep the books (contract, legal obligation)",
            retention: "10 years after the end of the financial year (bookkeeping law)", table: "invoices",
            columns: [
                "id", "number", "kind", "status", "customer_id", "customer_name", "currency", "issue_date", "due_date", "subtotal_minor:int",
                "tax_minor:int", "total_minor:int", "paid_minor:int", "credited_minor:int", "memo", "created_at_ms:int",
            ],
            matches: [.customerId: "customer_id", .name: "customer_name"], mentions: ["memo"],
            erasure: .pseudonymise(["customer_name"], rule: Self.bookkeeping, years: 10, dateColumn: "issue_date")),
        PersonalDataSource(
            category: "bills", purpose: "pay the vendor and keep the books (contract, legal obligation)",
            retention: "10 years after the end of the financial year (bookkeeping law)", table: "bills",
            columns: [
                "id", "number", "kind", "status", "vendor_id", "vendor_name", "vendor_reference", "currency", "bill_date", "due_date",
                "subtotal_minor:int", "tax_minor:int", "total_minor:int", "paid_minor:int", "memo",
            ],
            matches: [.customerId: "vendor_id", .name: "vendor_name"], mentions: ["memo"],
            erasure: .pseudonymise(["vendor_name"], rule: Self.bookkeeping, years: 10, dateColumn: "bill_date")),
        PersonalDataSource(
            category: "invoice-lines", purpose: "bill the customer and keep the books (contract, legal obligation)",
            retention: "10 years after the end of the financial year (bookkeeping law)", table: "invoice_lines",
            columns: ["invoice_id", "line_no:int", "description", "quantity", "unit_price_minor:int", "tax_rate", "net_minor:int", "tax_minor:int"],
            matches: [:], mentions: ["description"], erasure: .pseudonymise([], rule: Self.bookkeeping, years: nil, dateColumn: nil),
            orderBy: "invoice_id, line_no"),
        PersonalDataSource(
            category: "bill-lines", purpose: "pay the vendor and keep the books (contract, legal obligation)",
            retention: "10 years after the end of the financial year (bookkeeping law)", table: "bill_lines",
            columns: ["bill_id", "line_no:int", "description", "quantity", "unit_price_minor:int", "tax_rate", "net_minor:int", "tax_minor:int"],
            matches: [:], mentions: ["description"], erasure: .pseudonymise([], rule: Self.bookkeeping, years: nil, dateColumn: nil),
            orderBy: "bill_id, line_no"),
        PersonalDataSource(
            category: "customer-credit", purpose: "hold what the tenant owes the customer (contract)",
            retention: "10 years after the end of the financial year (bookkeeping law)", table: "customer_credits",
            columns: ["customer_id", "currency", "balance_minor:int", "updated_at_ms:int"], matches: [.customerId: "customer_id"],
            erasure: .keep(rule: Self.bookkeeping, years: 10, dateColumn: "updated_at_ms"), orderBy: "currency"),
        // Entries and lines whose text names the subject: posted ones are immutable, so their guard lets an erasure
        // replace the name only while the entry is marked; amounts, accounts and dates never change.
        PersonalDataSource(
            category: "journal-entries", purpose: "keep the books (legal obligation)",
            retention: "10 years after the end of the financial year (bookkeeping law)", table: "journal_entries",
            columns: ["id", "status", "source", "accounting_date", "description", "reference", "created_at_ms:int"], matches: [:],
            mentions: ["description"], erasure: .pseudonymise([], rule: Self.bookkeeping, years: 10, dateColumn: "accounting_date"),
            mark: .init(table: "ledger_erasure_marks", idColumn: "id")),
        PersonalDataSource(
            category: "journal-lines", purpose: "keep the books (legal obligation)",
            retention: "10 years after the end of the financial year (bookkeeping law)", table: "journal_lines",
            columns: ["entry_id", "line_no:int", "account_id", "accounting_date", "debit_minor:int", "credit_minor:int", "currency", "memo"],
            matches: [:], mentions: ["memo"], erasure: .pseudonymise([], rule: Self.bookkeeping, years: 10, dateColumn: "accounting_date"),
            mark: .init(table: "ledger_erasure_marks", idColumn: "entry_id"), orderBy: "entry_id, line_no"),
    ]
}
