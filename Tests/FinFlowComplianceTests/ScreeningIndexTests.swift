import FinFlowCompliance
import Foundation
import Testing

@Suite("compliance: the screening index finds what a scan of every name finds")
struct ScreeningIndexTests {
    static let entries = (try? UNConsolidatedList.bundled()) ?? []

    @Test("perturbed, transliterated and invented names: the index's hits are the scan's, with the same scores")
    func agreesWithScan() throws {
        let index = ScreeningIndex(entries: Self.entries)
        #expect(index.nameCount > Self.entries.count)
        var queries: [String] = []
        for (offset, entry) in Self.entries.enumerated() where offset % 40 == 0 {
            queries += UNListTests.perturbations(entry.subject.names[0])
        }
        queries += ["Emma Schneider", "Lucas Moreau", "Усама бин Ладен", "أسامة بن لادن", "Kim Jong Un", "Ri Won Ho", "Al Qaida"]
        // A scan of every name costs a second a query in a debug build: a sample of the list keeps the suite short.
        #expect(queries.count > 60)
        var hits = 0
        for query in queries {
            let subject = ScreeningSubject(names: [query])
            let found = index.search(subject, threshold: NameMatcher.defaultThreshold, limit: 50)
            let scanned = index.scan(subject, threshold: NameMatcher.defaultThreshold, limit: 50)
            #expect(found.map(\.entry.id) == scanned.map(\.entry.id), "\(query)")
            #expect(found.map(\.match.score) == scanned.map(\.match.score), "\(query)")
            hits += found.count
        }
        #expect(hits > 50)
    }

    @Test("qualifiers lower an indexed hit as they lower a comparison; a limit and a threshold are kept")
    func qualifiersAndLimits() throws {
        let index = ScreeningIndex(entries: Self.entries)
        let ri = try #require(Self.entries.first { $0.reference == "KPi.033" })
        let same = index.search(ScreeningSubject(names: ["Ri Won Ho"], birthDate: "1964"), threshold: 0.7, limit: 10)
        #expect(same.first?.entry.id == ri.id && same.first?.match.qualifiers.isEmpty == true)
        let other = index.search(ScreeningSubject(names: ["Ri Won Ho"], birthDate: "1990-01-01"), threshold: 0, limit: 10)
        let hit = try #require(other.first { $0.entry.id == ri.id })
        #expect(hit.match.qualifiers["birth-date-mismatch"] == 0.15 && hit.match.score < hit.match.nameScore)
        #expect(index.search(ScreeningSubject(names: ["Ri Won Ho"]), threshold: 0.7, limit: 0).isEmpty)
        #expect(index.search(ScreeningSubject(names: ["", "  "]), threshold: 0.7, limit: 10).isEmpty)
    }
}
