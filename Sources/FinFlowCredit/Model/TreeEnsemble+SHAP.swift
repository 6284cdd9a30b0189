import Foundation

/// Exact TreeSHAP (Lundberg, Erion and Lee, "Consistent Individualized Feature Attribution for Tree Ensembles",
/// algorithm 2), as XGBoost computes `pred_contribs`: each feature's share of the margin, with node covers as the
/// background distribution. The contributions and the expected value add up to the margin.
extension TreeEnsemble {
    /// Per-column contributions to the margin for `row`, and the expected margin (the bias) they start from.
    public func contributions(_ row: [Float]) -> (values: [Double], expected: Double) {
        precondition(row.count == self.featureCount, "a row must have one value per model feature")
        var phi = [Double](repeating: 0, count: self.featureCount)
        // One path buffer, sliced per recursion level: (depth + 1) levels of at most (depth + 2) elements each.
        let depthMax = self.depthMax
        var path = [PathElement](repeating: PathElement(), count: (depthMax + 2) * (depthMax + 3) / 2 + depthMax + 2)
        row.withUnsafeBufferPointer { values in
            for root in self.roots {
                let walk = ShapWalk(nodes: self.nodes, root: root, row: values, ensemble: self)
                walk.recurse(node: 0, path: &path, start: 0, depth: 0, zero: 1, one: 1, feature: -1, phi: &phi)
            }
        }
        return (phi, self.expectedMargin)
    }

    /// Each node's cover-weighted mean leaf value and the deepest tree's depth. Children come after their parents
    /// (checked when the model is read), so one backward pass fills the means and one forward pass the depths.
    static func shape(nodes: [Node], roots: [Int]) -> (means: [Double], depthMax: Int) {
        var means = [Double](repeating: 0, count: nodes.count)
        var depths = [Int](repeating: 0, count: nodes.count)
        var depthMax = 0
        for (tree, root) in roots.enumerated() {
            let end = tree + 1 < roots.count ? roots[tree + 1] : nodes.count
            for index in root..<end where !nodes[index].isLeaf {
                let node = nodes[index]
                for child in [root + Int(node.left), root + Int(node.right)] {
                    depths[child] = depths[index] + 1
                    depthMax = max(depthMax, depths[child])
                }
            }
            for index in stride(from: end - 1, through: root, by: -1) {
                let node = nodes[index]
                if node.isLeaf {
                    means[index] = Double(node.value)
                } else {
                    let left = root + Int(node.left), right = root + Int(node.right)
                    means[index] = node.cover > 0
                        ? (means[left] * nodes[left].cover + means[right] * nodes[right].cover) / node.cover : 0
                }
            }
        }
        return (means, depthMax)
    }
}

/// One element of the unique path TreeSHAP follows: a feature, the fractions of paths that go this way when it is
/// absent (zero) and present (one), and the permutation weight.
struct PathElement {
    var feature: Int = -1
    var zero: Double = 0
    var one: Double = 0
    var weight: Double = 0
}

/// The recursion of TreeSHAP over one tree.
private struct ShapWalk {
    let nodes: [TreeEnsemble.Node]
    let root: Int
    let row: UnsafeBufferPointer<Float>
    let ensemble: TreeEnsemble

    /// Visits tree-local `node` with the path so far in `path[start..<start + depth]`.
    func recurse(
        node: Int, path: inout [PathElement], start: Int, depth: Int, zero: Double, one: Double, feature: Int, phi: inout [Double]
    ) {
        // This level's path is a copy of the parent's, placed after it.
        let here = start + depth
        if depth > 0 { for i in 0..<depth { path[here + i] = path[start + i] } }
        var depth = depth
        Self.extend(&path, at: here, depth: depth, zero: zero, one: one, feature: feature)
        let n = self.nodes[self.root + node]
        if n.isLeaf {
            guard depth > 0 else { return }
            for i in 1...depth {
                let w = Self.unwoundSum(path, at: here, depth: depth, index: i)
                let element = path[here + i]
                phi[element.feature] += w * (element.one - element.zero) * Double(n.value)
            }
            return
        }
        let split = Int(n.feature)
        let hot = self.ensemble.goesLeft(n, self.row[split]) ? Int(n.left) : Int(n.right)
        let cold = hot == Int(n.left) ? Int(n.right) : Int(n.left)
        let cover = n.cover
        let hotFraction = cover > 0 ? self.nodes[self.root + hot].cover / cover : 0
        let coldFraction = cover > 0 ? self.nodes[self.root + cold].cover / cover : 0
        var incomingZero = 1.0, incomingOne = 1.0
        // A feature met again on the path is unwound and its fractions carried into this split.
        if let index = (0...depth).first(where: { path[here + $0].feature == split }) {
            incomingZero = path[here + index].zero
            incomingOne = path[here + index].one
            Self.unwind(&path, at: here, depth: depth, index: index)
            depth -= 1
        }
        let next = here
        self.recurse(node: hot, path: &path, start: next, depth: depth + 1, zero: hotFraction * incomingZero, one: incomingOne, feature: split, phi: &phi)
        self.recurse(node: cold, path: &path, start: next, depth: depth + 1, zero: coldFraction * incomingZero, one: 0, feature: split, phi: &phi)
    }

    /// Adds a feature to the path, updating the permutation weights (EXTEND in the paper).
    static func extend(_ path: inout [PathElement], at base: Int, depth: Int, zero: Double, one: Double, feature: Int) {
        path[base + depth] = PathElement(feature: feature, zero: zero, one: one, weight: depth == 0 ? 1 : 0)
        guard depth > 0 else { return }
        for i in stride(from: depth - 1, through: 0, by: -1) {
            path[base + i + 1].weight += one * path[base + i].weight * Double(i + 1) / Double(depth + 1)
            path[base + i].weight = zero * path[base + i].weight * Double(depth - i) / Double(depth + 1)
        }
    }

    /// Removes the path element at `index`, undoing its EXTEND (UNWIND in the paper).
    static func unwind(_ path: inout [PathElement], at base: Int, depth: Int, index: Int) {
        let one = path[base + index].one, zero = path[base + index].zero
        var nextOne = path[base + depth].weight
        if depth > 0 {
            for i in stride(from: depth - 1, through: 0, by: -1) {
                if one != 0 {
                    let kept = path[base + i].weight
                    path[base + i].weight = nextOne * Double(depth + 1) / (Double(i + 1) * one)
                    nextOne = kept - path[base + i].weight * zero * Double(depth - i) / Double(depth + 1)
                } else {
                    path[base + i].weight = path[base + i].weight * Double(depth + 1) / (zero * Double(depth - i))
                }
            }
        }
        if index < depth {
            for i in index..<depth {
                path[base + i].feature = path[base + i + 1].feature
                path[base + i].zero = path[base + i + 1].zero
                path[base + i].one = path[base + i + 1].one
            }
        }
    }

    /// The total weight the path would have without element `index`, without changing it.
    static func unwoundSum(_ path: [PathElement], at base: Int, depth: Int, index: Int) -> Double {
        let one = path[base + index].one, zero = path[base + index].zero
        var nextOne = path[base + depth].weight
        var total = 0.0
        for i in stride(from: depth - 1, through: 0, by: -1) {
            if one != 0 {
                let share = nextOne / (Double(i + 1) * one)
                total += share
                nextOne = path[base + i].weight - share * zero * Double(depth - i)
            } else if zero != 0 {
                total += path[base + i].weight / (zero * Double(depth - i))
            }
        }
        return total * Double(depth + 1)
    }
}
