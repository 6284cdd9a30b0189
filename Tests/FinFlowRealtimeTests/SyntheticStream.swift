import FinFlowCore
import Foundation

@testable import FinFlowRealtime

/// A seeded stream of a small business's money movements with anomalies of four kinds put in, each labelled: single
/// spikes, bursts on one account, new counterparties with large amounts, and an account's amounts drifting up.
struct SyntheticStream {
    enum Kind: String, CaseIterable { case spike, burst, newCounterparty = "new-counterparty", drift }

    struct Event {
        let observation: Observation
        /// The injection it belongs to (nil for a normal event).
        let injection: Int?
    }

    let events: [Event]
    /// Each injection's kind, by its number.
    let injections: [Kind]

    /// `normal` ordinary events over about a month, with `perKind` injections of each kind after the first 3,000.
    init(normal: Int, perKind: Int, seed: UInt64) {
        var random = SeededRandom(seed: seed)
        func uniform() -> Double { Double(random.next() >> 11) / 9_007_199_254_740_992 }
        func gaussian() -> Double { (-2 * log(max(uniform(), 1e-300))).squareRoot() * cos(2 * .pi * uniform()) }
        let accounts = (0..<20).map { i in (key: "acct-\(i)", logMean: 3.0 + Double(i % 5) * 0.4) }
        let parties = (0..<150).map { "party-\($0)" }
        // Counterparties by a Zipf-like law: a few frequent, many rare; each tied to one account.
        let weights = (1...parties.count).map { 1 / Double($0) }
        let weightTotal = weights.reduce(0, +)
        func party() -> Int {
            var target = uniform() * weightTotal
            for (i, weight) in weights.enumerated() {
                target -= weight
                if target <= 0 { return i }
            }
            return parties.count - 1
        }
        var events: [Event] = []
        var injections: [Kind] = []
        var millis: Int64 = 1_767_225_600_000
        var serial = 0
        func observation(_ account: Int, _ counterparty: String?, _ logAmount: Double) -> Observation {
            serial += 1
            return Observation(
                kind: "transaction", subjectId: "tx-\(serial)", atMillis: millis, amountMinor: Int64(pow(10, logAmount).rounded()), currency: "EUR",
                accountKey: accounts[account].key, counterparty: counterparty)
        }
        // Where each injection goes: spread evenly over the stream after the warm-up.
        let kinds = Kind.allCases.flatMap { kind in Array(repeating: kind, count: perKind) }
        var slots: [Int: Kind] = [:]
        var order = kinds
        for i in order.indices.reversed() { order.swapAt(i, Int(random.next() % UInt64(i + 1))) }
        for (i, kind) in order.enumerated() { slots[3_000 + (normal - 3_000) * i / max(order.count, 1)] = kind }
        for index in 0..<normal {
            millis += Int64(30_000 + random.next() % 240_000)
            let p = party()
            let account = p % accounts.count
            events.append(Event(observation: observation(account, parties[p], accounts[account].logMean + 0.15 * gaussian()), injection: nil))
            guard let kind = slots[index] else { continue }
            let number = injections.count
            injections.append(kind)
            let target = Int(random.next() % UInt64(accounts.count))
            switch kind {
            case .spike:
                millis += 1_000
                let p = target + accounts.count * Int(random.next() % 3)
                events.append(Event(observation: observation(target, parties[p], accounts[target].logMean + 1.5), injection: number))
            case .burst:
                for _ in 0..<12 {
                    millis += Int64(5_000 + random.next() % 10_000)
                    events.append(Event(observation: observation(target, parties[target], accounts[target].logMean + 0.15 * gaussian()), injection: number))
                }
            case .newCounterparty:
                millis += 1_000
                events.append(Event(
                    observation: observation(target, "stranger-\(number)", accounts[target].logMean + 0.8 + 0.15 * gaussian()), injection: number))
            case .drift:
                // Forty movements of one account, each 4 % above the one before (4.8 times by the end), among the usual ones.
                for step in 0..<40 {
                    millis += Int64(30_000 + random.next() % 240_000)
                    let logAmount = accounts[target].logMean + Double(step) * log10(1.04) + 0.05 * gaussian()
                    events.append(Event(observation: observation(target, parties[target], logAmount), injection: step >= 20 ? number : nil))
                }
            }
        }
        self.events = events
        self.injections = injections
    }

    /// Runs the stream through a detector: per kind, the injections found (any of their events flagged); and the
    /// precision of all flags (flagged events belonging to an injection, of all flagged).
    func evaluate(threshold: Double, detector made: TenantDetector = TenantDetector()) -> (recall: [Kind: (found: Int, of: Int)], precision: Double, flagged: Int) {
        var detector = made
        var found = Set<Int>()
        var flagged = 0
        var right = 0
        for event in self.events {
            let assessment = detector.observe(event.observation)
            guard assessment.score >= threshold else { continue }
            flagged += 1
            if let injection = event.injection {
                right += 1
                found.insert(injection)
            }
        }
        var recall: [Kind: (Int, Int)] = [:]
        for kind in Kind.allCases {
            let numbers = self.injections.indices.filter { self.injections[$0] == kind }
            recall[kind] = (numbers.filter(found.contains).count, numbers.count)
        }
        return (recall, flagged > 0 ? Double(right) / Double(flagged) : 1, flagged)
    }

    /// The scores of every event, with whether it was injected.
    func scores(detector made: TenantDetector) -> [(score: Double, injected: Bool)] {
        var detector = made
        return self.events.map { (detector.observe($0.observation).score, $0.injection != nil) }
    }
}
