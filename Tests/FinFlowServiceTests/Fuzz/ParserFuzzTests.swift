@testable import FinFlowAccounting
import FinFlowCore
@testable import FinFlowTransactions
import Foundation
import Testing

/// Every parser of outside files, fed thousands of seeded generated and mutated documents: each answer is a result or
/// a problem (an `AppError`), never a trap, and a result keeps the parser's promises. A case that fails names its seed
/// and index, so it can be run again alone.
@Suite("fuzzing: the import parsers answer a result or a problem, never a trap")
struct ParserFuzzTests {
    /// Cases per parser: enough to find the traps these parsers had, and a few seconds together.
    static let cases = 3_000
    static let seed: UInt64 = 0x5EED_F1F0

    /// The outcome of one parse: parsed, refused with a problem, or failed otherwise (a defect).
    enum Outcome {
        case parsed, refused, other(any Error)
    }

    static func outcome(_ body: () throws -> Void) -> Outcome {
        do {
            try body()
            return .parsed
        } catch is AppError {
            return .refused
        } catch {
            return .other(error)
        }
    }

    // MARK: hledger journals

    /// A journal of a few transactions written as people write them, with amounts at and beyond the edges.
    static func journal(_ random: inout Mutator) -> String {
        let accounts = ["assets:bank", "assets:cash", "expenses:food", "income:sales", "liabilities:card", "equity:opening"]
        let currencies = ["USD", "EUR", "BHD", "JPY", "$", "€"]
        var text = random.below(3) == 0 ? "account assets:bank  ; type: A\naccount income:sales  ; type: R\n\n" : ""
        for _ in 0..<(1 + random.below(4)) {
            let date = "20\(10 + random.below(20))-\(String(format: "%02d", 1 + random.below(12)))-\(String(format: "%02d", 1 + random.below(28)))"
            text += "\(date) \(random.pick(["*", "!", ""])) \(random.pick(["(INV-1)", ""])) \(random.pick(["Groceries", "Sale", "Über", ""]))\n"
            let currency = random.pick(currencies)
            let whole = random.pick(["1", "12", "1,234", "999999999999999", "0", "1000000000000000", String(random.next() % 1_000_000)])
            let fraction = random.pick(["", ".5", ".50", ".999", ".1234", "."])
            let amount = whole + fraction
            let written = currency.count == 1 ? "\(currency)\(amount)" : random.below(2) == 0 ? "\(amount) \(currency)" : "\(currency) \(amount)"
            let count = 1 + random.below(10)
            for _ in 0..<count { text += "    \(random.pick(accounts))  \(written)\n" }
            text += "    \(random.pick(accounts))\(random.below(4) == 0 ? "  \(currency == "$" ? "$" : "")-\(amount) \(currency.count == 1 ? "" : currency)" : "")\n\n"
        }
        return text
    }

    @Test("hledger: generated and mutated journals; a parsed one balances per currency within the ledger's amount bound")
    func hledger() {
        var random = Mutator(seed: Self.seed)
        var parsed = 0, refused = 0
        for index in 0..<Self.cases {
            let base = Self.journal(&random)
            let text = random.below(3) == 0 ? base : random.mutate(base)
            var result: HledgerParser?
            switch Self.outcome({ result = try HledgerParser.parse(text) }) {
            case .parsed: parsed += 1
            case .refused: refused += 1
            case .other(let error): Issue.record("case \(index): \(error)\n\(text)")
            }
            for transaction in result?.transactions ?? [] {
                var sums: [String: Int64] = [:]
                for posting in transaction.postings {
                    #expect(abs(posting.amountMinor) <= LedgerLimits.amountMinorMax, "case \(index)")
                    sums[posting.currency, default: 0] += posting.amountMinor
                }
                #expect(sums.values.allSatisfy { $0 == 0 }, "case \(index): \(text)")
            }
        }
        // Both sides must be reached, or the generator tests nothing.
        #expect(parsed > Self.cases / 20 && refused > Self.cases / 20, "parsed \(parsed), refused \(refused)")
    }

    @Test("hledger: the amounts that trapped the parser are refused naming their line", arguments: [
        ("USD 1½", 3), ("USD ٣.00", 3), ("USD 9223372036854775807", 3), ("BHD 999999999999999.9999", 3), ("USD -92233720368547758.08", 3),
    ])
    func hledgerTraps(amount: String, line: Int) throws {
        let text = "2026-01-05 Sale\n    assets:bank  10 USD\n    income:sales  \(amount)\n"
        #expect(throws: AppError.self) { try HledgerParser.parse(text) }
        do { _ = try HledgerParser.parse(text) } catch let error as AppError {
            #expect(error.message.hasPrefix("line \(line):"), "\(error.message)")
        }
    }

    @Test("hledger: postings whose sum leaves 64 bits are refused, not added")
    func hledgerSumOverflow() {
        let postings = String(repeating: "    assets:bank  BHD 999999999999999.999\n", count: 10)
        let text = "2026-01-05 Big\n" + postings + "    income:sales\n"
        #expect(throws: AppError.self) { try HledgerParser.parse(text) }
    }

    // MARK: bank statements

    static let mappings: [CSVMapping] = [
        CSVMapping(delimiter: ";", hasHeader: true, dateColumn: "Booking date", dateFormat: .dotted, debitColumn: "Debit", creditColumn: "Credit",
                   decimalSeparator: ",", descriptionColumn: "Purpose", counterpartyColumn: "Payee", referenceColumn: "Ref"),
        CSVMapping(delimiter: ",", hasHeader: false, dateColumn: "1", amountColumn: "4", descriptionColumn: "3"),
        CSVMapping(delimiter: "\t", hasHeader: true, dateColumn: "2", dateFormat: .compact, amountColumn: "5", currencyColumn: "6"),
    ]

    @Test("CSV: mutated statements under several mappings")
    func csv() {
        var random = Mutator(seed: Self.seed ^ 1)
        let bases = [StatementImportTests.csv, "2026-03-01,x,Coffee,-3.20\n2026-03-02,y,\"Rent, March\",-1200.00\n",
                     "h\tdate\th\th\tamount\tccy\nx\t20260301\ty\tz\t12.5\tEUR\n"]
        var parsed = 0
        for index in 0..<Self.cases {
            let text = random.mutate(random.pick(bases))
            let mapping = random.pick(Self.mappings)
            switch Self.outcome({ _ = try CSVStatement.parse(text, mapping: mapping, exponent: random.pick([0, 2, 3])) }) {
            case .parsed: parsed += 1
            case .refused: break
            case .other(let error): Issue.record("case \(index): \(error)\n\(text)")
            }
        }
        #expect(parsed > Self.cases / 10, "parsed \(parsed)")
    }

    @Test("OFX: mutated statements")
    func ofx() {
        var random = Mutator(seed: Self.seed ^ 2)
        var parsed = 0
        for index in 0..<Self.cases {
            let text = random.mutate(StatementImportTests.ofx)
            switch Self.outcome({ _ = try OFXStatement.parse(text, exponent: random.pick([0, 2, 3])) }) {
            case .parsed: parsed += 1
            case .refused: break
            case .other(let error): Issue.record("case \(index): \(error)\n\(text)")
            }
        }
        #expect(parsed > Self.cases / 10, "parsed \(parsed)")
    }

    @Test("camt.053: mutated statements")
    func camt053() {
        var random = Mutator(seed: Self.seed ^ 3)
        let base = StatementImportTests.camt(StatementImportTests.entries)
        var parsed = 0
        for index in 0..<Self.cases {
            let text = random.mutate(base)
            switch Self.outcome({ _ = try Camt053Statement.parse(text, exponent: random.pick([0, 2, 3])) }) {
            case .parsed: parsed += 1
            case .refused: break
            case .other(let error): Issue.record("case \(index): \(error)\n\(text)")
            }
        }
        #expect(parsed > Self.cases / 20, "parsed \(parsed)")
    }

    @Test("statement amounts: any text is an amount within 64 bits or nothing")
    func statementAmounts() {
        var random = Mutator(seed: Self.seed ^ 4)
        for _ in 0..<(Self.cases * 3) {
            let text = random.below(2) == 0 ? random.token() + random.token() : random.mutate(random.pick(["12.50", "(1,234.56)", "1.234,56", "12.00-"]))
            _ = StatementText.minorUnits(text, exponent: random.pick([0, 2, 3, 4]), decimalSeparator: random.pick([".", ","]))
            _ = StatementText.decodeEntities(text)
        }
    }
}
