import ArgumentParser
import FinFlowCore
import FinFlowCredit
import Foundation

/// Measures the credit model in process: batch scores per second (with and without TreeSHAP reasons) and the latency
/// of one score, validation and encoding included, over the applications of a fixture. `Benchmarks/credit.sh` runs it
/// beside Python's xgboost on the same rows.
struct CreditBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credit-bench", abstract: "Measure the credit model's scoring speed in process.", shouldDisplay: false)

    @Option(help: "A fixture.json written by tools/ml/train_credit_model.py (its applications are scored).") var fixture: String
    @Option(help: "Single scores timed for the latency figures.") var singles = 20_000
    @Option(help: "Seconds each batch measurement runs.") var seconds = 2.0

    struct Fixture: Decodable {
        struct Case: Decodable { let applicant: [String: ApplicantValue] }
        let cases: [Case]
    }

    func run() async throws {
        guard (100...10_000_000).contains(self.singles) else { throw ValidationError("--singles must be 100–10000000") }
        guard self.seconds > 0, self.seconds <= 600 else { throw ValidationError("--seconds must be above 0 and at most 600") }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: self.fixture)) } catch {
            throw ValidationError("cannot read --fixture \(self.fixture): \(error.localizedDescription)")
        }
        let rows = try JSONDecoder().decode(Fixture.self, from: data).cases.map(\.applicant)
        guard !rows.isEmpty, let model = CreditModel.bundled() else { throw ValidationError("no applications or no bundled model") }
        let clock = ContinuousClock()
        // The trees alone over rows already encoded: what Python's batch figure measures.
        let encoded = try rows.map { try model.spec.encode($0) }
        var trees = 0
        var sum = 0.0
        let treesStart = clock.now
        while clock.now - treesStart < .seconds(self.seconds) {
            for row in encoded { sum += model.ensemble.probability(row) }
            trees += encoded.count
        }
        print(String(format: "batch trees only (encoded rows): %.0f predictions/s (checksum %.3f)",
                     Double(trees) / (clock.now - treesStart).inSeconds, sum))
        for explain in [false, true] {
            var scored = 0
            var checksum = 0.0
            let start = clock.now
            while clock.now - start < .seconds(self.seconds) {
                for row in rows { checksum += try model.assess(row, explain: explain).probability }
                scored += rows.count
            }
            let elapsed = (clock.now - start).inSeconds
            print(String(format: "batch %@: %.0f scores/s (%d scores, checksum %.3f)",
                         explain ? "with reasons (TreeSHAP)" : "probability, score, grade", Double(scored) / elapsed, scored, checksum))
        }
        for explain in [false, true] {
            var latencies: [Double] = []
            latencies.reserveCapacity(self.singles)
            for index in 0..<self.singles {
                let row = rows[index % rows.count]
                let start = clock.now
                _ = try model.assess(row, explain: explain)
                latencies.append((clock.now - start).inSeconds * 1_000_000)
            }
            latencies.sort()
            func at(_ q: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * q))] }
            print(String(format: "single %@: p50 %.1f µs, p99 %.1f µs, mean %.1f µs",
                         explain ? "with reasons" : "score", at(0.5), at(0.99), latencies.reduce(0, +) / Double(latencies.count)))
        }
    }

}
