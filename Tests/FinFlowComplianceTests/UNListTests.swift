import FinFlowCompliance
import Foundation
import Testing

@Suite("compliance: the UN consolidated list, and recall of perturbed names")
struct UNListTests {
    @Test("the bundled list reads whole: individuals with their name parts, aliases and births; entities")
    func parse() throws {
        let entries = try UNConsolidatedList.bundled()
        #expect(entries.filter { $0.kind == "individual" }.count == 713)
        #expect(entries.filter { $0.kind == "entity" }.count == 305)
        let ri = try #require(entries.first { $0.reference == "KPi.033" })
        #expect(ri.subject.names == ["RI WON HO"] && ri.subject.birthDate == "1964-07-17" && ri.regime == "DPRK" && ri.listedOn == "2016-11-30")
        let chang = try #require(entries.first { $0.reference == "KPi.037" })
        #expect(chang.subject.names == ["CHANG CHANG HA", "Jang Chang Ha"])
        #expect(throws: ListFormatError.self) { try UNConsolidatedList.parse(Data("<html><body>".utf8)) }
        #expect(throws: ListFormatError.self) { try UNConsolidatedList.parse(Data("<?xml version=\"1.0\"?><OTHER/>".utf8)) }
    }

    /// Deterministic perturbations of a name: a typo, the tokens reversed, a middle part left out, lower case with a
    /// doubled letter.
    static func perturbations(_ name: String) -> [String] {
        let tokens = name.split(separator: " ").map(String.init)
        var result: [String] = []
        if let index = tokens.firstIndex(where: { $0.count >= 5 }) {
            var typo = Array(tokens[index])
            typo.swapAt(2, 3)
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
        return result
    }

    @Test("perturbed names of listed individuals are found at the default threshold; invented names mostly are not")
    func recall() throws {
        let entries = try UNConsolidatedList.bundled()
        let indexed = entries.map { entry in (entry, entry.subject.names.map { ($0, NameText.tokens($0)) }) }
        func best(_ query: String, in candidates: [(ListEntry, [(String, [String])])]) -> (ListEntry, Double)? {
            let tokens = NameText.tokens(query)
            var best: (ListEntry, Double)?
            for (entry, names) in candidates {
                for (name, nameTokens) in names {
                    let score = NameMatcher.compare(tokens: tokens, of: query, with: nameTokens, of: name).score
                    if score > best?.1 ?? -1 { best = (entry, score) }
                }
            }
            return best
        }
        // Every tenth individual, each perturbation screened against the whole list: found when its own entry scores
        // at or above the threshold.
        let sample = entries.filter { $0.kind == "individual" }.enumerated().filter { $0.offset % 10 == 0 }.map(\.element)
        var queries = 0, found = 0
        for entry in sample {
            let own = indexed.filter { $0.0.id == entry.id }
            for query in Self.perturbations(entry.subject.names[0]) {
                queries += 1
                if let (_, score) = best(query, in: own), score >= NameMatcher.defaultThreshold { found += 1 }
            }
        }
        let recall = Double(found) / Double(queries)
        #expect(queries > 250)
        #expect(recall >= 0.95, "recall \(found)/\(queries) = \(recall)")
        // Invented names: common first names and surnames, none of them a listed person.
        let first = ["Emma", "Lucas", "Sofia", "Noah", "Olivia", "Mateo"]
        let last = ["Schneider", "Moreau", "Kowalski", "Fernandes", "Brennan", "Haddad"]
        var invented = 0, hits = 0
        for a in first {
            for b in last {
                invented += 1
                if let (_, score) = best("\(a) \(b)", in: indexed), score >= NameMatcher.defaultThreshold { hits += 1 }
            }
        }
        #expect(Double(hits) / Double(invented) <= 0.05, "false positives \(hits)/\(invented)")
    }
}
