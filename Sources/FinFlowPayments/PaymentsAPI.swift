import FinFlowCore
import Foundation
import OpenAPIRuntime

/// The payment HTTP contract (generated from `openapi.yaml`) implemented: decode, call the desk, map to DTOs.
struct PaymentsAPI: APIProtocol {
    let desk: PaymentDesk

    func listGateways(_ input: Operations.ListGateways.Input) async throws -> Operations.ListGateways.Output {
        let principal = try RequestScope.require("payments:read")
        let settings = try await self.desk.gateways.settings(tenantId: principal.tenantId)
        return .ok(.init(body: .json(.init(items: settings.map { Self.dto($0, tenantId: principal.tenantId) }))))
    }

    func configureGateway(_ input: Operations.ConfigureGateway.Input) async throws -> Operations.ConfigureGateway.Output {
        let principal = try RequestScope.require("payments:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let settings = try await self.desk.configureGateway(
            principal: principal, provider: input.path.provider.rawValue, priority: body.priority, baseURL: body.baseUrl,
            credentials: body.credentials.additionalProperties, webhookSecret: body.webhookSecret, webhookURL: body.webhookUrl, enabled: body.enabled)
        return .ok(.init(body: .json(Self.dto(settings, tenantId: principal.tenantId))))
    }

    func createPayment(_ input: Operations.CreatePayment.Input) async throws -> Operations.CreatePayment.Output {
        let principal = try RequestScope.require("payments:create")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let method = body.paymentMethod.map { Self.method($0, prefix: "paymentMethod.", into: &validator) }
        // Without a client id, an Idempotency-Key names the payment, so a retry after a 5xx (which releases the key)
        // finds the payment the first attempt made.
        let id = body.id ?? input.headers.idempotencyKey.map { PaymentDesk.paymentId(tenantId: principal.tenantId, idempotencyKey: $0) }
        let draft = PaymentDraft(
            id: id, amountMinor: body.amount, currency: body.currency, customerId: body.customerId, invoiceId: body.invoiceId,
            paymentMethod: method, captureMethod: body.captureMethod.flatMap { CaptureMethod(rawValue: $0.rawValue) } ?? .automatic,
            description: body.description, metadata: body.metadata?.additionalProperties ?? [:], returnURL: body.returnUrl,
            gateway: body.gateway?.rawValue, payee: body.payee, recurring: body.recurring ?? false, validator: &validator)
        if body.confirm == true { validator.check(method != nil, "confirm", "needs a paymentMethod") }
        try validator.throwIfInvalid()
        let code = try await self.desk.env.verifier.verifyAuthenticationCode(header: input.headers.scaAuthenticationCode)
        var (record, created) = try await self.desk.create(draft, principal: principal, code: code)
        // A repeat of a request whose confirmation did not finish finishes it (an unanswered gateway call is resent
        // with its key, so it cannot charge twice).
        if body.confirm == true, created || record.row.confirmationUnfinished(nowMillis: self.desk.now) {
            do {
                record = try await self.desk.confirm(principal: principal, id: record.row.id, paymentMethod: nil)
            } catch let error as AppError where error.code == "payment-operation-in-progress" {
                // A twin of this request is confirming it right now: the payment as it stands is the answer.
                record = try await self.desk.record(tenantId: principal.tenantId, id: record.row.id)
            }
        }
        return created ? .created(.init(body: .json(Self.dto(record)))) : .ok(.init(body: .json(Self.dto(record))))
    }

    func listPayments(_ input: Operations.ListPayments.Input) async throws -> Operations.ListPayments.Output {
        let principal = try RequestScope.require("payments:read")
        let query = input.query
        var validator = Validator()
        var filter = PaymentFilter()
        filter.status = query.status.flatMap { PaymentStatus(rawValue: $0.rawValue) }
        filter.gateway = query.gateway?.rawValue
        if let customerId = query.customerId {
            validator.check((1...PaymentLimits.customerIdLengthMax).contains(customerId.count), "customerId", "must be 1–\(PaymentLimits.customerIdLengthMax) characters")
            filter.customerId = customerId
        }
        if let currency = query.currency {
            validator.check(Currency(code: currency) != nil, "currency", "is not an ISO 4217 code")
            filter.currency = currency.uppercased()
        }
        if let invoiceId = query.invoiceId {
            validator.check(UUID(uuidString: invoiceId) != nil, "invoiceId", "must be a UUID")
            filter.invoiceId = invoiceId.lowercased()
        }
        func instant(_ text: String?, _ field: String) -> Int64? {
            guard let text else { return nil }
            let date = (try? Date(text, strategy: .iso8601))
            validator.check(date != nil, field, "must be an ISO 8601 instant (2026-03-01T00:00:00Z)")
            return date.map { Int64($0.timeIntervalSince1970 * 1000) }
        }
        filter.createdFromMillis = instant(query.createdFrom, "createdFrom")
        filter.createdToMillis = instant(query.createdTo, "createdTo")
        try validator.throwIfInvalid()
        let page = try PageRequest(limit: query.limit, cursor: query.cursor)
        let result = try await self.desk.search(principal: principal, filter: filter, page: page)
        let items = result.items.map { Self.dto(PaymentRecord(row: $0, events: [], refunds: []), withDetails: false) }
        return .ok(.init(body: .json(.init(items: items, nextCursor: result.nextCursor))))
    }

    func getPayment(_ input: Operations.GetPayment.Input) async throws -> Operations.GetPayment.Output {
        let principal = try RequestScope.require("payments:read")
        return .ok(.init(body: .json(Self.dto(try await self.desk.record(tenantId: principal.tenantId, id: input.path.paymentId)))))
    }

    func confirmPayment(_ input: Operations.ConfirmPayment.Input) async throws -> Operations.ConfirmPayment.Output {
        let principal = try RequestScope.require("payments:create")
        var method: PaymentMethodInput?
        if case .json(let body) = input.body, let given = body.paymentMethod {
            var validator = Validator()
            method = Self.method(given, prefix: "paymentMethod.", into: &validator)
            try validator.throwIfInvalid()
        }
        let record = try await self.desk.confirm(principal: principal, id: input.path.paymentId, paymentMethod: method)
        return .ok(.init(body: .json(Self.dto(record))))
    }

    func capturePayment(_ input: Operations.CapturePayment.Input) async throws -> Operations.CapturePayment.Output {
        let principal = try RequestScope.require("payments:create")
        var amount: Int64?
        if case .json(let body) = input.body { amount = body.amount }
        let record = try await self.desk.capture(principal: principal, id: input.path.paymentId, amount: amount)
        return .ok(.init(body: .json(Self.dto(record))))
    }

    func cancelPayment(_ input: Operations.CancelPayment.Input) async throws -> Operations.CancelPayment.Output {
        let principal = try RequestScope.require("payments:create")
        return .ok(.init(body: .json(Self.dto(try await self.desk.cancel(principal: principal, id: input.path.paymentId)))))
    }

    func refundPayment(_ input: Operations.RefundPayment.Input) async throws -> Operations.RefundPayment.Output {
        let principal = try RequestScope.require("payments:refund")
        var amount: Int64?
        var reason: String?
        if case .json(let body) = input.body {
            amount = body.amount
            reason = body.reason
        }
        if let reason {
            var validator = Validator()
            validator.check((1...PaymentLimits.reasonLengthMax).contains(reason.count), "reason", "must be 1–\(PaymentLimits.reasonLengthMax) characters")
            try validator.throwIfInvalid()
        }
        let record = try await self.desk.refund(principal: principal, id: input.path.paymentId, amount: amount, reason: reason)
        return .created(.init(body: .json(Self.dto(record))))
    }

    func syncPayment(_ input: Operations.SyncPayment.Input) async throws -> Operations.SyncPayment.Output {
        let principal = try RequestScope.require("payments:create")
        return .ok(.init(body: .json(Self.dto(try await self.desk.sync(principal: principal, id: input.path.paymentId)))))
    }

    func getSCAPolicy(_ input: Operations.GetSCAPolicy.Input) async throws -> Operations.GetSCAPolicy.Output {
        let principal = try RequestScope.require("payments:read")
        return .ok(.init(body: .json(Self.dto(try await self.desk.scaPolicy(tenantId: principal.tenantId)))))
    }

    func setSCAPolicy(_ input: Operations.SetSCAPolicy.Input) async throws -> Operations.SetSCAPolicy.Output {
        let principal = try RequestScope.require("payments:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        let policy = SCAPolicy(
            enabled: body.enabled, lowValue: body.lowValue ?? true, trustedBeneficiaries: body.trustedBeneficiaries ?? true,
            recurring: body.recurring ?? true)
        return .ok(.init(body: .json(Self.dto(try await self.desk.setSCAPolicy(policy, principal: principal)))))
    }

    func listSCADecisions(_ input: Operations.ListSCADecisions.Input) async throws -> Operations.ListSCADecisions.Output {
        let principal = try RequestScope.require("payments:read")
        var validator = Validator()
        if let payerId = input.query.payerId {
            validator.check((1...100).contains(payerId.count), "payerId", "must be 1–100 characters")
        }
        if let paymentId = input.query.paymentId { validator.check(UUID(uuidString: paymentId) != nil, "paymentId", "must be a UUID") }
        try validator.throwIfInvalid()
        let page = try PageRequest(limit: input.query.limit, cursor: input.query.cursor)
        let result = try await self.desk.scaDecisions(
            tenantId: principal.tenantId, payerId: input.query.payerId, paymentId: input.query.paymentId?.lowercased(), page: page)
        return .ok(.init(body: .json(.init(items: result.items.map(Self.dto), nextCursor: result.nextCursor))))
    }

    func listTrustedBeneficiaries(_ input: Operations.ListTrustedBeneficiaries.Input) async throws -> Operations.ListTrustedBeneficiaries.Output {
        let principal = try RequestScope.require("payments:create")
        return .ok(.init(body: .json(.init(items: try await self.desk.trustedBeneficiaries(principal: principal).map(Self.dto)))))
    }

    func addTrustedBeneficiary(_ input: Operations.AddTrustedBeneficiary.Input) async throws -> Operations.AddTrustedBeneficiary.Output {
        let principal = try RequestScope.require("payments:create")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let payee = Payee.key(body.payee)
        validator.check(payee != nil, "payee", "must be 1–\(Payee.lengthMax) characters without control characters")
        if let name = body.name {
            validator.check((1...140).contains(name.count) && !name.unicodeScalars.contains { $0.properties.generalCategory == .control },
                            "name", "must be 1–140 characters without control characters")
        }
        try validator.throwIfInvalid()
        let code = try await self.desk.env.verifier.verifyAuthenticationCode(header: input.headers.scaAuthenticationCode)
        let row = try await self.desk.trustBeneficiary(principal: principal, payee: payee!, name: body.name, code: code)
        return .created(.init(body: .json(Self.dto(row))))
    }

    func removeTrustedBeneficiary(_ input: Operations.RemoveTrustedBeneficiary.Input) async throws -> Operations.RemoveTrustedBeneficiary.Output {
        let principal = try RequestScope.require("payments:create")
        try await self.desk.removeTrustedBeneficiary(principal: principal, id: input.path.beneficiaryId)
        return .noContent(.init())
    }

    static func dto(_ policy: SCAPolicy) -> Components.Schemas.SCAPolicy {
        .init(enabled: policy.enabled, lowValue: policy.lowValue, trustedBeneficiaries: policy.trustedBeneficiaries, recurring: policy.recurring,
              updatedBy: policy.updatedBy, updatedAt: policy.updatedAtMillis.map { Date(unixMillis: $0) })
    }

    static func dto(_ row: SCADecisionRow) -> Components.Schemas.SCADecision {
        .init(
            id: row.id, payerId: row.payer_id, paymentId: row.payment_id, amount: row.amount_minor, currency: row.currency, payee: row.payee,
            outcome: .init(rawValue: row.outcome) ?? .refused, exemption: row.exemption.flatMap { .init(rawValue: $0) }, reason: row.reason,
            codeId: row.code_id, paymentsSinceAuthentication: row.payments_since, eurSinceAuthentication: row.eur_minor_since,
            at: Date(unixMillis: row.at_ms))
    }

    static func dto(_ row: TrustedBeneficiaryRow) -> Components.Schemas.TrustedBeneficiary {
        .init(id: row.id, payee: row.payee, name: row.name, addedAt: Date(unixMillis: row.added_at_ms))
    }

    static func method(_ body: Components.Schemas.PaymentMethod, prefix: String, into validator: inout Validator) -> PaymentMethodInput {
        PaymentMethodInput(
            token: body.token, brand: body.brand, last4: body.last4, expMonth: body.expMonth, expYear: body.expYear,
            fallbackTokens: body.fallbackTokens?.additionalProperties ?? [:], prefix: prefix, into: &validator)
    }

    static func dto(_ settings: GatewaySettings, tenantId: String) -> Components.Schemas.Gateway {
        .init(
            provider: Components.Schemas.Provider(rawValue: settings.provider.rawValue) ?? .stripe, priority: settings.priority,
            baseUrl: settings.baseURL, enabled: settings.enabled, credentialNames: settings.credentials.keys.sorted(),
            webhookSecretSet: settings.webhookSecret != nil, webhookPath: "/v1/payments/webhooks/\(settings.provider.rawValue)/\(tenantId)", webhookUrl: settings.webhookURL,
            updatedAt: Date(unixMillis: settings.updatedAtMillis))
    }

    static func dto(_ record: PaymentRecord, withDetails: Bool = true) -> Components.Schemas.Payment {
        let row = record.row
        let card: Components.Schemas.Card? = row.card_brand != nil || row.card_last4 != nil
            ? .init(brand: row.card_brand, last4: row.card_last4, expMonth: row.card_exp_month, expYear: row.card_exp_year) : nil
        var nextAction: Components.Schemas.Payment.NextActionPayload?
        if row.paymentStatus == .requiresAction {
            nextAction = .init(_type: row.next_action_url == nil ? .useGatewaySdk : .redirectToUrl, redirectUrl: row.next_action_url)
        }
        return .init(
            id: row.id, status: Components.Schemas.PaymentStatus(rawValue: row.status) ?? .failed, amount: row.amount_minor,
            currency: row.currency, captureMethod: Components.Schemas.CaptureMethod(rawValue: row.capture_method) ?? .automatic,
            amountCapturable: row.amount_capturable, amountReceived: row.amount_received, amountRefunded: row.amount_refunded,
            fee: row.fee_minor, customerId: row.customer_id, invoiceId: row.invoice_id, card: card, description: row.description,
            metadata: .init(additionalProperties: row.metadataDictionary),
            gateway: Components.Schemas.Provider(rawValue: row.gateway) ?? .stripe, gatewayReference: row.gateway_reference,
            nextAction: nextAction, lastPaymentError: row.last_error, pendingOperation: row.pending_operation,
            createdAt: Date(unixMillis: row.created_at_ms), updatedAt: Date(unixMillis: row.updated_at_ms),
            timeline: withDetails ? record.events.map {
                .init(action: $0.action, fromStatus: $0.from_status, toStatus: $0.to_status, amount: $0.amount_minor, gateway: $0.gateway,
                      gatewayReference: $0.gateway_reference, idempotencyKey: $0.idempotency_key, detail: $0.detail, actor: $0.actor,
                      at: Date(unixMillis: $0.at_ms))
            } : nil,
            refunds: withDetails ? record.refunds.map {
                .init(id: $0.id, amount: $0.amount_minor, status: $0.status == "succeeded" ? .succeeded : .failed, reason: $0.reason,
                      gatewayReference: $0.gateway_reference, createdAt: Date(unixMillis: $0.created_at_ms))
            } : nil,
            payee: row.payee, sca: record.sca.map(Self.dto))
    }
}
