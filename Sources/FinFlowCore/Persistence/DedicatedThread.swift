import NIOCore
import NIOPosix
import Synchronization

/// A thread of its own, as a task executor and a one-loop event loop group. A database's transactions prefer it, so
/// their code runs there from start to end: on SQLite a commit waiting for the disk holds this thread, not one of
/// Swift's few cooperative ones; on PostgreSQL the connections that transactions use live on this loop too, so each
/// statement's reply resumes the transaction where it arrives instead of hopping between threads.
final class DedicatedThread: TaskExecutor {
    let group: MultiThreadedEventLoopGroup
    let eventLoop: any EventLoop
    /// Whether the thread takes work; after `shutdown` jobs go to the global executor (where a transaction finds its
    /// connection closed and fails) instead of being dropped by the stopped loop, which would leave their tasks hanging.
    private let running = Mutex(true)

    init() {
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.eventLoop = self.group.next()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = self.asUnownedTaskExecutor()
        let taken = self.running.withLock { running in
            if running { self.eventLoop.execute { job.runSynchronously(on: executor) } }
            return running
        }
        if !taken { globalConcurrentExecutor.enqueue(job) }
    }

    func shutdown() async throws {
        self.running.withLock { $0 = false }
        try await self.group.shutdownGracefully()
    }
}
