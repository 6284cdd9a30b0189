import PostgresNIO
import SQLKit

/// Commits many small writes as one. Requests that arrive while a commit is under way wait for the next one,
/// which hands each tenant's waiting requests to `apply` together (so it can lock, read and insert for all of them
/// at once) inside a single database transaction. `apply` answers each request on its own: one refused by a rule
/// does not stop the others. When `apply` throws instead (a database error), its writes are rolled back to a
/// savepoint and each of that tenant's requests runs alone, so only the faulty one fails. No caller hears of
/// success before the commit that holds its writes has returned. One commit (one fsync, one round of locks)
/// serves every request that arrived during the previous one, so throughput rises with load instead of queueing
/// behind the disk.
public actor GroupCommit<Input: Sendable, Output: Sendable> {
    /// Applies one tenant's requests inside the group's transaction; a result per request, in order.
    public typealias Apply = @Sendable (_ inputs: [Input], _ db: any SQLDatabase) async throws -> [Result<Output, any Error>]

    private struct Job {
        let tenantId: String
        let input: Input
        let continuation: CheckedContinuation<Output, any Error>
    }

    private let database: any Database
    private let jobsPerCommitMax: Int
    private let apply: Apply
    private var queue: [Job] = []
    private var committing = false
    /// Transactions committed so far, and requests waiting for the next one (for monitoring and tests).
    public private(set) var commits = 0
    public var waiting: Int { self.queue.count }

    public init(database: any Database, jobsPerCommitMax: Int = 500, apply: @escaping Apply) {
        self.database = database
        self.jobsPerCommitMax = jobsPerCommitMax
        self.apply = apply
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
            let outcomes = await Self.commit(jobs, database: self.database, apply: self.apply)
            self.commits += 1
            for (job, outcome) in zip(jobs, outcomes) { job.continuation.resume(with: outcome) }
        }
        self.committing = false
    }

    private static func commit(_ jobs: [Job], database: any Database, apply: @escaping Apply) async -> [Result<Output, any Error>] {
        // Each tenant's jobs, in arrival order; tenants in order of their first job.
        var tenants: [String] = []
        var indexesByTenant: [String: [Int]] = [:]
        for (index, job) in jobs.enumerated() {
            if indexesByTenant[job.tenantId] == nil { tenants.append(job.tenantId) }
            indexesByTenant[job.tenantId, default: []].append(index)
        }
        let groups = tenants.map { ($0, indexesByTenant[$0]!) }
        let kind = database.kind
        if jobs.count == 1 {
            // A lone job needs no savepoint: its transaction is one.
            do {
                return try await database.tenantTransaction(tenantId: jobs[0].tenantId) { db in try await apply([jobs[0].input], db) }
            } catch {
                return [.failure(error)]
            }
        }
        do {
            return try await database.transaction { db in
                var outcomes = [Result<Output, any Error>?](repeating: nil, count: jobs.count)
                for (tenantId, indexes) in groups {
                    if kind == .postgres {
                        try await db.raw("SELECT set_config('app.tenant_id', \(bind: tenantId), true)").run()
                    }
                    do {
                        let results = try await Self.inSavepoint(db) { try await apply(indexes.map { jobs[$0].input }, db) }
                        precondition(results.count == indexes.count, "apply answers every request")
                        for (index, result) in zip(indexes, results) { outcomes[index] = result }
                    } catch where indexes.count > 1 {
                        for index in indexes {
                            do {
                                let result = try await Self.inSavepoint(db) { try await apply([jobs[index].input], db) }
                                outcomes[index] = result[0]
                            } catch {
                                outcomes[index] = .failure(error)
                            }
                        }
                    } catch {
                        outcomes[indexes[0]] = .failure(error)
                    }
                }
                return outcomes.map { $0! }
            }
        } catch {
            // The commit itself failed: nothing of the group is known to be stored.
            return jobs.map { _ in .failure(error) }
        }
    }

    /// Runs `body` in a savepoint: released when it returns, rolled back to when it throws. A deadlock victim
    /// runs again, as the other side holds its locks by then. If the engine abandoned the whole transaction, the
    /// rollback throws and the group fails.
    private static func inSavepoint<T>(_ db: any SQLDatabase, _ body: () async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            try await db.raw("SAVEPOINT group_commit").run()
            do {
                let value = try await body()
                try await db.raw("RELEASE SAVEPOINT group_commit").run()
                return value
            } catch {
                try await db.raw("ROLLBACK TO SAVEPOINT group_commit").run()
                try await db.raw("RELEASE SAVEPOINT group_commit").run()
                guard attempt < 3, Self.rolledBackForConcurrency(error) else { throw error }
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
