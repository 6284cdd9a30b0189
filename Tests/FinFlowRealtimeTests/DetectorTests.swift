import FinFlowCore
import Foundation
import Testing

@testable import FinFlowRealtime

/// The detector on seeded synthetic streams with labelled anomalies of four kinds: what it finds, how often it is
/// right, why it says so, and that a detector restored from a snapshot carries on exactly as one that never stopped.
@Suite("realtime detector: Half-Space Trees, bursts and drifts on a synthetic stream")
struct DetectorTests {
    static let threshold = 0.9

    /// Precision and recall per kind, printed for the record and held to their floors.
    static func check(seed: UInt64, precisionMin: Double, foundMin: Int) {
        let stream = SyntheticStream(normal: 12_000, perKind: 10, seed: seed)
        let result = stream.evaluate(threshold: Self.threshold)
        let recall = SyntheticStream.Kind.allCases.map { "\($0.rawValue) \(result.recall[$0]!.found)/\(result.recall[$0]!.of)" }
        print("detector, seed \(seed), threshold \(Self.threshold): precision \(String(format: "%.3f", result.precision)) of \(result.flagged) flagged;",
              "found \(recall.joined(separator: ", "))")
        #expect(result.precision >= precisionMin, "precision \(result.precision)")
        for kind in SyntheticStream.Kind.allCases {
            #expect(result.recall[kind]!.found >= foundMin, "\(kind.rawValue): \(result.recall[kind]!.found) of 10 found")
        }
    }

    @Test("on the stream the defaults were chosen on: nine flags in ten right, eight injections of ten found of every kind")
    func calibrated() { Self.check(seed: 11, precisionMin: 0.85, foundMin: 8) }

    @Test("on streams it has never seen: still mostly right, and most of every kind found")
    func unseen() {
        Self.check(seed: 23, precisionMin: 0.75, foundMin: 7)
        Self.check(seed: 47, precisionMin: 0.75, foundMin: 7)
    }

    @Test("each kind of anomaly is explained by the feature that makes it one")
    func explanations() {
        let stream = SyntheticStream(normal: 12_000, perKind: 10, seed: 11)
        var detector = TenantDetector()
        var top: [SyntheticStream.Kind: [String: Int]] = [:]
        for event in stream.events {
            let assessment = detector.observe(event.observation, threshold: Self.threshold)
            guard assessment.score >= Self.threshold, let injection = event.injection, let first = assessment.reasons.first else { continue }
            #expect(!first.detail.isEmpty && first.contribution > 0)
            top[stream.injections[injection], default: [:]][first.feature, default: 0] += 1
        }
        func leading(_ kind: SyntheticStream.Kind) -> String? { top[kind]?.max { $0.value < $1.value }?.key }
        #expect(["amount-for-account", "amount-for-counterparty", "amount-for-tenant"].contains(leading(.spike) ?? ""), "\(top)")
        #expect(leading(.newCounterparty) == "new-counterparty", "\(top)")
        #expect(leading(.burst) == "burst" && leading(.drift) == "drift", "\(top)")
    }

    @Test("a detector saved mid-stream and restored scores the rest exactly as one that never stopped")
    func snapshotsAreExact() throws {
        let stream = SyntheticStream(normal: 4_000, perKind: 3, seed: 5)
        var whole = TenantDetector()
        var first = TenantDetector()
        let half = stream.events.count / 2
        for event in stream.events.prefix(half) {
            #expect(whole.observe(event.observation) == first.observe(event.observation))
        }
        let saved = try JSONEncoder().encode(first)
        var restored = try JSONDecoder().decode(TenantDetector.self, from: saved)
        #expect(restored == first)
        for event in stream.events.dropFirst(half) {
            #expect(whole.observe(event.observation, threshold: Self.threshold) == restored.observe(event.observation, threshold: Self.threshold))
        }
        #expect(saved.count < 400_000, "a tenant's snapshot is \(saved.count) bytes")
    }

    @Test("Half-Space Trees: nothing scores before a window closes; then a point far from the window scores above every point in it")
    func halfSpaceTrees() {
        var trees = HalfSpaceTrees(dimensions: 2, windowSize: 200, seed: 1)
        var random = SeededRandom(seed: 2)
        func near() -> [Double] { [0.45 + 0.1 * Double(random.next() % 1_000) / 1_000, 0.45 + 0.1 * Double(random.next() % 1_000) / 1_000] }
        for _ in 0..<199 { trees.learn(near()) }
        #expect(trees.score([0.99, 0.01]) == 0 && !trees.warm)
        trees.learn(near())
        #expect(trees.warm)
        let far = trees.score([0.99, 0.01])
        let usual = (0..<100).map { _ in trees.score(near()) }
        #expect(far > usual.max()!, "far \(far), usual up to \(usual.max()!)")
        #expect(HalfSpaceTrees(dimensions: 2, windowSize: 200, seed: 1) == HalfSpaceTrees(dimensions: 2, windowSize: 200, seed: 1))
        #expect(TenantDetector.poissonTail(atLeast: 0, mean: 3) == 1 && abs(TenantDetector.poissonTail(atLeast: 1, mean: 2) - (1 - exp(-2))) < 1e-12)
    }
}
