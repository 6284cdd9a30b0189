import FinFlowCore
import Foundation

extension Contribution {
    /// The topics the analytics service reads, each with the way its events contribute.
    static let readers: [(topic: String, read: @Sendable (PublishedEvent) throws -> Contribution?)] = [
        (TransactionCreated.topic, { try Self.of(transaction: $0.decode(TransactionCreated.self)) }),
        (TransactionStatusChanged.topic, { try Self.of(status: $0.decode(TransactionStatusChanged.self)) }),
        (PaymentProcessed.topic, { try Self.of(payment: $0.decode(PaymentProcessed.self)) }),
        (JournalEntryPosted.topic, { try Self.of(entry: $0.decode(JournalEntryPosted.self)) }),
        (LedgerMovementsRecorded.topic, { try Self.of(movements: $0.decode(LedgerMovementsRecorded.self)) }),
        (InvoiceIssued.topic, { try Self.of(invoice: $0.decode(InvoiceIssued.self)) }),
        (InvoiceSettled.topic, { try Self.of(settled: $0.decode(InvoiceSettled.self)) }),
        (InvoiceVoided.topic, { try Self.of(voided: $0.decode(InvoiceVoided.self)) }),
        (BillPosted.topic, { try Self.of(bill: $0.decode(BillPosted.self)) }),
        (BillSettled.topic, { try Self.of(settled: $0.decode(BillSettled.self)) }),
        (TenantCreated.topic, { try Self.of(tenant: $0.decode(TenantCreated.self)) }),
        (MembershipChanged.topic, { try Self.of(membership: $0.decode(MembershipChanged.self)) }),
    ]

    /// What `event` contributes; nil when the service does not read its topic, or it is malformed or out of bounds
    /// (such an event adds nothing rather than stopping the consumer).
    static func of(_ event: PublishedEvent) -> Contribution? {
        guard let reader = Self.readers.first(where: { $0.topic == event.topic }) else { return nil }
        return (try? reader.read(event)) ?? nil
    }

    private static func start<T>(_ event: CloudEvent<T>, tenantId: String) -> Contribution? {
        guard ContributionBounds.isId(tenantId) else { return nil }
        let millis = event.time.timeIntervalSince1970 * 1000
        return Contribution(tenantId: tenantId, atMillis: millis.isFinite ? Int64(clamping: Int64(exactly: millis.rounded()) ?? 0) : 0)
    }

    /// Adds one fact per dimension given (`all` with an empty key comes first).
    private mutating func add(
        _ measure: String, _ dimensions: [(String, String?)], currency: String, day: String, count: Int64 = 1, amountMinor: Int64,
        feeMinor: Int64 = 0
    ) {
        for (dimension, key) in [("all", "")] + dimensions {
            guard let key = dimension == "all" ? "" : ContributionBounds.key(key) else { continue }
            self.facts.append(Fact(
                measure: measure, dimension: dimension, key: key, currency: currency, day: day, count: count, amountMinor: amountMinor,
                feeMinor: feeMinor))
        }
    }

    static func of(transaction event: CloudEvent<TransactionCreated>) -> Contribution? {
        let t = event.data
        guard var result = Self.start(event, tenantId: t.tenantId), ContributionBounds.isDay(t.valueDate),
            ContributionBounds.isCurrency(t.currency), ContributionBounds.isAmount(t.amountMinor)
        else { return nil }
        result.add(
            "transactions", [("kind", t.kind), ("category", t.category ?? "uncategorised"), ("counterparty", t.counterparty)],
            currency: t.currency, day: t.valueDate, amountMinor: t.amountMinor)
        return result
    }

    static func of(status event: CloudEvent<TransactionStatusChanged>) -> Contribution? {
        let s = event.data
        guard var result = Self.start(event, tenantId: s.tenantId), let day = ContributionBounds.day(millis: s.changedAtMillis) else { return nil }
        result.add("transaction-status", [("status", s.status)], currency: "", day: day, amountMinor: 0)
        return result
    }

    static func of(payment event: CloudEvent<PaymentProcessed>) -> Contribution? {
        let p = event.data
        guard var result = Self.start(event, tenantId: p.tenantId), let day = ContributionBounds.day(millis: p.processedAtMillis),
            ContributionBounds.isCurrency(p.currency), ContributionBounds.isAmount(p.amountMinor), ContributionBounds.isAmount(p.feeMinor ?? 0),
            ["succeeded", "failed", "refunded"].contains(p.status)
        else { return nil }
        // The gateway is the key of a dimension named for the outcome, so one range read gives every gateway's rate.
        result.add("payments", [(p.status, p.gateway)], currency: p.currency, day: day, amountMinor: p.amountMinor, feeMinor: p.feeMinor ?? 0)
        return result
    }

    static func of(entry event: CloudEvent<JournalEntryPosted>) -> Contribution? {
        let e = event.data
        guard var result = Self.start(event, tenantId: e.tenantId), ContributionBounds.isDay(e.accountingDate) else { return nil }
        result.add("journal-entries", [("source", e.source)], currency: "", day: e.accountingDate, amountMinor: 0)
        return result
    }

    static func of(movements event: CloudEvent<LedgerMovementsRecorded>) -> Contribution? {
        let m = event.data
        guard var result = Self.start(event, tenantId: m.tenantId) else { return nil }
        var described = Set<String>()
        for movement in m.movements.prefix(LedgerMovementsRecorded.movementsMax) {
            guard ContributionBounds.isDay(movement.accountingDate), ContributionBounds.isId(movement.accountId),
                ["asset", "liability", "equity", "revenue", "expense"].contains(movement.type), ContributionBounds.isCurrency(movement.currency),
                (0...ContributionBounds.amountMinorMax).contains(movement.debitMinor), (0...ContributionBounds.amountMinorMax).contains(movement.creditMinor)
            else { continue }
            result.accountDays.append(AccountDay(
                accountId: movement.accountId, day: movement.accountingDate, debitMinor: movement.debitMinor, creditMinor: movement.creditMinor))
            if described.insert(movement.accountId).inserted {
                result.accounts.append(Account(
                    accountId: movement.accountId, code: String(movement.code.prefix(64)), name: String(movement.name.prefix(ContributionBounds.nameLengthMax)),
                    type: movement.type, cashFlowTag: movement.cashFlowTag.map { String($0.prefix(32)) }, role: movement.role.map { String($0.prefix(32)) },
                    currency: movement.currency))
            }
        }
        return result
    }

    /// A document's total on its day under `metric`, by its party (customer or vendor); nil when a field is out of bounds.
    private static func document<T>(
        _ event: CloudEvent<T>, tenantId: String, metric: String, party: (String, String?), currency: String, day: String, totalMinor: Int64
    ) -> Contribution? {
        guard var result = Self.start(event, tenantId: tenantId), ContributionBounds.isDay(day), ContributionBounds.isCurrency(currency),
            ContributionBounds.isAmount(totalMinor)
        else { return nil }
        result.add(metric, [party], currency: currency, day: day, amountMinor: totalMinor)
        return result
    }

    static func of(invoice event: CloudEvent<InvoiceIssued>) -> Contribution? {
        let i = event.data
        return Self.document(event, tenantId: i.tenantId, metric: i.kind == "credit_note" ? "credit-notes" : "invoices-issued",
                             party: ("customer", i.customerId), currency: i.currency, day: i.issueDate, totalMinor: i.totalMinor)
    }

    static func of(settled event: CloudEvent<InvoiceSettled>) -> Contribution? {
        let i = event.data
        return Self.document(event, tenantId: i.tenantId, metric: "invoices-settled", party: ("customer", i.customerId), currency: i.currency,
                             day: i.settledDate, totalMinor: i.totalMinor)
    }

    static func of(voided event: CloudEvent<InvoiceVoided>) -> Contribution? {
        let v = event.data
        guard var result = Self.start(event, tenantId: v.tenantId), ContributionBounds.isDay(v.voidedDate) else { return nil }
        result.add("invoices-voided", [], currency: "", day: v.voidedDate, amountMinor: 0)
        return result
    }

    static func of(bill event: CloudEvent<BillPosted>) -> Contribution? {
        let b = event.data
        return Self.document(event, tenantId: b.tenantId, metric: b.kind == "vendor_credit" ? "vendor-credits" : "bills-posted",
                             party: ("vendor", b.vendorId), currency: b.currency, day: b.billDate, totalMinor: b.totalMinor)
    }

    static func of(settled event: CloudEvent<BillSettled>) -> Contribution? {
        let b = event.data
        return Self.document(event, tenantId: b.tenantId, metric: "bills-settled", party: ("vendor", b.vendorId), currency: b.currency,
                             day: b.settledDate, totalMinor: b.totalMinor)
    }

    static func of(tenant event: CloudEvent<TenantCreated>) -> Contribution? {
        let t = event.data
        guard var result = Self.start(event, tenantId: t.tenantId), ContributionBounds.isCurrency(t.baseCurrency),
            let day = ContributionBounds.day(millis: result.atMillis)
        else { return nil }
        result.tenant = Tenant(name: String(t.name.prefix(ContributionBounds.nameLengthMax)), baseCurrency: t.baseCurrency, createdDay: day)
        return result
    }

    static func of(membership event: CloudEvent<MembershipChanged>) -> Contribution? {
        let m = event.data
        guard var result = Self.start(event, tenantId: m.tenantId), ContributionBounds.isId(m.userId), ["active", "removed"].contains(m.status),
            ContributionBounds.day(millis: m.changedAtMillis) != nil
        else { return nil }
        result.members.append(Member(userId: m.userId, status: m.status, changedAtMillis: m.changedAtMillis))
        return result
    }
}
