import FinFlowCore
import Foundation
import SQLKit

/// The returns a tenant files.
enum ReturnKind: String, Sendable, Codable, CaseIterable {
    /// A country's VAT (or GST) return: supplies, intra-Community supplies and acquisitions, reverse charge, input tax.
    case vat
    /// The Union One-Stop Shop return: tax charged at other member states' rates, per state and rate, quarterly.
    case oss
    /// A US state's sales and use tax summary.
    case usSales = "us-sales"
}

/// A return asked for: whose, which period, in which currency.
struct ReturnRequest: Sendable, Hashable {
    var kind: ReturnKind
    /// The key its amounts are declared under: a country (`DE`), `OSS`, or a US state (`US-CA`).
    var jurisdiction: String
    var start: CalendarDay
    var end: CalendarDay
    var currency: String

    var hash: String { Digest.sha256Hex([self.kind.rawValue, self.jurisdiction, self.start.description, self.end.description, self.currency].joined(separator: "|")) }
}

/// A return's figures, worked out from committed documents and reconciled against the ledger's tax accounts.
struct TaxReturn: Sendable, Codable, Equatable {
    /// One box of the return: a section, per jurisdiction, rate and treatment.
    struct Row: Sendable, Codable, Equatable {
        var section: String
        var jurisdiction: String
        var rate: String
        var treatment: String
        var taxableMinor: Int64
        var taxMinor: Int64
        var documents: Int
    }

    /// One ledger tax account against the return's part of it.
    struct AccountCheck: Sendable, Codable, Equatable {
        var account: String
        var returnOutputTaxMinor: Int64
        var returnInputTaxMinor: Int64
        var ledgerOutputTaxMinor: Int64
        var ledgerInputTaxMinor: Int64
        var outputDifferenceMinor: Int64
        var inputDifferenceMinor: Int64
    }

    /// A ledger movement the return's documents do not explain.
    struct Unexplained: Sendable, Codable, Equatable {
        var entryId: String
        var accountingDate: String
        var account: String
        var kind: String
        var amountMinor: Int64
        var documentId: String?
        /// `no-calculation` (a hand-made entry) or `calculation-not-in-return` (voided, or dated in another period).
        var reason: String
    }

    struct Reconciliation: Sendable, Codable, Equatable {
        /// Every account's ledger figures equal the return's, and every taxed document is in the ledger.
        var reconciled: Bool
        var accounts: [AccountCheck]
        var unexplainedEntries: [Unexplained]
        /// Committed documents with tax in the return that no ledger entry has posted (codes).
        var documentsNotInLedger: [String]
    }

    var kind: ReturnKind
    var jurisdiction: String
    var periodStart: String
    var periodEnd: String
    var currency: String
    var rows: [Row]
    var outputTaxMinor: Int64
    var inputTaxMinor: Int64
    var netMinor: Int64
    var documents: Int
    var reconciliation: Reconciliation
    var messages: [String]
}

extension TaxDesk {
    static let listedMax = 100

    /// What a section counts to: output tax, input tax, both (self-assessed), or neither (a box of taxable amounts).
    private struct Placement {
        var section: String
        var output: Bool
        var input: Bool
    }

    /// The box an amount goes in on its return.
    private static func place(_ amount: AmountRow, kind: ReturnKind) -> Placement {
        let sells = amount.type != DocumentType.purchaseInvoice.rawValue
        let treatment = Treatment(rawValue: amount.treatment)
        let selfAssessed = amount.self_assessed == 1
        switch kind {
        case .oss:
            return Placement(section: "oss-supplies", output: true, input: false)
        case .usSales:
            if selfAssessed { return Placement(section: "use-tax", output: true, input: false) }
            guard sells else { return Placement(section: "purchases-tax-paid", output: false, input: false) }
            switch treatment {
            case .salesTax where [RateCategory.exempt.rawValue, RateCategory.zero.rawValue].contains(amount.category):
                return Placement(section: "exempt-sales", output: false, input: false)
            case .salesTax: return Placement(section: "taxable-sales", output: true, input: false)
            case .exemptionCertificate: return Placement(section: "exempt-sales", output: false, input: false)
            case .noNexus: return Placement(section: "sales-without-nexus", output: false, input: false)
            default: return Placement(section: "sales-not-taxed", output: false, input: false)
            }
        case .vat:
            if selfAssessed {
                let section = treatment == .intraCommunityAcquisition ? "intra-community-acquisitions" : "reverse-charged-services-received"
                return Placement(section: section, output: true, input: true)
            }
            guard sells else {
                return treatment == .importation
                    ? Placement(section: "imports", output: false, input: false) : Placement(section: "purchases", output: false, input: true)
            }
            switch treatment {
            case .domestic, .originBelowThreshold, .offshoreSupply: return Placement(section: "supplies", output: true, input: false)
            case .intraCommunitySupply: return Placement(section: "intra-community-supplies", output: false, input: false)
            case .reverseCharge: return Placement(section: "services-to-other-member-states", output: false, input: false)
            case .export: return Placement(section: "exports", output: false, input: false)
            default: return Placement(section: "supplies-outside-scope", output: false, input: false)
            }
        }
    }

    /// The return for `request`, from the committed documents it declares and the ledger's movements of its accounts.
    func taxReturn(_ request: ReturnRequest, tenantId: String) async throws -> TaxReturn {
        try await self.database.tenantRead(tenantId: tenantId) { db in try await Self.taxReturn(request, tenantId: tenantId, db: db) }
    }

    static func taxReturn(_ request: ReturnRequest, tenantId: String, db: any SQLDatabase) async throws -> TaxReturn {
        let (start, end) = (request.start.description, request.end.description)
        let all = try await db.select().column("*").from("tax_document_amounts").where("tenant_id", .equal, tenantId)
            .where("declared_in", .equal, request.jurisdiction).where("document_date", .greaterThanOrEqual, start)
            .where("document_date", .lessThanOrEqual, end).orderBy("document_date").orderBy("document_id").orderBy("row_no")
            .all(decoding: AmountRow.self)
        let amounts = all.filter { $0.currency == request.currency }
        var messages: [String] = []
        let otherCurrency = Set(all.filter { $0.currency != request.currency }.map(\.document_id))
        if !otherCurrency.isEmpty {
            messages.append("\(otherCurrency.count) committed documents of the period are in other currencies and are not in this return: ask for the return in their currency")
        }
        struct Key: Hashable { let section: String, jurisdiction: String, rate: String, treatment: String }
        var boxes: [Key: (taxable: Int64, tax: Int64, documents: Set<String>)] = [:]
        var byAccount: [String: (output: Int64, input: Int64)] = [:]
        var output: Int64 = 0, input: Int64 = 0
        var taxedDocuments: [String: Bool] = [:]
        for amount in amounts {
            let sign: Int64 = amount.type == DocumentType.creditNote.rawValue ? -1 : 1
            let place = Self.place(amount, kind: request.kind)
            let taxable = sign < 0 ? try MinorUnits.negate(amount.taxable_minor) : amount.taxable_minor
            let tax = sign < 0 ? try MinorUnits.negate(amount.tax_minor) : amount.tax_minor
            let key = Key(section: place.section, jurisdiction: amount.jurisdiction, rate: amount.rate, treatment: amount.treatment)
            var box = boxes[key] ?? (0, 0, [])
            box.taxable = try MinorUnits.add(box.taxable, taxable)
            box.tax = try MinorUnits.add(box.tax, tax)
            box.documents.insert(amount.document_id)
            boxes[key] = box
            let account = amount.account ?? amount.jurisdiction
            var figures = byAccount[account] ?? (0, 0)
            if place.output {
                output = try MinorUnits.add(output, tax)
                figures.output = try MinorUnits.add(figures.output, tax)
            }
            if place.input {
                input = try MinorUnits.add(input, tax)
                figures.input = try MinorUnits.add(figures.input, tax)
            }
            byAccount[account] = figures
            if (place.output || place.input) && amount.tax_minor != 0 { taxedDocuments[amount.document_id] = true }
        }
        let rows = boxes.map { key, box in
            TaxReturn.Row(
                section: key.section, jurisdiction: key.jurisdiction, rate: key.rate, treatment: key.treatment, taxableMinor: box.taxable,
                taxMinor: box.tax, documents: box.documents.count)
        }.sorted { ($0.section, $0.jurisdiction, $0.treatment, TaxRate(percent: $0.rate) ?? .zero) < ($1.section, $1.jurisdiction, $1.treatment, TaxRate(percent: $1.rate) ?? .zero) }
        let reconciliation = try await Self.reconcile(
            request, byAccount: byAccount, documents: Set(amounts.map(\.document_id)), taxedDocuments: Set(taxedDocuments.keys), tenantId: tenantId, db: db)
        return TaxReturn(
            kind: request.kind, jurisdiction: request.jurisdiction, periodStart: start, periodEnd: end, currency: request.currency, rows: rows,
            outputTaxMinor: output, inputTaxMinor: input, netMinor: try MinorUnits.subtract(output, input),
            documents: Set(amounts.map(\.document_id)).count, reconciliation: reconciliation, messages: messages)
    }

    /// Sets the return's figures per ledger account beside the ledger's movements of those accounts in the period
    /// (settlements of filed returns left out), and names what the documents do not explain.
    private static func reconcile(
        _ request: ReturnRequest, byAccount: [String: (output: Int64, input: Int64)], documents: Set<String>, taxedDocuments: Set<String>,
        tenantId: String, db: any SQLDatabase
    ) async throws -> TaxReturn.Reconciliation {
        var query = db.select().column("*").from("tax_ledger_movements").where("tenant_id", .equal, tenantId)
            .where("currency", .equal, request.currency).where("accounting_date", .greaterThanOrEqual, request.start.description)
            .where("accounting_date", .lessThanOrEqual, request.end.description).where(SQLIdentifier("filing_id"), .is, SQLLiteral.null)
        query = request.kind == .oss ? query.where("account", .like, "OSS-%") : query.where("account", .equal, request.jurisdiction)
        let movements = try await query.orderBy("accounting_date").orderBy("entry_id").orderBy("row_no").all(decoding: LedgerMovementRow.self)
        var ledger: [String: (output: Int64, input: Int64)] = [:]
        var unexplained: [TaxReturn.Unexplained] = []
        for movement in movements {
            var figures = ledger[movement.account] ?? (0, 0)
            if movement.kind == "output" {
                figures.output = try MinorUnits.add(figures.output, movement.amount_minor)
            } else {
                figures.input = try MinorUnits.add(figures.input, movement.amount_minor)
            }
            ledger[movement.account] = figures
            let reason = movement.document_id == nil ? "no-calculation" : documents.contains(movement.document_id!) ? nil : "calculation-not-in-return"
            if let reason {
                unexplained.append(.init(
                    entryId: movement.entry_id, accountingDate: movement.accounting_date, account: movement.account, kind: movement.kind,
                    amountMinor: movement.amount_minor, documentId: movement.document_id, reason: reason))
            }
        }
        // An entry and its reversal (a voided invoice and its withdrawn calculation) cancel out: nothing to explain.
        var net: [String: Int64] = [:]
        for item in unexplained { net["\(item.documentId ?? item.entryId)|\(item.account)|\(item.kind)", default: 0] &+= item.amountMinor }
        unexplained.removeAll { $0.documentId != nil && net["\($0.documentId!)|\($0.account)|\($0.kind)"] == 0 }
        let accounts = try Set(byAccount.keys).union(ledger.keys).sorted().map { account in
            let mine = byAccount[account] ?? (0, 0), theirs = ledger[account] ?? (0, 0)
            return TaxReturn.AccountCheck(
                account: account, returnOutputTaxMinor: mine.output, returnInputTaxMinor: mine.input, ledgerOutputTaxMinor: theirs.output,
                ledgerInputTaxMinor: theirs.input, outputDifferenceMinor: try MinorUnits.subtract(theirs.output, mine.output),
                inputDifferenceMinor: try MinorUnits.subtract(theirs.input, mine.input))
        }
        // A document is in the ledger when any entry posted it, whatever the entry's date.
        var posted: Set<String> = []
        for chunk in Array(taxedDocuments).sorted().chunked(500) {
            let rows = try await db.select().column("document_id").from("tax_ledger_movements").where("tenant_id", .equal, tenantId)
                .where("document_id", .in, Array(chunk)).all(decoding: DocumentIdRow.self)
            posted.formUnion(rows.map(\.document_id))
        }
        let missing = taxedDocuments.subtracting(posted).sorted()
        var codes: [String] = []
        for id in missing.prefix(Self.listedMax) { codes.append(try await Self.document(tenantId: tenantId, id: id, db: db)?.code ?? id) }
        return TaxReturn.Reconciliation(
            reconciled: accounts.allSatisfy { $0.outputDifferenceMinor == 0 && $0.inputDifferenceMinor == 0 } && missing.isEmpty,
            accounts: accounts, unexplainedEntries: Array(unexplained.prefix(Self.listedMax)), documentsNotInLedger: codes)
    }

    private struct DocumentIdRow: Decodable { let document_id: String }

    /// Files the return: its figures kept as filed, its period closed to the jurisdiction's documents, `TaxReturnFiled`
    /// announced for the ledger's settlement. Filing the same return again under the same id answers the filing.
    func file(_ request: ReturnRequest, id: String?, principal: Principal) async throws -> (FilingRow, created: Bool) {
        let tenantId = principal.tenantId, now = self.now
        if let id, let existing = try await self.filing(id: id, tenantId: tenantId) {
            guard existing.request_hash == request.hash else { throw AppError.idReused("filing") }
            return (existing, false)
        }
        do {
            let row = try await self.database.tenantTransaction(tenantId: tenantId) { db in
                if self.database.kind == .postgres {
                    // Commits and voids take the same lock: none lands in the period while it is being filed.
                    try await db.raw("SELECT pg_advisory_xact_lock(hashtext(\(bind: "tax-tallies:" + tenantId)))").run()
                }
                if let overlap = try await db.select().column("*").from("tax_filings").where("tenant_id", .equal, tenantId)
                    .where("jurisdiction", .equal, request.jurisdiction).where("currency", .equal, request.currency)
                    .where("period_start", .lessThanOrEqual, request.end.description).where("period_end", .greaterThanOrEqual, request.start.description)
                    .first(decoding: FilingRow.self)
                {
                    throw AppError.conflict(
                        code: "period-filed", "the \(overlap.kind) return of \(overlap.jurisdiction) for \(overlap.period_start) to \(overlap.period_end) is filed already")
                }
                let figures = try await Self.taxReturn(request, tenantId: tenantId, db: db)
                let row = FilingRow(
                    id: id ?? self.env.ids.nextString(), tenant_id: tenantId, kind: request.kind.rawValue, jurisdiction: request.jurisdiction,
                    period_start: request.start.description, period_end: request.end.description, currency: request.currency,
                    output_tax_minor: figures.outputTaxMinor, input_tax_minor: figures.inputTaxMinor, net_minor: figures.netMinor,
                    figures: Self.json(figures), request_hash: request.hash, filed_by: principal.subject, filed_at_ms: now)
                try await db.insert(into: "tax_filings").model(row).run()
                try await self.outbox.enqueue(
                    TaxReturnFiled(
                        filingId: row.id, tenantId: tenantId, kind: row.kind, jurisdiction: row.jurisdiction, periodStart: row.period_start,
                        periodEnd: row.period_end, currency: row.currency, outputTaxMinor: row.output_tax_minor, inputTaxMinor: row.input_tax_minor,
                        netMinor: row.net_minor,
                        accounts: figures.reconciliation.accounts.filter { $0.returnOutputTaxMinor != 0 || $0.returnInputTaxMinor != 0 }.map {
                            .init(account: $0.account, outputTaxMinor: $0.returnOutputTaxMinor, inputTaxMinor: $0.returnInputTaxMinor)
                        }),
                    subject: row.id, tenantId: tenantId, on: db)
                try await self.env.audit.append(
                    AuditEntry(
                        tenantId: tenantId, actorId: principal.subject, action: "tax.return.filed", target: row.id,
                        details: ["return": "\(row.kind) \(row.jurisdiction) \(row.period_start)..\(row.period_end)", "net": "\(row.net_minor) \(row.currency)",
                                  "reconciled": "\(figures.reconciliation.reconciled)"]),
                    on: db, kind: self.database.kind)
                return row
            }
            return (row, true)
        } catch where violatedConstraint(error) != nil {
            if let id, let existing = try await self.filing(id: id, tenantId: tenantId), existing.request_hash == request.hash { return (existing, false) }
            throw error
        }
    }

    func filing(id: String, tenantId: String) async throws -> FilingRow? {
        guard let id = Self.key(id) else { return nil }
        return try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.select().column("*").from("tax_filings").where("tenant_id", .equal, tenantId).where("id", .equal, id).first(decoding: FilingRow.self)
        }
    }

    func filings(tenantId: String) async throws -> [FilingRow] {
        try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.select().column("*").from("tax_filings").where("tenant_id", .equal, tenantId)
                .orderBy("period_start", .descending).orderBy("jurisdiction").limit(500).all(decoding: FilingRow.self)
        }
    }

    /// Keeps the ledger's movements of its tax accounts; an entry seen before is left as it is.
    static func record(_ posted: TaxLedgerPosted, db: any SQLDatabase) async throws {
        guard CalendarDay(posted.accountingDate) != nil else { throw AppError.invalid("the entry's accounting date is not a date") }
        let rows = posted.movements.prefix(1_000).enumerated().map { index, movement in
            LedgerMovementRow(
                entry_id: String(posted.entryId.prefix(64)), row_no: index, tenant_id: posted.tenantId, accounting_date: posted.accountingDate,
                account: String(movement.jurisdiction.prefix(64)), kind: movement.kind == "input" ? "input" : "output",
                currency: String(movement.currency.prefix(3)), amount_minor: movement.amountMinor, document_id: posted.taxDocumentId.map { String($0.prefix(64)) },
                filing_id: posted.filingId.map { String($0.prefix(64)) })
        }
        for row in rows {
            try await db.insert(into: "tax_ledger_movements").model(row).ignoringConflicts().run()
        }
    }

    /// The return as CSV: its boxes, then its totals, then each ledger account's check.
    static func csv(_ figures: TaxReturn) -> String {
        func field(_ text: String) -> String {
            text.contains(where: { ",\"\n\r".contains($0) }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        var lines = ["section,jurisdiction,rate,treatment,taxable_minor,tax_minor,documents"]
        for row in figures.rows {
            lines.append([row.section, row.jurisdiction, row.rate, row.treatment, "\(row.taxableMinor)", "\(row.taxMinor)", "\(row.documents)"]
                .map(field).joined(separator: ","))
        }
        lines.append("total,\(field(figures.jurisdiction)),,output-tax,,\(figures.outputTaxMinor),\(figures.documents)")
        lines.append("total,\(field(figures.jurisdiction)),,input-tax,,\(figures.inputTaxMinor),\(figures.documents)")
        lines.append("total,\(field(figures.jurisdiction)),,net,,\(figures.netMinor),\(figures.documents)")
        for check in figures.reconciliation.accounts {
            let account = field(check.account)
            lines.append("ledger,\(account),,output-tax,,\(check.ledgerOutputTaxMinor),")
            lines.append("ledger,\(account),,input-tax,,\(check.ledgerInputTaxMinor),")
            lines.append("difference,\(account),,output-tax,,\(check.outputDifferenceMinor),")
            lines.append("difference,\(account),,input-tax,,\(check.inputDifferenceMinor),")
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}
