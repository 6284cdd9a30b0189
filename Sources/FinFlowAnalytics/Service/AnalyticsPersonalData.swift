import FinFlowCore

extension AnalyticsService {
    /// Where the analytics service keeps what can name a person: the figures per customer and per counterparty, the
    /// members of a tenant, and the journal of events (which carries counterparty names). All are derived from the
    /// other services' records, which keep the originals.
    static let personalData: [PersonalDataSource] = [
        PersonalDataSource(
            category: "figures-per-party", purpose: "show the business its largest customers and counterparties (legitimate interest)",
            retention: "as long as the read model is kept", table: "analytics_facts",
            columns: ["measure", "dimension", "dim_key", "currency", "day", "count:int", "amount_minor:int"],
            matches: [.customerId: "dim_key", .name: "dim_key"], erasure: .delete, orderBy: "day, measure, dimension"),
        PersonalDataSource(
            category: "membership-history", purpose: "count the tenant's active users (legitimate interest)",
            retention: "as long as the read model is kept", table: "analytics_members",
            columns: ["user_id", "changed_at_ms:int", "status"], matches: [.userId: "user_id"], erasure: .delete,
            orderBy: "changed_at_ms, user_id"),
        PersonalDataSource(
            category: "event-journal", purpose: "rebuild the figures from the events they were made from (legitimate interest)",
            retention: "as long as the read model is kept", table: "analytics_journal",
            columns: ["event_id", "topic", "first_day", "last_day", "payload"], matches: [:], mentions: ["payload"],
            erasure: .pseudonymise([], rule: "the figures of the whole business are rebuilt from these events", years: nil, dateColumn: nil),
            orderBy: "event_id"),
        PersonalDataSource(
            category: "report-recipients", purpose: "mail the scheduled reports a manager of the tenant set up (legitimate interest)",
            retention: "until the schedule is deleted", table: "analytics_report_recipients", columns: ["report_id", "email"],
            matches: [.email: "email"], erasure: .delete, orderBy: "report_id, email"),
        PersonalDataSource(
            category: "report-schedules", purpose: "say who set up each scheduled report (legitimate interest)",
            retention: "until the schedule is deleted", table: "analytics_reports",
            columns: ["id", "name", "cadence", "created_at_ms:int"], matches: [.userId: "created_by"],
            erasure: .pseudonymise(["created_by"], rule: "the schedule is the tenant's; who set it up is forgotten", years: nil, dateColumn: nil),
            orderBy: "created_at_ms, id"),
    ]
}
