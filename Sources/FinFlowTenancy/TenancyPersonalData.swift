import FinFlowCore

extension TenancyService {
    /// Where tenancy keeps personal data.
    static let personalData: [PersonalDataSource] = [
        PersonalDataSource(
            category: "member-profile", purpose: "show who belongs to a tenant (contract)", retention: "while the account exists",
            table: "users", columns: ["id", "email", "display_name", "registered_at_ms:int"], matches: [.userId: "id", .email: "email"],
            erasure: .keep(rule: "the account is the platform's, not the tenant's: the user closes it with the platform", years: nil, dateColumn: nil), tenantScoped: false),
        PersonalDataSource(
            category: "memberships", purpose: "grant the user their roles in the tenant (contract)", retention: "while the membership lasts",
            table: "memberships", columns: ["tenant_id", "user_id", "roles", "joined_at_ms:int"], matches: [.userId: "user_id"],
            erasure: .keep(rule: "the membership grants the user access: remove the member first", years: nil, dateColumn: nil), orderBy: "user_id"),
        PersonalDataSource(
            category: "invitations", purpose: "invite the person to the tenant (legitimate interest of the tenant)",
            retention: "90 days after the invitation expires", table: "invitations",
            columns: ["id", "email", "roles", "invited_by", "created_at_ms:int", "expires_at_ms:int", "accepted_at_ms:int", "revoked_at_ms:int"],
            matches: [.email: "email", .userId: "accepted_by"], erasure: .delete,
            expiry: .init(dateColumn: "expires_at_ms", days: 90)),
    ]
}
