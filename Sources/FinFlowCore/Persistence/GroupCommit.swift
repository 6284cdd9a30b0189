import PostgresNIO
import SQLKit

/// Commits many small write transactions as one: requests that arrive while a commit is under way wait for the
/// next one, which runs each of them in a savepoint of a single database transaction. A request that fails rolls
/// back to its savepoint and gets its own error; the rest commit together, and no caller hears of success before
/// the commit that holds its writes has returned. One commit (one fsync) then serves every request that arrived
/// during the previous one, so throughput rises with load instead of queueing behind the disk.
public actor GroupCommit {
    private struct Job {
        let tenantId: String
        let body: @Sendable (any SQLDatabase) async throws -> any Sendable
        let continuation: CheckedContinuation<any Sendable, any Error>
    }

    private let database: any Database
    private let jobsPerCommitMax: Int
    private var queue: [Job] = []
    private var committing = false
    /// Transactions committed so far, and jobs waiting for the next one (for monitoring and tests).
    public private(set) var commits = 0
    public var waiting: Int { self.queue.count }

    public init(database: any Database, jobsPerCommitMax: Int = 256) {
        self.database = database
        self.jobsPerCommitMax = jobsPerCommitMax
    }

    /// Runs `body` for `tenantId` (see `Database.tenantTransaction`) in the next group commit; returns its result
    /// once that commit succeeded.
    public func run<T: Sendable>(tenantId: String, _ body: @Sendable @escaping (any SQLDatabase) async throws -> T) async throws -> T {
        let result = try await withCheckedThrowingContinuation { continuation in
            self.queue.append(Job(tenantId: tenantId, body: { try await body($0) }, continuation: continuation))
            if !self.committing {
                self.committing = true
                Task { await self.drain() }
            }
        }
        guard let typed = result as? T else { preconditionFailure("a group commit job returned another type") }
        return typed
    }

    private func drain() async {
        while !self.queue.isEmpty {
            let jobs = Array(self.queue.prefix(self.jobsPerCommitMax))
            self.queue.removeFirst(jobs.count)
            let outcomes = await Self.commit(jobs, database: self.database)
            self.commits += 1
            for (job, outcome) in zip(jobs, outcomes) { job.continuation.resume(with: outcome) }
        }
        self.committing = false
    }

    private static func commit(_ jobs: [Job], database: any Database) async -> [Result<any Sendable, any Error>] {
        let kind = database.kind
        do {
            return try await database.transaction { db in
                var outcomes: [Result<any Sendable, any Error>] = []
                outcomes.reserveCapacity(jobs.count)
                for job in jobs {
                    var attempt = 1
                    while true {
                        try await db.raw("SAVEPOINT group_job").run()
                        do {
                            if kind == .postgres {
                                try await db.raw("SELECT set_config('app.tenant_id', \(bind: job.tenantId), true)").run()
                            }
                            let value = try await job.body(db)
                            try await db.raw("RELEASE SAVEPOINT group_job").run()
                            outcomes.append(.success(value))
                            break
                        } catch {
                            // If the engine already abandoned the transaction, this throws and the whole group fails.
                            try await db.raw("ROLLBACK TO SAVEPOINT group_job").run()
                            try await db.raw("RELEASE SAVEPOINT group_job").run()
                            // A job chosen as a deadlock's victim runs again: the other side has its locks now.
                            if attempt < 3 && Self.rolledBackForConcurrency(error) { attempt += 1; continue }
                            outcomes.append(.failure(error))
                            break
                        }
                    }
                }
                return outcomes
            }
        } catch where jobs.count > 1 && Self.rolledBackForConcurrency(error) {
            // PostgreSQL broke a deadlock (or a serialization conflict) by aborting this group: nothing of it was
            // committed, so each job runs again in a transaction of its own, taking its locks alone.
            var outcomes: [Result<any Sendable, any Error>] = []
            for job in jobs {
                do { outcomes.append(.success(try await database.tenantTransaction(tenantId: job.tenantId) { try await job.body($0) })) } catch {
                    outcomes.append(.failure(error))
                }
            }
            return outcomes
        } catch {
            return jobs.map { _ in .failure(error) }
        }
    }

    /// Whether PostgreSQL aborted the transaction to resolve a deadlock or a serialization conflict.
    private static func rolledBackForConcurrency(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40P01" || state == "40001"
    }
}
