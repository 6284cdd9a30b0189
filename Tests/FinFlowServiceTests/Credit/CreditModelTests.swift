@testable import FinFlowCredit
import FinFlowCore
import Foundation
import Testing

/// The bundled model's files, and the fixture of Python's predictions written beside them by the training script.
enum BundledModel {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/FinFlowCredit/Resources/models/german-credit-xgb-1")

    static func file(_ name: String) throws -> Data { try Data(contentsOf: self.directory.appendingPathComponent(name)) }

    static func load() throws -> CreditModel {
        try CreditModel(model: try self.file("model.json"), features: try self.file("features.json"), metadata: try self.file("metadata.json"))
    }

    struct Fixture: Decodable {
        struct Case: Decodable {
            let applicant: [String: ApplicantValue]
            let probability: Double
            let margin: Double
            let score: Double
            let contributions: [Double]?
        }
        let model_version: String
        let cases: [Case]
    }

    static func fixture() throws -> Fixture { try JSONDecoder().decode(Fixture.self, from: try self.file("fixture.json")) }
}

@Suite("credit: the model served natively")
struct CreditModelTests {
    @Test("every fixture prediction matches Python's within 1e-6, complete rows and rows with missing fields alike")
    func parity() throws {
        let model = try BundledModel.load()
        let fixture = try BundledModel.fixture()
        #expect(fixture.model_version == model.version)
        #expect(fixture.cases.count == 360)
        #expect(fixture.cases.contains { $0.applicant.count < model.spec.features.count }, "the fixture has rows with missing fields")
        var worst = 0.0
        for (index, item) in fixture.cases.enumerated() {
            let assessment = try model.assess(item.applicant, explain: false)
            worst = max(worst, abs(assessment.probability - item.probability))
            #expect(abs(assessment.probability - item.probability) < 1e-6, "case \(index): \(assessment.probability) vs \(item.probability)")
            #expect(abs(assessment.margin - item.margin) < 1e-5, "case \(index) margin")
            #expect(assessment.score == Int(item.score.rounded()), "case \(index) score")
        }
        #expect(worst < 1e-6)
    }

    @Test("TreeSHAP matches XGBoost's pred_contribs and adds up to the margin from the base value")
    func contributions() throws {
        let model = try BundledModel.load()
        let fixture = try BundledModel.fixture()
        let explained = fixture.cases.filter { $0.contributions != nil }
        #expect(explained.count == 160)
        for (index, item) in explained.enumerated() {
            let row = try model.spec.encode(item.applicant)
            let (values, expected) = model.ensemble.contributions(row)
            let python = item.contributions!
            #expect(python.count == values.count + 1)
            for (column, value) in values.enumerated() {
                #expect(abs(value - python[column]) < 1e-5, "case \(index) column \(model.spec.columns[column]): \(value) vs \(python[column])")
            }
            #expect(abs(expected - python.last!) < 1e-5, "case \(index) bias")
            let margin = model.ensemble.margin(row)
            #expect(abs(values.reduce(0, +) - (margin - expected)) < 1e-9, "case \(index): contributions sum to margin − base value")
        }
    }

    @Test("reasons are the fields that raised the risk most, in plain words, at most four")
    func reasons() throws {
        let model = try BundledModel.load()
        let risky = try #require(try BundledModel.fixture().cases.max { $0.probability < $1.probability })
        let assessment = try model.assess(risky.applicant)
        #expect(assessment.grade == "E")
        let reasons = assessment.reasons
        #expect((1...CreditModel.reasonsMax).contains(reasons.count))
        #expect(reasons.allSatisfy { $0.contribution > 0 && !$0.wording.isEmpty })
        #expect(zip(reasons, reasons.dropFirst()).allSatisfy { $0.contribution >= $1.contribution })
        #expect(assessment.factors.count == model.spec.features.count)
        let total = assessment.factors.reduce(0) { $0 + $1.contribution }
        #expect(abs(total - (assessment.margin - assessment.expectedMargin)) < 1e-9)
    }

    @Test("points double the odds every 20 and grades follow the probability bands")
    func scale() throws {
        let model = try BundledModel.load()
        // 50:1 good:bad odds is p = 1/51: the base points.
        #expect(model.points(probability: 1.0 / 51) == 600)
        #expect(model.points(probability: 1.0 / 101) == 620)
        #expect(model.points(probability: 1.0 / 26) == 580)
        #expect(model.grade(probability: 0.01) == "A")
        #expect(model.grade(probability: 0.05) == "B")
        #expect(model.grade(probability: 0.2) == "C")
        #expect(model.grade(probability: 0.3) == "D")
        #expect(model.grade(probability: 0.9) == "E")
    }

    @Test("every bad field of an application is named, and nothing else is")
    func invalidApplications() throws {
        let model = try BundledModel.load()
        var applicant = try #require(try BundledModel.fixture().cases.first).applicant
        applicant["checking_status"] = .text("overdrawn")
        applicant["duration_months"] = .number(500)
        applicant["age_years"] = .text("forty")
        applicant["purpose"] = .number(3)
        applicant["shoe_size"] = .number(42)
        applicant.removeValue(forKey: "credit_history")
        applicant.removeValue(forKey: "telephone")
        do {
            _ = try model.assess(applicant)
            Issue.record("an invalid application was scored")
        } catch let error as AppError {
            let fields = Set(error.fieldErrors.map(\.field))
            #expect(fields == ["applicant.checking_status", "applicant.duration_months", "applicant.age_years", "applicant.purpose",
                               "applicant.shoe_size", "applicant.credit_history"])
            let checking = try #require(error.fieldErrors.first { $0.field == "applicant.checking_status" })
            #expect(checking.message.contains("below_zero"))
        }
    }

    @Test("model files the evaluator cannot serve exactly are refused with the reason")
    func refusedModels() throws {
        let features = try BundledModel.file("features.json")
        let metadata = try BundledModel.file("metadata.json")
        let model = try JSONSerialization.jsonObject(with: try BundledModel.file("model.json")) as! [String: Any]
        func refused(_ change: (inout [String: Any]) -> Void, _ expected: String) throws {
            var copy = model
            change(&copy)
            let data = try JSONSerialization.data(withJSONObject: copy)
            #expect(throws: ModelError.self) { _ = try CreditModel(model: data, features: features, metadata: metadata) }
            do { _ = try CreditModel(model: data, features: features, metadata: metadata) } catch {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
        try refused({ m in
            var learner = m["learner"] as! [String: Any]
            learner["objective"] = ["name": "reg:squarederror"]
            m["learner"] = learner
        }, "objective")
        try refused({ m in
            var learner = m["learner"] as! [String: Any]
            var booster = learner["gradient_booster"] as! [String: Any]
            var inner = booster["model"] as! [String: Any]
            var trees = inner["trees"] as! [[String: Any]]
            var tree = trees[0]
            var left = tree["left_children"] as! [Int]
            left[0] = 0
            tree["left_children"] = left
            trees[0] = tree
            inner["trees"] = trees
            booster["model"] = inner
            learner["gradient_booster"] = booster
            m["learner"] = learner
        }, "out of order")
        #expect(throws: ModelError.self) { _ = try TreeEnsemble(json: Data("{\"learner\": 1}".utf8)) }
        #expect(throws: ModelError.self) { _ = try CreditModel(model: try BundledModel.file("model.json"), features: Data("[]".utf8), metadata: metadata) }
    }
}
