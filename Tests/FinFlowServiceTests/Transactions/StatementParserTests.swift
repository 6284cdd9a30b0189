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
}
