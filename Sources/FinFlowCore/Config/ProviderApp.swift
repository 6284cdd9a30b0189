import Foundation

/// FinFlow's app at an accounting provider (QuickBooks Online, Xero), as the operator registered it there: the
/// credentials, and any of its URLs to use instead of the provider's own (a sandbox, a test server).
public struct ProviderApp: Sendable, Equatable {
    public var clientId: String?
    public var clientSecret: String?
    /// The key the provider signs its webhooks with (QuickBooks' verifier token, Xero's webhook key).
    public var webhookKey: String?
    /// Overrides by name: `authorize`, `token`, `revoke`, `api`.
    public var urls: [String: String] = [:]

    /// The names `urls` takes.
    public static let urlNames: Set<String> = ["authorize", "token", "revoke", "api"]

    public init() {}

    /// Reads `name=url,name=url` (the form of `FINFLOW_QUICKBOOKS_URLS`); nil with the reason when it is not that.
    public static func parseURLs(_ text: String) -> Result<[String: String], ProviderAppURLError> {
        var urls: [String: String] = [:]
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, Self.urlNames.contains(parts[0]) else {
                return .failure(ProviderAppURLError(message: "'\(pair.prefix(60))' is not name=url with a name among \(Self.urlNames.sorted().joined(separator: ", "))"))
            }
            guard let url = URL(string: parts[1]), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                return .failure(ProviderAppURLError(message: "'\(parts[1].prefix(60))' is not an http(s) URL"))
            }
            urls[parts[0]] = parts[1]
        }
        return .success(urls)
    }
}

/// Why a provider's URL list could not be read.
public struct ProviderAppURLError: Error, Sendable {
    public let message: String
}
