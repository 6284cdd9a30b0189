/// FinFlow's permissions (`resource:action`) and built-in roles. Every route declares the permission it needs; a
/// role is a named set of them. The table is documented in `docs/rbac.md` and served at `GET /v1/auth/roles`.
public enum Roles {
    /// Every permission any service checks.
    public static let allPermissions: [String] = [
        "tenant:read", "tenant:update", "tenant:suspend",
        "members:read", "members:manage",
        "roles:read", "roles:manage", "clients:manage",
        "audit:read",
        "accounts:read", "accounts:manage", "journal:read", "journal:post", "journal:approve", "periods:close", "periods:reopen",
        "statements:read",
        "transactions:read", "transactions:create", "transactions:reverse",
        "payments:read", "payments:create", "payments:refund", "payments:manage",
        "credit:read", "credit:score", "credit:offer", "credit:manage",
        "forecasts:read", "forecasts:run",
        "compliance:read", "compliance:screen", "compliance:manage",
        "psd2:consents",
        "tax:read", "tax:manage",
        "integrations:read", "integrations:manage",
        "analytics:read", "analytics:manage",
        "monitoring:read",
        "performance:read", "performance:manage",
    ]

    /// A built-in role.
    public struct Role: Sendable {
        public let name: String
        public let description: String
        public let permissions: [String]
    }

    private static func reads(_ extra: [String] = []) -> [String] {
        allPermissions.filter { $0.hasSuffix(":read") && $0 != "audit:read" && !$0.hasPrefix("performance:") } + extra
    }

    /// The built-in roles, from most to least powerful.
    public static let builtIn: [Role] = [
        Role(name: "owner", description: "Everything, including suspending the tenant", permissions: allPermissions),
        Role(
            name: "admin", description: "Everything but suspending the tenant",
            permissions: allPermissions.filter { $0 != "tenant:suspend" }),
        Role(
            name: "accountant", description: "Keeps the books: accounts, journal, transactions, payments, tax",
            permissions: reads([
                "accounts:manage", "journal:post", "periods:close", "transactions:create", "transactions:reverse",
                "payments:create", "payments:refund", "tax:manage", "integrations:manage", "credit:score", "compliance:screen", "forecasts:run",
                "analytics:manage",
            ])),
        Role(
            name: "approver", description: "Approves manual journal entries above the tenant's threshold",
            permissions: reads(["journal:approve"])),
        Role(
            name: "analyst", description: "Reads everything financial, scores credit, runs forecasts and schedules reports",
            permissions: reads(["credit:score", "forecasts:run", "analytics:manage"])),
        Role(
            name: "compliance-officer", description: "Screens names, loads lists and works compliance alerts",
            permissions: reads(["compliance:screen", "compliance:manage", "audit:read"])),
        Role(
            name: "operator", description: "Operates the platform (in the operator tenant): reads the fleet's performance and acts on its advice",
            permissions: ["performance:read", "performance:manage", "monitoring:read"]),
        Role(name: "auditor", description: "Reads everything, including the audit trail", permissions: reads(["audit:read"])),
        Role(name: "viewer", description: "Reads the books and reports", permissions: reads()),
    ]

    /// The union of the permissions of `roles`; unknown role names grant nothing.
    public static func permissions(of roles: [String]) -> [String] {
        let granted = Set(roles.flatMap { name in builtIn.first { $0.name == name }?.permissions ?? [] })
        return allPermissions.filter(granted.contains)
    }

    /// Whether `name` is a built-in role.
    public static func isBuiltIn(_ name: String) -> Bool {
        builtIn.contains { $0.name == name }
    }
}

extension Roles {
    /// The permission table as Markdown: a row per permission, a column per built-in role.
    public static func markdownTable() -> String {
        var lines = ["| permission | " + builtIn.map(\.name).joined(separator: " | ") + " |"]
        lines.append("| --- |" + String(repeating: " :-: |", count: builtIn.count))
        for permission in allPermissions {
            let marks = builtIn.map { $0.permissions.contains(permission) ? "✓" : "" }
            lines.append("| `\(permission)` | " + marks.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }
}
