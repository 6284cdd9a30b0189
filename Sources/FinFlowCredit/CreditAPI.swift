import FinFlowCore
import Foundation
import OpenAPIRuntime

/// The credit engine's HTTP contract (generated from `openapi.yaml`) implemented: decode, call the desk, map to DTOs.
struct CreditAPI: APIProtocol {
    let desk: CreditDesk

    func scoreApplicant(_ input: Operations.ScoreApplicant.Input) async throws -> Operations.ScoreApplicant.Output {
        let principal = try RequestScope.require("credit:score")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let applicant = Self.applicant(body.applicant, into: &validator)
        let id = validator.clientId(body.id, field: "id")
        if let customerId = body.customerId {
            validator.check(CreditDesk.validCustomer(customerId), "customerId", "must be 1–\(CreditDesk.customerIdLengthMax) characters")
        }
        if !validator.errors.isEmpty {
            let named = Set(validator.errors.map(\.field))
            throw AppError.validation(validator.errors + (try await self.desk.fieldErrors(
                tenantId: principal.tenantId, applicant: applicant, excluded: named)))
        }
        let (row, created) = try await self.desk.score(
            .init(id: id, customerId: body.customerId, applicant: applicant), principal: principal)
        let dto = try Self.dto(row)
        return created ? .created(.init(body: .json(dto))) : .ok(.init(body: .json(dto)))
    }

    func listDecisions(_ input: Operations.ListDecisions.Input) async throws -> Operations.ListDecisions.Output {
        let principal = try RequestScope.require("credit:read")
        var filter = DecisionFilter()
        var validator = Validator()
        if let customerId = input.query.customerId {
            validator.check(CreditDesk.validCustomer(customerId), "customerId", "must be 1–\(CreditDesk.customerIdLengthMax) characters")
            filter.customerId = customerId
        }
        if let version = input.query.modelVersion {
            validator.check(version.count <= ModelRegistry.versionLengthMax, "modelVersion", "is too long")
            filter.modelVersion = version
        }
        filter.grade = input.query.grade?.rawValue
        try validator.throwIfInvalid()
        let page = try PageRequest(limit: input.query.limit, cursor: input.query.cursor)
        let result = try await self.desk.decisions(tenantId: principal.tenantId, filter: filter, page: page)
        return .ok(.init(body: .json(.init(items: try result.items.map(Self.dto), nextCursor: result.nextCursor))))
    }

    func getDecision(_ input: Operations.GetDecision.Input) async throws -> Operations.GetDecision.Output {
        let principal = try RequestScope.require("credit:read")
        return .ok(.init(body: .json(try Self.dto(try await self.desk.decision(tenantId: principal.tenantId, id: input.path.decisionId)))))
    }

    func getBehaviour(_ input: Operations.GetBehaviour.Input) async throws -> Operations.GetBehaviour.Output {
        let principal = try RequestScope.require("credit:read")
        var validator = Validator()
        validator.check(CreditDesk.validCustomer(input.path.customerId), "customerId", "must be 1–\(CreditDesk.customerIdLengthMax) characters")
        try validator.throwIfInvalid()
        let profile = try await self.desk.behaviour(tenantId: principal.tenantId, customerId: input.path.customerId)
        return .ok(.init(body: .json(Self.dto(profile))))
    }

    func listModels(_ input: Operations.ListModels.Input) async throws -> Operations.ListModels.Output {
        let principal = try RequestScope.require("credit:read")
        return .ok(.init(body: .json(try await self.registry(tenantId: principal.tenantId))))
    }

    func uploadModel(_ input: Operations.UploadModel.Input) async throws -> Operations.UploadModel.Output {
        let principal = try RequestScope.require("credit:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let encoder = JSONEncoder()
        let model = try await self.desk.upload(
            model: try encoder.encode(body.model), features: try encoder.encode(body.features), metadata: try encoder.encode(body.metadata),
            principal: principal)
        return .created(.init(body: .json(try Self.dto(model, source: "uploaded"))))
    }

    func assignModels(_ input: Operations.AssignModels.Input) async throws -> Operations.AssignModels.Output {
        let principal = try RequestScope.require("credit:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        try await self.desk.assign(active: body.activeVersion, shadow: body.shadowVersion, principal: principal)
        return .ok(.init(body: .json(try await self.registry(tenantId: principal.tenantId))))
    }

    func getModel(_ input: Operations.GetModel.Input) async throws -> Operations.GetModel.Output {
        let principal = try RequestScope.require("credit:read")
        let (model, source) = try await self.desk.model(tenantId: principal.tenantId, version: input.path.version)
        return .ok(.init(body: .json(try Self.dto(model, source: source))))
    }

    func getStability(_ input: Operations.GetStability.Input) async throws -> Operations.GetStability.Output {
        let principal = try RequestScope.require("credit:read")
        let result = try await self.desk.stability(tenantId: principal.tenantId, version: input.path.version)
        return .ok(.init(body: .json(.init(
            version: input.path.version, decisions: result.decisions, psi: result.psi,
            bins: result.bins.map { .init(pdBelow: $0.pdBelow, expectedShare: $0.expected, actualShare: $0.actual) }))))
    }

    func getPolicy(_ input: Operations.GetPolicy.Input) async throws -> Operations.GetPolicy.Output {
        let principal = try RequestScope.require("credit:read")
        return .ok(.init(body: .json(Self.dto(try await self.desk.policy(tenantId: principal.tenantId)))))
    }

    func setPolicy(_ input: Operations.SetPolicy.Input) async throws -> Operations.SetPolicy.Output {
        let principal = try RequestScope.require("credit:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let policy = LendingPolicy(
            baseRateBps: body.baseRateBps, gradeMarginsBps: body.gradeMarginsBps.additionalProperties,
            originationFeeBps: body.originationFeeBps, paymentToIncomeMaxBps: body.paymentToIncomeMaxBps,
            debtToIncomeMaxBps: body.debtToIncomeMaxBps, termsMonths: body.termsMonths, offerValidityHours: body.offerValidityHours)
        try await self.desk.setPolicy(policy, principal: principal)
        return .ok(.init(body: .json(Self.dto(policy))))
    }

    func createOffer(_ input: Operations.CreateOffer.Input) async throws -> Operations.CreateOffer.Output {
        let principal = try RequestScope.require("credit:offer")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let id = validator.clientId(body.id, field: "id")
        let currency = Currency(code: body.currency)
        validator.check(currency != nil, "currency", "is not an ISO 4217 code")
        validator.check((1...Amortization.principalMax).contains(body.amount), "amount", "must be 1–\(Amortization.principalMax) minor units")
        validator.check((1...Amortization.principalMax).contains(body.monthlyIncome), "monthlyIncome", "must be 1–\(Amortization.principalMax) minor units")
        let debt = body.monthlyDebtPayments ?? 0
        validator.check((0...Amortization.principalMax).contains(debt), "monthlyDebtPayments", "must be 0–\(Amortization.principalMax) minor units")
        try validator.throwIfInvalid()
        let request = OfferRequest(
            id: id, decisionId: body.decisionId, amountMinor: body.amount, currency: currency!.code, monthlyIncomeMinor: body.monthlyIncome,
            monthlyDebtPaymentsMinor: debt)
        let (row, created) = try await self.desk.offer(request, principal: principal)
        let dto = try Self.dto(row)
        return created ? .created(.init(body: .json(dto))) : .ok(.init(body: .json(dto)))
    }

    func getOffer(_ input: Operations.GetOffer.Input) async throws -> Operations.GetOffer.Output {
        let principal = try RequestScope.require("credit:read")
        return .ok(.init(body: .json(try Self.dto(try await self.desk.offer(tenantId: principal.tenantId, id: input.path.offerId)))))
    }

    func acceptOffer(_ input: Operations.AcceptOffer.Input) async throws -> Operations.AcceptOffer.Output {
        let principal = try RequestScope.require("credit:offer")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let row = try await self.desk.accept(offerId: input.path.offerId, termMonths: body.termMonths, principal: principal)
        return .ok(.init(body: .json(try Self.dto(row))))
    }

    // MARK: mapping

    private func registry(tenantId: String) async throws -> Components.Schemas.Registry {
        let view = try await self.desk.registryView(tenantId: tenantId)
        return .init(
            activeVersion: view.active, shadowVersion: view.shadow,
            versions: view.versions.map { .init(version: $0.version, source: $0.source == "bundled" ? .bundled : .uploaded, trainedAt: $0.trainedAt) })
    }

    /// The application's fields as category codes and numbers; any other JSON type is named.
    static func applicant(_ container: Components.Schemas.Applicant, into validator: inout Validator) -> [String: ApplicantValue] {
        var fields: [String: ApplicantValue] = [:]
        guard container.additionalProperties.value.count <= FeatureSpec.applicationFieldsMax else {
            validator.fail("applicant", "has more than \(FeatureSpec.applicationFieldsMax) fields")
            return [:]
        }
        for (name, value) in container.additionalProperties.value {
            let field = "applicant." + String(name.prefix(FeatureSpec.textLengthMax))
            switch value {
            case let flag as Bool: validator.fail(field, "must be a category code or a number, not \(flag)")
            case let text as String:
                if text.count <= FeatureSpec.textLengthMax { fields[name] = .text(text) } else { validator.fail(field, "is too long") }
            case let number as Int: fields[name] = .number(Double(number))
            case let number as Int64: fields[name] = .number(Double(number))
            case let number as Double: fields[name] = .number(number)
            default: validator.fail(field, "must be a category code or a number")
            }
        }
        return fields
    }

    /// An application as the generated API's free-form object.
    static func container(_ fields: [String: ApplicantValue]) throws -> OpenAPIObjectContainer {
        try OpenAPIObjectContainer(unvalidatedValue: fields.mapValues { value -> (any Sendable)? in
            switch value {
            case .text(let text): text
            case .number(let number): number
            }
        })
    }

    /// A stored decision as the API shows it, reasons worked out from its stored contributions.
    static func dto(_ row: DecisionRow) throws -> Components.Schemas.Decision {
        let decoder = JSONDecoder()
        let stored = try decoder.decode(StoredFactors.self, from: Data(row.factors.utf8))
        let applicant = try decoder.decode([String: ApplicantValue].self, from: Data(row.inputs.utf8))
        let reasons = Assessment.principalReasons(stored.factors).map { factor in
            Components.Schemas.Reason(
                code: "R-\(factor.feature)", feature: factor.feature, statement: "\(factor.wording): \(factor.valueLabel)",
                contribution: factor.contribution)
        }
        let factors = try stored.factors.map { factor in
            Components.Schemas.Factor(
                feature: factor.feature, wording: factor.wording,
                value: try factor.value.map { value -> OpenAPIValueContainer in
                    switch value {
                    case .text(let text): try OpenAPIValueContainer(unvalidatedValue: text)
                    case .number(let number): try OpenAPIValueContainer(unvalidatedValue: number)
                    }
                },
                valueLabel: factor.valueLabel, contribution: factor.contribution)
        }
        var shadow: Components.Schemas.ShadowResult?
        if let version = row.shadow_version {
            shadow = .init(
                modelVersion: version, probabilityOfDefault: row.shadow_probability, score: row.shadow_score,
                grade: row.shadow_grade.flatMap(Components.Schemas.Grade.init(rawValue:)),
                error: row.shadow_probability == nil ? "the shadow model could not score this application" : nil)
        }
        let behaviour = try row.behaviour.map { Self.dto(try decoder.decode(BehaviourProfile.self, from: Data($0.utf8))) }
        return .init(
            id: row.id, customerId: row.customer_id, modelVersion: row.model_version, probabilityOfDefault: row.probability,
            score: row.score, grade: Components.Schemas.Grade(rawValue: row.grade) ?? .e, reasons: reasons, factors: factors,
            baseMargin: stored.expectedMargin, margin: row.margin, applicant: .init(additionalProperties: try Self.container(applicant)), shadow: shadow,
            behaviour: behaviour, createdAt: Date(unixMillis: row.created_at_ms), createdBy: row.created_by)
    }

    /// Behavioural features as the API shows them.
    static func dto(_ profile: BehaviourProfile) -> Components.Schemas.Behaviour {
        .init(customerId: profile.customerId, currencies: profile.currencies.map {
            .init(currency: $0.currency, months: $0.months, paymentsSucceeded: $0.paymentsSucceeded, paymentsFailed: $0.paymentsFailed,
                  paymentsRefunded: $0.paymentsRefunded, paidAmount: $0.paidAmount, paymentSuccessRatio: $0.paymentSuccessRatio,
                  invoicesSettled: $0.invoicesSettled, onTimeRatio: $0.onTimeRatio,
                  transactions: $0.transactions, averageBalance: $0.averageBalance, cashFlowVolatility: $0.cashFlowVolatility)
        })
    }

    /// A model version with its metadata and feature specification as written.
    static func dto(_ model: CreditModel, source: String) throws -> Components.Schemas.ModelVersion {
        let decoder = JSONDecoder()
        let metadata = try decoder.decode(OpenAPIObjectContainer.self, from: model.metadataJSON)
        let features = try decoder.decode(OpenAPIObjectContainer.self, from: model.featuresJSON)
        return .init(version: model.version, source: source == "bundled" ? .bundled : .uploaded, metadata: .init(additionalProperties: metadata),
                     features: .init(additionalProperties: features))
    }

    /// A lending policy as the API shows it.
    static func dto(_ policy: LendingPolicy) -> Components.Schemas.Policy {
        .init(
            baseRateBps: policy.baseRateBps, gradeMarginsBps: .init(additionalProperties: policy.gradeMarginsBps),
            originationFeeBps: policy.originationFeeBps, paymentToIncomeMaxBps: policy.paymentToIncomeMaxBps,
            debtToIncomeMaxBps: policy.debtToIncomeMaxBps, termsMonths: policy.termsMonths, offerValidityHours: policy.offerValidityHours)
    }

    /// An offer with its options and their schedules, due dates counted from acceptance (or from the offer).
    static func dto(_ row: OfferRow) throws -> Components.Schemas.Offer {
        let options = try JSONDecoder().decode([OfferOption].self, from: Data(row.options.utf8))
        let start = CreditDesk.date(millis: row.accepted_at_ms ?? row.created_at_ms)
        return .init(
            id: row.id, decisionId: row.decision_id, customerId: row.customer_id,
            status: Components.Schemas.Offer.StatusPayload(rawValue: row.status) ?? .expired,
            grade: Components.Schemas.Grade(rawValue: row.grade) ?? .e, currency: row.currency, requestedAmount: row.requested_minor,
            rateBps: row.rate_bps, feeBps: row.fee_bps,
            options: options.map { option in
                .init(
                    termMonths: option.termMonths, amount: option.amountMinor, monthlyPayment: option.monthlyPaymentMinor,
                    totalInterest: option.totalInterestMinor, fee: option.feeMinor, totalCostOfCredit: option.totalCostOfCreditMinor,
                    totalRepayable: option.totalRepayableMinor, apr: option.apr, aprEffective: option.aprEffective,
                    schedule: option.schedule.map {
                        .init(number: $0.number, dueDate: CreditDesk.dueDate(disbursed: start, number: $0.number), payment: $0.payment,
                              interest: $0.interest, principal: $0.principal, balance: $0.balance)
                    })
            },
            expiresAt: Date(unixMillis: row.expires_at_ms), acceptedTermMonths: row.accepted_term_months,
            acceptedAt: row.accepted_at_ms.map { Date(unixMillis: $0) },
            booking: row.booking_status.map {
                .init(status: .init(rawValue: $0) ?? .refused, entryId: row.booking_entry_id, reason: row.booking_detail)
            },
            createdAt: Date(unixMillis: row.created_at_ms))
    }
}
