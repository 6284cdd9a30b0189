import Foundation

/// `application/x-www-form-urlencoded` (and URL query) text, as the OAuth token endpoints, Stripe and the accounting
/// providers read it: fields in the order given, every character but RFC 3986's unreserved ones percent-encoded (a
/// space as `%20`, a `+` as `%2B`), so no server can read a value as anything else.
public enum FormEncoding {
    /// The characters written as they are: letters, digits, `-`, `.`, `_`, `~`.
    public static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// `name=value&…` of `fields`, in order.
    public static func encode(_ fields: [(String, String)]) -> String {
        fields.map { "\(Self.escape($0.0))=\(Self.escape($0.1))" }.joined(separator: "&")
    }

    /// One value percent-encoded for a form or query.
    public static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? text
    }
}
