import FinFlowCore
import Foundation
import SQLKit

/// A calculation asked for.
struct CalculationRequest: Sendable {
    var id: String?
    var code: String
    var document: TaxDocumentInput
    var commit: Bool

    /// The content as a hash: a client id reused with other content is refused.
    var hash: String { Digest.sha256Hex(TaxDesk.json([TaxDesk.json(self.document), self.code, self.commit ? "commit" : ""])) }
}

extension TaxDesk {
    /// Calculates `request`'s document, keeps the calculation (replacing an uncommitted one of the same code) and
    /// commits it when asked.
    func calculate(_ request: CalculationRequest, principal: Principal) async throws -> (DocumentRow, created: Bool) {
        let tenantId = principal.tenantId
        if let id = request.id, let existing = try await self.findDocument(tenantId: tenantId, id: id) {
            guard existing.request_hash == request.hash else { throw AppError.idReused("calculation") }
            return (existing, false)
        }
        let vatCheck = try await self.buyerVATCheck(request.document, tenantId: tenantId)
        let document = request.document
        let (result, version) = try await self.database.tenantRead(tenantId: tenantId) { db in
            let context = try await Self.context(for: document, tenantId: tenantId, vatCheck: vatCheck, db: db)
            return (try TaxEngine(context: context).calculate(document), try await Self.ruleSetVersion(tenantId: tenantId, db: db))
        }
        var row = DocumentRow(
            id: request.id ?? self.env.ids.nextString(), tenant_id: tenantId, code: request.code, type: document.type.rawValue,
            status: "calculated", document_date: document.date, currency: document.currency, net_minor: result.netMinor, tax_minor: result.taxMinor,
            self_assessed_minor: result.selfAssessedTaxMinor, total_minor: result.totalMinor, request: Self.json(document),
            result: Self.json(result), vat_check: vatCheck.map { Self.json($0) }, request_hash: request.hash, rule_set_version: version,
            created_by: principal.subject, created_at_ms: self.now)
        let commit = request.commit, now = self.now
        do {
            row = try await self.database.tenantTransaction(tenantId: tenantId) { [row] db in
                if let same = try await Self.document(tenantId: tenantId, type: row.type, code: row.code, db: db) {
                    guard same.status == "calculated" else {
                        throw AppError.conflict(code: "document-committed", "document \(row.code) is \(same.status); void it, or use another code")
                    }
                    try await db.delete(from: "tax_documents").where("tenant_id", .equal, tenantId).where("id", .equal, same.id).run()
                }
                try await db.insert(into: "tax_documents").model(row).run()
                return commit ? try await self.commit(row, principal: principal, now: now, db: db) : row
            }
        } catch where violatedConstraint(error) != nil {
            if let id = request.id, let existing = try await self.findDocument(tenantId: tenantId, id: id), existing.request_hash == request.hash {
                return (existing, false)
            }
            throw AppError(.unavailable, code: "concurrent-change", "another calculation of document \(request.code) was kept at the same moment; try again")
        }
        return (row, true)
    }

    /// Commits a kept calculation; committing a committed one answers it unchanged.
    func commit(id: String, principal: Principal) async throws -> DocumentRow {
        guard let id = Self.key(id) else { throw AppError.notFound("calculation") }
        let tenantId = principal.tenantId, now = self.now
        return try await self.database.tenantTransaction(tenantId: tenantId) { db in
            guard let row = try await Self.document(tenantId: tenantId, id: id, db: db) else { throw AppError.notFound("calculation") }
            switch row.status {
            case "committed": return row
            case "voided": throw AppError.conflict(code: "document-voided", "calculation \(id) is voided")
            default: return try await self.commit(row, principal: principal, now: now, db: db)
            }
        }
    }

    /// Commits `row` inside the open transaction: the calculation is made again with the committed sales as they stand
    /// now (under the tenant's lock, so two commits never both stay below a threshold one of them passes), counted in
    /// the thresholds, its amounts kept for returns, `TaxCommitted` announced.
    private func commit(_ row: DocumentRow, principal: Principal, now: Int64, db: any SQLDatabase) async throws -> DocumentRow {
        let tenantId = principal.tenantId
        if self.database.kind == .postgres {
            try await db.raw("SELECT pg_advisory_xact_lock(hashtext(\(bind: "tax-tallies:" + tenantId)))").run()
        }
        let document = try Self.decode(TaxDocumentInput.self, row.request)
        let vatCheck = try row.vat_check.map { try Self.decode(VATCheck.self, $0) }
        let context = try await Self.context(for: document, tenantId: tenantId, vatCheck: vatCheck, db: db)
        let result = try TaxEngine(context: context).calculate(document)
        var committed = row
        committed.status = "committed"
        committed.result = Self.json(result)
        (committed.net_minor, committed.tax_minor) = (result.netMinor, result.taxMinor)
        (committed.self_assessed_minor, committed.total_minor) = (result.selfAssessedTaxMinor, result.totalMinor)
        committed.committed_at_ms = now
        try await db.update("tax_documents").set("status", to: "committed").set("result", to: committed.result)
            .set("net_minor", to: result.netMinor).set("tax_minor", to: result.taxMinor).set("self_assessed_minor", to: result.selfAssessedTaxMinor)
            .set("total_minor", to: result.totalMinor).set("committed_at_ms", to: now)
            .where("tenant_id", .equal, tenantId).where("id", .equal, row.id).run()
        let amounts = result.summary.enumerated().map { index, summary in
            let placement = Self.placement(summary, document: document)
            return AmountRow(
                document_id: row.id, tenant_id: tenantId, row_no: index, document_date: row.document_date, type: row.type, currency: row.currency,
                jurisdiction: summary.jurisdiction, tax_type: summary.taxType.rawValue, category: summary.category.rawValue,
                rate: summary.rate.description, treatment: summary.treatment.rawValue, self_assessed: summary.selfAssessed ? 1 : 0,
                taxable_minor: summary.taxableMinor, tax_minor: summary.taxMinor, declared_in: placement.declaredIn, account: placement.account)
        }
        try await Self.refuseFiled(declaredIn: amounts.compactMap(\.declared_in), date: row.document_date, tenantId: tenantId, db: db)
        if !amounts.isEmpty { try await db.insert(into: "tax_document_amounts").models(amounts).run() }
        try await Self.count(result, document: document, sign: document.type.sign, tenantId: tenantId, db: db)
        try await self.outbox.enqueue(
            TaxCommitted(
                documentId: row.id, tenantId: tenantId, code: row.code, documentType: row.type, documentDate: row.document_date,
                currency: row.currency, netMinor: result.netMinor, taxMinor: result.taxMinor, selfAssessedTaxMinor: result.selfAssessedTaxMinor,
                totalMinor: result.totalMinor,
                amounts: result.summary.map {
                    .init(jurisdiction: $0.jurisdiction, taxType: $0.taxType.rawValue, rate: $0.rate.description, treatment: $0.treatment.rawValue,
                          taxableMinor: $0.taxableMinor, taxMinor: $0.taxMinor, selfAssessed: $0.selfAssessed,
                          recoverable: Self.recoverable(jurisdiction: $0.jurisdiction), account: Self.placement($0, document: document).account)
                },
                lines: result.lines.map { line in
                    .init(number: line.number, amountMinor: line.amountMinor, taxMinor: line.taxMinor, selfAssessedTaxMinor: line.selfAssessedTaxMinor,
                          rate: line.components.filter { !$0.selfAssessed }.reduce(TaxRate.zero) { $0 + $1.rate }.description,
                          recoverable: Self.recoverable(jurisdiction: line.placeOfSupply))
                }),
            subject: row.id, tenantId: tenantId, on: db)
        return committed
    }

    /// The return that declares a summary row and the ledger tax account that holds it: the One-Stop Shop for tax of
    /// another member state charged under it (account `OSS-FR`), the seller's country for services reverse-charged
    /// abroad, the state for a US locality, else the jurisdiction itself.
    static func placement(_ row: SummaryRow, document: TaxDocumentInput) -> (declaredIn: String, account: String) {
        if row.jurisdiction.hasPrefix("US-") {
            let state = String(row.jurisdiction.prefix { $0 != "/" })
            return (state, state)
        }
        switch row.treatment {
        case .destinationOSS, .destinationNonUnion: return ("OSS", "OSS-" + row.jurisdiction)
        case .reverseCharge where document.type.tenantSells: return (document.seller.address.country, document.seller.address.country)
        default: return (row.jurisdiction, row.jurisdiction)
        }
    }

    /// Refuses a change to a document dated in a period already filed for a return that declares it.
    static func refuseFiled(declaredIn: [String], date: String, tenantId: String, db: any SQLDatabase) async throws {
        let keys = Array(Set(declaredIn)).sorted()
        guard !keys.isEmpty else { return }
        if let filed = try await db.select().column("*").from("tax_filings").where("tenant_id", .equal, tenantId)
            .where("jurisdiction", .in, keys).where("period_start", .lessThanOrEqual, date).where("period_end", .greaterThanOrEqual, date)
            .first(decoding: FilingRow.self)
        {
            throw AppError.conflict(
                code: "period-filed",
                "the \(filed.kind) return of \(filed.jurisdiction) for \(filed.period_start) to \(filed.period_end) is filed: correct the document in an open period (a credit note)")
        }
    }

    /// Whether a buyer reclaims tax of `jurisdiction` as input tax: VAT is; US sales and use tax is part of the cost.
    static func recoverable(jurisdiction: String) -> Bool { !jurisdiction.hasPrefix("US") }

    /// Voids a calculation; a committed one leaves the thresholds and returns, and `TaxVoided` announces it.
    func void(id: String, reason: String, principal: Principal) async throws -> DocumentRow {
        guard let id = Self.key(id) else { throw AppError.notFound("calculation") }
        let tenantId = principal.tenantId, now = self.now
        return try await self.database.tenantTransaction(tenantId: tenantId) { db in
            guard var row = try await Self.document(tenantId: tenantId, id: id, db: db) else { throw AppError.notFound("calculation") }
            guard row.status != "voided" else { throw AppError.conflict(code: "document-voided", "calculation \(id) is already voided") }
            if row.status == "committed" {
                if self.database.kind == .postgres {
                    try await db.raw("SELECT pg_advisory_xact_lock(hashtext(\(bind: "tax-tallies:" + tenantId)))").run()
                }
                let document = try Self.decode(TaxDocumentInput.self, row.request)
                let result = try Self.decode(TaxResult.self, row.result)
                let declared = try await db.select().column("*").from("tax_document_amounts").where("tenant_id", .equal, tenantId)
                    .where("document_id", .equal, id).all(decoding: AmountRow.self).map { $0.declared_in ?? $0.jurisdiction }
                try await Self.refuseFiled(declaredIn: declared, date: row.document_date, tenantId: tenantId, db: db)
                try await Self.count(result, document: document, sign: -document.type.sign, tenantId: tenantId, db: db)
                try await db.delete(from: "tax_document_amounts").where("tenant_id", .equal, tenantId).where("document_id", .equal, id).run()
                try await self.outbox.enqueue(
                    TaxVoided(documentId: id, tenantId: tenantId, code: row.code, documentType: row.type, reason: reason),
                    subject: id, tenantId: tenantId, on: db)
            }
            try await db.update("tax_documents").set("status", to: "voided").set("voided_at_ms", to: now).set("void_reason", to: reason)
                .where("tenant_id", .equal, tenantId).where("id", .equal, id).run()
            (row.status, row.voided_at_ms, row.void_reason) = ("voided", now, reason)
            return row
        }
    }

    /// Adds (or with `sign` −1 takes back) a committed document's sales to its year's tallies: EU cross-border sales
    /// to consumers in EUR cents, each US state's sales and one transaction.
    private static func count(_ result: TaxResult, document: TaxDocumentInput, sign: Int64, tenantId: String, db: any SQLDatabase) async throws {
        guard let year = CalendarDay(document.date)?.year else { throw InvariantViolation("a stored document date cannot be read") }
        var deltas: [(scheme: String, amount: Int64, transactions: Int)] = []
        if result.ossCountedEURMinor != 0 { deltas.append(("oss", result.ossCountedEURMinor, 1)) }
        for (state, sales) in result.usSalesByState.sorted(by: { $0.key < $1.key }) { deltas.append(("US-\(state)", sales, 1)) }
        for delta in deltas {
            let amount = sign < 0 ? try MinorUnits.negate(delta.amount) : delta.amount, transactions = delta.transactions * Int(sign)
            try await db.raw("""
                INSERT INTO tax_tallies (tenant_id, scheme, year, amount_minor, transactions)
                VALUES (\(bind: tenantId), \(bind: delta.scheme), \(bind: year), \(bind: amount), \(bind: transactions))
                ON CONFLICT (tenant_id, scheme, year) DO UPDATE SET amount_minor = tax_tallies.amount_minor + excluded.amount_minor,
                    transactions = tax_tallies.transactions + excluded.transactions
                """).run()
        }
    }

    /// What a calculation of `document` reads besides it: the rules, the profile, the tallies of its year and the one
    /// before, the buyer's certificates and the local rates of the US states it ships to.
    static func context(for document: TaxDocumentInput, tenantId: String, vatCheck: VATCheck?, db: any SQLDatabase) async throws -> TaxContext {
        guard let day = CalendarDay(document.date) else { throw AppError.invalid(code: "invalid-date", "date must be YYYY-MM-DD") }
        var context = TaxContext(rules: try await Self.ruleBook(tenantId: tenantId, db: db), profile: try await Self.profile(tenantId: tenantId, db: db))
        Self.read(try await Self.tallies(tenantId: tenantId, year: day.year, db: db), year: day.year, into: &context)
        if let customer = document.buyer.customerId {
            context.certificates = try await db.select().column("*").from("tax_certificates").where("tenant_id", .equal, tenantId)
                .where("customer_id", .equal, customer).all(decoding: CertificateRow.self).map(Self.certificate)
        }
        let states = Set(document.lines.compactMap { line -> [String]? in
            let to = line.shipTo ?? document.buyer.address, from = line.shipFrom ?? document.seller.address
            return [to, from].filter { $0.country == "US" }.compactMap(\.region)
        }.joined())
        context.localRates = try await Self.localRates(tenantId: tenantId, states: states.sorted(), db: db).compactMap { row in
            guard let rate = TaxRate(percent: row.rate), let from = CalendarDay(row.valid_from) else { return nil }
            return LocalRate(
                id: row.id, state: row.state, level: row.level, name: row.name, zipFrom: row.zip_from, zipTo: row.zip_to, rate: rate,
                period: Period(from: from, to: row.valid_to.flatMap(CalendarDay.init)))
        }
        context.buyerVATNumber = vatCheck?.engineStatus
        return context
    }

    /// The tenant's tallies of `year` and the year before.
    static func tallies(tenantId: String, year: Int, db: any SQLDatabase) async throws -> [TallyRow] {
        try await db.select().column("*").from("tax_tallies").where("tenant_id", .equal, tenantId)
            .where("year", .in, [year - 1, year]).all(decoding: TallyRow.self)
    }

    /// `tallies` as the context's figures of `year` (current) and the year before (previous).
    static func read(_ tallies: [TallyRow], year: Int, into context: inout TaxContext) {
        for tally in tallies {
            let current = tally.year == year
            if tally.scheme == "oss" {
                if current { context.ossCurrentYearEURMinor = tally.amount_minor } else { context.ossPreviousYearEURMinor = tally.amount_minor }
            } else if tally.scheme.hasPrefix("US-") {
                let state = String(tally.scheme.dropFirst(3))
                let figure = TaxContext.StateTally(salesMinor: tally.amount_minor, transactions: tally.transactions)
                if current { context.usCurrentYear[state] = figure } else { context.usPreviousYear[state] = figure }
            }
        }
    }

    /// The buyer's VAT number checked, when the document names one for an EU business.
    private func buyerVATCheck(_ document: TaxDocumentInput, tenantId: String) async throws -> VATCheck? {
        guard document.buyer.isBusiness, let number = document.buyer.vatNumber, document.type.tenantSells else { return nil }
        return try await self.checkVATNumber(number, tenantId: tenantId)
    }
}
