import FinFlowCore
import Foundation
import Logging
import SQLKit

/// The dashboard's answer time over a year of a busy tenant's activity (`Benchmarks/analytics.sh`): the read model
/// loaded from seeded events as the consumers apply them, then the dashboard asked over ranges never asked before
/// (worked out from the read model) and over one range again and again (answered from the cache).
public enum AnalyticsBenchmark {
    /// Answer times in milliseconds.
    public struct Timing: Sendable {
        public let p50: Double
        public let p99: Double
        public let max: Double

        init(_ samples: [Duration]) {
            let ms = Percentiles(samples.map(\.inMilliseconds))
            self.p50 = ms.at(0.5) ?? 0
            self.p99 = ms.at(0.99) ?? 0
            self.max = ms.at(1) ?? 0
        }
    }

    public struct Report: Sendable {
        public let transactions: Int
        public let factRows: Int
        public let loadPerSecond: Double
        public let uncached: Timing
        public let cached: Timing
        public let questions: Int
    }

    /// A read model in a new SQLite database in `directory`, and the desk answering from it.
    struct Bench {
        let database: any Database
        let desk: AnalyticsDesk

        static func open(directory: String) async throws -> Bench {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let settings = try Settings.load(flags: ["dataDirectory": directory, "logLevel": "error"], environment: [:])
            let logger = Logger(label: "bench")
            let database = try await SQLiteDatabase.open(path: settings.sqlitePath(service: "analytics"), logger: logger)
            for (track, migrations) in [("platform", PlatformMigrations.all), ("analytics", AnalyticsMigrations.all)] {
                _ = try await Migrator(database: database, track: track, migrations: migrations, clock: SystemClock()).migrate()
            }
            let env = ServiceEnvironment.forOperator(settings: settings, database: database, clock: SystemClock(), logger: logger)
            return Bench(database: database, desk: AnalyticsDesk(env: env))
        }

        /// Applies `events` as the consumers do (in one transaction), without the journal.
        func apply(_ events: [PublishedEvent]) async throws {
            let contributions = events.compactMap(Contribution.of)
            try await self.database.transaction { db in try await ReadModelWriter.apply(contributions, db: db) }
        }
    }

    static let tenantId = "bench"
    static let year = 2026
    static let categories = ["rent", "payroll", "utilities", "software", "travel", "marketing", "office", "insurance", "fees", "taxes",
                             "equipment", "meals"]

    /// The seeded events of day `day` (0–364) of the year, with `perDay` transactions: the transactions (a tenth of them
    /// income), twenty invoices, ten bills, and the day's ledger movements.
    static func day(_ day: Int, perDay: Int, random: inout SeededRandom) throws -> [PublishedEvent] {
        func uniform() -> Double { Double(random.next() >> 11) / 9_007_199_254_740_992 }
        let date = CalendarDay(year: Self.year, month: 1, day: 1)!.addingDays(day)
        let time = Date(timeIntervalSince1970: Double(date.dayNumber) * 86_400 + 43_200)
        var events: [PublishedEvent] = []
        var income: Int64 = 0, spent: Int64 = 0
        for index in 0..<perDay {
            let isIncome = index % 10 == 0
            // A skewed draw: a few counterparties and categories carry most of the volume.
            let party = Int(pow(uniform(), 3) * 500)
            let amount = Int64(pow(10, 3 + 1.5 * uniform()))
            if isIncome { income += amount } else { spent += amount }
            let payload = TransactionCreated(
                transactionId: "tx-\(day)-\(index)", tenantId: Self.tenantId, kind: isIncome ? "income" : "expense", amountMinor: amount,
                currency: "EUR", valueDate: date.description, sourceAccountId: isIncome ? "acct-sales" : "acct-bank",
                destinationAccountId: isIncome ? "acct-bank" : "acct-expense", counterparty: "party-\(party)",
                category: isIncome ? "sales" : Self.categories[Int(pow(uniform(), 2) * Double(Self.categories.count))])
            events.append(try PublishedEvent(payload, id: "bench-tx-\(day)-\(index)", service: "transactions", time: time,
                                             subject: payload.transactionId, tenantId: Self.tenantId))
        }
        var invoiced: Int64 = 0, billed: Int64 = 0
        for index in 0..<20 {
            let total = Int64(50_000 + random.next() % 500_000)
            invoiced += total
            let invoice = InvoiceIssued(
                invoiceId: "inv-\(day)-\(index)", tenantId: Self.tenantId, kind: "invoice", number: "INV-\(day)-\(index)",
                customerId: "customer-\(Int(pow(uniform(), 2) * 200))", currency: "EUR", totalMinor: total, issueDate: date.description,
                dueDate: date.addingDays(30).description, creditedInvoiceId: nil)
            events.append(try PublishedEvent(invoice, id: "bench-inv-\(day)-\(index)", service: "accounting", time: time,
                                             subject: invoice.invoiceId, tenantId: Self.tenantId))
        }
        for index in 0..<10 {
            let total = Int64(20_000 + random.next() % 300_000)
            billed += total
            let bill = BillPosted(
                billId: "bill-\(day)-\(index)", tenantId: Self.tenantId, kind: "bill", vendorId: "vendor-\(Int(pow(uniform(), 2) * 80))",
                vendorReference: nil, currency: "EUR", subtotalMinor: total, taxMinor: 0, recoverableTaxMinor: 0, totalMinor: total,
                billDate: date.description, dueDate: date.addingDays(30).description, entryId: "entry-bill-\(day)-\(index)", creditedBillId: nil)
            events.append(try PublishedEvent(bill, id: "bench-bill-\(day)-\(index)", service: "accounting", time: time,
                                             subject: bill.billId, tenantId: Self.tenantId))
        }
        // The ledger's day: sales on account and their collection, purchases on account and their payment, the day's
        // spending from the bank and income into it.
        func movement(_ id: String, _ code: String, _ type: String, _ tag: String?, _ role: String?, debit: Int64, credit: Int64)
            -> LedgerMovementsRecorded.Movement
        {
            .init(accountingDate: date.description, accountId: id, code: code, name: id, type: type, cashFlowTag: tag, role: role,
                  currency: "EUR", debitMinor: debit, creditMinor: credit)
        }
        let collected = invoiced * 9 / 10, paid = billed * 9 / 10
        let movements = LedgerMovementsRecorded(tenantId: Self.tenantId, entryIds: ["entry-\(day)"], entryCount: 1, movements: [
            movement("acct-bank", "1000", "asset", "cash", nil, debit: collected + income, credit: paid + spent),
            movement("acct-receivables", "1200", "asset", "operating", "receivables", debit: invoiced, credit: collected),
            movement("acct-payables", "2000", "liability", "operating", "payables", debit: paid, credit: billed),
            movement("acct-sales", "4000", "revenue", nil, "revenue", debit: 0, credit: invoiced + income),
            movement("acct-cogs", "5000", "expense", nil, nil, debit: billed, credit: 0),
            movement("acct-expense", "6200", "expense", nil, nil, debit: spent, credit: 0),
        ])
        events.append(try PublishedEvent(movements, id: "bench-ledger-\(day)", service: "accounting", time: time, subject: nil,
                                         tenantId: Self.tenantId))
        return events
    }

    /// Loads a year of `transactions` into `bench`, a day at a time; the seconds it took.
    static func load(_ bench: Bench, transactions: Int, seed: UInt64) async throws -> Double {
        var random = SeededRandom(seed: seed)
        let perDay = max(1, transactions / 365)
        let clock = ContinuousClock()
        let took = try await clock.measure {
            for day in 0..<365 { try await bench.apply(try Self.day(day, perDay: perDay, random: &random)) }
        }
        return took.inSeconds
    }

    /// Loads a year of `transactions` in `directory`, then asks the dashboard `questions` times over distinct ranges
    /// and `questions` times over one.
    public static func run(transactions: Int, questions: Int, directory: String) async throws -> Report {
        let bench = try await Bench.open(directory: directory)
        let seconds = try await Self.load(bench, transactions: transactions, seed: 11)
        let start = CalendarDay(year: Self.year, month: 1, day: 1)!
        let clock = ContinuousClock()
        var uncached: [Duration] = [], cached: [Duration] = []
        for index in 0..<questions {
            // The year to date as of each day, latest first: each a question not asked before.
            let to = start.addingDays(364 - index % 365)
            uncached.append(try await clock.measure {
                _ = try await bench.desk.dashboard(tenantId: Self.tenantId, from: start, to: to, currency: nil)
            })
        }
        let year = start.addingDays(364)
        _ = try await bench.desk.dashboard(tenantId: Self.tenantId, from: start, to: year, currency: nil)
        for _ in 0..<questions {
            cached.append(try await clock.measure {
                _ = try await bench.desk.dashboard(tenantId: Self.tenantId, from: start, to: year, currency: nil)
            })
        }
        struct Count: Decodable { let n: Int }
        let rows = try await bench.database.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM analytics_facts").first(decoding: Count.self)?.n ?? 0
        }
        try await bench.database.shutdown()
        return Report(
            transactions: max(1, transactions / 365) * 365, factRows: rows, loadPerSecond: Double(max(1, transactions / 365) * 365) / seconds,
            uncached: Timing(uncached), cached: Timing(cached), questions: questions)
    }
}
