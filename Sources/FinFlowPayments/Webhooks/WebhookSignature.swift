import Crypto
import FinFlowCore
import Foundation

/// Verifies the signatures providers put on their webhook deliveries. A delivery that fails is refused before its
/// body is read as an event.
public enum WebhookSignature {
    /// How old a Stripe delivery may be, in seconds, as Stripe's own libraries default to.
    public static let stripeToleranceSeconds: Int64 = 300

    /// Stripe: the `Stripe-Signature` header is `t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=…]` over `"<t>.<body>"`
    /// with the endpoint's secret. Any one `v1` matching is enough (Stripe sends several while a secret is rolled);
    /// the timestamp must be within `tolerance` of `now` either way, so a captured delivery cannot be replayed later.
    public static func verifyStripe(
        header: String?, body: some DataProtocol, secret: String, now: Date, tolerance: Int64 = stripeToleranceSeconds
    ) throws {
        guard let header, !header.isEmpty else { throw Self.refused("the Stripe-Signature header is missing") }
        var timestamp: Int64?
        var signatures: [String] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            switch pair[0] {
            case "t": timestamp = Int64(pair[1])
            case "v1": signatures.append(pair[1].lowercased())
            default: continue
            }
        }
        guard let timestamp else { throw Self.refused("the Stripe-Signature header has no timestamp") }
        guard !signatures.isEmpty else { throw Self.refused("the Stripe-Signature header has no v1 signature") }
        let age = Int64(now.timeIntervalSince1970.rounded(.down)) - timestamp
        guard abs(age) <= tolerance else {
            throw Self.refused("the Stripe delivery is \(age) seconds old, outside the \(tolerance) second tolerance")
        }
        let expected = Self.stripeSignature(body: body, secret: secret, timestamp: timestamp)
        guard signatures.contains(where: { Self.constantTimeEqual($0, expected) }) else {
            throw Self.refused("the Stripe signature does not match")
        }
    }

    /// The `Stripe-Signature` header Stripe would send for `body` at `timestamp` (for tests and for replaying).
    public static func stripeHeader(body: some DataProtocol, secret: String, timestamp: Int64) -> String {
        "t=\(timestamp),v1=\(Self.stripeSignature(body: body, secret: secret, timestamp: timestamp))"
    }

    /// Lower-case hex HMAC-SHA256 of `"<timestamp>.<body>"` keyed with `secret`.
    private static func stripeSignature(body: some DataProtocol, secret: String, timestamp: Int64) -> String {
        var signed = Data("\(timestamp).".utf8)
        signed.append(contentsOf: body)
        return Digest.hmacSHA256Hex(key: Data(secret.utf8), message: signed)
    }

    /// Square: `x-square-hmacsha256-signature` is the base64 HMAC-SHA256, keyed with the subscription's signature
    /// key, of the notification URL exactly as registered followed by the raw body.
    public static func verifySquare(header: String?, body: some DataProtocol, notificationURL: String, signatureKey: String) throws {
        guard let header, !header.isEmpty else { throw Self.refused("the x-square-hmacsha256-signature header is missing") }
        let expected = self.squareSignature(body: body, notificationURL: notificationURL, signatureKey: signatureKey)
        guard Self.constantTimeEqual(header.trimmingCharacters(in: .whitespaces), expected) else {
            throw Self.refused("the Square signature does not match")
        }
    }

    /// The `x-square-hmacsha256-signature` value for `body` delivered to `notificationURL`.
    public static func squareSignature(body: some DataProtocol, notificationURL: String, signatureKey: String) -> String {
        var signed = Data(notificationURL.utf8)
        signed.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(signatureKey.utf8)))
        return Data(mac).base64EncodedString()
    }

    /// Compares without stopping at the first difference, so the time taken says nothing about the expected value.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }

    private static func refused(_ message: String) -> AppError {
        AppError(.unauthenticated, code: "invalid-webhook-signature", message)
    }
}
