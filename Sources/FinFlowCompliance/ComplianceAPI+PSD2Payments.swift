import FinFlowCore
import Foundation
import OpenAPIRuntime

/// PSD2 payment initiation: the provider's side (initiate, read, cancel) and the user's (authorise with SCA, reject,
/// cancel).
extension ComplianceAPI {
    func initiatePsd2Payment(_ input: Operations.InitiatePsd2Payment.Input) async throws -> Operations.InitiatePsd2Payment.Output {
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        return .created(.init(body: .json(try await self.initiate(
            service: "payments", product: input.path.paymentProduct.rawValue, body: body, psuId: input.headers.psuId))))
    }

    func initiatePsd2PeriodicPayment(_ input: Operations.InitiatePsd2PeriodicPayment.Input) async throws
        -> Operations.InitiatePsd2PeriodicPayment.Output
    {
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        return .created(.init(body: .json(try await self.initiate(
            service: "periodic-payments", product: input.path.paymentProduct.rawValue, body: body, psuId: input.headers.psuId))))
    }

    /// Validates a provider's initiation field by field and records it.
    func initiate(service: String, product: String, body: Components.Schemas.Psd2PaymentInitiation, psuId: String?) async throws
        -> Components.Schemas.Psd2PaymentInitiated
    {
        let tpp = try RequestScope.require("psd2:consents")
        var validator = Validator()
        let currency = Currency(code: body.instructedAmount.currency.uppercased())
        validator.check(currency?.exponent != nil, "instructedAmount.currency", "must be an ISO 4217 code with a minor unit")
        let amount = currency?.minorUnits(plainDecimal: body.instructedAmount.amount)
        validator.check(amount.map { $0 > 0 } ?? false || currency == nil, "instructedAmount.amount",
                        "must be a positive amount in major units with at most \(currency?.exponent ?? 2) decimals (123.45)")
        let debtor = IBAN.normalized(body.debtorAccount.iban)
        validator.check(debtor != nil, "debtorAccount.iban", "is not an IBAN (its check digits do not hold)")
        let creditor = IBAN.normalized(body.creditorAccount.iban)
        validator.check(creditor != nil, "creditorAccount.iban", "is not an IBAN (its check digits do not hold)")
        validator.check(creditor == nil || creditor != debtor, "creditorAccount.iban", "must differ from the debtor account")
        func text(_ value: String?, _ field: String, _ max: Int) -> String? {
            guard let value else { return nil }
            let trimmed = value.trimmingCharacters(in: .whitespaces)
            validator.check((1...max).contains(trimmed.count) && !trimmed.unicodeScalars.contains { $0.properties.generalCategory == .control },
                            field, "must be 1–\(max) characters without control characters")
            return trimmed
        }
        let creditorName = text(body.creditorName, "creditorName", 70)
        let remittance = text(body.remittanceInformationUnstructured, "remittanceInformationUnstructured", 140)
        let psu = text(psuId, "PSU-ID", 200)
        let today = ComplianceDesk.day(self.desk.now)
        if service == "periodic-payments" {
            if let start = body.startDate {
                validator.check(Self.isDate(start) && start >= today, "startDate", "must be a date YYYY-MM-DD, today or later")
                if let end = body.endDate {
                    validator.check(Self.isDate(end) && end >= start, "endDate", "must be a date YYYY-MM-DD on or after startDate")
                }
            } else {
                validator.fail("startDate", "is required for a periodic payment")
            }
            validator.check(body.frequency != nil, "frequency", "is required for a periodic payment")
            if let day = body.dayOfExecution { validator.check((1...31).contains(day), "dayOfExecution", "must be 1–31") }
        } else {
            for (value, field) in [(body.startDate, "startDate"), (body.endDate, "endDate"), (body.frequency?.rawValue, "frequency")] where value != nil {
                validator.fail(field, "is for a periodic payment (POST /v1/psd2/periodic-payments/…)")
            }
            validator.check(body.dayOfExecution == nil, "dayOfExecution", "is for a periodic payment (POST /v1/psd2/periodic-payments/…)")
        }
        try validator.throwIfInvalid()
        let row = try await self.desk.initiatePSD2Payment(
            .init(service: service, product: product, amountMinor: amount!, currency: currency!.code, debtorIBAN: debtor!, creditorIBAN: creditor!,
                  creditorName: creditorName!, remittance: remittance, startDate: body.startDate, endDate: body.endDate,
                  frequency: body.frequency?.rawValue, dayOfExecution: body.dayOfExecution, psuId: psu),
            tpp: tpp)
        let path = "/v1/psd2/payment-initiations/\(row.id)"
        return .init(
            transactionStatus: .rcvd, paymentId: row.id,
            _links: .init(_self: .init(href: path), status: .init(href: path), scaRedirect: .init(href: path + "/authorisation")))
    }

    func getPsd2Payment(_ input: Operations.GetPsd2Payment.Input) async throws -> Operations.GetPsd2Payment.Output {
        let tpp = try RequestScope.require("psd2:consents")
        return .ok(.init(body: .json(Self.dto(try await self.desk.psd2Payment(id: input.path.paymentId, tpp: tpp)))))
    }

    func cancelPsd2Payment(_ input: Operations.CancelPsd2Payment.Input) async throws -> Operations.CancelPsd2Payment.Output {
        let tpp = try RequestScope.require("psd2:consents")
        return .ok(.init(body: .json(Self.dto(try await self.desk.cancelPSD2Payment(id: input.path.paymentId, principal: tpp, asProvider: true)))))
    }

    func authorisePsd2Payment(_ input: Operations.AuthorisePsd2Payment.Input) async throws -> Operations.AuthorisePsd2Payment.Output {
        let psu = try Self.paymentServiceUser()
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let code = try await self.desk.env.verifier.verifyAuthenticationCode(header: input.headers.scaAuthenticationCode)
        let row = try await self.desk.authorisePSD2Payment(id: input.path.paymentId, psu: psu, authorise: body.decision == .authorise, code: code)
        return .ok(.init(body: .json(Self.dto(row))))
    }

    func cancelPsd2PaymentByUser(_ input: Operations.CancelPsd2PaymentByUser.Input) async throws -> Operations.CancelPsd2PaymentByUser.Output {
        let psu = try Self.paymentServiceUser()
        return .ok(.init(body: .json(Self.dto(try await self.desk.cancelPSD2Payment(id: input.path.paymentId, principal: psu, asProvider: false)))))
    }

    static func dto(_ row: PSD2PaymentRow) -> Components.Schemas.Psd2Payment {
        let amount = Currency(code: row.currency).flatMap { try? Money(amountMinor: row.amount_minor, currency: $0) }?.decimalText ?? String(row.amount_minor)
        return .init(
            paymentId: row.id, transactionStatus: .init(rawValue: row.status) ?? .rcvd, statusReason: row.status_reason,
            paymentService: .init(rawValue: row.service) ?? .payments, paymentProduct: .init(rawValue: row.product) ?? .sepaCreditTransfers,
            instructedAmount: .init(currency: row.currency, amount: amount), debtorAccount: .init(iban: row.debtor_iban),
            creditorAccount: .init(iban: row.creditor_iban), creditorName: row.creditor_name, remittanceInformationUnstructured: row.remittance,
            startDate: row.start_date, endDate: row.end_date, frequency: row.frequency, dayOfExecution: row.day_of_execution, psuId: row.psu_id,
            createdAt: Date(unixMillis: row.created_at_ms), statusChangedAt: Date(unixMillis: row.status_changed_at_ms))
    }
}
