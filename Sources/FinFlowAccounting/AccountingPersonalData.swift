import FinFlowCore

extension AccountingService {
    /// Where the books name a person: the customers and vendors of invoices and bills.
    static let personalData: [PersonalDataSource] = [
        PersonalDataSource(
            category: "invoices", purpose: "bill the customer and keep the books (contract, legal obligation)",
            retention: "10 years after the end of the financial year (bookkeeping law)", table: "invoices",
            columns: [
                "id", "number", "kind", "status", "customer_id", "customer_name", "currency", "issue_date", "due_date", "subtotal_minor:int",
                "tax_minor:int", "total_minor:int", "paid_minor:int", "credited_minor:int", "memo", "created_at_ms:int",
            ],
            matches: [.customerId: "customer_id", .name: "customer_name"]),
        PersonalDataSource(
            category: "bills", purpose: "pay the vendor and keep the books (contract, legal obligation)",
            retention: "10 years after the end of the financial year (bookkeeping law)", table: "bills",
            columns: [
                "id", "number", "kind", "status", "vendor_id", "vendor_name", "vendor_reference", "currency", "bill_date", "due_date",
                "subtotal_minor:int", "tax_minor:int", "total_minor:int", "paid_minor:int", "memo",
            ],
            matches: [.customerId: "vendor_id", .name: "vendor_name"]),
        PersonalDataSource(
            category: "customer-credit", purpose: "hold what the tenant owes the customer (contract)",
            retention: "10 years after the end of the financial year (bookkeeping law)", table: "customer_credits",
            columns: ["customer_id", "currency", "balance_minor:int", "updated_at_ms:int"], matches: [.customerId: "customer_id"],
            orderBy: "currency"),
    ]
}
