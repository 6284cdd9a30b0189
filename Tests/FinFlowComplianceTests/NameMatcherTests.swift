import FinFlowCompliance
import Testing

@Suite("compliance: name matching for screening")
struct NameMatcherTests {
    @Test("names in any script become the same Latin tokens")
    func tokens() {
        #expect(NameText.tokens("Владимир Путин") == ["vladimir", "putin"])
        #expect(NameText.tokens("VLADÍMIR  putin") == ["vladimir", "putin"])
        #expect(NameText.tokens("Αλέξης Τσίπρας") == ["alexes", "tsipras"])
        #expect(NameText.tokens("Dr. Hans Müller-Lüdenscheidt") == ["hans", "muller", "ludenscheidt"])
        #expect(NameText.tokens("Ибрагим Аль-Хусейни") == ["ibragim", "al", "husejni"])
        #expect(NameText.tokens("Владимирович Щукин Юрий") == ["vladimirovich", "shchukin", "yurij"])
        #expect(NameText.tokens("O'Brien, Seán") == ["obrien", "sean"])
        #expect(NameText.tokens("Straße Øresund") == ["strasse", "oresund"])
        #expect(NameText.tokens("!!! ---").isEmpty)
    }

    @Test("string measures")
    func measures() {
        #expect(abs(Similarity.jaroWinkler("martha", "marhta") - 0.961) < 0.001)
        #expect(abs(Similarity.jaroWinkler("dixon", "dicksonx") - 0.813) < 0.001)
        #expect(Similarity.jaroWinkler("abc", "xyz") == 0)
        #expect(Similarity.levenshtein("kitten", "sitting") == 3)
        #expect(Similarity.phonetic("mohammed") == Similarity.phonetic("muhamad"))
        #expect(Similarity.phonetic("philip") == Similarity.phonetic("filip"))
        #expect(Similarity.phonetic("smith") != Similarity.phonetic("jones"))
        #expect(Similarity.skeleton("laden") == "ldn" && Similarity.skeleton("ladn") == "ldn")
    }

    static let putin = ScreeningSubject(names: ["Vladimir Vladimirovich Putin", "Владимир Владимирович Путин"], birthDate: "1952-10-07", country: "RU", gender: "male")

    @Test("transliterated, reordered, misspelt and partial names match; other names do not", arguments: [
        ("Vladimir Vladimirovich Putin", 0.99),
        ("Владимир Путин", 0.85),
        ("PUTIN, Vladimir", 0.85),
        ("Vladimir Poutine", 0.75),
        ("Wladimir Putin", 0.75),
        ("Vladimir Puttin", 0.8),
        ("Putin", 0.7),
    ])
    func matches(query: String, atLeast: Double) throws {
        let match = try #require(NameMatcher.compare(ScreeningSubject(names: [query]), Self.putin))
        #expect(match.score >= atLeast, "\(query): \(match.score) \(match.pairs)")
        #expect(match.score >= NameMatcher.defaultThreshold)
    }

    @Test("unrelated names stay under the threshold", arguments: [
        "Maria Gonzalez", "Vladislav Petrov", "Pavel Putilov", "John Smith", "Volodymyr Zelensky",
    ])
    func nonMatches(query: String) throws {
        let match = try #require(NameMatcher.compare(ScreeningSubject(names: [query]), Self.putin))
        #expect(match.score < NameMatcher.defaultThreshold, "\(query): \(match.score) \(match.pairs)")
    }

    @Test("a compound name written apart meets it written together, with or without its article", arguments: [
        ("Abd Allah Azzam", "Abdallah Azzam"),
        ("Abdullah Azzam", "Abd Allah Azzam"),
        ("Abd al-Rahman Yasin", "Abdulrahman Yasin"),
        ("Abdul Rahman Yasin", "Abd-al-Rahman Yasin"),
        ("Abdel Aziz Rantisi", "Abdelaziz Rantisi"),
        ("عبد الله عزام", "Abdallah Azzam"),
    ])
    func compounds(query: String, listed: String) {
        let match = NameMatcher.compare(query, listed)
        #expect(match.score >= 0.85, "\(query) / \(listed): \(match.score) \(match.pairs) \(match.unmatchedQuery) \(match.unmatchedCandidate)")
    }

    @Test("a compound name written apart is also compared joined; a head alone is left as it is")
    func compoundTokens() {
        #expect(NameText.variants("Abd al-Rahman Yasin") == [["abd", "al", "rahman", "yasin"], ["abdalrahman", "yasin"]])
        #expect(NameText.variants("ABD ALLAH") == [["abd", "allah"], ["abdallah"]])
        #expect(NameText.variants("Yasin Abd") == [["yasin", "abd"]])
        #expect(NameText.variants("Abdallah") == [["abdallah"]])
    }

    @Test("the index finds a compound name however it is written, as a scan does")
    func compoundSearch() throws {
        let listed = ListEntry(id: "c1", reference: "T.1", kind: "individual", subject: ScreeningSubject(names: ["Abd Allah Yusuf Azzam"]), regime: "test", listedOn: nil)
        let other = ListEntry(id: "c2", reference: "T.2", kind: "individual", subject: ScreeningSubject(names: ["Abdallah Ramadan"]), regime: "test", listedOn: nil)
        let index = ScreeningIndex(entries: [listed, other])
        for (query, id) in [("Abdallah Yusuf Azzam", "c1"), ("Abdullah Azzam", "c1"), ("Abd Allah Ramadan", "c2"), ("Azzam Yusuf Allah Abd", "c1")] {
            let subject = ScreeningSubject(names: [query])
            let found = index.search(subject, threshold: NameMatcher.defaultThreshold, limit: 5)
            #expect(found.first?.entry.id == id, "\(query): \(found.map { ($0.entry.id, $0.match.score) })")
            #expect(found.map(\.entry.id) == index.scan(subject, threshold: NameMatcher.defaultThreshold, limit: 5).map(\.entry.id))
        }
    }

    @Test("an Arabic name written without short vowels meets its usual romanisation")
    func arabic() {
        let match = NameMatcher.compare("أسامة بن لادن", "Usama bin Laden")
        #expect(match.score >= NameMatcher.defaultThreshold, "\(match.score) \(match.pairs) \(match.unmatchedQuery)")
        #expect(match.pairs.contains { $0.candidate == "laden" })
    }

    @Test("birth date, country and gender lower the score only when both sides state them and differ; the match explains itself")
    func qualifiers() throws {
        let same = try #require(NameMatcher.compare(ScreeningSubject(names: ["Vladimir Putin"], birthDate: "1952"), Self.putin))
        #expect(same.qualifiers.isEmpty && same.score == same.nameScore)
        let other = try #require(NameMatcher.compare(
            ScreeningSubject(names: ["Vladimir Putin"], birthDate: "1987-03-02", country: "DE", gender: "female"), Self.putin))
        #expect(Set(other.qualifiers.keys) == ["birth-date-mismatch", "country-mismatch", "gender-mismatch"])
        #expect(abs(other.score - (other.nameScore - 0.35)) < 1e-9 && other.score < NameMatcher.defaultThreshold)
        #expect(other.pairs.map(\.candidate).sorted() == ["putin", "vladimir"])
        #expect(other.unmatchedCandidate == ["vladimirovich"])
        #expect(NameMatcher.compare(ScreeningSubject(names: []), Self.putin) == nil)
    }
}
