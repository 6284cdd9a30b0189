/// A list's names indexed for screening, so a query compares itself with the few names that could match instead of
/// every name of the list. Each distinct token of the list is kept once (the vocabulary) with the names it occurs
/// in; a query token finds the vocabulary tokens it could pair with by exact spelling, phonetic key, consonant
/// skeleton within one edit (a deletion neighbourhood) and shared letter pairs, each confirmed with the matcher's own
/// token similarity. A name is scored in full only when the pairs found could still lift it to the threshold.
public struct ScreeningIndex: Sendable {
    /// One indexed name: the entry it belongs to and its tokens as vocabulary ids.
    struct IndexedName: Sendable {
        let entry: Int32
        let name: String
        let tokens: [Int32]
    }

    /// A match of a query with an entry: the entry and the best comparison of their names, qualifiers applied.
    public struct Hit: Sendable {
        public let entry: ListEntry
        public let match: NameMatch
    }

    public let entries: [ListEntry]
    private let names: [IndexedName]
    /// The vocabulary: each distinct token once, with what the measures need of it.
    private let features: [NameMatcher.TokenFeatures]
    private let vocabularyIds: [String: Int32]
    /// Vocabulary id → the names (indexes into `names`) holding the token.
    private let postings: [[Int32]]
    private let byPhonetic: [String: [Int32]]
    /// A skeleton and each of its one-letter deletions → the vocabulary ids whose skeleton gives it.
    private let bySkeletonNeighbour: [String: [Int32]]
    /// A letter pair (the token padded at both ends) → the vocabulary ids holding it.
    private let byBigram: [UInt16: [Int32]]

    /// Indexes every name (primary and aliases) of `entries`.
    public init(entries: [ListEntry]) {
        var names: [IndexedName] = []
        var vocabulary: [String] = []
        var vocabularyIds: [String: Int32] = [:]
        var postings: [[Int32]] = []
        for (entryIndex, entry) in entries.enumerated() {
            for name in entry.subject.names {
              // A compound name written apart is indexed both ways (`NameText.variants`).
              for tokens in NameText.variants(name) {
                guard !tokens.isEmpty else { continue }
                let nameIndex = Int32(names.count)
                var ids: [Int32] = []
                for token in tokens {
                    let id: Int32
                    if let known = vocabularyIds[token] {
                        id = known
                    } else {
                        id = Int32(vocabulary.count)
                        vocabulary.append(token)
                        vocabularyIds[token] = id
                        postings.append([])
                    }
                    ids.append(id)
                    if postings[Int(id)].last != nameIndex { postings[Int(id)].append(nameIndex) }
                }
                names.append(IndexedName(entry: Int32(entryIndex), name: name, tokens: ids))
              }
            }
        }
        let features = vocabulary.map(NameMatcher.TokenFeatures.init)
        var byPhonetic: [String: [Int32]] = [:]
        var bySkeletonNeighbour: [String: [Int32]] = [:]
        var byBigram: [UInt16: [Int32]] = [:]
        for (id, token) in features.enumerated() where !NameText.particles.contains(token.token) {
            let id = Int32(id)
            if token.phonetic.utf8.count >= 3 { byPhonetic[token.phonetic, default: []].append(id) }
            for neighbour in Self.skeletonNeighbours(of: token.skeleton) { bySkeletonNeighbour[neighbour, default: []].append(id) }
            for bigram in Set(Self.bigrams(token.token)) { byBigram[bigram, default: []].append(id) }
        }
        self.entries = entries
        self.names = names
        self.features = features
        self.vocabularyIds = vocabularyIds
        self.postings = postings
        self.byPhonetic = byPhonetic
        self.bySkeletonNeighbour = bySkeletonNeighbour
        self.byBigram = byBigram
    }

    /// How many names (primary and aliases) and distinct tokens the index holds.
    public var nameCount: Int { self.names.count }
    public var tokenCount: Int { self.features.count }

    /// The entries matching `query` at or above `threshold`, best first, at most `limit`; each with its best name
    /// comparison and the qualifiers applied.
    public func search(_ query: ScreeningSubject, threshold: Double, limit: Int, kind: String? = nil) -> [Hit] {
        var bestByEntry: [Int32: NameMatch] = [:]
        for queryName in query.names {
          for queryTokens in NameText.variants(queryName) {
            let query = queryTokens.map(NameMatcher.TokenFeatures.init)
            guard !query.isEmpty else { continue }
            for (nameIndex, _) in self.candidates(for: query, threshold: threshold) {
                let name = self.names[Int(nameIndex)]
                // Entries of the other kind are left out before ranking, so they never crowd out those of the kind asked.
                if let kind, self.entries[Int(name.entry)].kind != kind { continue }
                let match = NameMatcher.compare(features: query, of: queryName, with: name.tokens.map { self.features[Int($0)] }, of: name.name)
                if match.nameScore > bestByEntry[name.entry]?.nameScore ?? -1 { bestByEntry[name.entry] = match }
            }
          }
        }
        return Self.ranked(bestByEntry.map { (self.entries[Int($0.key)], $0.value) }, query: query, threshold: threshold, limit: limit)
    }

    /// Every entry compared with `query`, name by name: what `search` must agree with, and the baseline it is
    /// measured against.
    public func scan(_ query: ScreeningSubject, threshold: Double, limit: Int) -> [Hit] {
        var bestByEntry: [Int32: NameMatch] = [:]
        for queryName in query.names {
          for queryTokens in NameText.variants(queryName) {
            let query = queryTokens.map(NameMatcher.TokenFeatures.init)
            guard !query.isEmpty else { continue }
            for name in self.names {
                let match = NameMatcher.compare(features: query, of: queryName, with: name.tokens.map { self.features[Int($0)] }, of: name.name)
                if match.nameScore > bestByEntry[name.entry]?.nameScore ?? -1 { bestByEntry[name.entry] = match }
            }
          }
        }
        return Self.ranked(bestByEntry.map { (self.entries[Int($0.key)], $0.value) }, query: query, threshold: threshold, limit: limit)
    }

    private static func ranked(_ best: [(ListEntry, NameMatch)], query: ScreeningSubject, threshold: Double, limit: Int) -> [Hit] {
        best.map { Hit(entry: $0.0, match: NameMatcher.qualified($0.1, query, $0.0.subject)) }
            .filter { $0.match.score >= threshold }
            .sorted { ($0.match.score, $1.entry.id) > ($1.match.score, $0.entry.id) }
            .prefix(max(0, limit)).map { $0 }
    }

    /// The names that could reach `threshold` with `queryTokens`: those whose tokens pair with enough of the query's.
    /// A name's bound assumes every query token it holds a pair for is paired at its best similarity and every
    /// particle of the query is paired, and that the name's own side is fully covered.
    private func candidates(for query: [NameMatcher.TokenFeatures], threshold: Double) -> [(Int32, Double)] {
        let queryTokens = query.map(\.token)
        let weights = queryTokens.map(NameMatcher.tokenWeight)
        let total = weights.reduce(0, +)
        var particleCover = 0.0
        // Per name: the best similarity found for each query token.
        var found: [Int32: [Double]] = [:]
        for (position, token) in queryTokens.enumerated() {
            if NameText.particles.contains(token) {
                particleCover += weights[position]
                continue
            }
            for (vocabularyId, similarity) in self.pairable(query[position]) {
                for nameIndex in self.postings[Int(vocabularyId)] {
                    var best = found[nameIndex] ?? [Double](repeating: 0, count: queryTokens.count)
                    if similarity > best[position] {
                        best[position] = similarity
                        found[nameIndex] = best
                    }
                }
            }
        }
        var result: [(Int32, Double)] = []
        for (nameIndex, best) in found {
            var covered = particleCover
            for position in best.indices { covered += weights[position] * best[position] * best[position] }
            let bound = NameMatcher.queryWeight * covered / total + (1 - NameMatcher.queryWeight)
            if bound >= threshold { result.append((nameIndex, bound)) }
        }
        return result
    }

    /// The vocabulary tokens `token` pairs with (similarity at least the matcher's pair minimum), and how alike.
    private func pairable(_ query: NameMatcher.TokenFeatures) -> [(Int32, Double)] {
        let token = query.token
        var proposed = Set<Int32>()
        if let id = self.vocabularyIds[token] { proposed.insert(id) }
        if query.phonetic.utf8.count >= 3 { proposed.formUnion(self.byPhonetic[query.phonetic] ?? []) }
        for neighbour in Self.skeletonNeighbours(of: query.skeleton) { proposed.formUnion(self.bySkeletonNeighbour[neighbour] ?? []) }
        // Letter pairs: a token sharing at least a third of the query token's pairs (Jaro-Winkler's near spellings).
        let bigrams = Set(Self.bigrams(token))
        let needed = max(1, bigrams.count / 3)
        var shared: [Int32: Int] = [:]
        for bigram in bigrams {
            for id in self.byBigram[bigram] ?? [] { shared[id, default: 0] += 1 }
        }
        for (id, count) in shared where count >= needed { proposed.insert(id) }
        var result: [(Int32, Double)] = []
        for id in proposed {
            let (similarity, _) = NameMatcher.tokenSimilarity(query, self.features[Int(id)])
            if similarity >= NameMatcher.pairMinimum { result.append((id, similarity)) }
        }
        return result
    }

    /// The token's consonant skeleton and each of its one-letter deletions: two skeletons within one edit of each
    /// other share one of these.
    static func skeletonNeighbours(of skeleton: String) -> Set<String> {
        let skeleton = Array(skeleton.utf8)
        guard skeleton.count >= 2 else { return [] }
        var result: Set<String> = [String(decoding: skeleton, as: UTF8.self)]
        if skeleton.count >= 4 {
            for index in skeleton.indices {
                var shorter = skeleton
                shorter.remove(at: index)
                result.insert(String(decoding: shorter, as: UTF8.self))
            }
        }
        return result
    }

    /// The token's letter pairs, padded with a start and an end mark.
    static func bigrams(_ token: String) -> [UInt16] {
        let letters = [UInt8(ascii: "^")] + Array(token.utf8) + [UInt8(ascii: "$")]
        return (0..<(letters.count - 1)).map { UInt16(letters[$0]) << 8 | UInt16(letters[$0 + 1]) }
    }
}
