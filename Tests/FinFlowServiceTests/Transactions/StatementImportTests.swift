import FinFlowCore
import Foundation
import HummingbirdTesting
import Testing

@Suite("transactions: bank statement imports")
struct StatementImportTests {
    static func importing(_ desk: Desk, format: String, content: String, csv: [String: Any]? = nil, currency: String? = nil) async throws
        -> (status: Int, body: [String: Any])
    {
        var object: [String: Any] = [
            "format": format, "accountId": desk.accounts["1020"]!, "offsetAccountId": desk.accounts["6300"]!, "content": content,
        ]
        if let csv { object["csv"] = csv }
        if let currency { object["currency"] = currency }
        let response = try await desk.client.send(.post, "/v1/transactions/imports", json: Desk.json(object), token: desk.token)
        return (response.status, response.body)
    }

    static func rows(_ body: [String: Any]) -> [(line: Int, status: String, code: String?)] {
        (body["rows"] as? [[String: Any]] ?? []).map { ($0["line"] as! Int, $0["status"] as! String, $0["code"] as? String) }
    }

    static let csv = """
        Booking date;Payee;Purpose;Debit;Credit;Ref
        03.03.2026;"Grid Co";"Power, March";120,50;;R-1
        04.03.2026;"Client ""Big"" AG";"Invoice 17
        second line of the purpose";;1.250,00;R-2
        05.03.2026;Kiosk;Coffee;3,20;;
        05.03.2026;Kiosk;Coffee;3,20;;
        31.02.2026;Kiosk;Coffee;3,20;;
        06.03.2026;Kiosk;Coffee;3,205;;
        07.03.2026;Tehran Trading;Parts;10,00;;R-9

        """
    static var mapping: [String: Any] { [
        "delimiter": ";", "dateColumn": "Booking date", "dateFormat": "dd.MM.yyyy", "debitColumn": "Debit", "creditColumn": "Credit",
        "decimalSeparator": ",", "descriptionColumn": "Purpose", "counterpartyColumn": "Payee", "referenceColumn": "Ref",
    ] }

    @Test("CSV: mapped columns, quoted fields across lines, debit and credit columns; bad lines listed; a second import finds only duplicates")
    func csvImport() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let desk = try await Desk.open(client, sut)
            let first = try await Self.importing(desk, format: "csv", content: Self.csv, csv: Self.mapping)
            #expect(first.status == 201, "\(first.body)")
            #expect(first.body["created"] as? Int == 5 && first.body["invalid"] as? Int == 2 && first.body["duplicates"] as? Int == 0, "\(first.body)")
            let rows = Self.rows(first.body)
            #expect(rows.map(\.line) == [2, 3, 5, 6, 7, 8, 9])
            #expect(rows.filter { $0.status == "invalid" }.map(\.line) == [7, 8])
            let items = try await desk.list()
            let incoming = try #require(items.first { ($0["counterparty"] as? [String: Any])?["name"] as? String == #"Client "Big" AG"# })
            #expect(incoming["amount"] as? Int == 125_000 && incoming["kind"] as? String == "receipt")
            #expect(incoming["destinationAccountId"] as? String == desk.accounts["1020"])
            #expect((incoming["description"] as? String)?.contains("second line") == true)
            try await sut.deliver()
            #expect(try await desk.balance("1020") == 125_000 - 12_050 - 320 - 320 - 1_000)
            #expect(try await desk.balance("6300") == 12_050 + 320 + 320 + 1_000 - 125_000)

            let second = try await Self.importing(desk, format: "csv", content: Self.csv, csv: Self.mapping)
            #expect(second.status == 201)
            #expect(second.body["created"] as? Int == 0 && second.body["duplicates"] as? Int == 5 && second.body["invalid"] as? Int == 2, "\(second.body)")
            #expect(try await desk.list().count == 5)

            let unmapped = try await Self.importing(desk, format: "csv", content: Self.csv, csv: ["dateColumn": "When", "amountColumn": "Amount"])
            #expect(unmapped.status == 400, "\(unmapped.body)")
            let open = try await Self.importing(desk, format: "csv", content: "Date,Amount\n2026-03-01,\"5.00\n", csv: ["dateColumn": "Date", "amountColumn": "Amount"])
            #expect(open.status == 400 && open.body["code"] as? String == "invalid-statement")
            #expect(try await desk.list().count == 5)
        }
    }

    static let ofx = """
        OFXHEADER:100
        DATA:OFXSGML
        VERSION:102

        <OFX>
        <BANKMSGSRSV1><STMTTRNRS><STMTRS>
        <CURDEF>USD
        <BANKTRANLIST>
        <DTSTART>20260301
        <STMTTRN>
        <TRNTYPE>DEBIT
        <DTPOSTED>20260302120000[-5:EST]
        <TRNAMT>-42.10
        <FITID>2026030201
        <NAME>Office Depot
        <MEMO>Paper &amp; toner
        </STMTTRN>
        <STMTTRN>
        <TRNTYPE>CREDIT
        <DTPOSTED>20260303
        <TRNAMT>1500.00
        <FITID>2026030301
        <NAME>Customer Ltd
        </STMTTRN>
        <STMTTRN>
        <TRNTYPE>DEBIT
        <DTPOSTED>2026-03-04
        <TRNAMT>-1.00
        <FITID>2026030401
        </STMTTRN>
        <STMTTRN>
        <TRNTYPE>DEBIT
        <DTPOSTED>20260305
        <TRNAMT>-42.10
        <FITID>2026030201
        <NAME>Office Depot
        </STMTTRN>
        </BANKTRANLIST>
        </STMTRS></STMTTRNRS></BANKMSGSRSV1>
        </OFX>
        """

    @Test("OFX (SGML): each STMTTRN a line, FITID as the bank id; re-imports and repeated ids are duplicates")
    func ofxImport() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let desk = try await Desk.open(client, sut)
            let first = try await Self.importing(desk, format: "ofx", content: Self.ofx)
            #expect(first.status == 201, "\(first.body)")
            #expect(Self.rows(first.body).map(\.status) == ["created", "created", "invalid", "duplicate"], "\(first.body)")
            #expect(Self.rows(first.body).map(\.line) == [10, 18, 25, 31])
            let depot = try #require(try await desk.list("counterparty=office%20depot").first)
            #expect(depot["amount"] as? Int == 4_210 && depot["description"] as? String == "Paper & toner" && depot["valueDate"] as? String == "2026-03-02")
            #expect((depot["metadata"] as? [String: String])?["bankId"] == "2026030201")
            let again = try await Self.importing(desk, format: "ofx", content: Self.ofx)
            #expect(again.body["created"] as? Int == 0 && again.body["duplicates"] as? Int == 3)
            let notOFX = try await Self.importing(desk, format: "ofx", content: "<html>hello</html>")
            #expect(notOFX.status == 400 && notOFX.body["code"] as? String == "invalid-statement")
        }
    }

    static func camt(_ entries: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
          <BkToCstmrStmt>
            <GrpHdr><MsgId>MSG-1</MsgId><CreDtTm>2026-03-31T18:00:00</CreDtTm></GrpHdr>
            <Stmt>
              <Id>STMT-1</Id>
              <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>USD</Ccy></Acct>
        \(entries)
            </Stmt>
          </BkToCstmrStmt>
        </Document>
        """
    }

    static let entries = """
              <Ntry>
                <Amt Ccy="USD">2500.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
                <BookgDt><Dt>2026-03-10</Dt></BookgDt><ValDt><Dt>2026-03-11</Dt></ValDt><AcctSvcrRef>BANK-001</AcctSvcrRef>
                <NtryDtls><TxDtls>
                  <Refs><EndToEndId>E2E-17</EndToEndId></Refs>
                  <RltdPties><Dbtr><Pty><Nm>Müller &amp; Söhne GmbH</Nm><PstlAdr><Ctry>DE</Ctry></PstlAdr></Pty></Dbtr>
                    <DbtrAcct><Id><IBAN>DE02120300000000202051</IBAN></Id></DbtrAcct></RltdPties>
                  <RmtInf><Ustrd>Invoice 2026-17</Ustrd></RmtInf>
                </TxDtls></NtryDtls>
              </Ntry>
              <Ntry>
                <Amt Ccy="USD">80.25</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
                <BookgDt><Dt>2026-03-12</Dt></BookgDt><AcctSvcrRef>BANK-002</AcctSvcrRef>
                <NtryDtls><TxDtls><RltdPties><Cdtr><Nm>Pyongyang Supplies</Nm><PstlAdr><Ctry>KP</Ctry></PstlAdr></Cdtr></RltdPties></TxDtls></NtryDtls>
              </Ntry>
              <Ntry>
                <Amt Ccy="USD">19.99</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>PDNG</Cd></Sts>
                <BookgDt><Dt>2026-03-13</Dt></BookgDt><AcctSvcrRef>BANK-003</AcctSvcrRef>
              </Ntry>
              <Ntry>
                <Amt Ccy="USD">12.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
                <BookgDt><Dt>2026-03-14</Dt></BookgDt><AcctSvcrRef>BANK-004</AcctSvcrRef><AddtlNtryInf>Account fee</AddtlNtryInf>
              </Ntry>
        """

    @Test("camt.053: booked entries signed by CdtDbtInd, the counterparty screened; pending entries and malformed documents refused")
    func camtImport() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let desk = try await Desk.open(client, sut)
            let first = try await Self.importing(desk, format: "camt053", content: Self.camt(Self.entries))
            #expect(first.status == 201, "\(first.body)")
            let rows = Self.rows(first.body)
            #expect(rows.map(\.status) == ["created", "invalid", "invalid", "created"], "\(first.body)")
            #expect(rows[1].code == "sanctioned-country")
            #expect(rows.map(\.line) == [8, 18, 23, 27])
            let receipt = try #require(try await desk.list("kind=receipt").first)
            #expect(receipt["amount"] as? Int == 250_000 && receipt["valueDate"] as? String == "2026-03-10")
            let party = try #require(receipt["counterparty"] as? [String: Any])
            #expect(party["name"] as? String == "Müller & Söhne GmbH" && party["country"] as? String == "DE")
            #expect(party["accountNumber"] as? String == "DE02120300000000202051")
            #expect(receipt["description"] as? String == "Invoice 2026-17" && receipt["externalReference"] as? String == "E2E-17")
            let again = try await Self.importing(desk, format: "camt053", content: Self.camt(Self.entries))
            #expect(again.body["created"] as? Int == 0 && again.body["duplicates"] as? Int == 2)
            for bad in [Self.camt("<Ntry><Amt>1</Amt>"), "<!DOCTYPE x [<!ENTITY a \"b\">]>" + Self.camt(""), "<Document><Other/></Document>"] {
                let refused = try await Self.importing(desk, format: "camt053", content: bad)
                #expect(refused.status == 400 && refused.body["code"] as? String == "invalid-statement", "\(bad.prefix(40)): \(refused.body)")
            }
            let unknownAccount = try await desk.client.send(
                .post, "/v1/transactions/imports",
                json: Desk.json(["format": "camt053", "accountId": UUID().uuidString, "offsetAccountId": desk.accounts["6300"]!, "content": Self.camt(Self.entries)]),
                token: desk.token)
            #expect(unknownAccount.status == 400 && unknownAccount.body["code"] as? String == "unknown-account")
            #expect(try await desk.list().count == 2)
        }
    }
}
