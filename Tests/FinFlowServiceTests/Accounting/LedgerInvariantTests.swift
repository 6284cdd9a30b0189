@testable import FinFlowAccounting
import FinFlowCore
import Foundation
import Testing

@Suite("accounting: invariants under random sequences and concurrency")
struct LedgerInvariantTests {
    @Test("seeded random postings, reversals, pending/post/void/expiry, batches and closes keep the books whole", arguments: [7, 42])
    func randomSequences(seed: Int) async throws {
        let harness = try await LedgerHarness.make()
        var random = SeededRandom(seed: UInt64(seed))
        let ledger = harness.ledger
        let principal = harness.principal
        let clerk = Principal(subject: "clerk", tenantId: harness.tenantId, roles: ["accountant"],
                              permissions: Set(Roles.permissions(of: ["accountant"])), sessionId: nil)
        var accounts: [String] = []
        for (index, type) in [AccountType.asset, .asset, .liability, .equity, .revenue, .expense].enumerated() {
            accounts.append(try await harness.account("T\(index)", type))
        }
        let wallet = try await harness.account("W1", .liability, constraint: .debitsMustNotExceedCredits)
        let cash = try await harness.account("W2", .asset, constraint: .creditsMustNotExceedDebits)
        accounts += [wallet, cash]
        var posted: [String] = []
        var pending: [String] = []
        var rejected = 0
        let days = ["2025-11-20", "2026-01-15", "2026-02-10", "2026-03-05", "2026-04-20"]
        for step in 0..<160 {
            let choice = Int.random(in: 0..<100, using: &random)
            let date = days.randomElement(using: &random)!
            do {
                switch choice {
                case 0..<40:
                    let count = Int.random(in: 2...4, using: &random)
                    var lines: [(String, Side, Int64)] = []
                    var total: Int64 = 0
                    for _ in 0..<(count - 1) {
                        let amount = Int64.random(in: 1...10_000, using: &random)
                        lines.append((accounts.randomElement(using: &random)!, .debit, amount))
                        total += amount
                    }
                    lines.append((accounts.randomElement(using: &random)!, .credit, total))
                    let actor = Bool.random(using: &random) ? principal : clerk
                    let records = try await ledger.submit([try LedgerHarness.request(lines.shuffled(using: &random), date: date)], principal: actor)
                    posted.append(records[0].entry.id)
                case 40..<50:
                    let batch = try (0..<Int.random(in: 2...6, using: &random)).map { _ in
                        let amount = Int64.random(in: 1...5_000, using: &random)
                        return try LedgerHarness.request(
                            [(accounts.randomElement(using: &random)!, .debit, amount), (accounts.randomElement(using: &random)!, .credit, amount)],
                            date: date)
                    }
                    posted += try await ledger.submit(batch, principal: principal).map(\.entry.id)
                case 50..<65:
                    let amount = Int64.random(in: 1...8_000, using: &random)
                    let records = try await ledger.submit(
                        [try LedgerHarness.request(
                            [(accounts.randomElement(using: &random)!, .debit, amount), (accounts.randomElement(using: &random)!, .credit, amount)],
                            date: date, mode: .pending, timeoutSeconds: Int64.random(in: 10...600, using: &random))],
                        principal: principal)
                    pending.append(records[0].entry.id)
                case 65..<75:
                    guard let id = pending.randomElement(using: &random) else { continue }
                    let partial = Bool.random(using: &random)
                    let record = try await ledger.entry(principal: principal, id: id)
                    let share = partial ? Int64.random(in: 1...max(record.lines[0].amountMinor, 1), using: &random) : nil
                    let amounts = share.map { [1: $0, 2: $0] } ?? [:]
                    posted.append(try await ledger.postEntry(principal: principal, id: id, amounts: amounts, date: nil, newId: nil).entry.id)
                case 75..<80:
                    guard let id = pending.randomElement(using: &random) else { continue }
                    _ = try await ledger.voidPending(principal: principal, id: id)
                case 80..<90:
                    guard let id = posted.randomElement(using: &random) else { continue }
                    posted.append(try await ledger.reverse(principal: principal, id: id, date: LedgerDate("2026-04-30"), description: nil, newId: nil).entry.id)
                case 90..<96:
                    if Bool.random(using: &random) {
                        // A year closes only without pending entries: resolve them first, as a bookkeeper would.
                        for id in pending { _ = try? await ledger.voidPending(principal: principal, id: id) }
                        pending = []
                        _ = try await ledger.closeYear(principal: principal, year: 2025)
                    } else {
                        _ = try await ledger.reopenYear(principal: principal, year: 2025)
                    }
                case 96..<98:
                    let period = String(days.randomElement(using: &random)!.prefix(7))
                    let status: PeriodStatus = Bool.random(using: &random) ? .closed : .open
                    _ = try await ledger.setPeriod(principal: principal, key: period, to: status)
                default:
                    harness.sut.clock.advance(seconds: Double(Int.random(in: 1...300, using: &random)))
                    try await ledger.expirePending()
                }
            } catch let error as AppError {
                #expect(error.kind != .unavailable, "step \(step): \(error)")
                rejected += 1
            }
            try await harness.checkInvariants("seed \(seed) step \(step)")
        }
        #expect(posted.count > 40, "too few postings succeeded to exercise the ledger")
        let closingLines = try await harness.database.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM journal_lines WHERE source = 'close' AND state = 'posted'")
                .first(decoding: LedgerHarness.Count.self)?.n ?? 0
        }
        #expect(closingLines > 0, "the sequence never posted a closing entry")
        #expect(rejected > 5, "the sequence never hit a rejection")
        try await harness.close()
    }

    @Test("32 concurrent posters over 10 constrained accounts: no constraint broken, no update lost")
    func concurrentPosters() async throws {
        let harness = try await LedgerHarness.make()
        let ledger = harness.ledger
        let principal = harness.principal
        let equity = try await harness.account("E1", .equity)
        var wallets: [String] = []
        for index in 0..<10 {
            wallets.append(try await harness.account("C\(index)", .liability, constraint: .debitsMustNotExceedCredits))
        }
        _ = try await ledger.submit(
            try wallets.map { try LedgerHarness.request([(equity, .debit, 1_000), ($0, .credit, 1_000)]) }, principal: principal)
        let results = try await withThrowingTaskGroup(of: [(String, String, Int64)].self) { group in
            for poster in 0..<32 {
                let wallets = wallets
                group.addTask {
                    var random = SeededRandom(seed: UInt64(poster + 1))
                    var done: [(String, String, Int64)] = []
                    for _ in 0..<15 {
                        let from = wallets.randomElement(using: &random)!
                        var to = wallets.randomElement(using: &random)!
                        while to == from { to = wallets.randomElement(using: &random)! }
                        let amount = Int64.random(in: 1...400, using: &random)
                        do {
                            _ = try await ledger.submit([try LedgerHarness.request([(from, .debit, amount), (to, .credit, amount)])], principal: principal)
                            done.append((from, to, amount))
                        } catch let error as AppError where error.code == "insufficient-funds" {
                            continue
                        }
                    }
                    return done
                }
            }
            var all: [(String, String, Int64)] = []
            for try await done in group { all += done }
            return all
        }
        var expected = Dictionary(uniqueKeysWithValues: wallets.map { ($0, Int64(1_000)) })
        for (from, to, amount) in results {
            expected[from]! -= amount
            expected[to]! += amount
        }
        for wallet in wallets {
            let account = try await ledger.account(principal: principal, id: wallet)
            #expect(account.postedBalanceMinor == expected[wallet], "a concurrent update was lost on \(account.code)")
            #expect(account.postedBalanceMinor >= 0)
        }
        #expect(results.count > 100, "too few transfers succeeded")
        #expect(expected.values.reduce(0, +) == 10_000)
        let commits = try #require(await ledger.committer?.commits)
        #expect(commits < 32 * 15, "concurrent postings never shared a commit (\(commits) commits)")
        try await harness.checkInvariants("after concurrent posting")

        // Sixteen identical requests racing with one client id: one entry, sixteen answers naming it; the same id
        // with other content is refused.
        let id = UUID().uuidString.lowercased()
        let same = try LedgerHarness.request([(equity, .debit, 5), (wallets[0], .credit, 5)], id: id)
        let answers = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<16 { group.addTask { try await ledger.submit([same], principal: principal)[0].entry.id } }
            var ids: [String] = []
            for try await answer in group { ids.append(answer) }
            return ids
        }
        #expect(answers == Array(repeating: id, count: 16))
        let other = try LedgerHarness.request([(equity, .debit, 6), (wallets[0], .credit, 6)], id: id)
        await #expect(throws: AppError.self) { _ = try await ledger.submit([other], principal: principal) }
        let account = try await ledger.account(principal: principal, id: wallets[0])
        #expect(account.postedBalanceMinor == expected[wallets[0]]! + 5, "a racing retry was posted twice")
        try await harness.checkInvariants("after racing retries")
        try await harness.close()
    }

    @Test("a period does not close under a posting that found it open: the close waits for its commit")
    func closeWaitsForPosting() async throws {
        let harness = try await LedgerHarness.make()
        let ledger = harness.ledger
        let principal = harness.principal
        let cash = try await harness.account("P1", .asset), sales = try await harness.account("P4", .revenue)
        let entry = try LedgerHarness.request([(cash, .debit, 50), (sales, .credit, 50)], date: "2026-05-20")
        let events = EventLog()
        // The posting checks the period, then stays in its transaction a while before it commits.
        let posting = Task {
            do {
                try await harness.database.tenantTransaction(tenantId: harness.tenantId) { db in
                    _ = try await ledger.submit([entry], principal: principal, batchId: nil, on: db)
                    events.append("checked")
                    try await Task.sleep(for: .milliseconds(600))
                    events.append("committing")
                }
            } catch {
                events.append("failed")
                throw error
            }
        }
        // Waits for the check, or for the posting's failure, which `posting.value` then reports.
        while !events.contains("checked"), !events.contains("failed") { try await Task.sleep(for: .milliseconds(5)) }
        if events.contains("failed") { try await posting.value }
        _ = try await ledger.setPeriod(principal: principal, key: "2026-05", to: .closed)
        events.append("closed")
        try await posting.value
        #expect(events.all == ["checked", "committing", "closed"], "the period closed while a posting into it was open")
        // Closed now: a posting without periods:reopen is refused, and the one that went first is in the books.
        let clerk = Principal(subject: "clerk", tenantId: harness.tenantId, roles: ["accountant"], permissions: [Permissions.post], sessionId: nil)
        await #expect { _ = try await ledger.submit([entry], principal: clerk) } throws: { ($0 as? AppError)?.code == "period-closed" }
        #expect(try await ledger.account(principal: principal, id: cash).postedBalanceMinor == 50)
        try await harness.close()
    }
}

/// What happened, in order, across tasks.
private final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [String] = []

    func append(_ event: String) { self.lock.withLock { self.events.append(event) } }
    func contains(_ event: String) -> Bool { self.lock.withLock { self.events.contains(event) } }
    var all: [String] { self.lock.withLock { self.events } }
}
