import FinFlowCore

extension TransactionsService {
    /// Where transactions name a person: as their counterparty.
    static let personalData: [PersonalDataSource] = [
        PersonalDataSource(
            category: "financial-transactions", purpose: "process and record the tenant's transactions (contract, legal obligation)",
            retention: "10 years (bookkeeping law); 5 years after the relationship ends (anti-money-laundering law)", table: "transactions",
            columns: [
                "id", "kind", "status", "amount_minor:int", "currency", "value_date", "counterparty", "counterparty_country", "counterparty_account",
                "category", "description", "external_reference", "created_at_ms:int",
            ],
            matches: [.name: "counterparty"], mentions: ["description"],
            erasure: .pseudonymise(
                ["counterparty", "counterparty_account", "counterparty_key"],
                rule: "bookkeeping law (10 years) and anti-money-laundering law (5 years after the relationship)", years: 10,
                dateColumn: "value_date")),
    ]
}
