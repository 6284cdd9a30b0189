@testable import FinFlowTransactions
import Foundation
import Testing

@Suite("transactions: statement text")
struct StatementParserTests {
    @Test("amounts as banks write them become exact minor units, or nothing", arguments: [
        ("12.50", 2, ".", Int64?(1_250)), ("-12.5", 2, ".", -1_250), ("(1,234.56)", 2, ".", -123_456), ("1.234,56", 2, ",", 123_456),
        ("7", 0, ".", 7), ("1.2345", 2, ".", nil), ("1.2300", 2, ".", 123), ("12.", 2, ".", nil), (".5", 2, ".", 50), ("abc", 2, ".", nil),
        ("", 2, ".", nil), ("99999999999999999999", 2, ".", nil), ("0.125", 3, ".", 125), ("12.00-", 2, ".", -1_200),
    ] as [(String, Int, String, Int64?)])
    func amounts(text: String, exponent: Int, separator: String, expected: Int64?) {
        #expect(StatementText.minorUnits(text, exponent: exponent, decimalSeparator: Character(separator)) == expected, "\(text)")
    }

    @Test("CSV records: quotes, doubled quotes, delimiters and line breaks inside quotes, CRLF, a missing final newline")
    func csvRecords() throws {
        let records = try CSVStatement.records("a,\"b,c\",\"d \"\"e\"\"\"\r\n\"x\ny\",z\r\n\r\nlast,1", delimiter: ",")
        #expect(records.map(\.line) == [1, 2, 5])
        #expect(records.map(\.fields) == [["a", "b,c", "d \"e\""], ["x\ny", "z"], ["last", "1"]])
    }

    @Test("value dates exist or are refused; OFX dates keep their day")
    func dates() {
        #expect(ValueDate("2028-02-29")?.description == "2028-02-29")
        #expect(ValueDate("2026-02-29") == nil && ValueDate("2026-13-01") == nil && ValueDate("26-01-01") == nil && ValueDate("1899-12-31") == nil)
        #expect(ValueDate("2026-03-01")!.adding(days: -1).description == "2026-02-28")
        #expect(OFXStatement.date("20260302120000[-5:EST]")?.description == "2026-03-02")
        #expect(OFXStatement.date("2026-03-02") == nil)
        #expect(StatementText.decodeEntities("A &amp; B &lt;&#65;&#x42;&gt; &bogus; &") == "A & B <AB> &bogus; &")
    }

    @Test("a statement of the largest size is read line by line: OFX with its transactions unclosed, and CSV")
    func largeStatements() throws {
        let count = 5_000
        let transactions = (0..<count).map { "<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20260302<TRNAMT>-1,5<FITID>\($0)<NAME>Shop \($0)\n" }
        let ofx = try OFXStatement.parse("<OFX><CURDEF>EUR\n<BANKTRANLIST>\n" + transactions.joined() + "</BANKTRANLIST></OFX>", exponent: 2)
        #expect(ofx.lines.count == count && ofx.currency == "EUR")
        let last = try #require(try ofx.lines.last?.get())
        #expect(last.amountMinor == -150 && last.bankId == "\(count - 1)" && last.line == count + 2)
        let csv = "Date,Amount\n" + (0..<count).map { "2026-03-\(String(format: "%02d", $0 % 28 + 1)),\($0 + 1).25\n" }.joined()
        let parsed = try CSVStatement.parse(csv, mapping: { var m = CSVMapping(dateColumn: "Date"); m.amountColumn = "Amount"; return m }(), exponent: 2)
        #expect(parsed.lines.count == count && (try? parsed.lines[9].get().amountMinor) == 1_025)
    }
}
