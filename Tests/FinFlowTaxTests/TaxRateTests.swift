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

    @Test("exchange rates convert exactly, and the largest amount at the largest rate does not overflow")
    func exchange() throws {
        let rate = try #require(ExchangeRate("0.9"))
        #expect(rate.convert(10_000, fromExponent: 2, toExponent: 2) == 9_000)
        #expect(rate.convert(5, fromExponent: 0, toExponent: 2) == 450)
        #expect(try #require(ExchangeRate("0.00649")).convert(1_000, fromExponent: 0, toExponent: 2) == 649)
        let largest = try #require(ExchangeRate("999999999.99999999"))
        #expect(largest.convert(Int64.max, fromExponent: 0, toExponent: 3) == Int64.max)
        #expect(ExchangeRate("0") == nil && ExchangeRate("-1") == nil && ExchangeRate("1.123456789") == nil)
    }
}
