import ArgumentParser
import FinFlowTax

/// Measures the tax engine in process: lines calculated per second on one thread, with and without the JSON of the
/// HTTP path, and the latency of one ten-line document. `Benchmarks/tax.sh` runs it beside the HTTP figures.
struct TaxBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tax-bench", abstract: "Measure the tax engine's calculation speed in process.", shouldDisplay: false)

    @Option(help: "Lines per document.") var lines = 10
    @Option(help: "Single documents timed for the latency figures.") var singles = 20_000
    @Option(help: "Seconds each batch measurement runs.") var seconds = 3.0

    func run() async throws {
        guard (1...200).contains(self.lines) else { throw ValidationError("--lines must be 1–200") }
        guard (100...10_000_000).contains(self.singles) else { throw ValidationError("--singles must be 100–10000000") }
        guard self.seconds > 0, self.seconds <= 600 else { throw ValidationError("--seconds must be above 0 and at most 600") }
        for line in try TaxBench.run(seconds: self.seconds, singles: self.singles, lines: self.lines) { print(line) }
    }
}
