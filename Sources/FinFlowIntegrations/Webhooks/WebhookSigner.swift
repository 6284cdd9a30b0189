import FinFlowCore
import Foundation

/// How FinFlow signs what it delivers to a webhook endpoint, so the receiver can tell a genuine delivery from a forged
/// or replayed one. The `FinFlow-Signature` header is `t=<unix seconds>,v1=<hex HMAC-SHA256>` over the bytes
/// `"<t>.<body>"`, keyed with the endpoint's secret (the UTF-8 bytes of the whole `whsec_…` text). While a rotated-out
/// secret is still in its window, a second `v1` signed with it follows, so a receiver that has not switched yet keeps
/// verifying. A receiver checks that one `v1` matches, compares in constant time, and refuses a `t` far from its clock
/// (five minutes is usual). `docs/integrations.md` has the scheme with a worked example.
enum WebhookSigner {
    static let headerName = "FinFlow-Signature"

    /// The header for `body` sent at `timestamp`, signed with each of `secrets` (current first).
    static func header(body: some DataProtocol, secrets: [String], timestamp: Int64) -> String {
        (["t=\(timestamp)"] + secrets.map { "v1=" + Self.signature(body: body, secret: $0, timestamp: timestamp) }).joined(separator: ",")
    }

    /// The hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`.
    static func signature(body: some DataProtocol, secret: String, timestamp: Int64) -> String {
        var signed = Data("\(timestamp).".utf8)
        signed.append(contentsOf: body)
        return Digest.hmacSHA256Hex(key: Data(secret.utf8), message: signed)
    }

    /// A new endpoint secret: `whsec_` and 32 random bytes in base64url.
    static func newSecret() -> String { "whsec_" + Digest.randomToken(byteCount: 32) }
}
