import FinFlowCore
import Foundation
import SQLKit

struct AdviceRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let kind: String
    let subject: String
    let currency: String
    var amount_minor: Int64
    var sentence: String
    var evidence: String
    var status: String
    let raised_at_ms: Int64
    var updated_at_ms: Int64
    var dismissed_at_ms: Int64?
    var dismissed_by: String?
    var dismiss_reason: String?
}

/// The late-payment model of a tenant and its predictions for the open invoices.
struct LatePaymentReport: Sendable {
    struct Prediction: Sendable {
        var id: String
        var customer: String
        var owed: Int64
        var due: CalendarDay
        var probability: Double
        var expectedDelayDays: Int
        var expected: CalendarDay
    }

    var currency: String
    var model: LatePayment.Model
    var invoices: [Prediction]
}

extension InsightsDesk {
    /// The books in one currency as the advisory rules read them.
    func snapshot(tenantId: String, currency: String?) async throws -> BooksSnapshot {
        let today = self.today
        return try await self.database.tenantRead(tenantId: tenantId) { db in
            var named = currency
            if named == nil { named = try await ReadModel.mainCurrency(tenantId: tenantId, db: db) }
            guard let currency = named else { throw AppError.conflict(code: "no-books", "no ledger movements have reached the insights service yet") }
            let cashDays = try await ReadModel.daily(tenantId: tenantId, metric: .netCashFlow, currency: currency, accountId: nil, db: db)
            let revenueDays = try await ReadModel.daily(tenantId: tenantId, metric: .revenue, currency: currency, accountId: nil, db: db)
            let (expenseDays, accounts) = try await ReadModel.expenseDays(tenantId: tenantId, currency: currency, db: db)
            let documents = try await ReadModel.documents(tenantId: tenantId, currency: currency, db: db)
            let firstDay = [cashDays.first?.day, revenueDays.first?.day, expenseDays.first?.day].compactMap { $0 }.min()
            var months: [CalendarDay] = []
            if var month = firstDay?.startOfMonth {
                while month < today.startOfMonth && months.count < 1_200 {
                    months.append(month)
                    month = month.addingMonths(1)
                }
            }
            let index = Dictionary(uniqueKeysWithValues: months.enumerated().map { ($0.element, $0.offset) })
            func monthly(_ days: [(day: CalendarDay, value: Int64)]) -> [Int64] {
                var values = Array(repeating: Int64(0), count: months.count)
                for (day, value) in days { if let i = index[day.startOfMonth] { values[i] &+= value } }
                return values
            }
            var expenses: [String: [Int64]] = [:]
            for (account, day, value) in expenseDays {
                guard let i = index[day.startOfMonth] else { continue }
                expenses[account, default: Array(repeating: 0, count: months.count)][i] &+= value
            }
            return BooksSnapshot(
                today: today, currency: currency, months: months, netCash: monthly(cashDays), revenue: monthly(revenueDays), expenses: expenses,
                accounts: Dictionary(uniqueKeysWithValues: accounts.map { ($0.account_id, .init(id: $0.account_id, code: $0.code, name: $0.name)) }),
                cashBalance: cashDays.reduce(0) { $0 &+ $1.value }, documents: Self.documents(documents))
        }
    }

    static func documents(_ rows: [ReadModel.DocumentRow]) -> [BooksSnapshot.Document] {
        rows.compactMap { row in
            guard let issued = CalendarDay(row.issue_date), let due = CalendarDay(row.due_date) else { return nil }
            return .init(
                id: row.id, kind: row.kind, party: row.party_id, total: row.total_minor, applied: row.applied_minor, issued: issued, due: due,
                settled: row.settled_date.flatMap(CalendarDay.init), open: row.status == "open")
        }
    }

    /// The tenant's invoices and bills in `currency` (or the currency with the most movement).
    func documents(tenantId: String, currency: String?) async throws -> (currency: String, documents: [BooksSnapshot.Document]) {
        try await self.database.tenantRead(tenantId: tenantId) { db in
            var named = currency
            if named == nil { named = try await ReadModel.mainCurrency(tenantId: tenantId, db: db) }
            guard let currency = named else { throw AppError.conflict(code: "no-books", "no ledger movements have reached the insights service yet") }
            return (currency, Self.documents(try await ReadModel.documents(tenantId: tenantId, currency: currency, db: db)))
        }
    }

    /// Runs the advisory rules over the books and keeps their outcome: a new insight is stored open and announced,
    /// one found again is brought up to date (a dismissed one stays dismissed), an open one no longer found is
    /// resolved. Answers the open ones, most money at stake first.
    func refreshAdvice(principal: Principal, currency: String?) async throws -> [AdviceRow] {
        let tenantId = principal.tenantId
        let books = try await self.snapshot(tenantId: tenantId, currency: currency)
        var advised = Advisor.advise(books)
        // An expense above its trend names the entries behind its last month.
        if let month = books.months.last {
            for index in advised.indices where advised[index].kind == "expense-above-trend" {
                let accountId = advised[index].subject
                let entries = try await self.database.tenantRead(tenantId: tenantId) { db in
                    try await ReadModel.entries(tenantId: tenantId, accountId: accountId, from: month, to: month.endOfMonth, limit: 20, db: db)
                }
                advised[index].evidence += entries.map { .init(label: "entry", period: $0.day, reference: $0.entryId) }
            }
        }
        let found = advised
        let now = self.env.clock.nowMillis(), ids = self.env.ids, outbox = self.outbox
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            let existing = try await db.select().column("*").from("insights_advice").where("tenant_id", .equal, tenantId)
                .where("currency", .equal, books.currency).all(decoding: AdviceRow.self)
            var byKey = Dictionary(existing.map { ("\($0.kind)|\($0.subject)", $0) }, uniquingKeysWith: { first, _ in first })
            for advice in found {
                let key = "\(advice.kind)|\(advice.subject)"
                let evidence = SortedJSON.text(advice.evidence)
                if var row = byKey.removeValue(forKey: key) {
                    let reopened = row.status == "resolved"
                    row.amount_minor = advice.amountAtStake
                    row.sentence = advice.sentence
                    row.evidence = evidence
                    row.updated_at_ms = now
                    if reopened { row.status = "open" }
                    try await db.update("insights_advice").set("amount_minor", to: row.amount_minor).set("sentence", to: row.sentence)
                        .set("evidence", to: row.evidence).set("status", to: row.status).set("updated_at_ms", to: now)
                        .where("tenant_id", .equal, tenantId).where("id", .equal, row.id).run()
                    if reopened { try await Self.announce(row, outbox: outbox, db: db) }
                } else {
                    let row = AdviceRow(
                        id: ids.nextString(), tenant_id: tenantId, kind: advice.kind, subject: String(advice.subject.prefix(200)), currency: books.currency,
                        amount_minor: advice.amountAtStake, sentence: advice.sentence, evidence: evidence, status: "open", raised_at_ms: now,
                        updated_at_ms: now)
                    try await db.insert(into: "insights_advice").model(row).run()
                    try await Self.announce(row, outbox: outbox, db: db)
                }
            }
            for row in byKey.values where row.status == "open" {
                try await db.update("insights_advice").set("status", to: "resolved").set("updated_at_ms", to: now)
                    .where("tenant_id", .equal, tenantId).where("id", .equal, row.id).run()
            }
        }
        return try await self.advice(tenantId: tenantId, status: "open")
    }

    static func announce(_ row: AdviceRow, outbox: Outbox, db: any SQLDatabase) async throws {
        try await outbox.enqueue(
            InsightRaised(
                insightId: row.id, tenantId: row.tenant_id, kind: row.kind, subject: row.subject, currency: row.currency,
                amountAtStakeMinor: row.amount_minor, sentence: row.sentence, raisedAtMillis: row.updated_at_ms),
            subject: row.id, tenantId: row.tenant_id, on: db)
    }

    /// The tenant's insights of `status` (all when nil), most money at stake first.
    func advice(tenantId: String, status: String?) async throws -> [AdviceRow] {
        try await self.database.tenantRead(tenantId: tenantId) { db in
            var query = db.select().column("*").from("insights_advice").where("tenant_id", .equal, tenantId)
            if let status { query = query.where("status", .equal, status) }
            return try await query.orderBy("amount_minor", .descending).orderBy("id").limit(500).all(decoding: AdviceRow.self)
        }
    }

    /// Dismisses an insight (audited); dismissing a dismissed one answers it unchanged.
    func dismiss(id: String, reason: String?, principal: Principal) async throws -> AdviceRow {
        let tenantId = principal.tenantId, now = self.env.clock.nowMillis(), audit = self.env.audit, kind = self.database.kind
        return try await self.database.tenantTransaction(tenantId: tenantId) { db in
            guard var row = try await db.select().column("*").from("insights_advice").where("tenant_id", .equal, tenantId).where("id", .equal, id)
                .first(decoding: AdviceRow.self)
            else { throw AppError.notFound("insight") }
            guard row.status != "dismissed" else { return row }
            row.status = "dismissed"
            row.dismissed_at_ms = now
            row.dismissed_by = principal.subject
            row.dismiss_reason = reason
            try await db.update("insights_advice").set("status", to: "dismissed").set("dismissed_at_ms", to: now)
                .set("dismissed_by", to: principal.subject).set("dismiss_reason", to: reason).set("updated_at_ms", to: now)
                .where("tenant_id", .equal, tenantId).where("id", .equal, id).run()
            try await audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "insights.advice.dismissed", target: "insight:\(id)",
                           details: ["kind": row.kind, "subject": row.subject, "reason": String((reason ?? "").prefix(500))]),
                on: db, kind: kind)
            return row
        }
    }

    /// The tenant's late-payment model, trained on its settled invoices in `currency`, and the probability and
    /// expected payment date of each open one (its due date moved by the probability times the customer's mean
    /// days late on late invoices, or the tenant's).
    func latePayments(tenantId: String, currency: String?, seed: UInt64 = 1) async throws -> LatePaymentReport {
        let (currency, documents) = try await self.documents(tenantId: tenantId, currency: currency)
        return Self.predict(documents, currency: currency, seed: seed)
    }

    static func predict(_ documents: [BooksSnapshot.Document], currency: String, seed: UInt64 = 1) -> LatePaymentReport {
        let invoices = documents.filter { $0.kind == "invoice" }.map { document in
            LatePayment.Invoice(
                id: document.id, customer: document.party, total: document.total, issued: document.issued.dayNumber, due: document.due.dayNumber,
                settled: document.settled?.dayNumber)
        }
        let model = LatePayment.train(invoices, seed: seed)
        let histories = LatePayment.Histories(invoices)
        var lateDays: [String: (total: Int, count: Int)] = [:]
        var allLate = (total: 0, count: 0)
        for invoice in invoices {
            guard let settled = invoice.settled, settled > invoice.due else { continue }
            lateDays[invoice.customer, default: (0, 0)].total += settled - invoice.due
            lateDays[invoice.customer, default: (0, 0)].count += 1
            allLate.total += settled - invoice.due
            allLate.count += 1
        }
        let open = documents.filter { $0.kind == "invoice" && $0.open && $0.owed > 0 }
        let predictions = open.map { document -> LatePaymentReport.Prediction in
            let invoice = LatePayment.Invoice(
                id: document.id, customer: document.party, total: document.total, issued: document.issued.dayNumber, due: document.due.dayNumber,
                settled: nil)
            let probability = LatePayment.probability(model, invoice: invoice, histories: histories)
            let typical = lateDays[document.party].map { Double($0.total) / Double($0.count) }
                ?? (allLate.count > 0 ? Double(allLate.total) / Double(allLate.count) : 0)
            let delay = Int((probability * typical).rounded())
            return .init(
                id: document.id, customer: document.party, owed: document.owed, due: document.due, probability: probability, expectedDelayDays: delay,
                expected: document.due.addingDays(delay))
        }
        return LatePaymentReport(currency: currency, model: model, invoices: predictions.sorted { ($0.probability, $1.id) > ($1.probability, $0.id) })
    }
}
