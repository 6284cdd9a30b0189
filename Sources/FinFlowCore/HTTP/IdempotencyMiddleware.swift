import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import SQLKit

/// `Idempotency-Key` for any POST of a service: the first request with a key runs and its response is stored with a
/// hash of the request; a replay gets the stored response with `Idempotency-Replayed: true`; the same key with a
/// different request is a 422; a key whose first request is still running is a 409. A unique constraint, not a
/// read-then-write, decides which request runs.
///
/// The answer is stored after the request's own commit, so a crash between the two leaves the key running. A retry
/// after `staleRunningMillis` runs the request again, and the handlers make that run find the first one's effect: what
/// a request creates without a caller's id is named by `RequestScope.effectId`, derived from the key and its first
/// claim, so the rerun meets the row the first run committed and answers with it (one effect, the same answer).
/// With a shared store (Redis), a finished answer is also kept there, so a
/// replay is answered by any replica without the database; the database stays the record, and decides every first run.
public struct IdempotencyMiddleware: RouterMiddleware {
    public typealias Context = FinFlowRequestContext
    let database: any Database
    let clock: any FinFlowClock
    let shared: (any SharedStore)?
    /// Keeps one service's keys apart from another's in the shared store.
    let namespace: String
    /// Longest accepted key, in characters.
    public static let keyLengthMax = 255
    /// Largest response stored for replay, in bytes.
    public static let storedResponseBytesMax = 1 << 20
    /// After this many milliseconds a key still marked running is taken to belong to a crashed request (by default).
    public static let staleRunningMillisDefault: Int64 = 60_000
    let staleRunningMillis: Int64
    let fault: FaultInjection?
    /// Keys are kept this long (24 hours, as Stripe does); an older key may be used afresh.
    public static let retentionMillis: Int64 = 86_400_000

    /// Idempotency backed by `database`'s `idempotency_keys` table.
    public init(
        database: any Database, clock: any FinFlowClock, shared: (any SharedStore)? = nil, namespace: String = "",
        staleRunningMillis: Int64 = staleRunningMillisDefault, fault: FaultInjection? = nil
    ) {
        self.database = database
        self.clock = clock
        self.shared = shared
        self.namespace = namespace
        self.staleRunningMillis = staleRunningMillis
        self.fault = fault
    }

    private struct StoredRow: Codable {
        let request_hash: String
        let state: String
        let status_code: Int?
        let content_type: String?
        let response_body: String?
        let created_at_ms: Int64
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard request.method == .post, let key = request.headers[.idempotencyKey] else {
            return try await next(request, context)
        }
        guard (1...Self.keyLengthMax).contains(key.count), key.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw AppError.invalid(
                code: "invalid-idempotency-key", "Idempotency-Key must be 1–\(Self.keyLengthMax) visible ASCII characters")
        }
        var request = request
        let body = try await request.body.collect(upTo: .max)
        request.body = .init(buffer: body)
        let principal = RequestScope.current?.principal
        let scope = principal.map { "\($0.tenantId):\($0.subject)" } ?? "anonymous"
        var hasher = SHA256()
        hasher.update(data: Data("\(request.method.rawValue) \(request.uri.path)\n".utf8))
        hasher.update(data: Data(body.readableBytesView))
        let requestHash = Digest.hex(hasher.finalize())

        let cacheKey = "finflow:idempotency:\(self.namespace):\(Digest.sha256Hex("\(scope)\u{1F}\(key)"))"
        if let shared = self.shared, let cached = try? await shared.get(cacheKey),
            let stored = try? JSONDecoder().decode(StoredRow.self, from: cached),
            self.clock.nowMillis() - stored.created_at_ms < Self.retentionMillis
        {
            return try self.replay(stored, requestHash: requestHash)
        }
        let firstClaimedAtMillis: Int64
        switch try await self.claim(scope: scope, key: key, requestHash: requestHash) {
        case .stored(let stored):
            if stored.state == "done" { await self.cache(stored, under: cacheKey) }
            return try self.replay(stored, requestHash: requestHash)
        case .run(let millis):
            firstClaimedAtMillis = millis
        }
        var runScope = RequestScope.current ?? RequestScope(requestId: "unknown")
        runScope.idempotency = IdempotentRun(scope: scope, key: key, firstClaimedAtMillis: firstClaimedAtMillis)
        let response: Response
        do {
            response = try await RequestScope.$current.withValue(runScope) { try await next(request, context) }
        } catch {
            // A refused request is stored like any answer, so its replay is refused the same way; a transient failure
            // is not, so the retry runs again.
            guard let appError = ProblemMiddleware.clientError(from: error), !appError.isTransient else {
                try await self.release(scope: scope, key: key)
                throw error
            }
            let problem = Problem.response(
                for: appError, requestId: RequestScope.current?.requestId ?? "", instance: request.uri.path)
            return try await self.store(problem, scope: scope, key: key, requestHash: requestHash, cacheKey: cacheKey)
        }
        if response.status.code >= 500 {
            try await self.release(scope: scope, key: key)
            return response
        }
        if self.fault == .crashBeforeIdempotentAnswer { kill(getpid(), SIGKILL) }
        return try await self.store(response, scope: scope, key: key, requestHash: requestHash, cacheKey: cacheKey)
    }

    /// Keeps a finished answer in the shared store for the rest of its retention; a failure there changes nothing.
    private func cache(_ stored: StoredRow, under cacheKey: String) async {
        guard let shared = self.shared, let data = try? JSONEncoder().encode(stored) else { return }
        let remainingSeconds = (Self.retentionMillis - (self.clock.nowMillis() - stored.created_at_ms)) / 1_000
        guard remainingSeconds > 0 else { return }
        try? await shared.set(cacheKey, data, ttlSeconds: Int(remainingSeconds))
    }

    /// What claiming a key found: a stored (or running) request to replay, or the right to run, with the time of
    /// the key's first claim that derived ids carry.
    private enum Claim: Sendable {
        case stored(StoredRow)
        case run(firstClaimedAtMillis: Int64)
    }

    private struct EffectRow: Decodable { let effect_at_ms: Int64? }

    /// Inserts a running marker for the key, or takes over one abandoned by a crash (keeping its first claim's time,
    /// so the rerun derives the same ids), or returns the stored row when the key was already taken.
    private func claim(scope: String, key: String, requestHash: String) async throws -> Claim {
        let now = self.clock.nowMillis()
        return try await self.database.transaction { db in
            let inserted = try await db.raw("""
                INSERT INTO idempotency_keys (scope, idempotency_key, request_hash, state, created_at_ms, effect_at_ms)
                VALUES (\(bind: scope), \(bind: key), \(bind: requestHash), 'running', \(bind: now), \(bind: now))
                ON CONFLICT DO NOTHING RETURNING idempotency_key
                """).first()
            if inserted != nil { return .run(firstClaimedAtMillis: now) }
            guard let existing = try await db.raw("""
                SELECT request_hash, state, status_code, content_type, response_body, created_at_ms FROM idempotency_keys
                WHERE scope = \(bind: scope) AND idempotency_key = \(bind: key)
                """).first(decoding: StoredRow.self)
            else { return .run(firstClaimedAtMillis: now) }
            let expired = now - existing.created_at_ms > Self.retentionMillis
            let abandoned = existing.state == "running" && now - existing.created_at_ms > self.staleRunningMillis
            // An abandoned run is taken over only by the same request (another is refused as the key's reuse), and
            // keeps its first claim's time; an expired key starts afresh.
            guard expired || (abandoned && existing.request_hash == requestHash) else { return .stored(existing) }
            let first = !expired
                ? try await db.raw("""
                    SELECT effect_at_ms FROM idempotency_keys WHERE scope = \(bind: scope) AND idempotency_key = \(bind: key)
                    """).first(decoding: EffectRow.self)?.effect_at_ms ?? existing.created_at_ms
                : now
            try await db.raw("""
                UPDATE idempotency_keys SET request_hash = \(bind: requestHash), state = 'running', status_code = NULL,
                    content_type = NULL, response_body = NULL, created_at_ms = \(bind: now), effect_at_ms = \(bind: first)
                WHERE scope = \(bind: scope) AND idempotency_key = \(bind: key)
                """).run()
            return .run(firstClaimedAtMillis: first)
        }
    }

    private func replay(_ stored: StoredRow, requestHash: String) throws -> Response {
        guard stored.request_hash == requestHash else {
            throw AppError(
                .rejected, code: "idempotency-key-reused",
                "this Idempotency-Key was used with a different request; use a new key for a new request")
        }
        guard stored.state == "done", let status = stored.status_code else {
            throw AppError.conflict(
                code: "idempotency-request-in-progress", "a request with this Idempotency-Key is still being processed")
        }
        var headers: HTTPFields = [.idempotencyReplayed: "true"]
        if let contentType = stored.content_type { headers[.contentType] = contentType }
        let body = Data(base64Encoded: stored.response_body ?? "") ?? Data()
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    private func store(_ response: Response, scope: String, key: String, requestHash: String, cacheKey: String) async throws -> Response {
        var response = response
        let body = try await response.body.collected(upTo: Self.storedResponseBytesMax)
        let encoded = Data(body.readableBytesView).base64EncodedString()
        let status = response.status.code
        let contentType = response.headers[.contentType]
        try await self.database.write { db in
            try await db.raw("""
                UPDATE idempotency_keys SET state = 'done', status_code = \(bind: status),
                    content_type = \(bind: contentType), response_body = \(bind: encoded)
                WHERE scope = \(bind: scope) AND idempotency_key = \(bind: key)
                """).run()
        }
        // Cached only once the database holds it, so the shared store never answers what the record does not.
        await self.cache(
            StoredRow(request_hash: requestHash, state: "done", status_code: Int(status), content_type: contentType, response_body: encoded,
                      created_at_ms: self.clock.nowMillis()),
            under: cacheKey)
        response.body = .init(byteBuffer: body)
        return response
    }

    private func release(scope: String, key: String) async throws {
        try await self.database.write { db in
            try await db.raw("""
                DELETE FROM idempotency_keys WHERE scope = \(bind: scope) AND idempotency_key = \(bind: key) AND state = 'running'
                """).run()
        }
    }
}
