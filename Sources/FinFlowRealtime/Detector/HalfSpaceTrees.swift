import FinFlowCore
import Foundation
import Synchronization

/// Half-Space Trees (Tan, Ting and Liu 2011), the streaming anomaly detector River implements: an ensemble of random
/// binary trees over the feature space [0, 1]^d, each node halving one feature's range. The trees count how many of the
/// last window's points fell in each node (the reference mass) while counting the current window's (the latest mass);
/// when a window closes, latest becomes reference. A point in sparse regions of the reference window scores high.
///
/// Built from a seed, so two detectors fed the same stream hold the same trees and masses: a state restored from a
/// snapshot and a replay equals the state that was lost.
struct HalfSpaceTrees: Sendable, Codable, Equatable {
    let dimensions: Int
    let trees: Int
    let height: Int
    let windowSize: Int
    let seed: UInt64
    /// The trees' splits, the same for every detector of this shape and seed, so kept once per process.
    private let layout: TreeLayout
    /// Per tree and node (heap order: children of i are 2i + 1 and 2i + 2): the masses of the reference and the
    /// latest window (at most the window's size, so 16 bits).
    private(set) var reference: [UInt16]
    private(set) var latest: [UInt16]
    /// Points counted in the latest window, and whether a whole window has been seen (before, every score is 0).
    private(set) var counted = 0
    private(set) var warm = false

    var nodesPerTree: Int { (1 << (self.height + 1)) - 1 }

    /// Trees over `dimensions` features (River's defaults are 10 trees of height 8 and a window of 250; FinFlow's are
    /// chosen on the synthetic stream of the tests).
    init(dimensions: Int, trees: Int = 10, height: Int = 11, windowSize: Int = 1_000, seed: UInt64) {
        precondition(dimensions > 0 && dimensions < 256 && trees > 0 && (1...16).contains(height) && (2...65_535).contains(windowSize))
        self.dimensions = dimensions
        self.trees = trees
        self.height = height
        self.windowSize = windowSize
        self.seed = seed
        self.layout = TreeLayout.shared(dimensions: dimensions, trees: trees, height: height, seed: seed)
        let nodes = trees * ((1 << (height + 1)) - 1)
        self.reference = [UInt16](repeating: 0, count: nodes)
        self.latest = [UInt16](repeating: 0, count: nodes)
    }

    /// The anomaly score of `x` against the reference window, 0 (dense) to 1 (alone); 0 until a window has closed.
    /// River's scoring: each node on the point's path adds its reference mass × 2^depth, stopping where the mass falls
    /// under a tenth of the window; the sum is taken from its maximum.
    func score(_ x: [Double]) -> Double {
        guard self.warm else { return 0 }
        let limit = UInt16(max(1, self.windowSize / 10))
        let nodesPerTree = self.nodesPerTree
        var total = 0.0
        for tree in 0..<self.trees {
            let base = tree * nodesPerTree
            var node = 0
            var depth = 0
            while true {
                let mass = self.reference[base + node]
                total += Double(mass) * Double(1 << depth)
                if depth == self.height || mass < limit { break }
                node = self.layout.child(of: node, base: base, x)
                depth += 1
            }
        }
        let maximum = Double(self.trees) * Double(self.windowSize) * Double((1 << (self.height + 1)) - 1)
        return max(0, min(1, 1 - total / maximum))
    }

    /// Counts `x` in the latest window; closes the window when it is full.
    mutating func learn(_ x: [Double]) {
        let nodesPerTree = self.nodesPerTree
        for tree in 0..<self.trees {
            let base = tree * nodesPerTree
            var node = 0
            for depth in 0...self.height {
                self.latest[base + node] &+= 1
                if depth == self.height { break }
                node = self.layout.child(of: node, base: base, x)
            }
        }
        self.counted += 1
        if self.counted >= self.windowSize {
            swap(&self.reference, &self.latest)
            for i in self.latest.indices { self.latest[i] = 0 }
            self.counted = 0
            self.warm = true
        }
    }

    // MARK: snapshots

    private enum CodingKeys: String, CodingKey { case dimensions, trees, height, windowSize, seed, reference, latest, counted, warm }

    /// The shape, and the masses as little-endian bytes (the splits follow from the seed).
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(self.dimensions, forKey: .dimensions)
        try c.encode(self.trees, forKey: .trees)
        try c.encode(self.height, forKey: .height)
        try c.encode(self.windowSize, forKey: .windowSize)
        try c.encode(self.seed, forKey: .seed)
        try c.encode(Self.bytes(self.reference), forKey: .reference)
        try c.encode(Self.bytes(self.latest), forKey: .latest)
        try c.encode(self.counted, forKey: .counted)
        try c.encode(self.warm, forKey: .warm)
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let dimensions = try c.decode(Int.self, forKey: .dimensions)
        let trees = try c.decode(Int.self, forKey: .trees)
        let height = try c.decode(Int.self, forKey: .height)
        let windowSize = try c.decode(Int.self, forKey: .windowSize)
        guard (1..<256).contains(dimensions), (1...100).contains(trees), (1...16).contains(height), (2...65_535).contains(windowSize) else {
            throw DecodingError.dataCorruptedError(forKey: .trees, in: c, debugDescription: "a detector shape out of bounds")
        }
        self.init(dimensions: dimensions, trees: trees, height: height, windowSize: windowSize, seed: try c.decode(UInt64.self, forKey: .seed))
        let reference = Self.masses(try c.decode(Data.self, forKey: .reference))
        let latest = Self.masses(try c.decode(Data.self, forKey: .latest))
        guard reference.count == self.reference.count, latest.count == self.latest.count else {
            throw DecodingError.dataCorruptedError(forKey: .reference, in: c, debugDescription: "masses of another shape")
        }
        self.reference = reference
        self.latest = latest
        self.counted = try c.decode(Int.self, forKey: .counted)
        self.warm = try c.decode(Bool.self, forKey: .warm)
    }

    static func bytes(_ masses: [UInt16]) -> Data {
        var data = Data(capacity: masses.count * 2)
        for mass in masses { data.append(contentsOf: [UInt8(mass & 0xFF), UInt8(mass >> 8)]) }
        return data
    }

    static func masses(_ data: Data) -> [UInt16] {
        let bytes = [UInt8](data)
        return stride(from: 0, to: bytes.count - 1, by: 2).map { UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8 }
    }

    static func == (a: HalfSpaceTrees, b: HalfSpaceTrees) -> Bool {
        (a.dimensions, a.trees, a.height, a.windowSize, a.counted) == (b.dimensions, b.trees, b.height, b.windowSize, b.counted)
            && a.seed == b.seed && a.warm == b.warm && a.reference == b.reference && a.latest == b.latest
    }
}

/// The splits of a set of random trees: each node's feature and the value halving its range there. Built once per
/// shape and seed and shared by every detector of that shape.
final class TreeLayout: Sendable {
    let features: [UInt8]
    let splits: [Float]

    private static let cache = Mutex<[String: TreeLayout]>([:])

    static func shared(dimensions: Int, trees: Int, height: Int, seed: UInt64) -> TreeLayout {
        let key = "\(dimensions)/\(trees)/\(height)/\(seed)"
        return Self.cache.withLock { cache in
            if let layout = cache[key] { return layout }
            let layout = TreeLayout(dimensions: dimensions, trees: trees, height: height, seed: seed)
            cache[key] = layout
            return layout
        }
    }

    private init(dimensions: Int, trees: Int, height: Int, seed: UInt64) {
        let nodesPerTree = (1 << (height + 1)) - 1
        var features = [UInt8](repeating: 0, count: trees * nodesPerTree)
        var splits = [Float](repeating: 0, count: trees * nodesPerTree)
        var random = SeededRandom(seed: seed)
        func uniform() -> Double { Double(random.next() >> 11) / 9_007_199_254_740_992 }
        func build(base: Int, node: Int, depth: Int, low: inout [Double], high: inout [Double]) {
            guard depth < height else { return }
            let q = Int(random.next() % UInt64(dimensions))
            let split = (low[q] + high[q]) / 2
            features[base + node] = UInt8(q)
            splits[base + node] = Float(split)
            let savedHigh = high[q]
            high[q] = split
            build(base: base, node: 2 * node + 1, depth: depth + 1, low: &low, high: &high)
            high[q] = savedHigh
            let savedLow = low[q]
            low[q] = split
            build(base: base, node: 2 * node + 2, depth: depth + 1, low: &low, high: &high)
            low[q] = savedLow
        }
        for tree in 0..<trees {
            // The tree's work space: each feature's range around a random point, wide enough to hold [0, 1] (the paper's
            // s ± 2·max(s, 1 − s)), so splits fall at different places in different trees.
            var low = [Double](repeating: 0, count: dimensions)
            var high = [Double](repeating: 0, count: dimensions)
            for q in 0..<dimensions {
                let s = uniform()
                let r = 2 * max(s, 1 - s)
                (low[q], high[q]) = (s - r, s + r)
            }
            build(base: tree * nodesPerTree, node: 0, depth: 0, low: &low, high: &high)
        }
        self.features = features
        self.splits = splits
    }

    /// The child of `node` (in the tree starting at `base`) that `x` falls in.
    @inline(__always)
    func child(of node: Int, base: Int, _ x: [Double]) -> Int {
        Float(x[Int(self.features[base + node])]) < self.splits[base + node] ? 2 * node + 1 : 2 * node + 2
    }
}
