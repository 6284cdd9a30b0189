import FinFlowCore
import Foundation

/// One line of a bank statement: money in (positive) or out (negative) of the statement's account.
struct StatementLine: Sendable, Equatable {
    /// The line of the file where the statement line starts (1-based).
    let line: Int
    let date: ValueDate
    /// Signed, in minor units of `currency`: positive is money in.
    let amountMinor: Int64
    /// The line's currency when the file says; else the statement's.
    let currency: String?
    var description: String?
    var counterparty: String?
    var counterpartyCountry: String?
    var counterpartyAccount: String?
    var reference: String?
    /// The bank's own id of the line (OFX FITID, camt.053 AcctSvcrRef or NtryRef), when it gives one.
    var bankId: String?
}

/// A statement file read: its lines in order, each readable or not (with why), and its currency if it names one.
struct ParsedStatement: Sendable {
    var lines: [Result<StatementLine, StatementLineError>] = []
    var currency: String?
}

/// Why one statement line could not be read.
struct StatementLineError: Error, Sendable, Equatable {
    let line: Int
    let reason: String
}

/// Reading a statement's text.
enum StatementText {
    /// A whole file that is not a statement of its format.
    static func invalid(_ message: String) -> AppError {
        AppError.invalid(code: "invalid-statement", message)
    }

    /// Minor units of a decimal amount as banks write it: an optional sign (or parentheses for negatives), thousands
    /// separators, and at most `exponent` decimals (more are refused unless they are zeros). Nil when it is no amount.
    static func minorUnits(_ raw: String, exponent: Int, decimalSeparator: Character = ".") -> Int64? {
        var text = raw.trimmingCharacters(in: .whitespaces)
        var negative = false
        if text.hasPrefix("(") && text.hasSuffix(")") {
            negative = true
            text = String(text.dropFirst().dropLast())
        }
        if text.hasPrefix("-") || text.hasPrefix("+") {
            negative = negative || text.hasPrefix("-")
            text = String(text.dropFirst())
        }
        if text.hasSuffix("-") {
            negative = true
            text = String(text.dropLast())
        }
        let thousands: Set<Character> = decimalSeparator == "." ? [",", "'", " ", "\u{00A0}"] : [".", "'", " ", "\u{00A0}"]
        text.removeAll { thousands.contains($0) }
        let parts = text.split(separator: decimalSeparator, omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty || parts.count == 2,
            parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }), parts[0].count <= 18
        else { return nil }
        var fraction = parts.count == 2 ? String(parts[1]) : ""
        guard !(parts.count == 2 && fraction.isEmpty) else { return nil }
        while fraction.count > exponent, fraction.hasSuffix("0") { fraction.removeLast() }
        guard fraction.count <= exponent else { return nil }
        fraction += String(repeating: "0", count: exponent - fraction.count)
        guard let value = Int64((parts[0].isEmpty ? "0" : String(parts[0])) + fraction) else { return nil }
        return negative ? -value : value
    }

    /// Text with XML's five predefined entities and numeric character references decoded.
    static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var result = ""
        var rest = Substring(text)
        while let amp = rest.firstIndex(of: "&") {
            result += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";"), rest.distance(from: amp, to: semi) <= 10 else {
                result += "&"
                rest = rest[rest.index(after: amp)...]
                continue
            }
            let name = rest[rest.index(after: amp)..<semi]
            let named = ["amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'"]
            if let value = named[String(name)] {
                result += value
            } else if name.hasPrefix("#"), let code = name.hasPrefix("#x") ? UInt32(name.dropFirst(2), radix: 16) : UInt32(name.dropFirst()),
                let scalar = Unicode.Scalar(code)
            {
                result.unicodeScalars.append(scalar)
            } else {
                result += rest[amp...semi]
            }
            rest = rest[rest.index(after: semi)...]
        }
        return result + rest
    }

    /// `text` trimmed, nil when empty, cut to `max` characters.
    static func clean(_ text: String?, max: Int) -> String? {
        guard let text else { return nil }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            .unicodeScalars.filter { $0.properties.generalCategory != .control }.map(String.init).joined()
        return trimmed.isEmpty ? nil : String(trimmed.prefix(max))
    }
}
