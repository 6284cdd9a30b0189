import FinFlowCore
import Foundation

/// Where a tenant may have its events delivered: an absolute `https://` URL on a public name, without credentials or
/// fragment. Loopback, private, link-local and unspecified addresses are refused (a tenant must not make FinFlow call
/// into its own network); plain `http://` to the loopback address is accepted only when the deployment allows it for
/// trying webhooks on one machine (`FINFLOW_INTEGRATIONS_WEBHOOK_ALLOW_LOOPBACK`).
enum WebhookURL {
    static let lengthMax = 2_048

    /// Why `text` is refused as an endpoint, or nil when it is fine.
    static func problem(_ text: String, allowLoopback: Bool) -> String? {
        func refuse(_ why: String) -> String? { why }
        guard (1...Self.lengthMax).contains(text.count), !text.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            return refuse("must be a URL of 1–\(Self.lengthMax) characters without spaces")
        }
        guard let parts = URLComponents(string: text), let scheme = parts.scheme?.lowercased(), let host = parts.host?.lowercased(),
              !host.isEmpty
        else { return refuse("is not an absolute URL") }
        guard parts.user == nil, parts.password == nil else { return refuse("must not carry a user name or password") }
        guard parts.fragment == nil else { return refuse("must not have a fragment") }
        let loopback = Self.isLoopback(host)
        switch scheme {
        case "https": break
        case "http" where loopback && allowLoopback: break
        default: return refuse("must be https://")
        }
        if loopback {
            return allowLoopback ? nil : refuse("must not point at this machine (loopback)")
        }
        if Self.isPrivateAddress(host) { return refuse("must not point at a private, link-local or unspecified address") }
        if !host.contains(".") || host.hasSuffix(".local") || host.hasSuffix(".internal") || host.hasSuffix(".localhost") {
            return refuse("must be on a public host name")
        }
        return nil
    }

    static func isLoopback(_ host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return bare == "localhost" || bare == "::1" || bare.hasPrefix("127.")
    }

    /// Whether `host` is an IP literal in a range that is not the public internet.
    static func isPrivateAddress(_ host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if bare.contains(":") {
            // IPv6: unspecified, unique-local (fc00::/7), link-local (fe80::/10), IPv4-mapped.
            return bare == "::" || bare.hasPrefix("fc") || bare.hasPrefix("fd") || bare.hasPrefix("fe8") || bare.hasPrefix("fe9")
                || bare.hasPrefix("fea") || bare.hasPrefix("feb") || bare.hasPrefix("::ffff:")
        }
        let octets = bare.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        // Host names that are all digits and dots but not four octets (`2130706433`, `127.1`) are refused too.
        guard !bare.isEmpty, bare.allSatisfy({ $0.isNumber || $0 == "." }) else { return false }
        guard octets.count == 4, let a = octets[0], let b = octets[1], octets.allSatisfy({ ($0 ?? 256) <= 255 }) else { return true }
        switch (a, b) {
        case (0, _), (10, _), (127, _), (169, 254), (192, 168), (100, 64...127): return true
        case (172, 16...31): return true
        case (224...255, _): return true
        default: return false
        }
    }
}
