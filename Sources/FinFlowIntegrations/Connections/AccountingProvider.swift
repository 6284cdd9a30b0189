import FinFlowCore
import Foundation

/// An accounting system FinFlow connects a tenant's books to, as an OAuth 2.0 app registered with it.
enum AccountingProvider: String, CaseIterable, Sendable {
    case quickbooks, xero

    var title: String {
        switch self {
        case .quickbooks: "QuickBooks Online"
        case .xero: "Xero"
        }
    }

    /// The provider's own URLs: where the user consents, where codes and refresh tokens become tokens, where a grant is
    /// revoked, and the API's base.
    var defaultURLs: [String: String] {
        switch self {
        case .quickbooks:
            [
                "authorize": "https://appcenter.intuit.com/connect/oauth2",
                "token": "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
                "revoke": "https://developer.api.intuit.com/v2/oauth2/tokens/revoke",
                "api": "https://quickbooks.api.intuit.com",
            ]
        case .xero:
            [
                "authorize": "https://login.xero.com/identity/connect/authorize",
                "token": "https://identity.xero.com/connect/token",
                "revoke": "https://identity.xero.com/connect/revocation",
                "api": "https://api.xero.com",
            ]
        }
    }

    /// What FinFlow asks to be allowed: the books, and (Xero) to keep working while the user is away.
    var scope: String {
        switch self {
        case .quickbooks: "com.intuit.quickbooks.accounting"
        case .xero: "offline_access accounting.transactions accounting.contacts accounting.settings"
        }
    }

    /// Whether the authorisation carries a PKCE challenge (S256). Xero takes one; Intuit documents none for a
    /// confidential app, so QuickBooks relies on `state` and the client secret.
    var usesPKCE: Bool { self == .xero }

    /// The setting names an operator sets to register FinFlow's app with the provider.
    var settingNames: (clientId: String, clientSecret: String) {
        switch self {
        case .quickbooks: ("FINFLOW_QUICKBOOKS_CLIENT_ID", "FINFLOW_QUICKBOOKS_CLIENT_SECRET")
        case .xero: ("FINFLOW_XERO_CLIENT_ID", "FINFLOW_XERO_CLIENT_SECRET")
        }
    }

    /// The app the settings register for this provider.
    func app(_ settings: Settings) -> ProviderApp {
        switch self {
        case .quickbooks: settings.quickbooks
        case .xero: settings.xero
        }
    }
}

/// FinFlow's app at one provider, as this deployment registered it: credentials and the URLs in use.
struct ProviderRegistration: Sendable {
    let provider: AccountingProvider
    let clientId: String
    let clientSecret: String
    let authorizeURL: String
    let tokenURL: String
    let revokeURL: String
    let apiURL: String

    /// The registration the settings hold, or nil when the operator has not registered an app with the provider.
    init?(_ provider: AccountingProvider, settings: Settings) {
        let app = provider.app(settings)
        guard let clientId = app.clientId, let clientSecret = app.clientSecret else { return nil }
        let urls = provider.defaultURLs.merging(app.urls) { $1 }
        func trimmed(_ name: String) -> String {
            let url = urls[name] ?? ""
            return url.hasSuffix("/") ? String(url.dropLast()) : url
        }
        self.provider = provider
        self.clientId = clientId
        self.clientSecret = clientSecret
        self.authorizeURL = trimmed("authorize")
        self.tokenURL = trimmed("token")
        self.revokeURL = trimmed("revoke")
        self.apiURL = trimmed("api")
    }

    /// Where the user's browser goes to consent: the code comes back to `redirectURI` with `state`.
    func authorisationURL(state: String, redirectURI: String, challenge: String?) -> String {
        // The settings checked the URL when they were read; the provider's own is the fallback all the same.
        var components = URLComponents(string: self.authorizeURL)
            ?? URLComponents(string: self.provider.defaultURLs["authorize"] ?? "") ?? URLComponents()
        var items = components.queryItems ?? []
        items += [
            URLQueryItem(name: "client_id", value: self.clientId), URLQueryItem(name: "response_type", value: "code"),
            URLQueryItem(name: "scope", value: self.provider.scope), URLQueryItem(name: "redirect_uri", value: redirectURI),
            URLQueryItem(name: "state", value: state),
        ]
        if let challenge {
            items += [URLQueryItem(name: "code_challenge", value: challenge), URLQueryItem(name: "code_challenge_method", value: "S256")]
        }
        components.queryItems = items
        // `+` in a query means a space to form decoders; a scope's spaces are sent as %20 and nothing else is left bare.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return components.string ?? self.authorizeURL
    }
}
