import FinFlowCore
import Foundation

/// A sanctions or watch list in the product's own simple forms, for lists other than the UN's XML: CSV with a header
/// row (`id,kind,name` required; `aliases` separated by `;`, `birth_date`, `country`, `gender`, `program`,
/// `reference`, `listed_on` optional) or JSON entries of the same fields. Every entry is checked; a bad one is named
/// by its line (CSV) or index (JSON) and the list is refused whole.
public enum ListFile {
    /// The most entries one list may hold.
    public static let entriesMax = 1_000_000
    /// The most names (primary and aliases) an entry may have, and the longest name.
    public static let namesPerEntryMax = 50
    public static let nameLengthMax = 300
    static let idLengthMax = 128
    static let programLengthMax = 200

    static let columns = ["id", "kind", "name", "aliases", "birth_date", "country", "gender", "program", "reference", "listed_on"]

    /// One entry's fields as a file states them, before they are checked.
    public struct RawEntry: Sendable {
        public var id: String
        public var kind: String
        public var names: [String]
        public var birthDate: String?
        public var country: String?
        public var gender: String?
        public var program: String?
        public var reference: String?
        public var listedOn: String?

        public init(
            id: String, kind: String, names: [String], birthDate: String? = nil, country: String? = nil, gender: String? = nil,
            program: String? = nil, reference: String? = nil, listedOn: String? = nil
        ) {
            self.id = id
            self.kind = kind
            self.names = names
            self.birthDate = birthDate
            self.country = country
            self.gender = gender
            self.program = program
            self.reference = reference
            self.listedOn = listedOn
        }
    }

    /// The entries of a CSV list; errors name the line and column.
    public static func csv(_ text: String) throws -> [ListEntry] {
        let records: [(line: Int, fields: [String])]
        do {
            records = try CSVRecords.read(text, delimiter: ",")
        } catch let error as CSVRecords.UnclosedQuote {
            throw ListFormatError(detail: "line \(error.line): a quoted field is not closed")
        }
        guard let header = records.first else { throw ListFormatError(detail: "the list is empty: expected a header row") }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        for name in names where !Self.columns.contains(name) {
            throw ListFormatError(detail: "line 1: unknown column '\(name.prefix(40))'; the columns are \(Self.columns.joined(separator: ", "))")
        }
        for required in ["id", "kind", "name"] where !names.contains(required) {
            throw ListFormatError(detail: "line 1: the column '\(required)' is missing")
        }
        guard Set(names).count == names.count else { throw ListFormatError(detail: "line 1: a column is named twice") }
        let raws = try records.dropFirst().map { record -> (String, RawEntry) in
            guard record.fields.count == names.count else {
                throw ListFormatError(detail: "line \(record.line): \(record.fields.count) fields where the header has \(names.count)")
            }
            var value: [String: String] = [:]
            for (name, field) in zip(names, record.fields) {
                let trimmed = field.trimmingCharacters(in: .whitespaces)
                if !trimmed.isEmpty { value[name] = trimmed }
            }
            let aliases = (value["aliases"] ?? "").split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return ("line \(record.line)", RawEntry(
                id: value["id"] ?? "", kind: value["kind"] ?? "", names: [value["name"] ?? ""] + aliases, birthDate: value["birth_date"],
                country: value["country"], gender: value["gender"], program: value["program"], reference: value["reference"],
                listedOn: value["listed_on"]))
        }
        return try Self.entries(raws)
    }

    /// Checked entries from raw ones, each labelled by where it stands (`line 4`, `entries[3]`) for the errors.
    public static func entries(_ raws: [(String, RawEntry)]) throws -> [ListEntry] {
        guard !raws.isEmpty else { throw ListFormatError(detail: "the list has no entries") }
        guard raws.count <= Self.entriesMax else { throw ListFormatError(detail: "the list has more than \(Self.entriesMax) entries") }
        var seen = Set<String>()
        return try raws.map { label, raw in
            let entry = try Self.entry(raw, label: label)
            guard seen.insert(entry.id).inserted else { throw ListFormatError(detail: "\(label): the id '\(entry.id)' is used twice") }
            return entry
        }
    }

    /// One checked entry.
    static func entry(_ raw: RawEntry, label: String) throws -> ListEntry {
        func fail(_ field: String, _ reason: String) -> ListFormatError { ListFormatError(detail: "\(label): \(field) \(reason)") }
        guard (1...Self.idLengthMax).contains(raw.id.count) else { throw fail("id", "must be 1–\(Self.idLengthMax) characters") }
        guard ["individual", "entity"].contains(raw.kind) else { throw fail("kind", "must be individual or entity") }
        guard (1...Self.namesPerEntryMax).contains(raw.names.count) else { throw fail("names", "must be 1–\(Self.namesPerEntryMax)") }
        for name in raw.names where name.isEmpty || name.count > Self.nameLengthMax {
            throw fail("name", "must be 1–\(Self.nameLengthMax) characters")
        }
        guard raw.names.contains(where: { !NameText.tokens($0).isEmpty }) else { throw fail("name", "has no letters to compare") }
        if let date = raw.birthDate, !Self.isPartialDate(date) { throw fail("birth_date", "must be YYYY, YYYY-MM or YYYY-MM-DD") }
        if let country = raw.country, !Self.isCountry(country) { throw fail("country", "must be an ISO 3166-1 alpha-2 code") }
        if let gender = raw.gender, !["male", "female"].contains(gender) { throw fail("gender", "must be male or female") }
        if let program = raw.program, program.count > Self.programLengthMax { throw fail("program", "is too long") }
        if let reference = raw.reference, reference.count > Self.idLengthMax { throw fail("reference", "is too long") }
        if let listed = raw.listedOn, !(Self.isPartialDate(listed) && listed.count == 10) { throw fail("listed_on", "must be YYYY-MM-DD") }
        return ListEntry(
            id: raw.id, reference: raw.reference ?? raw.id, kind: raw.kind,
            subject: ScreeningSubject(names: raw.names, birthDate: raw.birthDate, country: raw.country, gender: raw.gender),
            regime: raw.program ?? "", listedOn: raw.listedOn)
    }

    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, each part in range.
    public static func isPartialDate(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count), parts[0].count == 4, parts.dropFirst().allSatisfy({ $0.count == 2 }),
            parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } })
        else { return false }
        let numbers = parts.compactMap { Int($0) }
        guard numbers.count == parts.count, (1800...2200).contains(numbers[0]) else { return false }
        if numbers.count >= 2 && !(1...12).contains(numbers[1]) { return false }
        if numbers.count == 3 {
            var components = DateComponents()
            components.year = numbers[0]
            components.month = numbers[1]
            components.day = numbers[2]
            let calendar = Calendar(identifier: .gregorian)
            guard components.day.map({ (1...31).contains($0) }) == true,
                let date = calendar.date(from: components), calendar.component(.day, from: date) == numbers[2]
            else { return false }
        }
        return true
    }

    /// Two upper-case ASCII letters.
    public static func isCountry(_ text: String) -> Bool {
        text.utf8.count == 2 && text.utf8.allSatisfy { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
    }
}
