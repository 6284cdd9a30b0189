import FinFlowCore
import Foundation

/// Reads OFX bank statements: OFX 1.x (SGML, leaf elements without closing tags) and OFX 2.x (XML) alike. Each
/// `<STMTTRN>` aggregate is a line; `<CURDEF>` is the statement's currency.
enum OFXStatement {
    /// The leaf elements of an aggregate's text: `<NAME>value`, the value ending at the next tag or line break.
    static func leaves(_ text: Substring) -> [String: String] {
        var values: [String: String] = [:]
        var rest = text
        while let open = rest.firstIndex(of: "<") {
            guard let close = rest[open...].firstIndex(of: ">") else { break }
            let name = rest[rest.index(after: open)..<close]
            rest = rest[rest.index(after: close)...]
            guard !name.hasPrefix("/"), !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" }) else { continue }
            let end = rest.firstIndex { $0 == "<" || $0.isNewline } ?? rest.endIndex
            let value = rest[..<end].trimmingCharacters(in: .whitespaces)
            if !value.isEmpty, values[name.uppercased()] == nil { values[name.uppercased()] = StatementText.decodeEntities(value) }
        }
        return values
    }

    /// The date of an OFX date-time (`YYYYMMDD[HHMMSS[.XXX]][[-5:EST]]`).
    static func date(_ text: String) -> ValueDate? {
        let digits = text.prefix(8)
        guard digits.count == 8, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return ValueDate("\(digits.prefix(4))-\(digits.dropFirst(4).prefix(2))-\(digits.suffix(2))")
    }

    /// Reads `text`; amounts in `exponent` decimals unless the file's currency says otherwise.
    static func parse(_ text: String, exponent: Int) throws -> ParsedStatement {
        guard text.range(of: "<OFX>", options: .caseInsensitive) != nil else {
            throw StatementText.invalid("the file is not OFX: it has no <OFX> element")
        }
        var statement = ParsedStatement()
        var lineExponent = exponent
        if let range = text.range(of: "<CURDEF>", options: .caseInsensitive) {
            let code = text[range.upperBound...].prefix { $0.isLetter }.uppercased()
            guard let currency = Currency(code: code) else { throw StatementText.invalid("<CURDEF> '\(code.prefix(8))' is not an ISO 4217 currency") }
            statement.currency = currency.code
            lineExponent = currency.exponent ?? exponent
        }
        var searchFrom = text.startIndex
        var line = 1
        var counted = text.startIndex
        // Looked up once: searching for it from every transaction would scan the rest of the file each time.
        let listEnd = text.range(of: "</BANKTRANLIST>", options: [.caseInsensitive, .backwards])?.lowerBound ?? text.endIndex
        while let start = text.range(of: "<STMTTRN>", options: .caseInsensitive, range: searchFrom..<text.endIndex) {
            line += text[counted..<start.lowerBound].filter(\.isNewline).count
            counted = start.lowerBound
            // Every search stops at the next transaction, so the file is read once however many transactions it holds.
            let bound = listEnd > start.upperBound ? listEnd : text.endIndex
            let next = text.range(of: "<STMTTRN>", options: .caseInsensitive, range: start.upperBound..<bound)?.lowerBound ?? bound
            let end = text.range(of: "</STMTTRN>", options: .caseInsensitive, range: start.upperBound..<next)
            let stop = end?.lowerBound ?? next
            let values = Self.leaves(text[start.upperBound..<stop])
            searchFrom = end?.upperBound ?? next
            func fail(_ reason: String) { statement.lines.append(.failure(StatementLineError(line: line, reason: reason))) }
            guard let posted = values["DTPOSTED"], let day = Self.date(posted) else {
                fail("DTPOSTED '\(values["DTPOSTED"]?.prefix(32) ?? "")' is not an OFX date")
                continue
            }
            guard let amountText = values["TRNAMT"], let minor = StatementText.minorUnits(amountText.contains(".") ? amountText : amountText.replacingOccurrences(of: ",", with: "."), exponent: lineExponent) else {
                fail("TRNAMT '\(values["TRNAMT"]?.prefix(32) ?? "")' is not an amount with at most \(lineExponent) decimals")
                continue
            }
            guard minor != 0 else { fail("the amount is zero"); continue }
            statement.lines.append(.success(StatementLine(
                line: line, date: day, amountMinor: minor, currency: nil,
                description: values["MEMO"] ?? values["NAME"], counterparty: values["NAME"] ?? values["PAYEE"], counterpartyCountry: nil,
                counterpartyAccount: values["ACCTID"], reference: values["REFNUM"] ?? values["CHECKNUM"], bankId: values["FITID"])))
        }
        return statement
    }
}
