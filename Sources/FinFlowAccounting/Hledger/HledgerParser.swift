import FinFlowCore
import Foundation

/// A transaction read from an hledger journal.
struct ParsedTransaction: Sendable {
    let line: Int
    let date: LedgerDate
    let description: String
    let code: String?
    let postings: [ParsedPosting]
}

/// One posting: an account path and a signed amount in minor units (debit positive).
struct ParsedPosting: Sendable {
    let account: String
    let amountMinor: Int64
    let currency: String
    let memo: String?
}

/// Reads the subset of hledger's journal format a ledger import needs: transactions with explicit or one elided
/// amount per commodity, `account` directives (for `type:` tags) and comments. Prices (`@`), virtual postings,
/// periodic and automated transactions and includes are refused with their line, as FinFlow would post them
/// differently than hledger reports them.
struct HledgerParser {
    /// The most transactions one import reads.
    static let transactionsMax = 200_000
    /// Currency symbols hledger journals commonly use.
    static let symbols: [String: String] = ["$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₣": "CHF"]

    private(set) var transactions: [ParsedTransaction] = []
    /// Account types declared with `account NAME  ; type: X`.
    private(set) var declaredTypes: [String: AccountType] = [:]

    static func failure(_ line: Int, _ message: String) -> AppError {
        AppError.invalid(code: "journal-invalid", "line \(line): \(message)", fields: [.init(field: "journal", message: "line \(line): \(message)")])
    }

    /// Parses `text`; throws `journal-invalid` naming the first bad line.
    static func parse(_ text: String) throws -> HledgerParser {
        var parser = HledgerParser()
        var header: (line: Int, date: LedgerDate, description: String, code: String?)?
        var postings: [(line: Int, account: String, amount: (Int64, String)?, memo: String?)] = []
        func flush() throws {
            guard let current = header else { return }
            parser.transactions.append(try Self.finish(current, postings))
            guard parser.transactions.count <= Self.transactionsMax else {
                throw Self.failure(current.line, "a journal may hold at most \(Self.transactionsMax) transactions per import")
            }
            header = nil
            postings = []
        }
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = raw.hasSuffix("\r") ? String(raw.dropLast()) : String(raw)
            let trimmed = line.trimmedBlanks
            if trimmed.isEmpty { try flush(); continue }
            if let first = line.first, first == " " || first == "\t" {
                if trimmed.hasPrefix(";") || trimmed.hasPrefix("#") { continue }
                guard header != nil else { throw Self.failure(number, "an indented line outside a transaction") }
                postings.append(try Self.posting(trimmed, line: number))
                continue
            }
            try flush()
            if [";", "#", "*", "%", "|"].contains(where: { trimmed.hasPrefix($0) }) { continue }
            if let first = trimmed.first, first.isASCII, first.isNumber {
                header = try Self.header(trimmed, line: number)
                continue
            }
            let word = trimmed.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
            switch word {
            case "account":
                let rest = String(trimmed.dropFirst("account".count)).trimmedBlanks
                let parts = rest.components(separatedBy: ";")
                let name = Self.accountName(parts[0])
                if parts.count > 1, let range = parts[1].range(of: "type:") {
                    let letter = parts[1][range.upperBound...].trimmedBlanks.prefix(1).uppercased()
                    let type: AccountType? = switch letter {
                    case "A", "C": .asset
                    case "L": .liability
                    case "E": .equity
                    case "R": .revenue
                    case "X": .expense
                    default: nil
                    }
                    if let type { parser.declaredTypes[name] = type }
                }
            case "commodity", "P", "D", "decimal-mark", "payee", "tag":
                continue
            default:
                throw Self.failure(number, "'\(word.prefix(20))' is not supported by the import (transactions, account and commodity directives are)")
            }
        }
        try flush()
        return parser
    }

    private static func header(_ text: String, line: Int) throws -> (line: Int, date: LedgerDate, description: String, code: String?) {
        var rest = Substring(text)
        let dateText = rest.prefix { !$0.isWhitespace && $0 != "=" }
        rest = rest.dropFirst(dateText.count)
        if rest.hasPrefix("=") { rest = rest.drop { !$0.isWhitespace } }
        let pieces = dateText.split { $0 == "-" || $0 == "/" || $0 == "." }
        guard pieces.count == 3, let year = Int(pieces[0]), let month = Int(pieces[1]), let day = Int(pieces[2]),
            let date = LedgerDate(year: year, month: month, day: day)
        else { throw Self.failure(line, "'\(dateText.prefix(20))' is not a full date (YYYY-MM-DD)") }
        rest = rest.drop { $0.isWhitespace }
        if rest.hasPrefix("*") || rest.hasPrefix("!") { rest = rest.dropFirst().drop { $0.isWhitespace } }
        var code: String?
        if rest.hasPrefix("("), let close = rest.firstIndex(of: ")") {
            code = String(rest[rest.index(after: rest.startIndex)..<close])
            rest = rest[rest.index(after: close)...].drop { $0.isWhitespace }
        }
        let description = rest.prefix { $0 != ";" }.trimmedBlanks
        return (line, date, description.isEmpty ? "Imported" : String(description.prefix(LedgerLimits.descriptionLengthMax)),
                code.map { String($0.prefix(LedgerLimits.referenceLengthMax)) })
    }

    static func accountName(_ text: String) -> String {
        // An account name ends at two spaces or a tab.
        var name = ""
        var previousSpace = false
        for character in text {
            if character == "\t" { break }
            if character == " " {
                if previousSpace { name.removeLast(); break }
                previousSpace = true
            } else {
                previousSpace = false
            }
            name.append(character)
        }
        return name.trimmedBlanks
    }

    private static func posting(_ text: String, line: Int) throws -> (line: Int, account: String, amount: (Int64, String)?, memo: String?) {
        var body = text
        var memo: String?
        if let semicolon = body.firstIndex(of: ";") {
            memo = body[body.index(after: semicolon)...].trimmedBlanks
            body = String(body[..<semicolon])
        }
        if body.hasPrefix("*") || body.hasPrefix("!") { body = String(body.dropFirst()).trimmedBlanks }
        let account = Self.accountName(body)
        guard !account.isEmpty else { throw Self.failure(line, "a posting needs an account") }
        if account.hasPrefix("(") || account.hasPrefix("[") { throw Self.failure(line, "virtual postings are not supported") }
        var amountText = String(body.dropFirst(account.count)).trimmedBlanks
        if let assertion = amountText.firstIndex(of: "=") { amountText = amountText[..<assertion].trimmedBlanks }
        if amountText.contains("@") { throw Self.failure(line, "prices (@) are not supported: post each currency against its trading account") }
        guard !amountText.isEmpty else { return (line, account, nil, memo?.nonEmpty) }
        return (line, account, try Self.amount(amountText, line: line), memo?.nonEmpty.map { String($0.prefix(LedgerLimits.referenceLengthMax)) })
    }

    /// Parses `-1,234.56 USD`, `USD -1234.56`, `$12.50`, `-$12` into minor units, refusing more decimals than the
    /// currency has.
    static func amount(_ text: String, line: Int) throws -> (Int64, String) {
        var number = ""
        var commodity = ""
        // Only ASCII digits are digits here: Swift calls `½` and `٣` numbers too, and neither is an amount.
        for character in text where !character.isWhitespace {
            if (character.isASCII && character.isNumber) || character == "." || character == "," || character == "-" || character == "+" {
                number.append(character)
            } else {
                commodity.append(character)
            }
        }
        let code = Self.symbols[commodity] ?? commodity.uppercased()
        guard let currency = Currency(code: code), let exponent = currency.exponent else {
            throw Self.failure(line, "'\(commodity.prefix(12))' is not an ISO 4217 currency")
        }
        var negative = false
        if number.hasPrefix("-") { negative = true; number.removeFirst() } else if number.hasPrefix("+") { number.removeFirst() }
        number.removeAll { $0 == "," }
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty || parts.count == 2, parts.allSatisfy({ $0.allSatisfy(\.isNumber) }),
            parts[0].count <= 15
        else { throw Self.failure(line, "'\(text.prefix(30))' is not an amount") }
        let fraction = parts.count == 2 ? String(parts[1]) : ""
        guard fraction.count <= exponent else { throw Self.failure(line, "\(code) has \(exponent) decimals; '\(text.prefix(30))' has more") }
        guard let whole = Int64(parts[0].isEmpty ? "0" : String(parts[0])),
            let padded = Int64(fraction + String(repeating: "0", count: exponent - fraction.count))
        else { throw Self.failure(line, "'\(text.prefix(30))' is not an amount") }
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: currency.minorUnitsPerMajor)
        let (minor, carried) = scaled.addingReportingOverflow(padded)
        guard !overflow, !carried, minor <= LedgerLimits.amountMinorMax else {
            throw Self.failure(line, "the amount is larger than \(LedgerLimits.amountMinorMax) minor units")
        }
        return (negative ? -minor : minor, code)
    }

    private static func finish(
        _ header: (line: Int, date: LedgerDate, description: String, code: String?),
        _ postings: [(line: Int, account: String, amount: (Int64, String)?, memo: String?)]
    ) throws -> ParsedTransaction {
        guard postings.count >= 2 else { throw Self.failure(header.line, "a transaction needs at least two postings") }
        var sums: [String: Int64] = [:]
        for posting in postings {
            guard let (value, currency) = posting.amount else { continue }
            let (sum, overflow) = (sums[currency] ?? 0).addingReportingOverflow(value)
            guard !overflow else { throw Self.failure(posting.line, "the postings in \(currency) add up to more than the largest amount") }
            sums[currency] = sum
        }
        let elided = postings.filter { $0.amount == nil }
        guard elided.count <= 1 else { throw Self.failure(header.line, "at most one posting may leave its amount out") }
        var result: [ParsedPosting] = []
        for posting in postings {
            if let (value, currency) = posting.amount {
                if value != 0 { result.append(ParsedPosting(account: posting.account, amountMinor: value, currency: currency, memo: posting.memo)) }
            } else {
                let open = sums.filter { $0.value != 0 }
                guard open.count == 1, let (currency, value) = open.first else {
                    throw Self.failure(posting.line, "the elided amount must balance exactly one currency")
                }
                guard value != .min, abs(value) <= LedgerLimits.amountMinorMax else {
                    throw Self.failure(posting.line, "the elided amount is larger than \(LedgerLimits.amountMinorMax) minor units")
                }
                result.append(ParsedPosting(account: posting.account, amountMinor: -value, currency: currency, memo: posting.memo))
                sums[currency] = 0
            }
        }
        if let off = sums.first(where: { $0.value != 0 }) {
            throw Self.failure(header.line, "the transaction does not balance in \(off.key)")
        }
        guard result.count >= 2 else { throw Self.failure(header.line, "a transaction needs at least two non-zero postings") }
        return ParsedTransaction(line: header.line, date: header.date, description: header.description, code: header.code, postings: result)
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs: the journal's blanks, trimmed without Foundation on
    /// the import's hot path.
    var trimmedBlanks: String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = self.firstIndex(where: { !blank($0) }), let last = self.lastIndex(where: { !blank($0) }) else { return "" }
        return String(self[first...last])
    }
}
