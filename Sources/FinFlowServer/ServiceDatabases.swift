import FinFlowCore
import Logging

/// Opens and migrates the database of each service: a SQLite file each when embedded, a PostgreSQL schema each
/// when distributed.
public enum ServiceDatabases {
    /// Opens the database of `descriptor` as `settings` say; its statements are recorded in `statements`' book for the
    /// service, when given.
    public static func open(
        _ descriptor: ServiceDescriptor, settings: Settings, logger: Logger, statements: StatementStatistics? = nil
    ) async throws -> any Database {
        let book = statements?.book(descriptor.name)
        if let url = settings.databaseURL {
            try await PostgresDatabase.probe(url: url, logger: logger)
            return try PostgresDatabase(
                url: url, schema: descriptor.name, poolSizeMax: settings.databasePoolSizeMax, logger: logger, statementBook: book)
        }
        return try await SQLiteDatabase.open(
            path: settings.sqlitePath(service: descriptor.name), logger: logger, statementBook: book, readerConnections: settings.sqliteReaders)
    }

    /// The platform and service migration tracks of one service database.
    public static func migrators(_ descriptor: ServiceDescriptor, database: any Database, clock: any FinFlowClock) -> [Migrator] {
        [
            Migrator(database: database, track: "platform", migrations: PlatformMigrations.all, clock: clock),
            Migrator(database: database, track: descriptor.name, migrations: descriptor.migrations, clock: clock),
        ]
    }

    /// Pending migrations of a service, as `track #version name` lines.
    public static func pending(_ descriptor: ServiceDescriptor, database: any Database, clock: any FinFlowClock) async throws
        -> [String]
    {
        var lines: [String] = []
        for migrator in migrators(descriptor, database: database, clock: clock) {
            lines += try await migrator.pending().map { "\(descriptor.name): \($0.version) \($0.name)" }
        }
        return lines
    }

    /// Applies every pending migration of a service; returns how many ran.
    @discardableResult
    public static func migrate(_ descriptor: ServiceDescriptor, database: any Database, clock: any FinFlowClock) async throws
        -> Int
    {
        var count = 0
        for migrator in migrators(descriptor, database: database, clock: clock) { count += try await migrator.migrate() }
        return count
    }
}
