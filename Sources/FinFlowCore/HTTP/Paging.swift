import Foundation

/// Cursor paging: a page size within bounds and an opaque cursor naming the last item seen.
public struct PageRequest: Sendable {
    /// Items per page when the caller does not say.
    public static let pageSizeDefault = 50
    /// The most items one page may hold.
    public static let pageSizeMax = 200
    public let limit: Int
    /// The sort key of the last item of the previous page.
    public let after: String?

    /// Validates a caller's `limit` and `cursor` query parameters.
    public init(limit: Int?, cursor: String?) throws {
        var validator = Validator()
        if let limit { validator.check((1...Self.pageSizeMax).contains(limit), "limit", "must be 1…\(Self.pageSizeMax)") }
        var after: String?
        if let cursor {
            if let decoded = Self.decode(cursor) { after = decoded } else { validator.fail("cursor", "is not a cursor this API issued") }
        }
        try validator.throwIfInvalid()
        self.limit = limit ?? Self.pageSizeDefault
        self.after = after
    }

    /// The cursor that continues after `key`.
    public static func cursor(after key: String) -> String {
        Data(("v1:" + key).utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ cursor: String) -> String? {
        guard cursor.count <= 512 else { return nil }
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8),
            text.hasPrefix("v1:")
        else { return nil }
        return String(text.dropFirst(3))
    }

    /// Cuts a list fetched with `limit + 1` rows into a page and the cursor of the next, if any.
    public func page<Item>(_ rows: [Item], key: (Item) -> String) -> (items: [Item], nextCursor: String?) {
        guard rows.count > self.limit else { return (rows, nil) }
        let items = Array(rows.prefix(self.limit))
        return (items, items.last.map { Self.cursor(after: key($0)) })
    }
}
