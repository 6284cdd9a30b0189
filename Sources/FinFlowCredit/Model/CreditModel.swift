import FinFlowCore
import Foundation

/// A servable credit model version: the trees, the feature specification they were trained with, and the metadata
/// that fixes the score scale, the grades and the training score distribution.
public struct CreditModel: Sendable {
    public let version: String
    public let ensemble: TreeEnsemble
    public let spec: FeatureSpec
    public let metadata: Metadata
    /// The metadata and feature files as written, returned by the registry.
    public let metadataJSON: Data
    public let featuresJSON: Data

    /// The metadata fields scoring needs.
    public struct Metadata: Sendable, Decodable {
        public struct Scale: Sendable, Decodable {
            public let base_points: Double
            public let base_odds_good_to_bad: Double
            public let points_to_double_odds: Double
        }

        public struct Grade: Sendable, Decodable {
            public let grade: String
            public let pd_below: Double
        }

        public struct Distribution: Sendable, Decodable {
            /// Nine probability-of-default cut points: the training scores' deciles.
            public let pd_edges: [Double]
            /// The share of training scores in each of the ten bins.
            public let shares: [Double]
        }

        public let version: String
        public let trained_at: String?
        public let score_scale: Scale
        public let grades: [Grade]
        public let training_distribution: Distribution
    }

    /// How many adverse factors a decision names (an adverse-action notice gives the principal reasons, at most four).
    public static let reasonsMax = 4

    /// Reads and cross-checks the three files of a model version.
    public init(model: Data, features: Data, metadata: Data) throws {
        let ensemble = try TreeEnsemble(json: model)
        let spec = try FeatureSpec(json: features)
        let meta: Metadata
        do { meta = try JSONDecoder().decode(Metadata.self, from: metadata) } catch {
            throw ModelError("not model metadata: \(TreeEnsemble.describe(error))")
        }
        guard spec.model_version == meta.version else {
            throw ModelError("the feature specification is for \(spec.model_version), the metadata for \(meta.version)")
        }
        guard spec.columns.count == ensemble.featureCount else {
            throw ModelError("the specification has \(spec.columns.count) columns, the model \(ensemble.featureCount) features")
        }
        if let names = ensemble.featureNames, names != spec.columns {
            throw ModelError("the model's feature names differ from the specification's columns")
        }
        let scale = meta.score_scale
        guard scale.points_to_double_odds > 0, scale.base_odds_good_to_bad > 0, scale.base_points.isFinite else {
            throw ModelError("the score scale needs positive points to double the odds and base odds")
        }
        let bounds = meta.grades.map(\.pd_below)
        guard !bounds.isEmpty, bounds == bounds.sorted(), bounds.last == 1 else {
            throw ModelError("grades must rise in pd_below and end at 1")
        }
        let distribution = meta.training_distribution
        guard distribution.shares.count == distribution.pd_edges.count + 1, distribution.pd_edges == distribution.pd_edges.sorted(),
              abs(distribution.shares.reduce(0, +) - 1) < 1e-6
        else { throw ModelError("training_distribution needs sorted edges and one share more, summing to 1") }
        self.version = meta.version
        self.ensemble = ensemble
        self.spec = spec
        self.metadata = meta
        self.metadataJSON = metadata
        self.featuresJSON = features
    }

    /// Scores one application: probability of default, points, grade, and the reasons behind it.
    public func assess(_ application: [String: ApplicantValue], explain: Bool = true) throws -> Assessment {
        let row = try self.spec.encode(application)
        let margin = self.ensemble.margin(row)
        let probability = TreeEnsemble.logistic(margin)
        var factors: [Assessment.Factor] = []
        if explain {
            let (values, _) = self.ensemble.contributions(row)
            var byFeature = [Double](repeating: 0, count: self.spec.features.count)
            for (column, value) in values.enumerated() { byFeature[self.spec.feature(ofColumn: column)] += value }
            factors = self.spec.features.enumerated().map { index, feature in
                Assessment.Factor(
                    feature: feature.name, wording: feature.wording, value: application[feature.name],
                    valueLabel: Self.label(feature, application[feature.name]), contribution: byFeature[index])
            }
        }
        return Assessment(
            modelVersion: self.version, probability: probability, margin: margin, expectedMargin: self.ensemble.expectedMargin,
            score: self.points(probability: probability), grade: self.grade(probability: probability), factors: factors)
    }

    /// Points on the model's scale: base points at the base good:bad odds, plus `points_to_double_odds` for every
    /// doubling of the odds (score = base + pdo / ln 2 × ln(odds / base odds), odds = (1 − p) / p).
    public func points(probability: Double) -> Int {
        let scale = self.metadata.score_scale
        let p = min(max(probability, 1e-9), 1 - 1e-9)
        let odds = (1 - p) / p
        return Int((scale.base_points + scale.points_to_double_odds / log(2) * log(odds / scale.base_odds_good_to_bad)).rounded())
    }

    /// The grade whose band holds `probability`.
    public func grade(probability: Double) -> String {
        self.metadata.grades.first { probability < $0.pd_below }?.grade ?? self.metadata.grades.last!.grade
    }

    /// The training distribution bin a probability falls in (for the population stability index).
    public func bin(probability: Double) -> Int {
        self.metadata.training_distribution.pd_edges.firstIndex { probability < $0 } ?? self.metadata.training_distribution.pd_edges.count
    }

    private static func label(_ feature: FeatureSpec.Feature, _ value: ApplicantValue?) -> String {
        switch value {
        case .none: return "not provided"
        case .text(let code): return feature.categories?.first { $0.code == code }?.label ?? code
        case .number(let number): return FeatureSpec.format(number) + (feature.unit.map { " \($0)" } ?? "")
        }
    }
}

/// A scored application.
public struct Assessment: Sendable {
    /// One field's share in the decision, in log-odds of default (positive raises the risk).
    public struct Factor: Sendable, Codable {
        public let feature: String
        public let wording: String
        public let value: ApplicantValue?
        public let valueLabel: String
        public let contribution: Double
    }

    public let modelVersion: String
    public let probability: Double
    public let margin: Double
    public let expectedMargin: Double
    public let score: Int
    public let grade: String
    /// Every field's contribution, in the specification's order.
    public let factors: [Factor]

    /// The principal adverse factors: those that raised the risk most, largest first.
    public var reasons: [Factor] { Self.principalReasons(self.factors) }

    /// The factors that raised the risk most, largest first, at most `CreditModel.reasonsMax`.
    public static func principalReasons(_ factors: [Factor]) -> [Factor] {
        Array(factors.filter { $0.contribution > 0 }.sorted { $0.contribution > $1.contribution }.prefix(CreditModel.reasonsMax))
    }
}
