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
}
