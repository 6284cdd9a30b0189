import Foundation

#if canImport(FoundationXML)
import FoundationXML
#endif

/// One entry of a sanctions list, as screening compares it.
public struct ListEntry: Sendable, Equatable {
    /// The list's own id of the entry (the UN's `DATAID`).
    public let id: String
    /// The list's reference (`QDi.001`, `KPe.012`).
    public let reference: String
    /// `individual` or `entity`.
    public let kind: String
    public let subject: ScreeningSubject
    /// The UN sanctions regime (`Al-Qaida`, `DPRK`…).
    public let regime: String
    public let listedOn: String?

    public init(id: String, reference: String, kind: String, subject: ScreeningSubject, regime: String, listedOn: String?) {
        self.id = id
        self.reference = reference
        self.kind = kind
        self.subject = subject
        self.regime = regime
        self.listedOn = listedOn
    }
}

/// The UN Security Council Consolidated List in its published XML form: individuals (names in up to four parts,
/// aliases, dates or years of birth) and entities (name and aliases).
public enum UNConsolidatedList {
    /// The list's entries; a document that is not the UN's format is an error naming where it failed.
    public static func parse(_ data: Data) throws -> [ListEntry] {
        let delegate = Reader()
        let parser = XMLParser(data: data)
        parser.delegate = delegate
        guard parser.parse() else {
            throw ListFormatError(detail: "the XML is not well formed at line \(parser.lineNumber): \(parser.parserError.map { "\($0)" } ?? "unknown error")")
        }
        guard delegate.sawRoot else { throw ListFormatError(detail: "no CONSOLIDATED_LIST element: not the UN's format") }
        return delegate.entries
    }

    /// The copy shipped with the product (generated 2020-11-24; see Resources/lists/SOURCE.md).
    public static func bundled() throws -> [ListEntry] {
        try Self.bundledData().entries
    }

    /// The shipped copy's bytes (for its checksum) and its entries.
    public static func bundledData() throws -> (data: Data, entries: [ListEntry]) {
        guard let url = Bundle.module.url(forResource: "un-consolidated-2020-11-24", withExtension: "xml", subdirectory: "Resources/lists") else {
            throw ListFormatError(detail: "the bundled UN list is missing from the build")
        }
        let data = try Data(contentsOf: url)
        return (data, try Self.parse(data))
    }

    private final class Reader: NSObject, XMLParserDelegate {
        var entries: [ListEntry] = []
        var sawRoot = false
        private var kind: String?
        private var fields: [String: String] = [:]
        private var names: [String] = []
        private var births: [String] = []
        private var text = ""

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String]) {
            switch name {
            case "CONSOLIDATED_LIST": self.sawRoot = true
            case "INDIVIDUAL", "ENTITY":
                self.kind = name == "INDIVIDUAL" ? "individual" : "entity"
                self.fields = [:]
                self.names = []
                self.births = []
            default: break
            }
            self.text = ""
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { self.text += string }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            let value = self.text.trimmingCharacters(in: .whitespacesAndNewlines)
            self.text = ""
            guard let kind = self.kind else { return }
            switch name {
            case "DATAID", "FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME", "UN_LIST_TYPE", "REFERENCE_NUMBER", "LISTED_ON":
                if self.fields[name] == nil { self.fields[name] = value }
            case "ALIAS_NAME": if !value.isEmpty { self.names.append(value) }
            case "DATE", "YEAR": if !value.isEmpty { self.births.append(String(value.prefix(10))) }
            case "INDIVIDUAL", "ENTITY":
                let primary = ["FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME"].compactMap { self.fields[$0] }.filter { !$0.isEmpty }
                    .joined(separator: " ")
                let names = ([primary] + self.names).filter { !$0.isEmpty }
                if let id = self.fields["DATAID"], !names.isEmpty {
                    self.entries.append(ListEntry(
                        id: id, reference: self.fields["REFERENCE_NUMBER"] ?? "", kind: kind,
                        subject: ScreeningSubject(names: names, birthDate: self.births.count == 1 ? self.births[0] : nil),
                        regime: self.fields["UN_LIST_TYPE"] ?? "", listedOn: self.fields["LISTED_ON"]))
                }
                self.kind = nil
            default: break
            }
        }
    }
}

/// A list document that could not be read, with where and why.
public struct ListFormatError: Error, Equatable {
    public let detail: String
}
