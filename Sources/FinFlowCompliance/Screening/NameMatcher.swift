/// A person or organisation as screening sees it: its names (primary and aliases) and the facts that tell two people
/// of one name apart.
public struct ScreeningSubject: Sendable, Equatable {
    public var names: [String]
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    public var birthDate: String?
    /// ISO 3166-1 alpha-2, upper case.
    public var country: String?
    /// `male`, `female` or nil.
    public var gender: String?

    public init(names: [String], birthDate: String? = nil, country: String? = nil, gender: String? = nil) {
        self.names = names
        self.birthDate = birthDate
        self.country = country
        self.gender = gender
    }
}

/// How two tokens were paired, and how alike they are.
public struct TokenPair: Sendable, Equatable {
    public let query: String
    public let candidate: String
    public let similarity: Double
    /// `exact`, `phonetic`, `skeleton` or `jaro-winkler`.
    public let measure: String
}

/// A scored comparison of two subjects with everything that made the score, so an analyst can see why it matched.
public struct NameMatch: Sendable, Equatable {
    /// 0…1 after the qualifiers.
    public let score: Double
    /// The name score before the qualifiers.
    public let nameScore: Double
    /// The names compared (the best pair of the subjects' names).
    public let queryName: String
    public let candidateName: String
    public let pairs: [TokenPair]
    /// Query and candidate tokens nothing was paired with.
    public let unmatchedQuery: [String]
    public let unmatchedCandidate: [String]
    /// Each qualifier that lowered the score (`birth-date-mismatch`, `country-mismatch`, `gender-mismatch`), by how much.
    public let qualifiers: [String: Double]
}

/// Name matching for sanctions screening, in the spirit of yente's logic-v1: both names transliterated and tokenised,
/// their tokens paired whatever their order (each pair scored by the best of exact, phonetic, consonant-skeleton and
/// Jaro-Winkler similarity), the score the paired share of both names weighted by token length (the query's side
/// counting most, so a partial name still scores), and date of birth, country and gender lowering the score when both
/// sides state them and they differ.
public enum NameMatcher {
    /// The score at or above which a comparison is a match, unless the tenant sets its own.
    public static let defaultThreshold = 0.70
    /// How much of the score is the query's coverage (the rest: the candidate's).
    static let queryWeight = 0.75
    /// A token pair below this similarity is no pair.
    static let pairMinimum = 0.80
    /// What a particle (`bin`, `al`, `van`) weighs, against its length for any other token.
    static let particleWeight = 0.5
    /// What each qualifier takes off the score.
    public static let qualifierPenalties = ["birth-date-mismatch": 0.15, "country-mismatch": 0.10, "gender-mismatch": 0.10]

    /// The best comparison over every pair of the subjects' names, qualifiers applied.
    public static func compare(_ query: ScreeningSubject, _ candidate: ScreeningSubject) -> NameMatch? {
        var best: NameMatch?
        for queryName in query.names {
            for candidateName in candidate.names {
                let match = Self.compare(queryName, candidateName)
                if match.nameScore > best?.nameScore ?? -1 { best = match }
            }
        }
        guard let best else { return nil }
        return Self.qualified(best, query, candidate)
    }

    /// `best`, the best name comparison of two subjects, with the score lowered by each qualifier both sides state
    /// and that differs.
    public static func qualified(_ best: NameMatch, _ query: ScreeningSubject, _ candidate: ScreeningSubject) -> NameMatch {
        var qualifiers: [String: Double] = [:]
        if let a = query.birthDate, let b = candidate.birthDate, !Self.datesAgree(a, b) {
            qualifiers["birth-date-mismatch"] = Self.qualifierPenalties["birth-date-mismatch"]
        }
        if let a = query.country, let b = candidate.country, a.uppercased() != b.uppercased() {
            qualifiers["country-mismatch"] = Self.qualifierPenalties["country-mismatch"]
        }
        if let a = query.gender, let b = candidate.gender, a.lowercased() != b.lowercased() {
            qualifiers["gender-mismatch"] = Self.qualifierPenalties["gender-mismatch"]
        }
        return NameMatch(
            score: max(0, best.nameScore - qualifiers.values.reduce(0, +)), nameScore: best.nameScore, queryName: best.queryName,
            candidateName: best.candidateName, pairs: best.pairs, unmatchedQuery: best.unmatchedQuery,
            unmatchedCandidate: best.unmatchedCandidate, qualifiers: qualifiers)
    }

    /// Whether two dates of different precision can be the same day (`1952` agrees with `1952-10-07`).
    static func datesAgree(_ a: String, _ b: String) -> Bool {
        let shorter = min(a.count, b.count)
        return a.prefix(shorter) == b.prefix(shorter)
    }

    /// Two names compared, without qualifiers: the best over the ways each is written (`NameText.variants`).
    public static func compare(_ queryName: String, _ candidateName: String) -> NameMatch {
        let candidates = NameText.variants(candidateName)
        var best: NameMatch?
        for query in NameText.variants(queryName) {
            for candidate in candidates {
                let match = Self.compare(tokens: query, of: queryName, with: candidate, of: candidateName)
                if match.nameScore > best?.nameScore ?? -1 { best = match }
            }
        }
        return best ?? Self.compare(tokens: [], of: queryName, with: [], of: candidateName)
    }

    /// Two names compared by their tokens (`NameText.tokens`, computed once for a list's names), without qualifiers.
    public static func compare(tokens query: [String], of queryName: String, with candidate: [String], of candidateName: String) -> NameMatch {
        Self.compare(features: query.map(TokenFeatures.init), of: queryName, with: candidate.map(TokenFeatures.init), of: candidateName)
    }

    /// Two names compared by their tokens' features (computed once per token of a list or a query), without qualifiers.
    public static func compare(
        features queryFeatures: [TokenFeatures], of queryName: String, with candidateFeatures: [TokenFeatures], of candidateName: String
    ) -> NameMatch {
        let query = queryFeatures.map(\.token), candidate = candidateFeatures.map(\.token)
        guard !query.isEmpty, !candidate.isEmpty else {
            return NameMatch(score: 0, nameScore: 0, queryName: queryName, candidateName: candidateName, pairs: [],
                             unmatchedQuery: query, unmatchedCandidate: candidate, qualifiers: [:])
        }
        // Every token pair scored, then taken greedily from the most alike, each token used once.
        var scored: [(Int, Int, Double, String)] = []
        for (i, a) in queryFeatures.enumerated() {
            for (j, b) in candidateFeatures.enumerated() {
                let (similarity, measure) = Self.tokenSimilarity(a, b)
                if similarity >= Self.pairMinimum { scored.append((i, j, similarity, measure)) }
            }
        }
        scored.sort { ($0.2, -$0.0, -$0.1) > ($1.2, -$1.0, -$1.1) }
        var usedQuery = Set<Int>(), usedCandidate = Set<Int>()
        var pairs: [(Int, Int, Double, String)] = []
        for pair in scored where !usedQuery.contains(pair.0) && !usedCandidate.contains(pair.1) {
            usedQuery.insert(pair.0)
            usedCandidate.insert(pair.1)
            pairs.append(pair)
        }
        let weight = Self.tokenWeight
        let queryTotal = query.map(weight).reduce(0, +), candidateTotal = candidate.map(weight).reduce(0, +)
        var queryCovered = 0.0, candidateCovered = 0.0
        // A pair counts by its similarity squared: near-identical tokens almost fully, loose resemblances little, so
        // two weak pairs do not add up to a match.
        for (i, j, similarity, _) in pairs {
            queryCovered += weight(query[i]) * similarity * similarity
            candidateCovered += weight(candidate[j]) * similarity * similarity
        }
        let score = Self.queryWeight * queryCovered / queryTotal + (1 - Self.queryWeight) * candidateCovered / candidateTotal
        return NameMatch(
            score: score, nameScore: score, queryName: queryName, candidateName: candidateName,
            pairs: pairs.sorted { $0.0 < $1.0 }.map { TokenPair(query: query[$0.0], candidate: candidate[$0.1], similarity: $0.2, measure: $0.3) },
            unmatchedQuery: query.indices.filter { !usedQuery.contains($0) }.map { query[$0] },
            unmatchedCandidate: candidate.indices.filter { !usedCandidate.contains($0) }.map { candidate[$0] }, qualifiers: [:])
    }

    /// What a token weighs in a name's coverage: its length, a particle little.
    static func tokenWeight(_ token: String) -> Double {
        NameText.particles.contains(token) ? Self.particleWeight : Double(max(2, token.utf8.count))
    }

    /// What the token measures need of a token, computed once per token instead of once per pair.
    public struct TokenFeatures: Sendable {
        public let token: String
        let length: Int
        let isParticle: Bool
        public let phonetic: String
        public let skeleton: String

        public init(_ token: String) {
            self.token = token
            self.length = token.utf8.count
            self.isParticle = NameText.particles.contains(token)
            self.phonetic = Similarity.phonetic(token)
            self.skeleton = Similarity.skeleton(token)
        }
    }

    /// The best of the measures for two tokens, and its name.
    static func tokenSimilarity(_ a: String, _ b: String) -> (Double, String) {
        if a == b { return (1, "exact") }
        return Self.tokenSimilarity(TokenFeatures(a), TokenFeatures(b))
    }

    /// The best of the measures for two tokens' features, and its name.
    static func tokenSimilarity(_ a: TokenFeatures, _ b: TokenFeatures) -> (Double, String) {
        if a.token == b.token { return (1, "exact") }
        // Particles pair only with particles: "bin" is not "bina".
        if a.isParticle != b.isParticle { return (0, "none") }
        if a.isParticle { return (0.9, "particle") }
        // Only tokens of comparable length, three letters or more, resemble each other: "e" is not "emma".
        let shorter = min(a.length, b.length), longer = max(a.length, b.length)
        guard shorter >= 3 else { return (0, "none") }
        guard Double(shorter) / Double(longer) >= 0.6 else {
            // A script that writes no short vowels spells a name much shorter ("mhmd", "muhammad"): the same consonants
            // still pair.
            return a.skeleton.utf8.count >= 3 && a.skeleton == b.skeleton ? (0.85, "skeleton") : (0, "none")
        }
        var best = (Similarity.jaroWinkler(a.token, b.token), "jaro-winkler")
        // Sound counts when the key carries three sounds or more; consonants when there are two or more.
        if a.phonetic.utf8.count >= 3, a.phonetic == b.phonetic, 0.9 > best.0 { best = (0.9, "phonetic") }
        if a.skeleton.utf8.count >= 2, 0.85 > best.0,
            Similarity.levenshtein(a.skeleton, b.skeleton) <= (a.skeleton.utf8.count >= 4 ? 1 : 0)
        {
            best = (0.85, "skeleton")
        }
        return best
    }
}
