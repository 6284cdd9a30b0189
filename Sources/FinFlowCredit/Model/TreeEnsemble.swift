import Foundation

/// A boosted tree ensemble read from XGBoost's JSON model format (gbtree, `binary:logistic`), evaluated natively.
///
/// Evaluation follows XGBoost's CPU predictor: a feature value and a split condition compare as 32-bit floats
/// (`value < condition` goes left), a missing value (NaN) follows the node's default direction, the margin is the
/// base margin (the logit of `base_score`) plus the leaves reached, and the probability is its logistic.
public struct TreeEnsemble: Sendable {
    /// One node, flattened; children are indices into the same tree's slice of `nodes`.
    struct Node: Sendable {
        var left: Int32
        var right: Int32
        var feature: Int32
        /// The split condition, or the leaf value at a leaf.
        var value: Float
        var defaultLeft: Bool
        /// The node's training cover (sum of hessians): TreeSHAP weighs paths by it.
        var cover: Double
        var isLeaf: Bool { self.left < 0 }
    }

    /// Every tree's nodes, tree after tree.
    let nodes: [Node]
    /// The index of each tree's root in `nodes`.
    let roots: [Int]
    /// The logit of `base_score`.
    public let baseMargin: Double
    public let featureCount: Int
    /// The column names the model was trained with, when the model file carries them.
    public let featureNames: [String]?
    /// Each node's cover-weighted mean leaf value (TreeSHAP's expectations), indexed like `nodes`.
    let means: [Double]
    /// The deepest tree's depth, which sizes TreeSHAP's path buffer.
    let depthMax: Int
    /// The margin expected over the training data: the base margin plus every tree's root mean.
    public let expectedMargin: Double

    /// Limits on an uploaded model: it is parsed in memory and evaluated per request.
    public static let treesMax = 5_000
    public static let nodesMax = 2_000_000
    public static let featuresMax = 10_000

    /// Reads a model saved by `Booster.save_model("model.json")`; refuses what it cannot evaluate exactly.
    public init(json data: Data) throws {
        let file: ModelFile
        do { file = try JSONDecoder().decode(ModelFile.self, from: data) } catch {
            throw ModelError("not an XGBoost JSON model: \(Self.describe(error))")
        }
        let learner = file.learner
        guard learner.objective.name == "binary:logistic" else {
            throw ModelError("objective \(learner.objective.name) is not supported (binary:logistic is)")
        }
        guard learner.gradient_booster.name == "gbtree", let model = learner.gradient_booster.model else {
            throw ModelError("booster \(learner.gradient_booster.name) is not supported (gbtree is)")
        }
        let parameters = learner.learner_model_param
        guard let featureCount = Int(parameters.num_feature), (1...Self.featuresMax).contains(featureCount) else {
            throw ModelError("num_feature must be 1–\(Self.featuresMax)")
        }
        if let classes = parameters.num_class, classes != "0", classes != "1" { throw ModelError("multi-class models are not supported") }
        if let targets = parameters.num_target, targets != "1" { throw ModelError("multi-target models are not supported") }
        let base = try Self.number(parameters.base_score)
        guard base > 0, base < 1 else { throw ModelError("base_score \(base) is not a probability") }
        guard !model.trees.isEmpty, model.trees.count <= Self.treesMax else {
            throw ModelError("the model must have 1–\(Self.treesMax) trees")
        }
        var nodes: [Node] = []
        var roots: [Int] = []
        for (index, tree) in model.trees.enumerated() {
            roots.append(nodes.count)
            nodes += try Self.nodes(of: tree, index: index, featureCount: featureCount)
            guard nodes.count <= Self.nodesMax else { throw ModelError("the model has more than \(Self.nodesMax) nodes") }
        }
        if let names = learner.feature_names, !names.isEmpty, names.count != featureCount {
            throw ModelError("feature_names lists \(names.count) names for \(featureCount) features")
        }
        self.nodes = nodes
        self.roots = roots
        self.baseMargin = log(base / (1 - base))
        self.featureCount = featureCount
        self.featureNames = learner.feature_names.flatMap { $0.isEmpty ? nil : $0 }
        let shape = Self.shape(nodes: nodes, roots: roots)
        self.means = shape.means
        self.depthMax = shape.depthMax
        self.expectedMargin = self.baseMargin + roots.reduce(0) { $0 + shape.means[$1] }
    }

    /// The raw score (log-odds of default) for one row of `featureCount` values; NaN marks a missing value.
    public func margin(_ row: UnsafeBufferPointer<Float>) -> Double {
        precondition(row.count == self.featureCount, "a row must have one value per model feature")
        var sum = 0.0
        self.nodes.withUnsafeBufferPointer { nodes in
            for root in self.roots { sum += Double(nodes[self.leaf(of: root, row: row, nodes: nodes)].value) }
        }
        return self.baseMargin + sum
    }

    /// `margin` of an array.
    public func margin(_ row: [Float]) -> Double {
        row.withUnsafeBufferPointer { self.margin($0) }
    }

    /// The probability of default for one row.
    public func probability(_ row: [Float]) -> Double {
        Self.logistic(self.margin(row))
    }

    /// The probability a margin (log-odds) stands for.
    public static func logistic(_ margin: Double) -> Double { 1 / (1 + exp(-margin)) }

    /// The leaf `row` reaches from `root`.
    @inline(__always)
    func leaf(of root: Int, row: UnsafeBufferPointer<Float>, nodes: UnsafeBufferPointer<Node>) -> Int {
        var index = root
        while true {
            let node = nodes[index]
            if node.isLeaf { return index }
            index = root + Int(self.goesLeft(node, row[Int(node.feature)]) ? node.left : node.right)
        }
    }

    /// Whether `value` takes a node's left branch.
    @inline(__always)
    func goesLeft(_ node: Node, _ value: Float) -> Bool {
        value.isNaN ? node.defaultLeft : value < node.value
    }

    private static func nodes(of tree: ModelFile.Tree, index: Int, featureCount: Int) throws -> [Node] {
        let count = tree.left_children.count
        let arrays = [tree.right_children.count, tree.split_indices.count, tree.split_conditions.count,
                      tree.default_left.count, tree.sum_hessian.count]
        guard count > 0, arrays.allSatisfy({ $0 == count }) else { throw ModelError("tree \(index) has arrays of different lengths") }
        if let types = tree.split_type, types.contains(where: { $0 != 0 }) {
            throw ModelError("tree \(index) has categorical splits, which are not supported (encode categories as columns)")
        }
        var nodes: [Node] = []
        nodes.reserveCapacity(count)
        for i in 0..<count {
            let left = tree.left_children[i], right = tree.right_children[i]
            let isLeaf = left == -1
            if isLeaf {
                guard right == -1 else { throw ModelError("tree \(index) node \(i) has one child") }
            } else {
                // Children after their parent keeps every walk finite.
                guard left > i, right > i, left < count, right < count else {
                    throw ModelError("tree \(index) node \(i) has children out of order")
                }
                guard (0..<featureCount).contains(tree.split_indices[i]) else {
                    throw ModelError("tree \(index) node \(i) splits on feature \(tree.split_indices[i]) of \(featureCount)")
                }
            }
            let condition = tree.split_conditions[i], cover = tree.sum_hessian[i]
            guard condition.isFinite, cover.isFinite, cover >= 0 else { throw ModelError("tree \(index) node \(i) has a non-finite value") }
            nodes.append(Node(
                left: Int32(left), right: Int32(right), feature: isLeaf ? 0 : Int32(tree.split_indices[i]), value: Float(condition),
                defaultLeft: tree.default_left[i].isTrue, cover: cover))
        }
        return nodes
    }

    /// XGBoost writes `base_score` as a string, a bracketed vector of one since 3.0 ("[3E-1]").
    private static func number(_ text: String) throws -> Double {
        let trimmed = text.trimmingCharacters(in: CharacterSet(charactersIn: "[] "))
        guard let value = Double(trimmed), value.isFinite else { throw ModelError("base_score \(text) is not a number") }
        return value
    }

    /// A decoding error as a path and a reason, for the refusal of a model file.
    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing \((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context), DecodingError.dataCorrupted(let context):
            return "bad value at \(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }
}

/// A model file that cannot be served, with the reason.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The part of XGBoost's JSON model schema the evaluator reads.
private struct ModelFile: Decodable {
    let learner: Learner

    struct Learner: Decodable {
        let learner_model_param: Parameters
        let objective: Objective
        let gradient_booster: Booster
        let feature_names: [String]?
    }

    struct Parameters: Decodable {
        let base_score: String
        let num_feature: String
        let num_class: String?
        let num_target: String?
    }

    struct Objective: Decodable { let name: String }

    struct Booster: Decodable {
        let name: String
        let model: Model?
    }

    struct Model: Decodable { let trees: [Tree] }

    struct Tree: Decodable {
        let left_children: [Int]
        let right_children: [Int]
        let split_indices: [Int]
        let split_conditions: [Double]
        let default_left: [Flag]
        let sum_hessian: [Double]
        let split_type: [Int]?
    }

    /// `default_left` is 0/1 in current files and true/false in some older ones.
    enum Flag: Decodable {
        case value(Bool)
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let flag = try? container.decode(Bool.self) { self = .value(flag) } else { self = .value(try container.decode(Int.self) != 0) }
        }
        var isTrue: Bool { if case .value(let flag) = self { flag } else { false } }
    }
}
