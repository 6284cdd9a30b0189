import FinFlowCore

extension PaymentsService {
    /// Where payments name a person: the paying customer, with the card's brand and last four digits (never a token).
    static let personalData: [PersonalDataSource] = [
        PersonalDataSource(
            category: "payments", purpose: "take the customer's payments and refund them (contract, legal obligation)",
            retention: "10 years (bookkeeping law)", table: "payments",
            columns: [
                "id", "status", "amount_minor:int", "currency", "amount_received:int", "amount_refunded:int", "customer_id", "invoice_id",
                "card_brand", "card_last4", "description", "gateway", "gateway_reference", "created_at_ms:int",
            ],
            matches: [.customerId: "customer_id"], mentions: ["description"],
            erasure: .pseudonymise([], rule: "bookkeeping law: payment records are kept 10 years", years: 10, dateColumn: "created_at_ms")),
    ]
}
