import FinFlowCore

extension InsightsService {
    /// The insights service's copy of customers' invoices (and vendors' bills) by their ids, and insights about one
    /// customer. Both are derived from the books, which keep the originals: erasure deletes them here.
    static let personalData: [PersonalDataSource] = [
        PersonalDataSource(
            category: "receivables-read-model", purpose: "forecast cash and predict late payment from the customer's invoices (legitimate interest)",
            retention: "as long as the ledger keeps the invoice", table: "insights_documents",
            columns: ["id", "kind", "party_id", "currency", "total_minor:int", "applied_minor:int", "issue_date", "due_date", "status", "settled_date"],
            matches: [.customerId: "party_id"], erasure: .delete, orderBy: "issue_date, id"),
        PersonalDataSource(
            category: "advice", purpose: "advise the business on the customer's payments and share of sales (legitimate interest)",
            retention: "until dismissed or resolved and refreshed away", table: "insights_advice",
            columns: ["id", "kind", "subject", "currency", "amount_minor:int", "sentence", "status", "raised_at_ms:int"],
            matches: [.customerId: "subject"], erasure: .delete),
    ]
}
