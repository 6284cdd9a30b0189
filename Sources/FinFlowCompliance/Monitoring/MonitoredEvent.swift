import FinFlowCore
import Foundation

/// An event as monitoring sees it: one shape for transactions, payments and status changes, stored so that a draft
/// scenario can be tested against the past.
struct MonitoredEvent: Sendable, Codable, Equatable {
    /// The CloudEvent's id.
    let id: String
    let type: MonitoredEventType
    let tenantId: String
    /// The transaction or payment the event concerns.
    let subjectId: String
    /// When the event happened (the CloudEvent's time), Unix milliseconds.
    let atMillis: Int64
    var amountMinor: Int64?
    var currency: String?
    var kind: String?
    var status: String?
    var sourceAccount: String?
    var destinationAccount: String?
    var counterparty: String?
    var counterpartyCountry: String?
    var customer: String?
    var gateway: String?
    var category: String?
    /// The counterparty's name as the transaction gave it (`counterparty` is its folded key).
    var counterpartyName: String?

    /// The subject's type as alerts and decisions name it.
    var subjectType: String { self.type == .payment ? "payment" : "transaction" }

    /// The amount in major units of its currency.
    var amount: Decimal? {
        guard let minor = self.amountMinor else { return nil }
        return Self.major(minor, currency: self.currency)
    }

    /// `minor` units of `currency` in major units: the decimal point moved, not a division (rules read amounts on every
    /// event, and a `Decimal` division costs as much as the rest of a rule).
    static func major(_ minor: Int64, currency: String?) -> Decimal {
        var factor = Self.minorUnitsPerMajor(currency)
        var exponent = 0
        while factor >= 10, factor % 10 == 0 {
            factor /= 10
            exponent -= 1
        }
        guard factor == 1 else { return Decimal(minor) / Decimal(Self.minorUnitsPerMajor(currency)) }
        return Decimal(sign: minor < 0 ? .minus : .plus, exponent: exponent, significand: Decimal(minor.magnitude))
    }

    /// The event as JSON text, written directly: every event is stored (what `JSONDecoder` reads back as a
    /// `MonitoredEvent`; absent values are left out).
    var json: String {
        var text = "{\"id\":" + JSONText.quoted(self.id) + ",\"type\":" + JSONText.quoted(self.type.rawValue)
        text += ",\"tenantId\":" + JSONText.quoted(self.tenantId) + ",\"subjectId\":" + JSONText.quoted(self.subjectId)
        text += ",\"atMillis\":" + String(self.atMillis)
        if let amountMinor = self.amountMinor { text += ",\"amountMinor\":" + String(amountMinor) }
        let texts: [(String, String?)] = [
            ("currency", self.currency), ("kind", self.kind), ("status", self.status), ("sourceAccount", self.sourceAccount),
            ("destinationAccount", self.destinationAccount), ("counterparty", self.counterparty), ("counterpartyCountry", self.counterpartyCountry),
            ("customer", self.customer), ("gateway", self.gateway), ("category", self.category), ("counterpartyName", self.counterpartyName),
        ]
        for (name, value) in texts {
            if let value { text += ",\"" + name + "\":" + JSONText.quoted(value) }
        }
        return text + "}"
    }

    static func minorUnitsPerMajor(_ currency: String?) -> Int64 {
        currency.flatMap { Currency(code: $0) }?.minorUnitsPerMajor ?? 1
    }

    /// The value of `field`; nil when the event has none.
    func value(_ field: EventField) -> Scalar? {
        let text: String? = switch field {
        case .event: self.type.rawValue
        case .amount: nil
        case .currency: self.currency
        case .kind: self.kind
        case .status: self.status
        case .sourceAccount: self.sourceAccount
        case .destinationAccount: self.destinationAccount
        case .counterparty: self.counterparty
        case .counterpartyCountry: self.counterpartyCountry
        case .customer: self.customer
        case .gateway: self.gateway
        case .category: self.category
        }
        if field == .amount { return self.amount.map(Scalar.number) }
        return text.map(Scalar.text)
    }

    /// The values of `fields` joined as one group key; nil when one is missing.
    func group(_ fields: [EventField]) -> String? {
        if fields.count == 1 {
            guard case .text(let text)? = self.value(fields[0]) else { return nil }
            return text
        }
        var parts: [String] = []
        for field in fields {
            guard case .text(let text)? = self.value(field) else { return nil }
            parts.append(text)
        }
        return parts.joined(separator: "\u{1F}")
    }

    init(
        id: String, type: MonitoredEventType, tenantId: String, subjectId: String, atMillis: Int64, amountMinor: Int64? = nil,
        currency: String? = nil, kind: String? = nil, status: String? = nil, sourceAccount: String? = nil, destinationAccount: String? = nil,
        counterparty: String? = nil, counterpartyCountry: String? = nil, customer: String? = nil, gateway: String? = nil, category: String? = nil
    ) {
        self.id = id
        self.type = type
        self.tenantId = tenantId
        self.subjectId = subjectId
        self.atMillis = atMillis
        self.amountMinor = amountMinor
        self.currency = currency
        self.kind = kind
        self.status = status
        self.sourceAccount = sourceAccount
        self.destinationAccount = destinationAccount
        self.counterparty = counterparty
        self.counterpartyCountry = counterpartyCountry
        self.customer = customer
        self.gateway = gateway
        self.category = category
    }

    init(_ event: CloudEvent<TransactionCreated>) {
        let data = event.data
        self.init(
            id: event.id, type: .transaction, tenantId: data.tenantId, subjectId: data.transactionId, atMillis: event.time.unixMillis,
            amountMinor: data.amountMinor, currency: data.currency, kind: data.kind, status: "pending", sourceAccount: data.sourceAccountId,
            destinationAccount: data.destinationAccountId, counterparty: data.counterparty.map(Counterparties.key),
            counterpartyCountry: data.counterpartyCountry, category: data.category)
        self.counterpartyName = data.counterparty
    }

    init(_ event: CloudEvent<PaymentProcessed>) {
        let data = event.data
        self.init(
            id: event.id, type: .payment, tenantId: data.tenantId, subjectId: data.refundId.map { "\(data.paymentId)/\($0)" } ?? data.paymentId,
            atMillis: event.time.unixMillis, amountMinor: data.amountMinor, currency: data.currency, status: data.status,
            customer: data.customerId, gateway: data.gateway)
    }

    /// A status change, with the amounts and accounts of the transaction it concerns (when monitoring saw it).
    init(_ event: CloudEvent<TransactionStatusChanged>, transaction: MonitoredEvent?) {
        let data = event.data
        self.init(
            id: event.id, type: .transactionStatus, tenantId: data.tenantId, subjectId: data.transactionId, atMillis: event.time.unixMillis,
            amountMinor: transaction?.amountMinor, currency: transaction?.currency, kind: transaction?.kind, status: data.status,
            sourceAccount: transaction?.sourceAccount, destinationAccount: transaction?.destinationAccount,
            counterparty: transaction?.counterparty, counterpartyCountry: transaction?.counterpartyCountry, category: transaction?.category)
        self.counterpartyName = transaction?.counterpartyName
    }
}

/// How monitoring names a counterparty: its name folded so spelling of case and spacing make one counterparty.
enum Counterparties {
    static func key(_ name: String) -> String {
        NameText.tokens(name).joined(separator: " ")
    }
}
