import FinFlowCore
import Foundation
import Logging
import SQLKit
import Synchronization
import Testing

@Suite("core building blocks")
struct CoreTests {
    @Test("ISO 4217 exponents and overflow-checked money")
    func money() throws {
        #expect(Currency.all.count > 170)
        #expect(Currency(code: "JPY")?.exponent == 0)
        #expect(Currency(code: "BHD")?.exponent == 3)
        #expect(Currency(code: "usd")?.exponent == 2)
        #expect(Currency(code: "XAU")?.exponent == nil)
        #expect(Currency(code: "ABC") == nil)
        let eur = try #require(Currency(code: "EUR"))
        let a = try Money(amountMinor: 1250, currency: eur)
        #expect(a.description == "12.50 EUR")
        #expect(try a.adding(a).amountMinor == 2500)
        #expect(throws: AppError.self) { try Money(amountMinor: .max, currency: eur).adding(a) }
        #expect(throws: AppError.self) { try a.adding(Money(amountMinor: 1, currency: Currency(code: "USD")!)) }
        #expect(throws: AppError.self) { try Money(amountMinor: 1, currency: Currency(code: "XAU")!) }
        let bhd = try Money(amountMinor: -1005, currency: Currency(code: "BHD")!)
        #expect(bhd.description == "-1.005 BHD")
    }

    @Test("UUIDv7 ids carry version 7 and sort by creation even when the clock stands still")
    func identifiers() {
        let ids = IdentifierGenerator(clock: ManualClock())
        let made = (0..<1000).map { _ in ids.nextString() }
        #expect(made == made.sorted())
        #expect(Set(made).count == made.count)
        #expect(made.allSatisfy { $0[$0.index($0.startIndex, offsetBy: 14)] == "7" })
        // RFC 9562 variant (10xx) in the first digit of the fourth group.
        #expect(made.allSatisfy { "89ab".contains($0[$0.index($0.startIndex, offsetBy: 19)]) })
        for _ in 0..<200 {
            let id = UUID()
            #expect(id.canonical == id.uuidString.lowercased())
        }
        #expect(UUID(uuid: (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 255)).canonical == "00010203-0405-0607-0809-0a0b0c0d0eff")
    }

    @Test("a bad setting stops the start and names the flag and the variable")
    func settings() throws {
        #expect(try Settings.load(flags: [:], environment: [:]).port == 8080)
        #expect(try Settings.load(flags: [:], environment: ["FINFLOW_PORT": "9000"]).port == 9000)
        #expect(try Settings.load(flags: ["port": "9100"], environment: ["FINFLOW_PORT": "9000"]).port == 9100)
        do {
            _ = try Settings.load(flags: [:], environment: ["FINFLOW_PORT": "eighty"])
            Issue.record("a bad port was accepted")
        } catch let error as SettingError {
            #expect(error.description.contains("--port"))
            #expect(error.description.contains("FINFLOW_PORT"))
        }
        #expect(throws: SettingError.self) { try Settings.load(flags: [:], environment: ["FINFLOW_BCRYPT_COST": "3"]) }
        #expect(throws: SettingError.self) { try Settings.load(flags: [:], environment: ["FINFLOW_DATABASE_URL": "mysql://x"]) }
        // The processes the performance service samples: http(s) base URLs, trailing slash dropped.
        let targets = try Settings.load(flags: [:], environment: ["FINFLOW_PERFORMANCE_TARGETS": " http://auth:3001/, https://ledger.internal:3004 "])
        #expect(targets.performanceTargets == ["http://auth:3001", "https://ledger.internal:3004"])
        for bad in ["auth:3001", "ftp://auth", "http://", "http://auth:3001/metrics?x=1", Array(repeating: "http://a:1", count: 65).joined(separator: ",")] {
            #expect(throws: SettingError.self, "\(bad.prefix(40)) was accepted") {
                try Settings.load(flags: [:], environment: ["FINFLOW_PERFORMANCE_TARGETS": bad])
            }
        }
    }

    /// An empty database: in-memory SQLite, or a fresh PostgreSQL database when FINFLOW_TEST_POSTGRES_URL is set.
    static func emptyDatabase() async throws -> any Database {
        guard let base = ProcessInfo.processInfo.environment["FINFLOW_TEST_POSTGRES_URL"], !base.isEmpty else {
            return try await SQLiteDatabase.open(path: nil, logger: Logger(label: "test"))
        }
        let name = "finflow_core_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let admin = try PostgresDatabase(url: base, schema: "public", poolSizeMax: 1, logger: Logger(label: "test"))
        try await admin.read { db in try await db.raw("CREATE DATABASE \(unsafeRaw: String(name))").run() }
        try await admin.shutdown()
        var components = try #require(URLComponents(string: base))
        components.path = "/" + name
        return try PostgresDatabase(url: try #require(components.string), schema: "core", poolSizeMax: 4, logger: Logger(label: "test"))
    }

    static func database() async throws -> any Database {
        let database = try await Self.emptyDatabase()
        try await Migrator(database: database, track: "platform", migrations: PlatformMigrations.all, clock: SystemClock()).migrate()
        return database
    }

    @Test("the audit chain verifies, and an edited record is named")
    func auditChain() async throws {
        let database = try await Self.database()
        let clock = ManualClock()
        let log = AuditLog(ids: IdentifierGenerator(clock: clock), clock: clock)
        for index in 0..<20 {
            try await database.transaction { db in
                try await log.append(
                    AuditEntry(tenantId: index % 2 == 0 ? "t1" : "t2", actorId: "u", action: "test.\(index)", target: nil),
                    on: db, kind: .sqlite)
            }
        }
        let intact = try await AuditVerifier(database: database, serviceName: "core").verify()
        #expect(intact.firstBreak == nil)
        #expect(intact.recordsChecked == 20)
        #expect(intact.chains == 2)
        await #expect(throws: (any Error).self) {
            try await database.read { db in try await db.raw("UPDATE audit_log SET action = 'x'").run() }
        }
        // Someone with raw access to the database drops the guard and edits record #4 of t1.
        try await database.read { db in
            if database.kind == .postgres {
                try await db.raw("DROP TRIGGER audit_log_no_change ON audit_log").run()
            } else {
                try await db.raw("DROP TRIGGER audit_log_no_update").run()
            }
            try await db.raw("UPDATE audit_log SET action = 'auth.innocent' WHERE tenant_id = 't1' AND seq = 4").run()
        }
        let broken = try #require(try await AuditVerifier(database: database, serviceName: "core").verify().firstBreak)
        #expect(broken.tenantId == "t1")
        #expect(broken.seq == 4)
        try await database.shutdown()
    }

    @Test("editing an applied migration is refused")
    func migrationChecksum() async throws {
        let database = try await Self.emptyDatabase()
        let original = [Migration(1, "create t", ["CREATE TABLE t (id TEXT)"])]
        try await Migrator(database: database, track: "x", migrations: original, clock: SystemClock()).migrate()
        #expect(try await Migrator(database: database, track: "x", migrations: original, clock: SystemClock()).pending().isEmpty)
        let edited = [Migration(1, "create t", ["CREATE TABLE t (id TEXT, name TEXT)"])]
        await #expect(throws: AppError.self) {
            try await Migrator(database: database, track: "x", migrations: edited, clock: SystemClock()).pending()
        }
        try await database.shutdown()
    }

    struct Ping: EventContract {
        static let eventType = "finflow.test.ping"
        static let schemaVersion = 1
        let n: Int
    }

    @Test("concurrent writes share one commit; a refused or failing one gets its own error, the rest are stored")
    func groupCommit() async throws {
        let database = try await Self.database()
        try await database.read { db in try await db.raw("CREATE TABLE items (n INTEGER PRIMARY KEY, tenant_id TEXT)").run() }
        struct Refused: Error {}
        let jobs = 50
        // Applies a group with one insert; numbers 3, 10, 17, … are refused by a rule, and 9, 19, … collide with the
        // key job 0 committed first, which fails the group's insert, so its jobs must run again one by one.
        // Set while job 0, alone in the first group, holds its commit a moment, so the other jobs queue up behind it.
        let holding = Flag()
        let committer = GroupCommit<Int, Int>(database: database) { numbers, db in
            if numbers == [0] {
                holding.raise()
                try await Task.sleep(for: .milliseconds(200))
            }
            var results: [Result<Int, any Error>] = []
            var query = SQLQueryString("INSERT INTO items (n, tenant_id) VALUES ")
            var rows = 0
            for n in numbers {
                if n % 7 == 3 { results.append(.failure(Refused())); continue }
                query.appendInterpolation(unsafeRaw: rows == 0 ? "(" : ", (")
                query.appendInterpolation(bind: n % 10 == 9 ? 0 : n)
                query.appendInterpolation(unsafeRaw: ", 't')")
                rows += 1
                results.append(.success(n))
            }
            if rows > 0 { try await db.raw(query).run() }
            return results
        }
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
            for n in 0..<jobs {
                group.addTask {
                    // Job 0 goes first, so it owns the key the colliding jobs reuse; the others come while it commits.
                    if n > 0 { while !holding.isRaised { await Task.yield() } }
                    do { return (try await committer.run(tenantId: "t", n), true) } catch { return (n, false) }
                }
            }
            var all: [Int: Bool] = [:]
            for await (n, ok) in group { all[n] = ok }
            return all
        }
        struct Row: Decodable { let n: Int }
        let stored = Set(try await database.read { db in try await db.raw("SELECT n FROM items").all(decoding: Row.self) }.map(\.n))
        for n in 0..<jobs {
            let shouldSucceed = n % 7 != 3 && n % 10 != 9
            #expect(outcomes[n] == shouldSucceed, "job \(n)")
            #expect(stored.contains(n) == shouldSucceed, "row \(n)")
        }
        #expect(await committer.commits <= 3, "the jobs did not share commits")
        try await database.shutdown()
    }

    @Test("bulk rows keep every value, NULLs and all-NULL columns included, across statements and with an upsert")
    func bulkInsert() async throws {
        let database = try await Self.database()
        try await database.read { db in
            try await db.raw("CREATE TABLE bulk (k BIGINT PRIMARY KEY, name TEXT, amount BIGINT, note TEXT, total BIGINT NOT NULL)").run()
        }
        // More rows than one PostgreSQL statement takes, so the chunking is exercised on both engines.
        let count = 10_000 + 7
        func name(_ k: Int) -> String? { k % 3 == 0 ? nil : "n\(k) \u{e9}'\"" }
        func amount(_ k: Int) -> Int64? { k % 5 == 0 ? nil : Int64(k) * -3 }
        let rows: [[SQLCell]] = (0..<count).map { k in [SQLCell(k), SQLCell(name(k)), SQLCell(amount(k)), SQLCell.null, SQLCell(1)] }
        let columns = ["k", "name", "amount", "note", "total"]
        try await database.transaction { db in try await db.insertRows(into: "bulk", columns: columns, rows: rows) }
        // Again with an upsert: every total doubles.
        try await database.transaction { db in
            try await db.insertRows(into: "bulk", columns: columns, rows: rows, suffix: " ON CONFLICT (k) DO UPDATE SET total = bulk.total + excluded.total")
        }
        struct Row: Decodable, Equatable { let k: Int64; let name: String?; let amount: Int64?; let note: String?; let total: Int64 }
        let stored = try await database.read { db in try await db.raw("SELECT k, name, amount, note, total FROM bulk ORDER BY k").all(decoding: Row.self) }
        #expect(stored.count == count)
        let expected: [Row] = (0..<count).map { k in Row(k: Int64(k), name: name(k), amount: amount(k), note: nil, total: 2) }
        #expect(stored == expected)
        try await database.shutdown()
    }

    @Test("a PostgreSQL server that refuses the role or the database is named at once, in the server's words")
    func postgresProbe() async throws {
        guard let base = ProcessInfo.processInfo.environment["FINFLOW_TEST_POSTGRES_URL"], !base.isEmpty else { return }
        try await PostgresDatabase.probe(url: base, logger: Logger(label: "test"))
        var components = try #require(URLComponents(string: base))
        components.user = "no_such_role"
        await #expect {
            try await PostgresDatabase.probe(url: try #require(components.string), logger: Logger(label: "test"))
        } throws: { error in
            guard let error = error as? AppError else { return false }
            return error.code == "database-refused" && error.message.contains("role \"no_such_role\" does not exist")
        }
        components = try #require(URLComponents(string: base))
        components.path = "/no_such_database"
        await #expect {
            try await PostgresDatabase.probe(url: try #require(components.string), logger: Logger(label: "test"))
        } throws: { error in
            (error as? AppError)?.message.contains("database \"no_such_database\" does not exist") == true
        }
    }

    @Test("writes sent together on PostgreSQL land as their statements would alone, and count what each wrote")
    func writeTogether() async throws {
        let database = try await Self.database()
        try await database.read { db in
            try await db.raw("CREATE TABLE heads (k BIGINT PRIMARY KEY, name TEXT)").run()
            try await db.raw("CREATE TABLE totals (k BIGINT PRIMARY KEY, total BIGINT NOT NULL)").run()
            try await db.raw("INSERT INTO heads (k, name) VALUES (1, 'kept')").run()
            try await db.raw("INSERT INTO totals (k, total) VALUES (1, 10), (2, 20)").run()
        }
        guard database.kind == .postgres else {
            #expect(try await database.transaction { db in db.writesTogether } == false)
            return try await database.shutdown()
        }
        // An insert skipping a key that exists, one with a column NULL in every row, an update, and a part with no
        // rows; then more rows than one statement carries, which go part by part.
        @Sendable func parts(heads: [Int64], extra: [Int64]) -> [RowWrite] {
            [
                .insert(into: "heads", columns: ["k", "name"], rows: heads.map { [.init($0), .init("h\($0)")] }, suffix: " ON CONFLICT (k) DO NOTHING"),
                .insert(into: "heads", columns: ["k", "name"], rows: extra.map { [.init($0), .null] }),
                RowWrite(columns: ["k", "add"], rows: [[.init(1), .init(5)], [.init(2), .init(7)], [.init(3), .init(1)]]) { _, source in
                    "UPDATE totals SET total = totals.total + u.c1 FROM \(source) WHERE totals.k = u.c0"
                },
                .insert(into: "heads", columns: ["k", "name"], rows: []),
            ]
        }
        let written = try await database.transaction { db in try await db.writeTogether(parts(heads: [1, 2, 3], extra: [4])) }
        #expect(written == [2, 1, 2, 0])
        let many = (100..<10_150).map(Int64.init)
        let chunked = try await database.transaction { db in try await db.writeTogether(parts(heads: many, extra: [5])) }
        #expect(chunked == [many.count, 1, 2, 0])
        struct Head: Decodable, Equatable { let k: Int64; let name: String? }
        struct Total: Decodable, Equatable { let k: Int64; let total: Int64 }
        let heads = try await database.read { db in try await db.raw("SELECT k, name FROM heads ORDER BY k").all(decoding: Head.self) }
        #expect(heads.prefix(5) == [Head(k: 1, name: "kept"), Head(k: 2, name: "h2"), Head(k: 3, name: "h3"), Head(k: 4, name: nil), Head(k: 5, name: nil)])
        #expect(heads.count == 5 + many.count)
        let totals = try await database.read { db in try await db.raw("SELECT k, total FROM totals ORDER BY k").all(decoding: Total.self) }
        #expect(totals == [Total(k: 1, total: 20), Total(k: 2, total: 34)])
        // A part that fails takes the whole statement with it, and names its constraint.
        await #expect {
            try await database.transaction { db in
                _ = try await db.writeTogether([.insert(into: "heads", columns: ["k", "name"], rows: [[.init(6), .null], [.init(1), .null]])])
            }
        } throws: { violatedConstraint($0) == "heads_pkey" }
        #expect(try await database.read { db in try await db.raw("SELECT k, name FROM heads WHERE k = 6").all(decoding: Head.self) }.isEmpty)
        try await database.shutdown()
    }

    @Test("the SQLite writer keeps values exact through its cached statements, reports and recovers from errors, and checkpoints its log off the commit path",
          .timeLimit(.minutes(5)))
    func sqliteWriter() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("finflow-writer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("writer.sqlite").path
        let frames = 32
        var database = try await SQLiteDatabase.open(path: path, logger: Logger(label: "test"), checkpointFrames: frames)
        struct Setting: Decodable { let value: String }
        struct Mode: Decodable { let journal_mode: String }
        struct Sync: Decodable { let synchronous: Int }
        try await database.transaction { db in
            // A commit is durable: the writer syncs the log on every commit.
            #expect(try await db.raw("PRAGMA synchronous").first(decoding: Sync.self)?.synchronous == 2)
            #expect(try await db.raw("PRAGMA journal_mode").first(decoding: Mode.self)?.journal_mode == "wal")
            try await db.raw("CREATE TABLE kept (k INTEGER PRIMARY KEY, s TEXT, b BLOB, f REAL, n TEXT)").run()
        }
        // The same statement text twice (the second from the statement cache), with values at their edges.
        let texts = ["", "caf\u{e9} \u{1F4B8} 'quoted' \"double\""]
        try await database.transaction { db in
            for (k, text) in texts.enumerated() {
                try await db.raw("""
                    INSERT INTO kept (k, s, b, f, n) VALUES (\(bind: k == 0 ? Int64.max : Int64.min), \(bind: text), \(bind: Data([0, 1, 255])), \(bind: 0.1 + Double(k)), \(bind: String?.none))
                    """).run()
            }
        }
        struct Kept: Decodable, Equatable { let k: Int64; let s: String?; let b: Data; let f: Double; let n: String? }
        let read = try await database.read { db in try await db.raw("SELECT k, s, b, f, n FROM kept ORDER BY k DESC").all(decoding: Kept.self) }
        #expect(read == [Kept(k: .max, s: "", b: Data([0, 1, 255]), f: 0.1, n: nil), Kept(k: .min, s: texts[1], b: Data([0, 1, 255]), f: 1.1, n: nil)])
        // A refused statement names SQLite's reason, rolls its transaction back and leaves the writer usable.
        do {
            try await database.transaction { db in
                try await db.raw("INSERT INTO kept (k, s, b, f) VALUES (1, 'one', x'00', 1)").run()
                try await db.raw("INSERT INTO kept (k, s, b, f) VALUES (\(bind: Int64.max), 'again', x'00', 1)").run()
            }
            Issue.record("a duplicate key was stored")
        } catch let error as SQLiteWriterError {
            #expect(error.code == 1555)  // SQLITE_CONSTRAINT_PRIMARYKEY
            #expect(error.message.contains("UNIQUE constraint failed"))
            // Callers catching a race on a key see it as on PostgreSQL.
            #expect(violatedConstraint(error) == "kept.k")
        }
        // A missing value is no collision.
        await #expect {
            try await database.transaction { db in
                try await db.raw("CREATE TABLE required (k INTEGER PRIMARY KEY, s TEXT NOT NULL)").run()
                try await db.raw("INSERT INTO required (k, s) VALUES (1, NULL)").run()
            }
        } throws: { ($0 as? SQLiteWriterError)?.code == 1299 && violatedConstraint($0) == nil }
        // A kept statement whose plan looked at a bound value (here the `tenant` term beside the key lookup) runs
        // again without being compiled again; a statement given fewer values than it has parameters is refused.
        try await database.transaction { db in
            try await db.raw("CREATE TABLE scoped (k INTEGER PRIMARY KEY, tenant TEXT NOT NULL, v INTEGER NOT NULL)").run()
            try await db.raw("INSERT INTO scoped VALUES (1, 'a', 10), (2, 'a', 20), (3, 'b', 30)").run()
        }
        let recompiledBefore = try await database.statementRecompilations()
        struct Value: Decodable { let v: Int64 }
        for round in 0..<20 {
            let tenant = round % 2 == 0 ? "a" : "b"
            let values = try await database.transaction { db in
                try await db.raw("SELECT v FROM scoped WHERE tenant = \(bind: tenant) AND k IN (\(bind: 1), \(bind: 3)) ORDER BY k")
                    .all(decoding: Value.self).map(\.v)
            }
            #expect(values == (tenant == "a" ? [10] : [30]))
        }
        #expect(try await database.statementRecompilations() == recompiledBefore)
        do {
            try await database.transaction { db in try await db.raw("SELECT \(bind: 1) + ?2 AS v").run() }
            Issue.record("a statement ran with a parameter left unbound")
        } catch let error as SQLiteWriterError {
            #expect(error.code == 25)  // SQLITE_RANGE
        }
        // Many small commits: far more log pages than a checkpoint's worth. The log is copied back and starts again,
        // so it stays near `frames` pages instead of holding every commit; readers see each commit at once.
        struct Count: Decodable { let n: Int64 }
        for k in 1...300 {
            try await database.transaction { db in
                try await db.raw("INSERT INTO kept (k, s, b, f) VALUES (\(bind: Int64(k)), 'row', zeroblob(8000), 0)").run()
            }
            let count = try await database.read { db in try await db.raw("SELECT COUNT(*) AS n FROM kept").first(decoding: Count.self)?.n }
            #expect(count == Int64(k) + 2)
        }
        let log = try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int ?? 0
        #expect(log > 0)
        #expect(log < 20 * frames * 4_120, "the log held \(log / 4_120) pages: it was not checkpointed")
        try await database.shutdown()
        database = try await SQLiteDatabase.open(path: path, logger: Logger(label: "test"), checkpointFrames: frames)
        let count = try await database.read { db in try await db.raw("SELECT COUNT(*) AS n FROM kept").first(decoding: Count.self)?.n }
        #expect(count == 302)
        try await database.shutdown()
        // Once shut down, a transaction that starts on the writer's thread (as a group commit does) fails at once instead
        // of waiting for the stopped thread forever.
        let late = Task(executorPreference: database.preferredExecutor) {
            try await database.transaction { db in try await db.raw("SELECT 1").run() }
        }
        await #expect(throws: SQLiteWriterError.self) { try await late.value }
    }

    @Test("an event is applied once however often it is delivered")
    func inboxDeduplicates() async throws {
        let database = try await Self.database()
        try await database.read { db in try await db.raw("CREATE TABLE hits (n INTEGER)").run() }
        let clock = SystemClock()
        let bus = InProcessEventBus(clock: clock)
        bus.subscribe(.of(Ping.self, name: "test.ping", database: database) { event, db in
            try await db.raw("INSERT INTO hits (n) VALUES (\(bind: event.data.n))").run()
        })
        let outbox = Outbox(serviceName: "test", ids: IdentifierGenerator(clock: clock), clock: clock)
        let event = try await database.transaction { db in try await outbox.enqueue(Ping(n: 7), subject: nil, tenantId: "t", on: db) }
        let relay = OutboxRelay(database: database, bus: bus, clock: clock, logger: Logger(label: "test"))
        #expect(try await relay.drain() == 1)
        #expect(try await relay.drain() == 0)
        try await bus.publish(event)
        try await bus.publish(event)
        struct Count: Decodable { let c: Int }
        let hits = try await database.read { db in try await db.raw("SELECT COUNT(*) AS c FROM hits").first(decoding: Count.self) }
        #expect(hits?.c == 1)
        try await database.shutdown()
    }

    @Test("a delivery of many events applies each new one once, in order, whether the consumer takes them one by one or together")
    func batchDelivery() async throws {
        let database = try await Self.database()
        try await database.read { db in try await db.raw("CREATE TABLE hits (consumer TEXT, n INTEGER, seq INTEGER)").run() }
        let clock = SystemClock()
        let outbox = Outbox(serviceName: "test", ids: IdentifierGenerator(clock: clock), clock: clock)
        let events = try await database.transaction { db in
            try await outbox.enqueue((1...5).map { (Ping(n: $0), nil, "t") }, on: db)
        }
        #expect(events.count == 5)
        let stored = try await database.read { db in try await db.raw("SELECT id FROM outbox ORDER BY id").all() }
        #expect(stored.count == 5)
        let single = EventConsumer.of(Ping.self, name: "test.single", database: database) { event, db in
            try await db.raw("INSERT INTO hits (consumer, n, seq) VALUES ('single', \(bind: event.data.n), (SELECT COUNT(*) FROM hits))").run()
        }
        let together = EventConsumer.batchOf(Ping.self, name: "test.together", database: database) { batch, db in
            for event in batch {
                try await db.raw("INSERT INTO hits (consumer, n, seq) VALUES ('together', \(bind: event.data.n), (SELECT COUNT(*) FROM hits))").run()
            }
        }
        for consumer in [single, together] {
            // The third event was applied before; the fifth comes twice in one delivery.
            #expect(try await consumer.deliver(events[2], clock: clock))
            #expect(try await consumer.deliver([events[0], events[1], events[2], events[3], events[4], events[4]], clock: clock) == 4)
            #expect(try await consumer.deliver(events, clock: clock) == 0)
            #expect(try await consumer.deliver(events[1], clock: clock) == false)
        }
        struct Hit: Decodable, Equatable { let consumer: String; let n: Int }
        let hits = try await database.read { db in try await db.raw("SELECT consumer, n FROM hits ORDER BY seq").all(decoding: Hit.self) }
        #expect(hits.filter { $0.consumer == "single" }.map(\.n) == [3, 1, 2, 4, 5])
        #expect(hits.filter { $0.consumer == "together" }.map(\.n) == [3, 1, 2, 4, 5])
        // A delivery that fails applies none and records none.
        let failing = EventConsumer.batchOf(Ping.self, name: "test.failing", database: database) { batch, db in
            try await db.raw("INSERT INTO hits (consumer, n, seq) VALUES ('failing', 0, 0)").run()
            if batch.contains(where: { $0.data.n == 4 }) { throw AppError.conflict(code: "refused", "refused") }
        }
        await #expect(throws: AppError.self) { try await failing.deliver(events, clock: clock) }
        #expect(try await failing.deliver(Array(events.prefix(3)), clock: clock) == 3)
        let failed = try await database.read { db in try await db.raw("SELECT n FROM hits WHERE consumer = 'failing'").all() }
        #expect(failed.count == 1)
        try await database.shutdown()
    }

    @Test("housekeeping removes only what has expired")
    func housekeeping() async throws {
        let database = try await Self.database()
        let clock = ManualClock()
        let now = clock.nowMillis()
        let old = now - 40 * 86_400_000
        try await database.transaction { db in
            try await db.raw("""
                INSERT INTO outbox (id, topic, payload, created_at_ms, published_at_ms, attempts) VALUES
                ('a', 't', '{}', \(bind: old), \(bind: old), 0), ('b', 't', '{}', \(bind: old), NULL, 0),
                ('c', 't', '{}', \(bind: now), \(bind: now), 0)
                """).run()
            try await db.raw("INSERT INTO inbox (consumer, event_id, processed_at_ms) VALUES ('x', 'a', \(bind: old)), ('x', 'c', \(bind: now))").run()
            try await db.raw("""
                INSERT INTO idempotency_keys (scope, idempotency_key, request_hash, state, created_at_ms) VALUES
                ('s', 'old', 'h', 'done', \(bind: old)), ('s', 'new', 'h', 'done', \(bind: now))
                """).run()
        }
        let removed = try await Housekeeping(database: database, clock: clock, logger: Logger(label: "test")).sweep()
        #expect(removed == 3)
        struct Row: Decodable { let id: String }
        let left = try await database.read { db in try await db.raw("SELECT id FROM outbox ORDER BY id").all(decoding: Row.self) }
        #expect(left.map(\.id) == ["b", "c"])
        try await database.shutdown()
    }
}

/// A flag one task raises and others watch.
private final class Flag: Sendable {
    private let raised = Mutex(false)
    func raise() { self.raised.withLock { $0 = true } }
    var isRaised: Bool { self.raised.withLock { $0 } }
}
