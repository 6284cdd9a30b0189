import Crypto

/// A statement's shape: its SQL with every literal and parameter replaced by `?`, lists of them collapsed to one,
/// comments dropped and white space made single spaces. Statements that differ only in their values (a bound id, a
/// `LIMIT 50` written in, an `IN` list of any length, a multi-row `VALUES`) share a fingerprint, so their timings add
/// up to one figure, as PostgreSQL's `pg_stat_statements` does for its query ids.
public enum SQLFingerprint {
    /// The fingerprint of `sql`.
    public static func of(_ sql: String) -> String {
        let bytes = Array(sql.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(min(bytes.count, 4_096))
        var index = 0
        var pendingSpace = false

        func emit(_ byte: UInt8) {
            if pendingSpace, !out.isEmpty, byte != UInt8(ascii: ")"), byte != UInt8(ascii: ","), out.last != UInt8(ascii: "(") {
                out.append(UInt8(ascii: " "))
            }
            pendingSpace = false
            out.append(byte)
        }
        func emitPlaceholder() {
            emit(UInt8(ascii: "?"))
            Self.collapseList(&out)
        }

        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                pendingSpace = true
                index += 1
            case UInt8(ascii: "-") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "-"):
                while index < bytes.count && bytes[index] != UInt8(ascii: "\n") { index += 1 }
                pendingSpace = true
            case UInt8(ascii: "/") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "*"):
                index += 2
                while index + 1 < bytes.count && !(bytes[index] == UInt8(ascii: "*") && bytes[index + 1] == UInt8(ascii: "/")) { index += 1 }
                index = min(bytes.count, index + 2)
                pendingSpace = true
            case UInt8(ascii: "'"):
                // A string literal; '' inside it is a quote.
                index += 1
                while index < bytes.count {
                    if bytes[index] == UInt8(ascii: "'") {
                        if index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "'") { index += 2; continue }
                        break
                    }
                    index += 1
                }
                index += 1
                emitPlaceholder()
            case UInt8(ascii: "\""):
                // A quoted identifier: kept as written.
                emit(byte)
                index += 1
                while index < bytes.count && bytes[index] != UInt8(ascii: "\"") { out.append(bytes[index]); index += 1 }
                if index < bytes.count { out.append(bytes[index]); index += 1 }
            case _ where (byte == UInt8(ascii: "$") || byte == UInt8(ascii: "?")) && !Self.continuesWord(out, pendingSpace: pendingSpace):
                // `$1`, `?`, `?12`: a parameter.
                index += 1
                while index < bytes.count && Self.isDigit(bytes[index]) { index += 1 }
                emitPlaceholder()
            case _ where Self.isDigit(byte) && !Self.continuesWord(out, pendingSpace: pendingSpace):
                // A number: digits, a fraction, an exponent.
                while index < bytes.count && (Self.isDigit(bytes[index]) || bytes[index] == UInt8(ascii: ".")) { index += 1 }
                if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
                    var next = index + 1
                    if next < bytes.count, bytes[next] == UInt8(ascii: "+") || bytes[next] == UInt8(ascii: "-") { next += 1 }
                    if next < bytes.count, Self.isDigit(bytes[next]) {
                        index = next
                        while index < bytes.count && Self.isDigit(bytes[index]) { index += 1 }
                    }
                }
                emitPlaceholder()
            case UInt8(ascii: ")"):
                emit(byte)
                Self.collapseRows(&out)
                index += 1
            default:
                emit(byte)
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A short stable name for a fingerprint: 16 hex digits of its SHA-256, used as a metric label and in URLs.
    public static func id(_ fingerprint: String) -> String {
        SHA256.hash(data: Array(fingerprint.utf8)).prefix(8).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// Whether a digit or `$` at this point belongs to the word before it (`t1`, `col_2`, `a$1`) rather than starting a
    /// value.
    private static func continuesWord(_ out: [UInt8], pendingSpace: Bool) -> Bool {
        guard !pendingSpace, let last = out.last else { return false }
        return (last >= UInt8(ascii: "a") && last <= UInt8(ascii: "z")) || (last >= UInt8(ascii: "A") && last <= UInt8(ascii: "Z"))
            || Self.isDigit(last) || last == UInt8(ascii: "_") || last >= 0x80
    }

    /// `?, ?` at the end becomes `?`: a list of values of any length is one shape.
    private static func collapseList(_ out: inout [UInt8]) {
        let count = out.count
        let question = UInt8(ascii: "?"), comma = UInt8(ascii: ","), space = UInt8(ascii: " ")
        if count >= 4, out[count - 1] == question, out[count - 2] == space, out[count - 3] == comma, out[count - 4] == question {
            out.removeLast(3)
        } else if count >= 3, out[count - 1] == question, out[count - 2] == comma, out[count - 3] == question {
            out.removeLast(2)
        }
    }

    /// A group just closed that repeats the one before it (`(?, NULL), (?, NULL)`) is dropped: a multi-row `VALUES` of
    /// any row count is one shape.
    private static func collapseRows(_ out: inout [UInt8]) {
        guard let open = Self.groupStart(out, closingAt: out.count - 1) else { return }
        var separator = open
        if separator > 0 && out[separator - 1] == UInt8(ascii: " ") { separator -= 1 }
        guard separator > 0 && out[separator - 1] == UInt8(ascii: ",") else { return }
        var previousEnd = separator - 1
        if previousEnd > 0 && out[previousEnd - 1] == UInt8(ascii: " ") { previousEnd -= 1 }
        guard previousEnd > 0, out[previousEnd - 1] == UInt8(ascii: ")"),
            let previousOpen = Self.groupStart(out, closingAt: previousEnd - 1),
            out[previousOpen..<previousEnd].elementsEqual(out[open...])
        else { return }
        out.removeSubrange(previousEnd...)
    }

    /// Where the parenthesised group that closes at `close` opens.
    private static func groupStart(_ out: [UInt8], closingAt close: Int) -> Int? {
        var depth = 0
        var index = close
        while index >= 0 {
            if out[index] == UInt8(ascii: ")") { depth += 1 }
            if out[index] == UInt8(ascii: "(") {
                depth -= 1
                if depth == 0 { return index }
            }
            index -= 1
        }
        return nil
    }
}
