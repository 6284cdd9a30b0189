import Foundation

/// State shared by every replica of a service, beside the database (Redis when `FINFLOW_REDIS_URL` is set): hot
/// copies of what the database already holds, and counters for rate limits. The database stays the source of truth;
/// every caller works on without it (a failure here is never a failure of the request).
public protocol SharedStore: Sendable {
    /// The value under `key`, nil when absent or expired.
    func get(_ key: String) async throws -> Data?
    /// Stores `value` under `key` for `ttlSeconds`.
    func set(_ key: String, _ value: Data, ttlSeconds: Int) async throws
    /// Counts one hit in the fixed window `key` names (the window starts with its first hit and lasts `windowMillis`);
    /// the hits so far in the window, this one included, and the milliseconds until the window ends.
    func hit(_ key: String, windowMillis: Int64) async throws -> (count: Int64, resetsInMillis: Int64)
    /// Reads `fields` of the stamped map `key`: the stamp its last write left (nil when the map is absent) and each
    /// field's value, nil when absent, in the order asked.
    func stampedFields(_ key: String, fields: [String]) async throws -> (stamp: String?, values: [Data?])
    /// One atomic step on the stamped map `key`: when it carries `expected`, sets the fields given a value and removes
    /// those given nil; when it carries another stamp (or none), empties it first, so that it holds only `changes`.
    /// Either way it then carries `stamp` and expires `ttlSeconds` after this write.
    func writeStamped(_ key: String, expected: String?, stamp: String, changes: [(field: String, value: Data?)], ttlSeconds: Int) async throws
}
