import FinFlowCore
import Foundation
import SQLKit

/// A tenant's lending policy: how offers are priced and sized.
struct LendingPolicy: Codable, Sendable, Equatable {
    var baseRateBps: Int
    /// Grade → margin over the base rate; a grade left out is not lent to.
    var gradeMarginsBps: [String: Int]
    var originationFeeBps: Int
    var paymentToIncomeMaxBps: Int
    var debtToIncomeMaxBps: Int
    var termsMonths: [Int]
    var offerValidityHours: Int

    /// A small consumer lender's defaults: 5 % base, grade E declined, 1 % fee, payment at most 15 % of income and all
    /// debt payments at most 40 %, one to five years, offers open for a week.
    static let standard = LendingPolicy(
        baseRateBps: 500, gradeMarginsBps: ["A": 200, "B": 400, "C": 700, "D": 1_100], originationFeeBps: 100,
        paymentToIncomeMaxBps: 1_500, debtToIncomeMaxBps: 4_000, termsMonths: [12, 24, 36, 48, 60], offerValidityHours: 168)

    static let termsMax = 12
    static let validityHoursMax = 24 * 90

    /// Every bound named: a bad field is reported by name and nothing is saved.
    func validate() throws {
        var validator = Validator()
        validator.check((0...Amortization.rateBpsMax).contains(self.baseRateBps), "baseRateBps", "must be 0–\(Amortization.rateBpsMax)")
        for (grade, margin) in self.gradeMarginsBps.sorted(by: { $0.key < $1.key }) {
            validator.check(["A", "B", "C", "D", "E"].contains(grade), "gradeMarginsBps.\(grade.prefix(8))", "is not a grade (A–E)")
            validator.check((0...Amortization.rateBpsMax).contains(margin) && self.baseRateBps + margin <= Amortization.rateBpsMax,
                            "gradeMarginsBps.\(grade.prefix(8))", "must keep the rate within 0–\(Amortization.rateBpsMax) bps")
        }
        validator.check((0...2_000).contains(self.originationFeeBps), "originationFeeBps", "must be 0–2000")
        validator.check((1...10_000).contains(self.paymentToIncomeMaxBps), "paymentToIncomeMaxBps", "must be 1–10000")
        validator.check((1...10_000).contains(self.debtToIncomeMaxBps), "debtToIncomeMaxBps", "must be 1–10000")
        validator.check((1...Self.termsMax).contains(self.termsMonths.count) && Set(self.termsMonths).count == self.termsMonths.count
                        && self.termsMonths.allSatisfy { (1...Amortization.termMonthsMax).contains($0) },
                        "termsMonths", "must list 1–\(Self.termsMax) different terms of 1–\(Amortization.termMonthsMax) months")
        validator.check((1...Self.validityHoursMax).contains(self.offerValidityHours), "offerValidityHours", "must be 1–\(Self.validityHoursMax)")
        try validator.throwIfInvalid()
    }
}

/// One term of an offer, with its schedule and cost.
struct OfferOption: Codable, Sendable, Equatable {
    let termMonths: Int
    let amountMinor: Int64
    let monthlyPaymentMinor: Int64
    let totalInterestMinor: Int64
    let feeMinor: Int64
    let apr: Double
    let aprEffective: Double
    let schedule: [Amortization.Installment]

    var totalCostOfCreditMinor: Int64 { self.totalInterestMinor + self.feeMinor }
    var totalRepayableMinor: Int64 { self.amountMinor + self.totalInterestMinor }
}

/// What an offer request asks.
struct OfferRequest: Sendable, Encodable {
    var id: String?
    let decisionId: String
    let amountMinor: Int64
    let currency: String
    let monthlyIncomeMinor: Int64
    let monthlyDebtPaymentsMinor: Int64
}

extension CreditDesk {
    /// The tenant's policy, or the standard one.
    func policy(tenantId: String) async throws -> LendingPolicy {
        struct Row: Decodable { let policy: String }
        let row = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.select().column("policy").from("credit_policies").where("tenant_id", .equal, tenantId).first(decoding: Row.self)
        }
        return try row.map { try JSONDecoder().decode(LendingPolicy.self, from: Data($0.policy.utf8)) } ?? .standard
    }

    /// Replaces the tenant's policy (audited).
    func setPolicy(_ policy: LendingPolicy, principal: Principal) async throws {
        try policy.validate()
        let kind = self.database.kind
        let now = self.now
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            try await db.raw("DELETE FROM credit_policies WHERE tenant_id = \(bind: principal.tenantId)").run()
            try await db.raw("""
                INSERT INTO credit_policies (tenant_id, policy, updated_by, updated_at_ms)
                VALUES (\(bind: principal.tenantId), \(bind: Self.json(policy)), \(bind: principal.subject), \(bind: now))
                """).run()
            try await self.env.audit.append(
                AuditEntry(tenantId: principal.tenantId, actorId: principal.subject, action: "credit.policy.changed", target: nil,
                           details: ["policy": Self.json(policy)]),
                on: db, kind: kind)
        }
    }

    /// The options `policy` allows a borrower of `grade`: per term, the amount asked or the most they can afford.
    static func options(policy: LendingPolicy, grade: String, request: OfferRequest) throws -> (rateBps: Int, options: [OfferOption]) {
        guard let margin = policy.gradeMarginsBps[grade] else {
            throw AppError(.rejected, code: "credit-declined", "the lending policy does not lend to grade \(grade)")
        }
        let rate = policy.baseRateBps + margin
        let income = request.monthlyIncomeMinor
        // The new payment is capped by payment-to-income and, with the existing debt payments, by debt-to-income.
        let byPayment = income * Int64(policy.paymentToIncomeMaxBps) / 10_000
        let byDebt = income * Int64(policy.debtToIncomeMaxBps) / 10_000 - request.monthlyDebtPaymentsMinor
        let paymentMax = min(byPayment, byDebt)
        var options: [OfferOption] = []
        for months in policy.termsMonths.sorted() {
            let amount = min(request.amountMinor, Amortization.principal(affordingPayment: paymentMax, rateBps: rate, months: months))
            guard amount > 0 else { continue }
            let schedule = Amortization.schedule(principal: amount, rateBps: rate, months: months)
            let fee = amount * Int64(policy.originationFeeBps) / 10_000
            guard amount - fee > 0 else { continue }
            let rates = Amortization.annualRates(advance: amount - fee, payments: schedule.map(\.payment))
            options.append(OfferOption(
                termMonths: months, amountMinor: amount, monthlyPaymentMinor: schedule[0].payment,
                totalInterestMinor: schedule.reduce(0) { $0 + $1.interest }, feeMinor: fee,
                apr: (rates.apr * 100_000).rounded() / 1_000, aprEffective: (rates.effective * 100_000).rounded() / 1_000, schedule: schedule))
        }
        guard !options.isEmpty else {
            throw AppError(.rejected, code: "credit-declined", "no term of the policy is affordable on this income and debt")
        }
        return (rate, options)
    }

    /// Makes an offer from a stored decision. A client id is also an idempotency key.
    func offer(_ request: OfferRequest, principal: Principal) async throws -> (offer: OfferRow, created: Bool) {
        let tenantId = principal.tenantId
        let decision = try await self.decision(tenantId: tenantId, id: request.decisionId)
        guard decision.created_at_ms >= self.now - Self.decisionValidityMillis else {
            throw AppError(.rejected, code: "decision-stale", "the decision is older than 30 days: score again")
        }
        let policy = try await self.policy(tenantId: tenantId)
        let (rate, options) = try Self.options(policy: policy, grade: decision.grade, request: request)
        let now = self.now
        let row = OfferRow(
            id: request.id ?? self.env.ids.nextString(), tenant_id: tenantId, decision_id: decision.id, customer_id: decision.customer_id,
            currency: request.currency, grade: decision.grade, status: "open", requested_minor: request.amountMinor, rate_bps: rate,
            fee_bps: policy.originationFeeBps, options: Self.json(options), request_hash: Digest.sha256Hex(Self.json(request)),
            expires_at_ms: now + Int64(policy.offerValidityHours) * 3_600_000, accepted_term_months: nil, accepted_minor: nil,
            accepted_by: nil, accepted_at_ms: nil, created_by: principal.subject, created_at_ms: now, booking_status: nil,
            booking_entry_id: nil, booking_detail: nil)
        let kind = self.database.kind
        do {
            let created: Bool = try await self.database.tenantTransaction(tenantId: tenantId) { db in
                if request.id != nil, let existing = try await CreditStore.offer(tenantId: tenantId, id: row.id, forUpdate: false, kind: kind, db: db) {
                    guard existing.request_hash == row.request_hash else { throw AppError.idReused("offer") }
                    return false
                }
                try await db.insert(into: "loan_offers").model(row).run()
                return true
            }
            return created ? (row, true) : (try await self.offer(tenantId: tenantId, id: row.id), false)
        } catch where violatedConstraint(error) != nil {
            let existing = try await self.offer(tenantId: tenantId, id: row.id)
            guard existing.request_hash == row.request_hash else { throw AppError.idReused("offer") }
            return (existing, false)
        }
    }

    /// How long a decision can back an offer.
    static let decisionValidityMillis: Int64 = 30 * 86_400_000

    /// One offer; an open offer past its time reads as expired.
    func offer(tenantId: String, id: String) async throws -> OfferRow {
        guard UUID(uuidString: id) != nil else { throw AppError.notFound("offer") }
        let kind = self.database.kind
        let found = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await CreditStore.offer(tenantId: tenantId, id: id.lowercased(), forUpdate: false, kind: kind, db: db)
        }
        guard var found else { throw AppError.notFound("offer") }
        if found.status == "open", found.expires_at_ms <= self.now { found.status = "expired" }
        return found
    }

    /// Accepts one term of an open offer, once, and announces it for the accounting service to post.
    func accept(offerId: String, termMonths: Int, principal: Principal) async throws -> OfferRow {
        let tenantId = principal.tenantId
        guard UUID(uuidString: offerId) != nil else { throw AppError.notFound("offer") }
        let kind = self.database.kind
        let now = self.now
        let today = Self.date(millis: now)
        return try await self.database.tenantTransaction(tenantId: tenantId) { db in
            guard var row = try await CreditStore.offer(tenantId: tenantId, id: offerId.lowercased(), forUpdate: true, kind: kind, db: db) else {
                throw AppError.notFound("offer")
            }
            if row.status == "accepted" {
                // The same acceptance again answers the offer as it stands; another term is a conflict.
                guard row.accepted_term_months == termMonths else {
                    throw AppError.conflict(code: "offer-accepted", "the offer was accepted with a \(row.accepted_term_months ?? 0)-month term")
                }
                return row
            }
            guard row.expires_at_ms > now else { throw AppError.conflict(code: "offer-expired", "the offer expired; make a new one") }
            let options = try JSONDecoder().decode([OfferOption].self, from: Data(row.options.utf8))
            guard let option = options.first(where: { $0.termMonths == termMonths }) else {
                throw AppError.validation([.init(field: "termMonths", message: "must be one of the offer's terms: \(options.map { String($0.termMonths) }.joined(separator: ", "))")])
            }
            row.status = "accepted"
            row.accepted_term_months = termMonths
            row.accepted_minor = option.amountMinor
            row.accepted_by = principal.subject
            row.accepted_at_ms = now
            try await db.raw("""
                UPDATE loan_offers SET status = 'accepted', accepted_term_months = \(bind: termMonths), accepted_minor = \(bind: option.amountMinor),
                    accepted_by = \(bind: principal.subject), accepted_at_ms = \(bind: now)
                WHERE tenant_id = \(bind: tenantId) AND id = \(bind: row.id) AND status = 'open'
                """).run()
            try await self.outbox.enqueue(
                LoanOfferAccepted(
                    offerId: row.id, tenantId: tenantId, decisionId: row.decision_id, customerId: row.customer_id,
                    principalMinor: option.amountMinor, feeMinor: option.feeMinor, currency: row.currency, termMonths: termMonths,
                    rateBps: row.rate_bps, monthlyPaymentMinor: option.monthlyPaymentMinor, disbursementDate: today, acceptedAtMillis: now),
                subject: row.id, tenantId: tenantId, on: db)
            try await self.env.audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "credit.offer.accepted", target: row.id,
                           details: ["termMonths": String(termMonths), "principal": String(option.amountMinor), "currency": row.currency]),
                on: db, kind: kind)
            return row
        }
    }

    /// Records the ledger's answer to an accepted loan (`JournalEntryPosted` or `JournalEntryRejected` with source
    /// `loan`), so the offer shows whether the loan is on the books: the first answer stands, and only a booked loan
    /// can later read as reversed (an accountant reversed its entry).
    func recordBooking(tenantId: String, offerId: String, status: String, entryId: String?, detail: String?, on db: any SQLDatabase) async throws {
        let from = status == "reversed" ? "booking_status = 'booked'" : "booking_status IS NULL"
        try await db.raw("""
            UPDATE loan_offers SET booking_status = \(bind: status), booking_entry_id = \(bind: entryId),
                booking_detail = \(bind: detail.map { String($0.prefix(500)) })
            WHERE tenant_id = \(bind: tenantId) AND id = \(bind: offerId) AND status = 'accepted' AND \(unsafeRaw: from)
            """).run()
    }

    /// `YYYY-MM-DD` of a Unix-milliseconds instant, in UTC.
    static func date(millis: Int64) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(millis) / 1000))
        return String(format: "%04d-%02d-%02d", parts.year ?? 1970, parts.month ?? 1, parts.day ?? 1)
    }

    /// The due date of installment `number` of a loan disbursed on `date` (`YYYY-MM-DD`): the same day `number` months
    /// later, or the month's last day when it is shorter.
    static func dueDate(disbursed date: String, number: Int) -> String {
        let parts = date.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3 else { return date }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let start = calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])),
              let due = calendar.date(byAdding: .month, value: number, to: start)
        else { return date }
        return Self.date(millis: Int64(due.timeIntervalSince1970 * 1000))
    }
}
