import Foundation

/// Reads CSV text (RFC 4180: quoted fields, doubled quotes, line breaks inside quotes), as bank statements and
/// uploaded lists come.
public enum CSVRecords {
    /// One field written for CSV (RFC 4180): quoted when it holds a comma, quote or line break; a leading `=`, `+`,
    /// `@`, tab or carriage return is prefixed with `'` so spreadsheets keep the cell as text instead of evaluating it.
    public static func field(_ text: String) -> String {
        var value = text
        if let first = value.first, "=+@\t\r".contains(first) { value = "'" + value }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// A quoted field still open at the end of the text, from the record starting on `line`.
    public struct UnclosedQuote: Error, Equatable {
        public let line: Int
    }

    /// The records of `text`, each with the line it starts on.
    public static func read(_ text: String, delimiter: Character) throws -> [(line: Int, fields: [String])] {
        try self.readNullable(text, delimiter: delimiter).compactMap { record in
            let fields = record.fields.map { $0 ?? "" }
            return fields == [""] ? nil : (record.line, fields)
        }
    }

    /// The records of `text` where an empty field written without quotes is nil and `""` is the empty text, the
    /// convention PostgreSQL's CSV format uses to tell NULL from an empty string.
    public static func readNullable(_ text: String, delimiter: Character) throws -> [(line: Int, fields: [String?])] {
        var records: [(Int, [String?])] = []
        var fields: [String?] = []
        var field = ""
        var wasQuoted = false
        var quoted = false
        var line = 1
        var recordLine = 1
        var iterator = text.makeIterator()
        var pending: Character? = nil
        func next() -> Character? {
            if let c = pending { pending = nil; return c }
            return iterator.next()
        }
        func endField() {
            fields.append(field.isEmpty && !wasQuoted ? nil : field)
            field = ""
            wasQuoted = false
        }
        func endRecord() {
            endField()
            if !(fields.count == 1 && fields[0] == nil) { records.append((recordLine, fields)) }
            fields = []
        }
        while let c = next() {
            if quoted {
                if c == "\"" {
                    if let following = next() {
                        if following == "\"" { field.append("\"") } else { quoted = false; pending = following }
                    } else { quoted = false }
                } else {
                    if c.isNewline { line += 1 }
                    field.append(c)
                }
                continue
            }
            if c == "\"" && field.isEmpty {
                quoted = true
                wasQuoted = true
            } else if c == delimiter {
                endField()
            } else if c.isNewline {
                endRecord()
                line += 1
                recordLine = line
            } else {
                field.append(c)
            }
        }
        guard !quoted else { throw UnclosedQuote(line: recordLine) }
        if !field.isEmpty || wasQuoted || !fields.isEmpty { endRecord() }
        return records
    }
}
