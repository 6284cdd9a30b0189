import ArgumentParser
import FinFlowCompliance
import FinFlowCore
import Foundation

/// Measures sanctions screening in process: screenings per second and per-screening latency through the candidate
/// index, next to a scan of every name, on the bundled UN list and on a synthetic list; and recall and false
/// positives at the default threshold on perturbed listed names and invented ones. `Benchmarks/screening.sh` runs it.
struct ScreeningBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "screening-bench", abstract: "Measure sanctions screening in process.", shouldDisplay: false)

    @Option(help: "Names in the synthetic list.") var synthetic = 1_000_000
    @Option(help: "Queries screened through the index per list.") var queries = 2_000
    @Option(help: "Queries screened by scanning every name on the UN list (the baseline).") var scans = 50
    @Option(help: "Queries screened by scanning every name of the synthetic list (seconds each).") var largeScans = 5

    func run() async throws {
        guard (1_000...5_000_000).contains(self.synthetic) else { throw ValidationError("--synthetic must be 1000–5000000") }
        guard (10...1_000_000).contains(self.queries), (1...100_000).contains(self.scans), (1...1_000).contains(self.largeScans) else {
            throw ValidationError("--queries must be 10–1000000, --scans 1–100000 and --large-scans 1–1000")
        }
        var random = SeededRandom(seed: 42)
        let un = try UNConsolidatedList.bundled()
        let people = un.filter { $0.kind == "individual" }
        // Recall: every listed individual, perturbed five ways, screened against the whole list; found when its own
        // entry is among the hits at the default threshold.
        let unIndex = ScreeningIndex(entries: un)
        var perturbed: [(String, String)] = []
        for entry in people {
            for query in Self.perturbations(entry.subject.names[0], random: &random) { perturbed.append((query, entry.id)) }
        }
        var found = 0
        for (query, id) in perturbed
        where unIndex.search(ScreeningSubject(names: [query]), threshold: NameMatcher.defaultThreshold, limit: 20).contains(where: { $0.entry.id == id }) {
            found += 1
        }
        let invented = (0..<2_000).map { _ in Self.inventedName(random: &random) }
        let falseHits = invented.filter {
            !unIndex.search(ScreeningSubject(names: [$0]), threshold: NameMatcher.defaultThreshold, limit: 1).isEmpty
        }.count
        Self.emit(String(format: "recall at %.2f: %d of %d perturbed listed names (%.1f%%); false positives: %d of %d invented names (%.2f%%)",
                     NameMatcher.defaultThreshold, found, perturbed.count, 100 * Double(found) / Double(perturbed.count), falseHits,
                     invented.count, 100 * Double(falseHits) / Double(invented.count)))
        // Traffic: half perturbed listed names, half invented ones.
        let traffic = (0..<self.queries).map { i in i % 2 == 0 ? perturbed[(i * 7919) % perturbed.count].0 : invented[i % invented.count] }
        self.measure("UN list (\(un.count) entries, \(unIndex.nameCount) names)", index: unIndex, traffic: traffic, scans: self.scans)

        var entries: [ListEntry] = []
        entries.reserveCapacity(self.synthetic)
        for i in 0..<self.synthetic {
            entries.append(ListEntry(
                id: "s\(i)", reference: "S.\(i)", kind: "individual", subject: ScreeningSubject(names: [Self.inventedName(random: &random)]),
                regime: "synthetic", listedOn: nil))
        }
        let clock = ContinuousClock()
        let start = clock.now
        let large = ScreeningIndex(entries: entries + un)
        Self.emit("synthetic list: \(large.nameCount) names, \(large.tokenCount) distinct tokens, indexed in \((clock.now - start).inSeconds) s")
        self.measure("synthetic list (\(large.nameCount) names)", index: large, traffic: traffic, scans: self.largeScans)
    }

    /// Screenings per second and latency through the index, and per second by a scan of every name.
    func measure(_ label: String, index: ScreeningIndex, traffic: [String], scans: Int) {
        let clock = ContinuousClock()
        var latencies: [Double] = []
        var hits = 0
        let start = clock.now
        for query in traffic {
            let one = clock.now
            hits += index.search(ScreeningSubject(names: [query]), threshold: NameMatcher.defaultThreshold, limit: 20).count
            latencies.append((clock.now - one).inSeconds * 1000)
        }
        let elapsed = (clock.now - start).inSeconds
        latencies.sort()
        let scanStart = clock.now
        var scanHits = 0
        for query in traffic.prefix(scans) {
            scanHits += index.scan(ScreeningSubject(names: [query]), threshold: NameMatcher.defaultThreshold, limit: 20).count
        }
        let scanRate = Double(min(scans, traffic.count)) / (clock.now - scanStart).inSeconds
        Self.emit(String(format: "%@: indexed %.0f screenings/s (p50 %.2f ms, p99 %.2f ms, %d hits); scan of every name %.1f screenings/s (%d hits in %d)",
                     label, Double(traffic.count) / elapsed, latencies[latencies.count / 2], latencies[latencies.count * 99 / 100], hits,
                     scanRate, scanHits, min(scans, traffic.count)))
    }

    /// Writes a line at once (standard output to a pipe is otherwise buffered to the end of a long run).
    static func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }


    /// A typo, the parts reversed, a middle part left out, a doubled vowel, and the name written in Cyrillic.
    static func perturbations(_ name: String, random: inout SeededRandom) -> [String] {
        let tokens = name.split(separator: " ").map(String.init)
        var result: [String] = []
        if let index = tokens.indices.filter({ tokens[$0].count >= 5 }).randomElement(using: &random) {
            var typo = Array(tokens[index])
            let at = Int.random(in: 1..<(typo.count - 1), using: &random)
            typo.swapAt(at, at + 1)
            var changed = tokens
            changed[index] = String(typo)
            result.append(changed.joined(separator: " "))
        }
        if tokens.count >= 2 { result.append(tokens.reversed().joined(separator: " ")) }
        if tokens.count >= 3 { result.append((tokens.prefix(1) + tokens.suffix(1)).joined(separator: " ")) }
        if let last = tokens.last, let vowel = last.lowercased().firstIndex(where: { "aeiou".contains($0) }) {
            var doubled = last.lowercased()
            doubled.insert(doubled[vowel], at: vowel)
            result.append((tokens.dropLast().map { $0.lowercased() } + [doubled]).joined(separator: " "))
        }
        if let cyrillic = name.capitalized.applyingTransform(.latinToCyrillic, reverse: false), cyrillic != name.capitalized {
            result.append(cyrillic)
        }
        return result
    }

    static let onsets = ["b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "dr", "kr", "st", "tr", "sh", "ch", ""]
    static let vowels = ["a", "e", "i", "o", "u", "ai", "ou", "y"]
    static let codas = ["", "", "", "n", "r", "l", "s", "k", "m", "nd", "rt", "st"]

    /// A name of two or three invented parts of one to three syllables, from a vocabulary as varied as real names'.
    static func inventedName(random: inout SeededRandom) -> String {
        (0..<Int.random(in: 2...3, using: &random)).map { _ in
            (0..<Int.random(in: 1...3, using: &random)).map { _ in
                Self.onsets.randomElement(using: &random)! + Self.vowels.randomElement(using: &random)! + Self.codas.randomElement(using: &random)!
            }.joined().capitalized
        }.joined(separator: " ")
    }
}
