import FinFlowCore
import Foundation

/// The tax engine measured in process, for `finflow tax-bench` (`Benchmarks/tax.sh`): documents of ten lines — an
/// EU distance sale past the threshold at the destination's rates, a domestic B2B sale, a California sale with county
/// and city rates — calculated over and over with the shipped rules, alone and with the request's JSON decoded and the
/// answer's encoded as the HTTP path does.
public enum TaxBench {
    /// The three documents of the mix, each of `lines` lines.
    static func documents(lines: Int) -> [(TaxDocumentInput, TaxContext)] {
        let products: [ProductCode] = [.goods, .books, .food, .eBooks, .digitalServices, .services, .medicines, .goods, .food, .goods]
        func document(_ seller: TaxAddress, _ buyer: TaxAddress, business: Bool, currency: String) -> TaxDocumentInput {
            TaxDocumentInput(
                type: .salesInvoice, date: "2026-03-02", currency: currency, eurRate: nil,
                seller: TaxParty(address: seller, isBusiness: true, vatNumber: nil, customerId: nil),
                buyer: TaxParty(address: buyer, isBusiness: business, vatNumber: nil, customerId: "customer-1"),
                lines: (0..<lines).map { TaxLineInput(number: $0 + 1, amountMinor: Int64(1_000 + 137 * $0), product: products[$0 % products.count]) })
        }
        let rules = RuleBook.shipped
        var distance = TaxContext(rules: rules, profile: TaxProfile())
        distance.ossCurrentYearEURMinor = 2_000_000
        let domestic = TaxContext(rules: rules, profile: TaxProfile())
        var california = TaxContext(rules: rules, profile: TaxProfile(usPhysicalPresence: ["CA"]))
        let march = Period(from: CalendarDay(year: 2026, month: 1, day: 1)!, to: nil)
        california.localRates = [
            LocalRate(id: "la-county", state: "CA", level: "county", name: "Los Angeles", zipFrom: 90001, zipTo: 91899,
                      rate: TaxRate(percent: "2.25")!, period: march),
            LocalRate(id: "la-city", state: "CA", level: "city", name: "Los Angeles", zipFrom: 90001, zipTo: 90099,
                      rate: TaxRate(percent: "0.5")!, period: march),
        ]
        return [
            (document(TaxAddress(country: "DE"), TaxAddress(country: "FR"), business: false, currency: "EUR"), distance),
            (document(TaxAddress(country: "DE"), TaxAddress(country: "DE"), business: true, currency: "EUR"), domestic),
            (document(TaxAddress(country: "US", region: "CA", postalCode: "90012"), TaxAddress(country: "US", region: "CA", postalCode: "90012"),
                      business: false, currency: "USD"), california),
        ]
    }

    /// Runs the measurements and answers one line of figures each.
    public static func run(seconds: Double, singles: Int, lines: Int) throws -> [String] {
        let mix = Self.documents(lines: lines)
        let engines = mix.map { TaxEngine(context: $0.1) }
        let encoder = JSONEncoder(), decoder = JSONDecoder()
        let requests = try mix.map { try encoder.encode($0.0) }
        let clock = ContinuousClock()
        var figures: [String] = []
        var checksum: Int64 = 0
        for withJSON in [false, true] {
            var documents = 0
            let start = clock.now
            while clock.now - start < .seconds(seconds) {
                for index in mix.indices {
                    if withJSON {
                        let document = try decoder.decode(TaxDocumentInput.self, from: requests[index])
                        let result = try engines[index].calculate(document)
                        checksum &+= Int64(try encoder.encode(result).count) &+ result.taxMinor
                    } else {
                        checksum &+= try engines[index].calculate(mix[index].0).taxMinor
                    }
                }
                documents += mix.count
            }
            let elapsed = (clock.now - start).inSeconds
            figures.append(String(
                format: "batch %@: %.0f documents/s, %.0f lines/s (%d-line documents, one thread)",
                withJSON ? "engine with JSON in and out" : "engine", Double(documents) / elapsed, Double(documents * lines) / elapsed, lines))
        }
        var latencies: [Double] = []
        latencies.reserveCapacity(singles)
        for index in 0..<singles {
            let which = index % mix.count
            let start = clock.now
            let document = try decoder.decode(TaxDocumentInput.self, from: requests[which])
            checksum &+= Int64(try encoder.encode(try engines[which].calculate(document)).count)
            latencies.append((clock.now - start).inSeconds * 1_000_000)
        }
        latencies.sort()
        func at(_ quantile: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * quantile))] }
        figures.append(String(format: "single document with JSON: p50 %.1f µs, p99 %.1f µs (checksum %lld)", at(0.5), at(0.99), checksum))
        return figures
    }

}
