import Logging
import Synchronization

/// The databases of the services one process runs, by service name, with the statistics of their statements. Filled as
/// the process opens them; the performance service reads it to report on the process it runs in.
public final class ProcessDatabases: Sendable {
    /// What every statement of this process's databases has cost.
    public let statements: StatementStatistics
    private let databases = Mutex<[String: any Database]>([:])

    /// An empty registry whose books log statements taking `slowMillis` or longer to `logger`.
    public init(slowMillis: Int = StatementBook.slowMillisDefault, logger: Logger = Logger(label: "finflow.statements")) {
        self.statements = StatementStatistics(slowMillis: slowMillis, logger: logger)
    }

    /// Adds the database of `service`.
    public func add(_ database: any Database, service: String) {
        self.databases.withLock { $0[service] = database }
    }

    /// Every database, by service name, sorted.
    public var all: [(service: String, database: any Database)] {
        self.databases.withLock { databases in databases.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    }
}
