import FinFlowCore
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Reads ISO 20022 camt.053 bank-to-customer statements (any version from .001.02): each booked `<Ntry>` is a line,
/// its amount signed by `<CdtDbtInd>`, the counterparty the debtor of money in and the creditor of money out.
enum Camt053Statement {
    /// Reads `text`. Documents with a DTD are refused: a statement needs none, and entity expansion is a hazard.
    static func parse(_ text: String, exponent: Int) throws -> ParsedStatement {
        guard text.range(of: "<!DOCTYPE", options: .caseInsensitive) == nil, text.range(of: "<!ENTITY", options: .caseInsensitive) == nil else {
            throw StatementText.invalid("the statement carries a DTD; camt.053 documents have none")
        }
        let reader = Reader(exponent: exponent)
        let parser = XMLParser(data: Data(text.utf8))
        parser.shouldResolveExternalEntities = false
        parser.delegate = reader
        guard parser.parse(), !reader.malformed, reader.path.isEmpty else {
            throw StatementText.invalid("the statement is not well-formed XML (line \(parser.lineNumber))")
        }
        guard reader.sawStatement else { throw StatementText.invalid("the document has no BkToCstmrStmt/Stmt: it is not a camt.053 statement") }
        return reader.statement
    }

    /// The XML parser's delegate: follows the element path and collects each entry's fields.
    private final class Reader: NSObject, XMLParserDelegate {
        let exponent: Int
        var statement = ParsedStatement()
        var sawStatement = false
        var path: [String] = []
        var text = ""
        var entry: [String: String]?
        var entryLine = 0
        var entryCurrency: String?
        /// An end tag that closes another element than the one open (a parser that recovers would let it pass).
        var malformed = false

        init(exponent: Int) {
            self.exponent = exponent
        }

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName qName: String?,
                    attributes attributeDict: [String: String] = [:]) {
            let name = elementName.split(separator: ":").last.map(String.init) ?? elementName
            self.path.append(name)
            self.text = ""
            if name == "Stmt", self.path.contains("BkToCstmrStmt") { self.sawStatement = true }
            if name == "Ntry" {
                self.entry = [:]
                self.entryLine = parser.lineNumber
                self.entryCurrency = nil
            }
            if name == "Amt", self.entry != nil, self.path.dropLast().last == "Ntry" { self.entryCurrency = attributeDict["Ccy"] }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            self.text += string
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
            let name = elementName.split(separator: ":").last.map(String.init) ?? elementName
            guard self.path.last == name else {
                self.malformed = true
                parser.abortParsing()
                return
            }
            let value = self.text.trimmingCharacters(in: .whitespacesAndNewlines)
            self.text = ""
            defer { self.path.removeLast() }
            guard var entry = self.entry, let start = self.path.lastIndex(of: "Ntry") else {
                if self.path.suffix(3) == ["Stmt", "Acct", "Ccy"] { self.statement.currency = value.uppercased() }
                return
            }
            let relative = self.path[self.path.index(after: start)...].joined(separator: "/")
            if relative.isEmpty {
                self.finish(entry)
                self.entry = nil
                return
            }
            if !value.isEmpty, entry[relative] == nil { entry[relative] = value }
            self.entry = entry
        }

        /// The first value among `keys` that ends with one of the paths.
        func first(_ entry: [String: String], _ suffixes: [String]) -> String? {
            for suffix in suffixes {
                if let exact = entry[suffix] { return exact }
                if let match = entry.keys.sorted().first(where: { $0.hasSuffix("/" + suffix) }) { return entry[match] }
            }
            return nil
        }

        func finish(_ entry: [String: String]) {
            let line = self.entryLine
            func fail(_ reason: String) { self.statement.lines.append(.failure(StatementLineError(line: line, reason: reason))) }
            let status = entry["Sts"] ?? entry["Sts/Cd"]
            guard status == nil || status == "BOOK" else { return fail("the entry's status is \(status!.prefix(8)), not booked (BOOK)") }
            guard let dateText = entry["BookgDt/Dt"] ?? entry["BookgDt/DtTm"].map({ String($0.prefix(10)) }) ?? entry["ValDt/Dt"],
                let day = ValueDate(String(dateText.prefix(10)))
            else { return fail("the entry has no booking date (BookgDt/Dt)") }
            var exponent = self.exponent
            var currency: String?
            if let code = self.entryCurrency {
                guard let known = Currency(code: code.uppercased()) else { return fail("Amt/@Ccy '\(code.prefix(8))' is not an ISO 4217 currency") }
                currency = known.code
                exponent = known.exponent ?? exponent
            }
            guard let amountText = entry["Amt"], let minor = StatementText.minorUnits(amountText, exponent: exponent), minor > 0 else {
                return fail("Amt '\(entry["Amt"]?.prefix(32) ?? "")' is not a positive amount with at most \(exponent) decimals")
            }
            let indicator = entry["CdtDbtInd"]
            guard indicator == "CRDT" || indicator == "DBIT" else { return fail("CdtDbtInd must be CRDT or DBIT") }
            let incoming = indicator == "CRDT"
            let party = incoming ? "Dbtr" : "Cdtr"
            let name = self.first(entry, ["RltdPties/\(party)/Nm", "RltdPties/\(party)/Pty/Nm"])
            let country = self.first(entry, ["RltdPties/\(party)/PstlAdr/Ctry", "RltdPties/\(party)/Pty/PstlAdr/Ctry"])
            let account = self.first(entry, ["RltdPties/\(party)Acct/Id/IBAN", "RltdPties/\(party)Acct/Id/Othr/Id"])
            let remittance = self.first(entry, ["RmtInf/Ustrd"])
            let reference = self.first(entry, ["RmtInf/Strd/CdtrRefInf/Ref", "Refs/EndToEndId"]).flatMap { $0 == "NOTPROVIDED" ? nil : $0 }
            self.statement.lines.append(.success(StatementLine(
                line: line, date: day, amountMinor: incoming ? minor : -minor, currency: currency,
                description: remittance ?? entry["AddtlNtryInf"] ?? self.first(entry, ["AddtlTxInf"]), counterparty: name,
                counterpartyCountry: country, counterpartyAccount: account, reference: reference,
                bankId: entry["AcctSvcrRef"] ?? entry["NtryRef"] ?? self.first(entry, ["Refs/AcctSvcrRef"]))))
        }
    }
}
