import Foundation

/// The Nelder–Mead simplex method with the adaptive coefficients of Gao and Han (2012), which keep it moving in a dozen
/// or more dimensions (an exponential smoothing model with its monthly seasonal states has up to 17). Each point is
/// clamped into `[lower, upper]`; the objective answers `.infinity` where a point is not admissible. The first
/// simplex moves each coordinate by `step` of its value; the search stops when the simplex's values have a standard
/// deviation below `tolerance` or after `maxIterations`.
enum NelderMead {
    static func minimise(
        _ objective: ([Double]) -> Double, start: [Double], lower: [Double], upper: [Double], step: Double = 0.05,
        tolerance: Double = 1e-4, maxIterations: Int = 1_000
    ) -> (point: [Double], value: Double) {
        let n = start.count
        guard n > 0 else { return (start, objective(start)) }
        func clamp(_ x: [Double]) -> [Double] { (0..<n).map { min(max(x[$0], lower[$0]), upper[$0]) } }
        let dimension = Double(n)
        let expansion = 1 + 2 / dimension, contraction = 0.75 - 1 / (2 * dimension), shrink = 1 - 1 / dimension
        let origin = clamp(start)
        var simplex = [origin]
        for axis in 0..<n {
            var vertex = origin
            vertex[axis] = vertex[axis] == 0 ? 0.0001 : vertex[axis] * (1 + step)
            simplex.append(clamp(vertex))
        }
        var values = simplex.map(objective)
        func along(_ from: [Double], _ to: [Double], _ coefficient: Double) -> [Double] {
            clamp((0..<n).map { from[$0] + coefficient * (to[$0] - from[$0]) })
        }
        for _ in 0..<maxIterations {
            let finite = values.allSatisfy(\.isFinite)
            if finite {
                let mean = values.reduce(0, +) / Double(values.count)
                let spread = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot()
                if spread < tolerance { break }
            }
            let order = values.indices.sorted { values[$0] < values[$1] }
            simplex = order.map { simplex[$0] }
            values = order.map { values[$0] }
            var centroid = Array(repeating: 0.0, count: n)
            for vertex in simplex.prefix(n) { for i in 0..<n { centroid[i] += vertex[i] / dimension } }
            let reflected = along(centroid, simplex[n], -1)
            let reflectedValue = objective(reflected)
            if values[0] <= reflectedValue && reflectedValue < values[n - 1] {
                (simplex[n], values[n]) = (reflected, reflectedValue)
                continue
            }
            if reflectedValue < values[0] {
                let expanded = along(centroid, reflected, expansion)
                let expandedValue = objective(expanded)
                (simplex[n], values[n]) = expandedValue < reflectedValue ? (expanded, expandedValue) : (reflected, reflectedValue)
                continue
            }
            if reflectedValue < values[n] {
                let outside = along(centroid, reflected, contraction)
                let outsideValue = objective(outside)
                if outsideValue <= reflectedValue {
                    (simplex[n], values[n]) = (outside, outsideValue)
                    continue
                }
            } else {
                let inside = along(centroid, reflected, -contraction)
                let insideValue = objective(inside)
                if insideValue < values[n] {
                    (simplex[n], values[n]) = (inside, insideValue)
                    continue
                }
            }
            for index in 1...n {
                simplex[index] = along(simplex[0], simplex[index], shrink)
                values[index] = objective(simplex[index])
            }
        }
        let best = values.indices.min { values[$0] < values[$1] } ?? 0
        return (simplex[best], values[best])
    }
}

/// A seeded source of standard normal draws (SplitMix64 and Box–Muller), so a simulated interval is the same every run.
struct NormalDraws {
    private var state: UInt64
    private var spare: Double?

    init(seed: UInt64) { self.state = seed }

    mutating func uniform() -> Double {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return (Double(z >> 11) + 0.5) / Double(1 << 53)
    }

    mutating func next() -> Double {
        if let spare = self.spare {
            self.spare = nil
            return spare
        }
        let radius = (-2 * Foundation.log(self.uniform())).squareRoot(), angle = 2 * Double.pi * self.uniform()
        self.spare = radius * Foundation.sin(angle)
        return radius * Foundation.cos(angle)
    }
}
