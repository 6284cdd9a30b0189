import FinFlowCore
import Foundation

/// One value of an application: a category code or a number.
public enum ApplicantValue: Sendable, Codable, Equatable, Hashable {
    case text(String)
    case number(Double)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) { self = .number(number) } else { self = .text(try container.decode(String.self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .number(let number): try container.encode(number)
        }
    }
}

/// The feature specification a model was trained with (`features.json`): each application field's type, allowed
/// categories or range, whether it may be left out, and how it becomes the model's columns.
public struct FeatureSpec: Sendable, Decodable {
    /// One application field.
    public struct Feature: Sendable, Decodable {
        public let name: String
        /// `categorical` or `number`.
        public let type: String
        public let required: Bool
        /// Plain wording for reason codes ("Status of the existing checking account").
        public let wording: String
        public let categories: [Category]?
        public let minimum: Double?
        public let maximum: Double?
        public let unit: String?
    }

    /// An allowed category: the code an application sends and the data's label.
    public struct Category: Sendable, Decodable {
        public let code: String
        public let label: String
    }

    public let model_version: String
    public let features: [Feature]
    /// The model's columns in order: `name=code` for a category's indicator, `name` for a number.
    public let columns: [String]
    /// Each column's field index and, for an indicator, its category code: worked out once, used per application.
    private var plan: [(feature: Int, code: String?)] = []
    private var indexByName: [String: Int] = [:]

    private enum CodingKeys: String, CodingKey { case model_version, features, columns }

    /// Names the limit on an application: fields beyond the spec's are refused before any lookup.
    public static let applicationFieldsMax = 200
    public static let textLengthMax = 100

    /// Reads and checks a specification: every column maps to a field (and category) it declares.
    public init(json data: Data) throws {
        do { self = try JSONDecoder().decode(Self.self, from: data) } catch {
            throw ModelError("not a feature specification: \(TreeEnsemble.describe(error))")
        }
        var known = Set<String>()
        for feature in self.features {
            guard known.insert(feature.name).inserted else { throw ModelError("feature \(feature.name) is listed twice") }
            switch feature.type {
            case "categorical":
                guard let categories = feature.categories, !categories.isEmpty else { throw ModelError("feature \(feature.name) lists no categories") }
                for category in categories { known.insert("\(feature.name)=\(category.code)") }
            case "number":
                guard let low = feature.minimum, let high = feature.maximum, low.isFinite, high.isFinite, low <= high else {
                    throw ModelError("feature \(feature.name) needs a finite minimum and maximum")
                }
            default:
                throw ModelError("feature \(feature.name) has type \(feature.type) (categorical or number)")
            }
        }
        guard self.features.count <= Self.applicationFieldsMax else { throw ModelError("more than \(Self.applicationFieldsMax) features") }
        for column in self.columns where !known.contains(column) { throw ModelError("column \(column) names no declared feature") }
        self.indexByName = Dictionary(uniqueKeysWithValues: self.features.enumerated().map { ($1.name, $0) })
        self.plan = self.columns.map { column in
            guard let separator = column.firstIndex(of: "=") else { return (self.indexByName[column]!, nil) }
            return (self.indexByName[String(column[..<separator])]!, String(column[column.index(after: separator)...]))
        }
    }

    /// The model row for `application`, or a validation error naming every bad field (prefixed by `fieldPrefix`):
    /// unknown fields, missing required ones, wrong types, categories not allowed, numbers out of range.
    public func encode(_ application: [String: ApplicantValue], fieldPrefix: String = "applicant.") throws -> [Float] {
        var validator = Validator()
        if application.count > self.features.count || application.keys.contains(where: { self.indexByName[$0] == nil }) {
            for name in application.keys.sorted() where self.indexByName[name] == nil {
                validator.fail(fieldPrefix + String(name.prefix(Self.textLengthMax)), "is not a field of model \(self.model_version)")
            }
        }
        // Per field: the chosen category code, or the number.
        var chosen = [String?](repeating: nil, count: self.features.count)
        var numbers = [Double?](repeating: nil, count: self.features.count)
        for (index, feature) in self.features.enumerated() {
            guard let value = application[feature.name] else {
                if feature.required { validator.fail(fieldPrefix + feature.name, "is required") }
                continue
            }
            switch (feature.type, value) {
            case ("categorical", .text(let code)):
                if feature.categories?.contains(where: { $0.code == code }) == true { chosen[index] = code } else {
                    validator.fail(fieldPrefix + feature.name, "must be one of \(feature.categories?.map(\.code).joined(separator: ", ") ?? "")")
                }
            case ("categorical", .number):
                validator.fail(fieldPrefix + feature.name, "must be a category code (\(feature.categories?.map(\.code).joined(separator: ", ") ?? ""))")
            case ("number", .number(let number)):
                let low = feature.minimum ?? -.infinity, high = feature.maximum ?? .infinity
                if number.isFinite, number >= low, number <= high { numbers[index] = number } else {
                    validator.fail(fieldPrefix + feature.name,
                                   "must be a number from \(Self.format(low)) to \(Self.format(high))\(feature.unit.map { " (\($0))" } ?? "")")
                }
            default:
                validator.fail(fieldPrefix + feature.name, "must be a number")
            }
        }
        try validator.throwIfInvalid()
        return self.plan.map { step in
            guard let code = step.code else { return numbers[step.feature].map { Float($0) } ?? .nan }
            guard let picked = chosen[step.feature] else { return .nan }
            return picked == code ? 1 : 0
        }
    }

    /// The index in `features` of the field a column belongs to.
    public func feature(ofColumn index: Int) -> Int {
        self.plan[index].feature
    }

    /// A bound as people write it: whole numbers without a decimal point.
    static func format(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
