import Foundation

/// The probability that an invoice is paid after its due date, learnt per tenant from its own settled invoices:
/// logistic regression on the customer's history as it stood when the invoice was issued, trained by seeded
/// mini-batch gradient descent (the same seed, the same weights), checked on the newest invoices it did not see (AUC,
/// Brier score, calibration), and a smoothed base rate per customer when the history is too thin for a model.
enum LatePayment {
    /// An invoice as the model reads it.
    struct Invoice: Sendable {
        var id: String
        var customer: String
        var total: Int64
        var issued: Int
        var due: Int
        /// Day numbers; nil while open.
        var settled: Int?
        var late: Bool? { self.settled.map { $0 > self.due } }
    }

    struct Bin: Codable, Sendable, Equatable {
        var predicted: Double
        var observed: Double
        var count: Int
    }

    struct Model: Codable, Sendable, Equatable {
        /// `logistic`, or `base-rate` when there were too few settled invoices (or only one outcome) to learn from.
        var kind: String
        var features: [String]
        var weights: [Double]
        var bias: Double
        var means: [Double]
        var scales: [Double]
        var trainedOn: Int
        var baseRate: Double
        /// On the newest 30 % of settled invoices, with a model trained on the rest: nil for the base rate.
        var auc: Double?
        var brier: Double?
        var calibration: [Bin]
        var seed: UInt64
    }

    static let featureNames = [
        "log(1 + prior invoices)", "prior share paid late (smoothed)", "prior mean days late / 30", "log(amount)",
        "log(amount / customer's prior mean)", "payment terms in days / 30",
    ]
    static let minimumTraining = 30

    /// Each customer's settled invoices in the order they were settled, with running sums, so the history as it
    /// stood on any day is a binary search away.
    struct Histories {
        struct Running { var count = 0.0; var late = 0.0; var daysLate = 0.0; var amount = 0.0 }
        var settledDays: [String: [Int]] = [:]
        var sums: [String: [Running]] = [:]

        init(_ invoices: [Invoice]) {
            var byCustomer: [String: [Invoice]] = [:]
            for invoice in invoices where invoice.settled != nil { byCustomer[invoice.customer, default: []].append(invoice) }
            for (customer, list) in byCustomer {
                let ordered = list.sorted { ($0.settled!, $0.id) < ($1.settled!, $1.id) }
                var running = Running()
                var sums = [running]
                for invoice in ordered {
                    running.count += 1
                    running.late += invoice.late == true ? 1 : 0
                    running.daysLate += Double(invoice.settled! - invoice.due)
                    running.amount += Double(invoice.total)
                    sums.append(running)
                }
                self.settledDays[customer] = ordered.map { $0.settled! }
                self.sums[customer] = sums
            }
        }

        /// The customer's totals over invoices settled before `day`.
        func before(_ day: Int, customer: String) -> Running {
            guard let days = self.settledDays[customer], let sums = self.sums[customer] else { return Running() }
            var low = 0, high = days.count
            while low < high {
                let middle = (low + high) / 2
                if days[middle] < day { low = middle + 1 } else { high = middle }
            }
            return sums[low]
        }
    }

    /// The features of `invoice` from the customer's invoices settled before it was issued.
    static func features(_ invoice: Invoice, histories: Histories, baseRate: Double) -> [Double] {
        let prior = histories.before(invoice.issued, customer: invoice.customer)
        let share = (prior.late + 2 * baseRate) / (prior.count + 2)
        let meanLate = prior.count > 0 ? prior.daysLate / prior.count : 0
        let meanAmount = prior.count > 0 ? prior.amount / prior.count : 0
        let amount = Double(max(invoice.total, 1))
        return [
            Foundation.log(1 + prior.count), share, max(-3, min(3, meanLate / 30)), Foundation.log(amount),
            meanAmount > 0 ? Foundation.log(amount / meanAmount) : 0, Double(invoice.due - invoice.issued) / 30,
        ]
    }

    /// The most settled invoices a model trains on (the newest).
    static let trainingMax = 20_000

    /// Trains on `invoices` (the settled ones count), oldest issued first.
    static func train(_ invoices: [Invoice], seed: UInt64 = 1) -> Model {
        let settled = Array(invoices.filter { $0.settled != nil }.sorted { ($0.issued, $0.id) < ($1.issued, $1.id) }.suffix(Self.trainingMax))
        let baseRate = settled.isEmpty ? 0.5 : (Double(settled.filter { $0.late == true }.count) + 1) / (Double(settled.count) + 2)
        let histories = Histories(invoices)
        let rows = settled.map { Self.features($0, histories: histories, baseRate: baseRate) }
        let labels = settled.map { $0.late == true ? 1.0 : 0.0 }
        let fallback = Model(
            kind: "base-rate", features: [], weights: [], bias: 0, means: [], scales: [], trainedOn: settled.count, baseRate: baseRate, auc: nil,
            brier: nil, calibration: [], seed: seed)
        guard settled.count >= Self.minimumTraining, Set(labels).count == 2 else { return fallback }
        // Checked on the newest 30 %, with a model that never saw them.
        let cut = Int(Double(settled.count) * 0.7)
        var check = Self.fit(Array(rows[..<cut]), Array(labels[..<cut]), seed: seed)
        let scores = rows[cut...].map { Self.probability(check, features: $0) }
        let held = Array(labels[cut...])
        check.auc = Set(held).count == 2 ? Self.auc(scores: scores, labels: held) : nil
        check.brier = zip(scores, held).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(max(1, held.count))
        var model = Self.fit(rows, labels, seed: seed)
        model.baseRate = baseRate
        model.auc = check.auc
        model.brier = check.brier
        model.calibration = Self.calibration(scores: scores, labels: held)
        return model
    }

    /// Standardises the features and fits logistic regression with a little L2 by mini-batch gradient descent, the
    /// batches drawn in an order the seed fixes.
    static func fit(_ rows: [[Double]], _ labels: [Double], seed: UInt64) -> Model {
        let width = Self.featureNames.count, n = rows.count
        let means = (0..<width).map { j in rows.reduce(0) { $0 + $1[j] } / Double(n) }
        let scales = (0..<width).map { j -> Double in
            let variance = rows.reduce(0) { $0 + ($1[j] - means[j]) * ($1[j] - means[j]) } / Double(n)
            return variance > 1e-12 ? variance.squareRoot() : 1
        }
        let x = rows.map { row in (0..<width).map { (row[$0] - means[$0]) / scales[$0] } }
        var weights = Array(repeating: 0.0, count: width), bias = 0.0
        var draws = NormalDraws(seed: seed)
        var order = Array(0..<n)
        let rate = 0.1, l2 = 0.001, batch = 16
        for _ in 0..<300 {
            // Fisher–Yates with the seeded generator.
            for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(draws.uniform() * Double(i + 1)) % (i + 1)) }
            for start in stride(from: 0, to: n, by: batch) {
                let members = order[start..<min(start + batch, n)]
                var gradient = Array(repeating: 0.0, count: width), gradientBias = 0.0
                for i in members {
                    let p = Self.sigmoid(bias + zip(weights, x[i]).reduce(0) { $0 + $1.0 * $1.1 })
                    let error = p - labels[i]
                    for j in 0..<width { gradient[j] += error * x[i][j] }
                    gradientBias += error
                }
                let size = Double(members.count)
                for j in 0..<width { weights[j] -= rate * (gradient[j] / size + l2 * weights[j]) }
                bias -= rate * gradientBias / size
            }
        }
        return Model(
            kind: "logistic", features: Self.featureNames, weights: weights, bias: bias, means: means, scales: scales, trainedOn: n,
            baseRate: 0, auc: nil, brier: nil, calibration: [], seed: seed)
    }

    static func sigmoid(_ z: Double) -> Double { 1 / (1 + Foundation.exp(-max(-40, min(40, z)))) }

    static func probability(_ model: Model, features: [Double]) -> Double {
        guard model.kind == "logistic" else { return features.count > 1 ? features[1] : model.baseRate }
        var z = model.bias
        for j in 0..<model.weights.count { z += model.weights[j] * (features[j] - model.means[j]) / model.scales[j] }
        return Self.sigmoid(z)
    }

    /// The probability for an open invoice given the tenant's settled invoices.
    static func probability(_ model: Model, invoice: Invoice, histories: Histories) -> Double {
        Self.probability(model, features: Self.features(invoice, histories: histories, baseRate: model.baseRate))
    }

    /// The area under the ROC curve: the chance a late invoice scores above an on-time one (ties count half).
    static func auc(scores: [Double], labels: [Double]) -> Double {
        let positives = zip(scores, labels).filter { $0.1 == 1 }.map(\.0), negatives = zip(scores, labels).filter { $0.1 == 0 }.map(\.0)
        guard !positives.isEmpty, !negatives.isEmpty else { return .nan }
        var wins = 0.0
        for p in positives { for q in negatives { wins += p > q ? 1 : (p == q ? 0.5 : 0) } }
        return wins / Double(positives.count * negatives.count)
    }

    /// Predicted against observed late share in five bins of predicted probability.
    static func calibration(scores: [Double], labels: [Double]) -> [Bin] {
        (0..<5).compactMap { bin in
            let members = zip(scores, labels).filter { min(4, Int($0.0 * 5)) == bin }
            guard !members.isEmpty else { return nil }
            let count = Double(members.count)
            return Bin(predicted: members.reduce(0) { $0 + $1.0 } / count, observed: members.reduce(0) { $0 + $1.1 } / count, count: members.count)
        }
    }
}
