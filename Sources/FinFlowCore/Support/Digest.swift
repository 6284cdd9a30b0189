import Crypto
import Foundation

/// Hashing and random tokens, in the text forms FinFlow stores.
public enum Digest {
    /// SHA-256 over data fed in pieces.
    public struct Streaming: Sendable {
        private var hasher = SHA256()

        public init() {}

        /// Adds `data`.
        public mutating func update(_ data: some DataProtocol) { self.hasher.update(data: data) }

        /// The lower-case hex digest of everything added.
        public func hex() -> String { Digest.hex(self.hasher.finalize()) }
    }

    /// Lower-case hex SHA-256 of `data`.
    public static func sha256Hex(_ data: some DataProtocol) -> String {
        hex(SHA256.hash(data: data))
    }

    /// Lower-case hex of `bytes` (a finished digest).
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Lower-case hex SHA-256 of the UTF-8 bytes of `text`.
    public static func sha256Hex(_ text: String) -> String {
        sha256Hex(Data(text.utf8))
    }

    /// Lower-case hex HMAC-SHA256 of `message` keyed with `key`: webhook signatures.
    public static func hmacSHA256Hex(key: Data, message: some DataProtocol) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// `byteCount` random bytes in unpadded base64url: an opaque token for links and refresh tokens.
    public static func randomToken(byteCount: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return base64URL(Data(bytes))
    }

    /// Unpadded base64url text of `data`.
    public static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
