import Testing

@testable import FinFlowTax

/// Published valid and invalid numbers of every member state and Northern Ireland: the examples each administration's
/// algorithm is documented with (python-stdnum's documentation lists them; a changed check digit must fail).
@Suite("VAT numbers: form and check digits")
struct VATNumberTests {
    static let valid = [
        "ATU13585627", "BE0428759497", "BE428759497", "BG175074752", "CY10259033P", "CZ25123891", "CZ7103192745", "CZ640903926",
        "DE136695976", "DK13585628", "EE100594102", "EL094259216", "ESB64717838", "ES54362315K", "ESX5253868R", "ESM1234567L",
        "FI20774740", "FR23334175221", "FRK7399859412", "FR4Z123456782", "HR33392005961", "HU12892312", "IE6433435F", "IE6433435OA",
        "IE8D79739I", "IT00743110157", "LT119511515", "LT100001919017", "LT100004801610", "LU15027442", "LV40003521600",
        "LV16117519997", "LV32867300679", "MT11679112", "NL004495445B01", "NL002455799B11", "PL8567346215", "PT501964843",
        "RO18547290", "SE123456789701", "SI50223054", "SK2022749619", "XI980780684", "XIGD100", "XIHA500",
    ]

    static let invalid = [
        "ATU13585626", "BE0431150351", "BG175074751", "CY10259033Z", "CZ25123890", "DE136695978", "DK13585627", "EE100594103",
        "EL123456781", "ESB64717839", "FI20774741", "FR84323140391", "FRIO334175221", "HR33392005962", "HU12892313", "IE6433435E",
        "IT00743110158", "LT100001919018", "LU15027443", "LV40003521601", "MT11679113", "NL123456789B90", "PL8567346216",
        "PT501964842", "RO18547291", "SE123456789101", "SI50223055", "SK2022749618", "XI802311781", "XIGD500",
        // Greece is EL, never GR; a number without its prefix is no EU number.
        "GR094259216", "136695976",
    ]

    @Test("published valid numbers pass", arguments: valid)
    func validNumber(number: String) {
        #expect(VATNumber.check(number) == .valid)
    }

    @Test("a wrong check digit or form fails", arguments: invalid)
    func invalidNumber(number: String) {
        #expect(VATNumber.check(number) != .valid)
    }

    @Test("every member state and Northern Ireland has a valid example")
    func coverage() {
        let covered = Set(Self.valid.map { String($0.prefix(2)) })
        #expect(covered == Set(VATNumber.countryOfPrefix.keys))
    }

    @Test("spaces, dots and dashes are dropped; other characters refuse the number")
    func normalising() {
        #expect(VATNumber.normalise("de 136.695-976") == "DE136695976")
        #expect(VATNumber.normalise("DE13669597€") == nil)
        #expect(VATNumber.normalise(String(repeating: "1", count: 40)) == nil)
        #expect(VATNumber.country(of: "EL094259216") == "GR")
    }
}
