import FinFlowCore

extension CreditService {
    /// Where the credit engine keeps what it knows and decided about a customer.
    static let personalData: [PersonalDataSource] = [
        PersonalDataSource(
            category: "credit-decisions", purpose: "assess creditworthiness before lending (contract, legal obligation to assess)",
            retention: "for the life of the credit and 5 years after (consumer-credit and anti-money-laundering law)", table: "credit_decisions",
            columns: ["id", "customer_id", "model_version", "inputs", "score:int", "grade", "factors", "created_at_ms:int"],
            matches: [.customerId: "customer_id"], erasure: .keep(rule: "consumer-credit and anti-money-laundering law: 5 years after the relationship", years: 5, dateColumn: "created_at_ms")),
        PersonalDataSource(
            category: "payment-behaviour", purpose: "the monthly behaviour credit decisions read (legitimate interest)",
            retention: "36 months", table: "credit_behaviour",
            columns: [
                "customer_id", "currency", "month", "payments_succeeded:int", "payments_failed:int", "payments_refunded:int", "paid_minor:int",
                "refunded_minor:int", "inflow_minor:int", "outflow_minor:int", "transactions:int",
            ],
            matches: [.customerId: "customer_id"], erasure: .delete, expiry: .init(dateColumn: "month", days: 3 * 366, idColumn: "month"),
            orderBy: "month, currency"),
        PersonalDataSource(
            category: "loan-offers", purpose: "offer and grant credit (contract)",
            retention: "for the life of the credit and 5 years after", table: "loan_offers",
            columns: ["id", "decision_id", "customer_id", "currency", "grade", "status", "requested_minor:int", "rate_bps:int", "accepted_minor:int", "accepted_at_ms:int"],
            matches: [.customerId: "customer_id"], erasure: .keep(rule: "consumer-credit and anti-money-laundering law: 5 years after the relationship", years: 5, dateColumn: "expires_at_ms")),
    ]
}
