import Foundation

/// JSON text with sorted keys, the same for the same value: stored JSON columns and the hashes of requests.
public enum SortedJSON {
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()

    /// `value` as JSON text; `null` for a value that does not encode (a non-finite number).
    public static func text(_ value: some Encodable) -> String {
        String(decoding: (try? Self.encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
    }
}
