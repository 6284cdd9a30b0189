import Foundation

/// Email addresses: trimmed, lower-cased, one `@`, a dotted domain, at most 254 characters.
public enum EmailAddress {
    /// The address trimmed and lower-cased, or nil when it is not a plausible address.
    public static func normalized(_ raw: String) -> String? {
        let email = raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard email.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64,
            parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
            email.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "<" && $0 != ">" })
        else { return nil }
        return email
    }
}
