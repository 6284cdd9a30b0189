import FinFlowCore
import Testing

@testable import FinFlowTax

@Suite("Tax rates and rounding")
struct TaxRateTests {
    @Test("percentages parse exactly and print back", arguments: ["19", "5.5", "8.875", "0.125", "25.5", "100", "0"])
    func roundTrip(text: String) throws {
        #expect(try #require(TaxRate(percent: text)).description == text)
    }

    @Test("anything else is refused", arguments: ["", "-1", "19.", ".5", "100.00001", "1.123456", "1e2", "19 ", "١٩"])
    func refused(text: String) {
        #expect(TaxRate(percent: text) == nil)
    }

    @Test("half a cent rounds away from zero")
    func rounding() throws {
        let rate = try #require(TaxRate(percent: "10"))
        #expect(TaxRounding.round(rate.exactTax(on: 5)) == 1)
        #expect(TaxRounding.round(rate.exactTax(on: 4)) == 0)
        #expect(TaxRounding.round(rate.exactTax(on: 15)) == 2)
    }
}
