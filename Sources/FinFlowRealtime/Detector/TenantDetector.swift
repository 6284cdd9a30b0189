import Foundation

/// One money movement as the detector sees it: a transaction or a payment, its amount, the account (or gateway and
/// outcome) it moved through, and the counterparty (or customer), at the instant of the event.
struct Observation: Sendable, Codable, Equatable {
    /// `transaction` or `payment`.
    let kind: String
    let subjectId: String
    let atMillis: Int64
    let amountMinor: Int64
    let currency: String
    let accountKey: String
    let counterparty: String?
}

/// What the detector made of an observation: its score, whether it crossed the threshold, and why.
struct Assessment: Sendable, Codable, Equatable {
    /// One feature's part in the score.
    struct Reason: Sendable, Codable, Equatable {
        /// `amount-for-account`, `amount-for-counterparty`, `amount-for-tenant`, `new-counterparty`, `burst`, `drift`.
        let feature: String
        /// The raw measure: a robust z-score, a count ratio, 1 for a first counterparty.
        let value: Double
        /// How much the score falls when the feature is put back to its usual value.
        let contribution: Double
        /// The measure in words.
        let detail: String
    }

    let score: Double
    let reasons: [Reason]
}

/// A tenant's detector: the statistics of its accounts, counterparties and itself, and Half-Space Trees over six
/// features of each observation, scoring it against what came before and then learning from it.
struct TenantDetector: Sendable, Codable, Equatable {
    static let featureNames = ["amount-for-account", "amount-for-counterparty", "amount-for-tenant", "new-counterparty", "burst", "drift"]
    /// Each feature's value when nothing about it is unusual.
    static let usual: [Double] = [0.5, 0.5, 0.5, 0, 0.5, 0.5]
    /// The most accounts and counterparties kept; past it, the least recently seen half is forgotten.
    static let entitiesMax = 50_000

    private(set) var trees: HalfSpaceTrees
    private(set) var accounts: [String: EntityStats] = [:]
    private(set) var parties: [String: EntityStats] = [:]
    private(set) var whole = EntityStats()
    private(set) var observed = 0

    init(trees: Int = 10, height: Int = 11, windowSize: Int = 1_000, seed: UInt64 = 0x5EED) {
        self.trees = HalfSpaceTrees(dimensions: Self.featureNames.count, trees: trees, height: height, windowSize: windowSize, seed: seed)
    }

    /// A z-score mapped linearly into [0, 1]: 0.5 is usual, the ends eight deviations either way (clamped there). A
    /// linear map keeps the empty space between the usual values and an outlier, which is what the trees' halvings
    /// isolate it by.
    static func squash(_ z: Double) -> Double { max(0, min(1, 0.5 + z / 16)) }

    /// The feature vector of `o` against the statistics so far, with the raw measures behind it.
    func features(_ o: Observation) -> (vector: [Double], raw: [Double]) {
        let x = log10(Double(max(1, o.amountMinor.magnitude)))
        let account = self.accounts[o.accountKey]
        let party = o.counterparty.flatMap { self.parties[$0] }
        let zAccount = account?.robustZ(x) ?? 0
        let zParty = party?.robustZ(x) ?? 0
        let zTenant = self.whole.robustZ(x)
        // A first counterparty is news only once the tenant has a history to be new against.
        let novelty: Double = o.counterparty == nil || self.whole.count < 20 ? 0 : 1 / Double(1 + (party?.count ?? 0))
        let window = Double(account?.windowCount(at: o.atMillis) ?? 0) + 1
        let burst = log2(window / ((account?.usualWindowCount ?? 0) + 1))
        let drift = account?.drift ?? 0
        return ([Self.squash(zAccount), Self.squash(zParty), Self.squash(zTenant), novelty, Self.squash(burst * 2), Self.squash(drift / 2)],
                [zAccount, zParty, zTenant, novelty, window, drift])
    }

    /// The CUSUM level that counts as a drift (in robust deviations accumulated beyond the allowance).
    static let driftLevel = 12.0
    /// The robust z-score of an amount against its account's usual that scores 0.9 on its own.
    static let extremeDeviations = 8.0
    /// The tail probability of a window count that counts as a burst.
    static let burstProbability = 1e-4

    /// Scores `o`, explains the score, then learns from it. The score is the largest of four (the fourth: an amount far
    /// above the account's usual, by its robust z-score alone): the trees' score (a
    /// point unlike the recent ones, in any combination of features), the burst score (the account's count in the last
    /// ten minutes against a Poisson law at its usual level: 0.9 at a tail probability of 10⁻⁴) and the drift score
    /// (the account's CUSUM: 0.9 at `driftLevel`). Bursts and drifts are collective: no single movement of one looks
    /// unusual, so the trees alone miss them.
    mutating func observe(_ o: Observation, threshold: Double = 1) -> Assessment {
        let (vector, raw) = self.features(o)
        let trees = self.trees.score(vector)
        let account = self.accounts[o.accountKey]
        let x = log10(Double(max(1, o.amountMinor.magnitude)))
        let usual = account?.usualWindowCount ?? 0
        let tail = Self.poissonTail(atLeast: (account?.windowCount(at: o.atMillis) ?? 0) + 1, mean: usual + 0.5)
        let warm = account?.isWarm(at: o.atMillis) ?? false
        let burst = !warm || self.whole.count < 20 ? 0 : min(1, 0.9 * log10(1 / max(tail, 1e-300)) / -log10(Self.burstProbability))
        // An amount far above the account's usual needs no trees to be seen: the robust z-score alone, once the account
        // has twenty movements (the trees score only from a tenant's thousandth).
        let extreme = (account?.count ?? 0) >= 20 ? min(1, 0.9 * max(0, raw[0]) / Self.extremeDeviations) : 0
        var cusum = 0.0
        if let account, account.count >= 10 {
            cusum = max(0, account.cusum + min(account.robustZ(x), 3) - EntityStats.cusumAllowance)
        }
        let drift = min(1, 0.9 * cusum / Self.driftLevel)
        let score = max(trees, burst, drift, extreme)
        var reasons: [Assessment.Reason] = []
        if score >= threshold {
            if burst >= threshold {
                reasons.append(.init(feature: "burst", value: raw[4], contribution: Self.rounded(burst), detail: Self.detail("burst", raw[4], account: account)))
            }
            if drift >= threshold {
                reasons.append(.init(
                    feature: "drift", value: Self.rounded(cusum), contribution: Self.rounded(drift),
                    detail: "amounts of this account above its usual for a while (CUSUM \(String(format: "%.1f", cusum)) deviations)"))
            }
            if trees >= threshold { reasons += self.explain(vector, raw: raw, score: trees, account: account) }
            if extreme >= threshold, !reasons.contains(where: { $0.feature == "amount-for-account" }) {
                reasons.append(.init(
                    feature: "amount-for-account", value: Self.rounded(raw[0]), contribution: Self.rounded(extreme),
                    detail: Self.detail("amount-for-account", raw[0], account: account)))
            }
            reasons.sort { $0.contribution > $1.contribution }
        }
        self.trees.learn(vector)
        self.accounts[o.accountKey, default: EntityStats()].add(x, at: o.atMillis)
        if drift >= threshold { self.accounts[o.accountKey]?.resetDrift() }
        if let party = o.counterparty { self.parties[party, default: EntityStats()].add(x, at: o.atMillis) }
        self.whole.add(x, at: o.atMillis)
        self.observed += 1
        if self.accounts.count > Self.entitiesMax { self.accounts = Self.recent(self.accounts) }
        if self.parties.count > Self.entitiesMax { self.parties = Self.recent(self.parties) }
        return Assessment(score: Self.rounded(score), reasons: reasons)
    }

    /// Each feature's part in the trees' score: how much the score falls when that feature alone is put back to its
    /// usual value.
    func explain(_ vector: [Double], raw: [Double], score: Double, account: EntityStats?) -> [Assessment.Reason] {
        Self.featureNames.enumerated().compactMap { i, name in
            guard abs(vector[i] - Self.usual[i]) > 0.05 else { return nil }
            var usual = vector
            usual[i] = Self.usual[i]
            let contribution = score - self.trees.score(usual)
            guard contribution > 0.001 else { return nil }
            return .init(
                feature: name, value: (raw[i] * 100).rounded() / 100, contribution: Self.rounded(contribution),
                detail: Self.detail(name, raw[i], account: account))
        }
    }

    static func rounded(_ value: Double) -> Double { (value * 10_000).rounded() / 10_000 }

    /// P(N ≥ n) for N Poisson with `mean`, summed in log space.
    static func poissonTail(atLeast n: Int, mean: Double) -> Double {
        guard n > 0 else { return 1 }
        var below = 0.0
        var logTerm = -mean
        for k in 0..<n {
            if k > 0 { logTerm += log(mean) - log(Double(k)) }
            below += exp(logTerm)
        }
        return max(0, 1 - below)
    }

    /// The more recently seen half of `entities`.
    static func recent(_ entities: [String: EntityStats]) -> [String: EntityStats] {
        let kept = entities.sorted { ($0.value.lastMillis, $0.key) > ($1.value.lastMillis, $1.key) }.prefix(entities.count / 2)
        return Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
    }

    static func detail(_ feature: String, _ value: Double, account: EntityStats?) -> String {
        let z = String(format: "%.1f", value)
        switch feature {
        case "amount-for-account": return "amount \(z) robust deviations from this account's usual"
        case "amount-for-counterparty": return "amount \(z) robust deviations from this counterparty's usual"
        case "amount-for-tenant": return "amount \(z) robust deviations from the business's usual"
        case "new-counterparty": return value >= 1 ? "first movement with this counterparty" : "one of the first movements with this counterparty"
        case "burst":
            let usual = String(format: "%.1f", account?.usualWindowCount ?? 0)
            return "\(Int(value)) movements of this account in \(EntityStats.windowMinutes) minutes (usually \(usual))"
        default: return "recent amounts of this account \(z) deviations from their long-run level"
        }
    }
}
