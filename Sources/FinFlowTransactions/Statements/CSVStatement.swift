import FinFlowCore
import Foundation

/// How a CSV statement's columns map onto statement lines. Columns are named by header, or by 1-based position when
/// the file has no header.
struct CSVMapping: Sendable {
    enum DateFormat: String, Sendable, CaseIterable {
        case iso = "yyyy-MM-dd", dayMonthYear = "dd/MM/yyyy", monthDayYear = "MM/dd/yyyy", dotted = "dd.MM.yyyy", compact = "yyyyMMdd"
    }

    var delimiter: Character = ","
    var hasHeader = true
    var dateColumn: String
    var dateFormat: DateFormat = .iso
    var amountColumn: String?
    var debitColumn: String?
    var creditColumn: String?
    var decimalSeparator: Character = "."
    var descriptionColumn: String?
    var counterpartyColumn: String?
    var referenceColumn: String?
    var currencyColumn: String?

    /// Checks the mapping itself: one delimiter character, and either a signed amount or debit/credit columns.
    func validate() throws {
        var validator = Validator()
        validator.check(self.amountColumn != nil || (self.debitColumn != nil || self.creditColumn != nil), "csv.amountColumn",
                        "name amountColumn, or debitColumn and creditColumn")
        validator.check(!(self.amountColumn != nil && (self.debitColumn != nil || self.creditColumn != nil)), "csv.amountColumn",
                        "name amountColumn or debitColumn/creditColumn, not both")
        validator.check(self.delimiter != "\"" && !self.delimiter.isNewline && self.delimiter != self.decimalSeparator || self.delimiter == "\t",
                        "csv.delimiter", "must be one character other than a quote, a line break or the decimal separator")
        try validator.throwIfInvalid()
    }

    /// Parses one date in this mapping's format.
    func date(_ text: String) -> ValueDate? {
        let t = text.trimmingCharacters(in: .whitespaces)
        func parts(_ separator: Character) -> [Int]? {
            let pieces = t.split(separator: separator, omittingEmptySubsequences: false)
            guard pieces.count == 3, pieces.allSatisfy({ !$0.isEmpty && $0.count <= 4 && $0.allSatisfy { $0.isASCII && $0.isNumber } }) else { return nil }
            return pieces.compactMap { Int($0) }
        }
        switch self.dateFormat {
        case .iso: return ValueDate(t)
        case .dayMonthYear: return parts("/").flatMap { ValueDate(year: $0[2], month: $0[1], day: $0[0]) }
        case .monthDayYear: return parts("/").flatMap { ValueDate(year: $0[2], month: $0[0], day: $0[1]) }
        case .dotted: return parts(".").flatMap { ValueDate(year: $0[2], month: $0[1], day: $0[0]) }
        case .compact:
            guard t.count == 8, t.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return ValueDate("\(t.prefix(4))-\(t.dropFirst(4).prefix(2))-\(t.suffix(2))")
        }
    }
}

/// Reads CSV bank statements (RFC 4180: quoted fields, doubled quotes, line breaks inside quotes).
enum CSVStatement {
    /// The records of `text`, each with the line it starts on.
    static func records(_ text: String, delimiter: Character) throws -> [(line: Int, fields: [String])] {
        do {
            return try CSVRecords.read(text, delimiter: delimiter)
        } catch let error as CSVRecords.UnclosedQuote {
            throw StatementText.invalid("line \(error.line): a quoted field is not closed")
        }
    }

    /// Reads `text` with `mapping`; amounts in `exponent` decimals, or the exponent of each line's own currency.
    static func parse(_ text: String, mapping: CSVMapping, exponent: Int) throws -> ParsedStatement {
        try mapping.validate()
        let body = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        var records = try Self.records(body, delimiter: mapping.delimiter)
        var columns: [String: Int] = [:]
        if mapping.hasHeader {
            guard !records.isEmpty else { throw StatementText.invalid("the file has no header line") }
            let header = records.removeFirst().fields
            for (index, name) in header.enumerated() { columns[name.trimmingCharacters(in: .whitespaces).lowercased()] = index }
        }
        func index(_ name: String?, _ field: String) throws -> Int? {
            guard let name else { return nil }
            if let position = Int(name), !mapping.hasHeader || columns[name.lowercased()] == nil {
                guard position >= 1 else { throw AppError.validation([.init(field: "csv.\(field)", message: "positions start at 1")]) }
                return position - 1
            }
            guard let found = columns[name.trimmingCharacters(in: .whitespaces).lowercased()] else {
                throw AppError.validation([.init(field: "csv.\(field)", message: "the header has no column '\(name.prefix(64))'")])
            }
            return found
        }
        guard let date = try index(mapping.dateColumn, "dateColumn") else {
            throw AppError.validation([.init(field: "csv.dateColumn", message: "is required")])
        }
        let amount = try index(mapping.amountColumn, "amountColumn")
        let debit = try index(mapping.debitColumn, "debitColumn")
        let credit = try index(mapping.creditColumn, "creditColumn")
        let description = try index(mapping.descriptionColumn, "descriptionColumn")
        let counterparty = try index(mapping.counterpartyColumn, "counterpartyColumn")
        let reference = try index(mapping.referenceColumn, "referenceColumn")
        let currencyColumn = try index(mapping.currencyColumn, "currencyColumn")
        var statement = ParsedStatement()
        for (line, fields) in records {
            func value(_ column: Int?) -> String? {
                guard let column, column < fields.count else { return nil }
                let text = fields[column].trimmingCharacters(in: .whitespaces)
                return text.isEmpty ? nil : text
            }
            func fail(_ reason: String) { statement.lines.append(.failure(StatementLineError(line: line, reason: reason))) }
            guard let dateText = value(date), let day = mapping.date(dateText) else {
                fail("the date '\(value(date)?.prefix(32) ?? "")' is not \(mapping.dateFormat.rawValue)")
                continue
            }
            var currency: String?
            var lineExponent = exponent
            if let code = value(currencyColumn) {
                guard let known = Currency(code: code.uppercased()) else { fail("'\(code.prefix(8))' is not an ISO 4217 currency"); continue }
                currency = known.code
                lineExponent = known.exponent ?? exponent
            }
            func amountOf(_ column: Int?) -> Int64?? {
                guard let text = value(column) else { return .some(nil) }
                guard let minor = StatementText.minorUnits(text, exponent: lineExponent, decimalSeparator: mapping.decimalSeparator) else { return nil }
                return .some(minor)
            }
            var minor: Int64
            if amount != nil {
                guard let parsed = amountOf(amount), let signed = parsed else { fail("the amount '\(value(amount)?.prefix(32) ?? "")' is not a number with at most \(lineExponent) decimals"); continue }
                minor = signed
            } else {
                guard let out = amountOf(debit), let into = amountOf(credit) else { fail("the debit or credit is not a number with at most \(lineExponent) decimals"); continue }
                minor = (into ?? 0).magnitude == 0 ? -Int64((out ?? 0).magnitude) : Int64((into ?? 0).magnitude)
                if (out ?? 0) != 0 && (into ?? 0) != 0 { fail("the line has both a debit and a credit"); continue }
            }
            guard minor != 0 else { fail("the amount is zero"); continue }
            statement.lines.append(.success(StatementLine(
                line: line, date: day, amountMinor: minor, currency: currency, description: value(description),
                counterparty: value(counterparty), counterpartyCountry: nil, counterpartyAccount: nil, reference: value(reference), bankId: nil)))
        }
        return statement
    }
}
