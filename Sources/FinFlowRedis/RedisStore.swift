// Compiled only with the Redis trait: the module is empty in a plain build, which needs no C library.
#if Redis
import CHiredis
import FinFlowCore
import Foundation
import Logging
import NIOPosix
import Synchronization

/// The shared store on Redis, spoken through Debian's hiredis (RESP2). hiredis is blocking, so each command runs on
/// NIO's blocking thread pool over one of a few pooled connections. Connecting and each command time out after
/// `timeoutMillis`; after a failure the store answers at once with an error for `pauseMillis` (callers fall back to
/// the database or to this process alone) instead of making every request wait for a server that is down.
public final class RedisStore: SharedStore {
    /// A hiredis connection, used by one command at a time.
    private struct Connection: @unchecked Sendable {
        let context: UnsafeMutablePointer<redisContext>
    }

    /// A reply, as RESP2 has them.
    enum Reply: Equatable {
        case string(Data), integer(Int64), array([Reply]), null, status(String), error(String)
    }

    /// A command that failed: no connection, a timeout, or an error reply.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private let address: RedisAddress
    private let timeoutMillis: Int
    private let pauseMillis: Int64
    private let idle = Mutex<[Connection]>([])
    private let pausedUntil = Mutex<Date>(.distantPast)
    private let logger: Logger
    /// Connections kept open when idle.
    static let idleMax = 8

    public init(address: RedisAddress, timeoutMillis: Int = 500, pauseMillis: Int64 = 5_000, logger: Logger) {
        self.address = address
        self.timeoutMillis = timeoutMillis
        self.pauseMillis = pauseMillis
        self.logger = logger
    }

    deinit {
        for connection in self.idle.withLock({ $0 }) { redisFree(connection.context) }
    }

    public func get(_ key: String) async throws -> Data? {
        if case .string(let data) = try await self.command(["GET", key]) { return data }
        return nil
    }

    public func set(_ key: String, _ value: Data, ttlSeconds: Int) async throws {
        _ = try await self.command([Data("SET".utf8), Data(key.utf8), value, Data("EX".utf8), Data(String(max(1, ttlSeconds)).utf8)])
    }

    /// One atomic step: count the hit, start the window's clock with the first, report the count and the time left.
    static let hitScript = """
        local n = redis.call('INCR', KEYS[1])
        if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        return {n, redis.call('PTTL', KEYS[1])}
        """

    public func hit(_ key: String, windowMillis: Int64) async throws -> (count: Int64, resetsInMillis: Int64) {
        guard case .array(let items) = try await self.command(["EVAL", Self.hitScript, "1", key, String(windowMillis)]), items.count == 2,
            case .integer(let count) = items[0], case .integer(let ttl) = items[1]
        else { throw Failure(description: "Redis answered the counter script unexpectedly") }
        return (count, max(0, ttl))
    }

    /// The field of a stamped map that holds its stamp; the map's own fields never begin with "~".
    static let stampField = "~stamp"

    public func stampedFields(_ key: String, fields: [String]) async throws -> (stamp: String?, values: [Data?]) {
        guard case .array(let items) = try await self.command(["HMGET", key, Self.stampField] + fields), items.count == fields.count + 1 else {
            throw Failure(description: "Redis answered HMGET unexpectedly")
        }
        let values = items.map { item -> Data? in
            if case .string(let data) = item { return data }
            return nil
        }
        return (values[0].map { String(decoding: $0, as: UTF8.self) }, Array(values.dropFirst()))
    }

    /// One atomic step: empty the map unless it carries the expected stamp, set the values and remove the fields
    /// (ARGV: stamp field, expected, stamp, expiry in ms, the number of values, then field-value pairs, then the
    /// fields removed), stamp it, start its expiry again. HSET and HDEL take a bounded slice of arguments each.
    static let stampScript = """
        local held = redis.call('HGET', KEYS[1], ARGV[1])
        if (not held) or held ~= ARGV[2] then redis.call('DEL', KEYS[1]) end
        local pairsEnd = 5 + 2 * tonumber(ARGV[5])
        for i = 6, pairsEnd, 4000 do redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 3999, pairsEnd))) end
        for i = pairsEnd + 1, #ARGV, 4000 do redis.call('HDEL', KEYS[1], unpack(ARGV, i, math.min(i + 3999, #ARGV))) end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
        redis.call('PEXPIRE', KEYS[1], ARGV[4])
        return 1
        """

    public func writeStamped(
        _ key: String, expected: String?, stamp: String, changes: [(field: String, value: Data?)], ttlSeconds: Int
    ) async throws {
        let values = changes.compactMap { change in change.value.map { (change.field, $0) } }
        var arguments = ["EVAL", Self.stampScript, "1", key, Self.stampField, expected ?? "", stamp, String(max(1, ttlSeconds) * 1_000), String(values.count)]
            .map { Data($0.utf8) }
        arguments.reserveCapacity(arguments.count + changes.count * 2)
        for (field, value) in values {
            arguments.append(Data(field.utf8))
            arguments.append(value)
        }
        for change in changes where change.value == nil { arguments.append(Data(change.field.utf8)) }
        _ = try await self.command(arguments)
    }

    func command(_ arguments: [String]) async throws -> Reply {
        try await self.command(arguments.map { Data($0.utf8) })
    }

    /// Runs one command on a pooled connection; a connection that failed is closed, not returned. An error reply is
    /// thrown too, but it is an answer: only a failed connection pauses the store.
    func command(_ arguments: [Data]) async throws -> Reply {
        if self.pausedUntil.withLock({ $0 }) > Date() { throw Failure(description: "Redis failed recently; not asked again yet") }
        let reply: Reply
        do {
            reply = try await NIOThreadPool.singleton.runIfActive {
                let connection = try self.checkout()
                do {
                    let reply = try Self.run(arguments, on: connection)
                    self.checkin(connection)
                    return reply
                } catch {
                    redisFree(connection.context)
                    throw error
                }
            }
        } catch {
            // Unreachable or timing out: pause, so requests do not each wait for it.
            let until = Date().addingTimeInterval(Double(self.pauseMillis) / 1_000)
            self.pausedUntil.withLock { $0 = until }
            self.logger.warning("Redis unavailable, working without it for now", metadata: ["error": "\(error)"])
            throw error
        }
        return try Self.answer(reply)
    }

    private func checkout() throws -> Connection {
        if let connection = self.idle.withLock({ $0.popLast() }) { return connection }
        let timeout = timeval(tv_sec: self.timeoutMillis / 1_000, tv_usec: Int((self.timeoutMillis % 1_000) * 1_000))
        guard let context = redisConnectWithTimeout(self.address.host, Int32(self.address.port), timeout) else {
            throw Failure(description: "cannot allocate a Redis connection")
        }
        if context.pointee.err != 0 {
            let message = Self.errorText(context)
            redisFree(context)
            throw Failure(description: "cannot connect to Redis at \(self.address.host):\(self.address.port): \(message)")
        }
        redisSetTimeout(context, timeout)
        let connection = Connection(context: context)
        do {
            if let password = self.address.password { _ = try Self.answer(try Self.run([Data("AUTH".utf8), Data(password.utf8)], on: connection)) }
            if self.address.database != 0 { _ = try Self.answer(try Self.run([Data("SELECT".utf8), Data(String(self.address.database).utf8)], on: connection)) }
        } catch {
            redisFree(context)
            throw error
        }
        return connection
    }

    private func checkin(_ connection: Connection) {
        let kept = self.idle.withLock { idle in
            guard idle.count < Self.idleMax else { return false }
            idle.append(connection)
            return true
        }
        if !kept { redisFree(connection.context) }
    }

    /// `reply`, unless it is an error reply, which is thrown.
    private static func answer(_ reply: Reply) throws -> Reply {
        if case .error(let message) = reply { throw Failure(description: message) }
        return reply
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Sends one command (binary-safe arguments) and reads its reply.
    private static func run(_ arguments: [Data], on connection: Connection) throws -> Reply {
        let lengths = arguments.map(\.count)
        let buffers = arguments.map { data -> UnsafeMutablePointer<CChar> in
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, data.count))
            data.copyBytes(to: UnsafeMutableRawBufferPointer(start: buffer, count: data.count))
            return buffer
        }
        defer { buffers.forEach { $0.deallocate() } }
        var pointers: [UnsafePointer<CChar>?] = buffers.map { UnsafePointer($0) }
        let raw = pointers.withUnsafeMutableBufferPointer { argv in
            lengths.withUnsafeBufferPointer { argvlen in
                redisCommandArgv(connection.context, Int32(arguments.count), argv.baseAddress, argvlen.baseAddress)
            }
        }
        guard let raw else { throw Failure(description: "Redis: \(Self.errorText(connection.context))") }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        // An error reply is an answer (the connection is sound); only a lost connection throws.
        return Self.read(reply)
    }

    private static func read(_ reply: UnsafeMutablePointer<redisReply>) -> Reply {
        let value = reply.pointee
        switch Int32(value.type) {
        case REDIS_REPLY_STRING: return .string(Data(bytes: value.str, count: Int(value.len)))
        case REDIS_REPLY_STATUS: return .status(String(cString: value.str))
        case REDIS_REPLY_ERROR: return .error(String(cString: value.str))
        case REDIS_REPLY_INTEGER: return .integer(Int64(value.integer))
        case REDIS_REPLY_NIL: return .null
        case REDIS_REPLY_ARRAY:
            return .array((0..<Int(value.elements)).compactMap { index in value.element[index].map(Self.read) })
        default: return .null
        }
    }
}
#endif
