import Metrics
import PostgresNIO
import SQLKit

/// Commits many small writes as one. Requests that arrive while a commit is under way wait for the next one,
/// which hands each tenant's waiting requests to `apply` together (so it can lock, read and insert for all of them
/// at once) inside a single database transaction. `apply` answers each request on its own: one refused by a rule
/// does not stop the others. When `apply` throws instead (a database error), the group's transaction is rolled
/// back and each request runs alone, in a transaction of its own, so only the faulty one fails. No caller hears of
/// success before the commit that holds its writes has returned. One commit (one fsync, one round of locks)
/// serves every request that arrived during the previous one, so throughput rises with load instead of queueing
/// behind the disk.
public actor GroupCommit<Input: Sendable, Output: Sendable> {
    /// Applies one tenant's requests inside the group's transaction; a result per request, in order.
    public typealias Apply = @Sendable (_ inputs: [Input], _ db: any SQLDatabase) async throws -> [Result<Output, any Error>]
    /// `apply` told whether this is a first, optimistic attempt: it may then leave out reads that only matter when
    /// something conflicts (a look-up of ids the clients chose), and throw `RetryCarefully` when the write finds such
    /// a conflict. The group is rolled back and its requests run again, each alone, with `optimistic` false.
    public typealias OptimisticApply = @Sendable (_ inputs: [Input], _ db: any SQLDatabase, _ optimistic: Bool) async throws
        -> [Result<Output, any Error>]

    /// Thrown by an optimistic `apply` that met a conflict it left unchecked: run the requests again, carefully.
    public struct RetryCarefully: Error {
        public init() {}
    }

    private struct Job {
        let tenantId: String
        let input: Input
        let continuation: CheckedContinuation<Output, any Error>
    }

    private let database: any Database
    private let jobsPerCommitMax: Int
    private let sharedLockKey: (@Sendable (String) -> String)?
    private let apply: OptimisticApply
    private var queue: [Job] = []
    private var committing = false
    private let sizes: Recorder
    /// Transactions committed so far, and requests waiting for the next one (for monitoring and tests).
    public private(set) var commits = 0
    public var waiting: Int { self.queue.count }

    public init(database: any Database, jobsPerCommitMax: Int = 500, apply: @escaping Apply) {
        self.database = database
        self.jobsPerCommitMax = jobsPerCommitMax
        self.sharedLockKey = nil
        self.sizes = RuntimeMetrics.groupCommitSize(service: database.statementBook?.service ?? "unnamed")
        self.apply = { inputs, db, _ in try await apply(inputs, db) }
    }

    /// `sharedLockKey`, when given, names a PostgreSQL advisory lock per tenant that every attempt holds shared from
    /// the start, taken in the same statement that names the tenant (so `apply` may count on it without a round trip).
    public init(
        database: any Database, jobsPerCommitMax: Int = 500, sharedLockKey: (@Sendable (String) -> String)? = nil,
        optimisticApply: @escaping OptimisticApply
    ) {
        self.database = database
        self.jobsPerCommitMax = jobsPerCommitMax
        self.sharedLockKey = sharedLockKey
        self.sizes = RuntimeMetrics.groupCommitSize(service: database.statementBook?.service ?? "unnamed")
        self.apply = optimisticApply
    }

    /// Applies `input` for `tenantId` in the next group commit; returns its result once that commit succeeded.
    public func run(tenantId: String, _ input: Input) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            self.queue.append(Job(tenantId: tenantId, input: input, continuation: continuation))
            if !self.committing {
                self.committing = true
                // On the database's preferred executor (SQLite's writer thread) this actor's loop, the staging and
                // the writes all run on one thread, without handing each commit over and back.
                Task(executorPreference: self.database.preferredExecutor) { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !self.queue.isEmpty {
            let jobs = Array(self.queue.prefix(self.jobsPerCommitMax))
            self.queue.removeFirst(jobs.count)
            self.sizes.record(jobs.count)
            let outcomes = await Self.commit(jobs, database: self.database, sharedLockKey: self.sharedLockKey, apply: self.apply)
            self.commits += 1
            for (job, outcome) in zip(jobs, outcomes) { job.continuation.resume(with: outcome) }
        }
        self.committing = false
    }

    private static func commit(
        _ jobs: [Job], database: any Database, sharedLockKey: (@Sendable (String) -> String)?, apply: @escaping OptimisticApply
    ) async -> [Result<Output, any Error>] {
        // Each tenant's jobs, in arrival order; tenants in order of their first job.
        var tenants: [String] = []
        var indexesByTenant: [String: [Int]] = [:]
        for (index, job) in jobs.enumerated() {
            if indexesByTenant[job.tenantId] == nil { tenants.append(job.tenantId) }
            indexesByTenant[job.tenantId, default: []].append(index)
        }
        let groups = tenants.map { ($0, indexesByTenant[$0]!) }
        let kind = database.kind
        if jobs.count > 1 {
            do {
                return try await database.transaction { db in
                    var outcomes = [Result<Output, any Error>?](repeating: nil, count: jobs.count)
                    for (tenantId, indexes) in groups {
                        try await Self.name(tenantId, kind: kind, sharedLockKey: sharedLockKey, db: db)
                        let results: [Result<Output, any Error>]
                        do {
                            results = try await apply(indexes.map { jobs[$0].input }, db, true)
                        } catch {
                            throw ApplyFailed()
                        }
                        precondition(results.count == indexes.count, "apply answers every request")
                        for (index, result) in zip(indexes, results) { outcomes[index] = result }
                    }
                    return outcomes.map { $0! }
                }
            } catch is ApplyFailed {
                // Rolled back: nothing of the group is stored.
            } catch {
                // A failed commit may have stored the group or not: nobody hears of success, nor is it tried again.
                return jobs.map { _ in .failure(error) }
            }
        }
        // A lone job (optimistic first, carefully if it met a conflict), or the jobs of a group that a database error
        // rolled back (carefully): each in a transaction of its own, so only the faulty one fails.
        if jobs.count == 1 {
            let outcome = await Self.alone(jobs[0], database: database, optimistic: true, sharedLockKey: sharedLockKey, apply: apply)
            if case .failure(let error) = outcome, error is RetryCarefully {
                return [await Self.alone(jobs[0], database: database, optimistic: false, sharedLockKey: sharedLockKey, apply: apply)]
            }
            return [outcome]
        }
        var outcomes: [Result<Output, any Error>] = []
        for job in jobs {
            outcomes.append(await Self.alone(job, database: database, optimistic: false, sharedLockKey: sharedLockKey, apply: apply))
        }
        return outcomes
    }

    /// Names the tenant for the rest of the transaction (row-level security) on PostgreSQL and, with `sharedLockKey`,
    /// takes the tenant's advisory lock shared in the same statement.
    private static func name(_ tenantId: String, kind: DatabaseKind, sharedLockKey: (@Sendable (String) -> String)?, db: any SQLDatabase)
        async throws
    {
        guard kind == .postgres else { return }
        if let sharedLockKey {
            _ = try await db.queryPrepared(NameTenantLocking.self, binds: [.text(tenantId), .text(sharedLockKey(tenantId))])
        } else {
            try await db.nameTenant(tenantId)
        }
    }

    /// `apply` threw inside a group's transaction, which was then rolled back (not a failure of the commit).
    private struct ApplyFailed: Error {}

    /// Applies one job in a transaction of its own. A deadlock or serialization victim runs again, as the other side
    /// holds its locks by then.
    private static func alone(
        _ job: Job, database: any Database, optimistic: Bool, sharedLockKey: (@Sendable (String) -> String)?, apply: @escaping OptimisticApply
    ) async -> Result<Output, any Error> {
        var attempt = 1
        let kind = database.kind
        while true {
            do {
                return try await database.transaction { db in
                    try await Self.name(job.tenantId, kind: kind, sharedLockKey: sharedLockKey, db: db)
                    return try await apply([job.input], db, optimistic)
                }[0]
            } catch {
                guard attempt < 3, Self.rolledBackForConcurrency(error) else { return .failure(error) }
                attempt += 1
            }
        }
    }

    /// Whether PostgreSQL aborted the statement to resolve a deadlock or a serialization conflict.
    private static func rolledBackForConcurrency(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40P01" || state == "40001"
    }
}
