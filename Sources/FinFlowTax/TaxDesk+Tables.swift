import FinFlowCore
import Foundation
import SQLKit

extension TaxDesk {
    /// The most local rates one file may hold.
    static let localRateRowsMax = 50_000
    static let localRateNameLengthMax = 100

    /// Replaces the tenant's local rates of every state `csv` names with its rows: the whole file is checked first,
    /// and one bad row refuses it, naming the row.
    func loadLocalRates(csv: String, principal: Principal) async throws -> (rows: Int, states: [String], version: Int) {
        let records: [(line: Int, fields: [String])]
        do { records = try CSVRecords.read(csv, delimiter: ",") } catch let error as CSVRecords.UnclosedQuote {
            throw AppError.invalid(code: "local-rates-invalid", "line \(error.line): a quoted field is never closed")
        }
        guard let header = records.first, header.fields.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() })
            == ["state", "level", "name", "zip_from", "zip_to", "rate", "from", "to"]
        else { throw AppError.invalid(code: "local-rates-invalid", "the header must be state,level,name,zip_from,zip_to,rate,from,to") }
        let body = records.dropFirst().filter { !($0.fields.count == 1 && $0.fields[0].isEmpty) }
        guard !body.isEmpty else { throw AppError.invalid(code: "local-rates-invalid", "the file has no rows") }
        guard body.count <= Self.localRateRowsMax else {
            throw AppError.invalid(code: "local-rates-invalid", "at most \(Self.localRateRowsMax) rows per file")
        }
        let tenantId = principal.tenantId
        var rows: [LocalRateRow] = []
        for record in body {
            func bad(_ why: String) -> AppError { AppError.invalid(code: "local-rates-invalid", "line \(record.line): \(why)") }
            let f = record.fields.map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count == 8 else { throw bad("expected 8 fields, found \(f.count)") }
            guard let state = RuleBook.shipped.states[f[0].uppercased()], state.hasSalesTax else { throw bad("'\(f[0].prefix(8))' is not a US state with sales tax") }
            guard ["county", "city", "district"].contains(f[1].lowercased()) else { throw bad("level must be county, city or district") }
            guard (1...Self.localRateNameLengthMax).contains(f[2].count), !f[2].contains("/") else {
                throw bad("name must be 1–\(Self.localRateNameLengthMax) characters without /")
            }
            guard f[3].count == 5, f[4].count == 5, let from = Int(f[3]), let to = Int(f[4]), from <= to else {
                throw bad("zip_from and zip_to must be five-digit ZIP codes, zip_from ≤ zip_to")
            }
            guard let rate = TaxRate(percent: f[5]), rate <= TaxRate(partsPerTenMillion: 2_000_000) else {
                throw bad("rate must be a percentage from 0 to 20 with at most five decimals")
            }
            guard let start = CalendarDay(f[6]) else { throw bad("from must be a date YYYY-MM-DD") }
            var end: CalendarDay?
            if !f[7].isEmpty {
                guard let day = CalendarDay(f[7]), start < day else { throw bad("to must be empty or a date after from") }
                end = day
            }
            rows.append(LocalRateRow(
                id: self.env.ids.nextString(), tenant_id: tenantId, state: state.code, level: f[1].lowercased(), name: f[2],
                zip_from: from, zip_to: to, rate: rate.description, valid_from: start.description, valid_to: end?.description))
        }
        let states = Array(Set(rows.map(\.state))).sorted()
        let toInsert = rows
        let version = try await self.changeRules(
            principal: principal, summary: "local rates loaded: \(rows.count) rows for \(states.joined(separator: ", "))"
        ) { db, _ in
            for state in states {
                try await db.delete(from: "tax_local_rates").where("tenant_id", .equal, tenantId).where("state", .equal, state).run()
            }
            for chunk in stride(from: 0, to: toInsert.count, by: 500) {
                try await db.insert(into: "tax_local_rates").models(Array(toInsert[chunk..<min(chunk + 500, toInsert.count)])).run()
            }
        }
        return (rows.count, states, version)
    }

    /// The tenant's local rates of `states`.
    static func localRates(tenantId: String, states: [String], db: any SQLDatabase) async throws -> [LocalRateRow] {
        guard !states.isEmpty else { return [] }
        return try await db.select().column("*").from("tax_local_rates").where("tenant_id", .equal, tenantId)
            .where("state", .in, states).orderBy("state").orderBy("zip_from").orderBy("id").all(decoding: LocalRateRow.self)
    }

    func localRates(tenantId: String, state: String) async throws -> [LocalRateRow] {
        try await self.database.tenantRead(tenantId: tenantId) { db in try await Self.localRates(tenantId: tenantId, states: [state], db: db) }
    }

    // MARK: certificates

    /// A certificate to record.
    struct CertificateDraft: Sendable {
        var id: String?
        var customerId: String
        var number: String
        var jurisdictions: [String]
        var reason: String
        var validFrom: CalendarDay
        var expiresOn: CalendarDay?

        /// The content as a hash: a client id reused with other content is refused.
        var hash: String {
            Digest.sha256Hex(TaxDesk.json([self.customerId, self.number, self.jurisdictions.joined(separator: ","), self.reason,
                                           self.validFrom.description, self.expiresOn?.description ?? ""]))
        }
    }

    /// Records a certificate; a client id given again with the same content answers the one recorded.
    func addCertificate(_ draft: CertificateDraft, principal: Principal) async throws -> (CertificateRow, created: Bool) {
        let tenantId = principal.tenantId
        let row = CertificateRow(
            id: draft.id ?? self.env.ids.nextString(), tenant_id: tenantId, customer_id: draft.customerId, number: draft.number,
            jurisdictions: draft.jurisdictions.joined(separator: ","), reason: draft.reason, valid_from: draft.validFrom.description,
            expires_on: draft.expiresOn?.description, revoked_at_ms: nil, request_hash: draft.hash, created_by: principal.subject,
            created_at_ms: self.now)
        let kind = self.database.kind, audit = self.env.audit
        let existing = try await self.database.tenantTransaction(tenantId: tenantId) { db -> CertificateRow? in
            if let found = try await db.select().column("*").from("tax_certificates").where("tenant_id", .equal, tenantId)
                .where("id", .equal, row.id).first(decoding: CertificateRow.self) {
                guard found.request_hash == row.request_hash else { throw AppError.idReused("certificate") }
                return found
            }
            try await db.insert(into: "tax_certificates").model(row).run()
            try await audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "tax.certificate.recorded", target: row.id,
                           details: ["customerId": row.customer_id, "number": row.number, "jurisdictions": row.jurisdictions]),
                on: db, kind: kind)
            return nil
        }
        return existing.map { ($0, false) } ?? (row, true)
    }

    /// The tenant's certificates, of one customer when given.
    func certificates(tenantId: String, customerId: String?) async throws -> [CertificateRow] {
        try await self.database.tenantRead(tenantId: tenantId) { db in
            var query = db.select().column("*").from("tax_certificates").where("tenant_id", .equal, tenantId)
            if let customerId { query = query.where("customer_id", .equal, customerId) }
            return try await query.orderBy("id").limit(1000).all(decoding: CertificateRow.self)
        }
    }

    /// Revokes a certificate.
    func revokeCertificate(id: String, principal: Principal) async throws {
        let tenantId = principal.tenantId, now = self.now, kind = self.database.kind, audit = self.env.audit
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            guard let found = try await db.select().column("*").from("tax_certificates").where("tenant_id", .equal, tenantId)
                .where("id", .equal, id).first(decoding: CertificateRow.self), found.revoked_at_ms == nil
            else { throw AppError.notFound("certificate") }
            try await db.update("tax_certificates").set("revoked_at_ms", to: now).where("tenant_id", .equal, tenantId).where("id", .equal, id).run()
            try await audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "tax.certificate.revoked", target: id, details: [:]),
                on: db, kind: kind)
        }
    }

    /// A stored certificate as the engine reads it.
    static func certificate(_ row: CertificateRow) throws -> ExemptionCertificate {
        guard let from = CalendarDay(row.valid_from) else { throw InvariantViolation("certificate \(row.id) cannot be read") }
        return ExemptionCertificate(
            id: row.id, customerId: row.customer_id, number: row.number, jurisdictions: row.jurisdictions.split(separator: ",").map(String.init),
            reason: row.reason, validFrom: from, expiresOn: row.expires_on.flatMap(CalendarDay.init), revoked: row.revoked_at_ms != nil)
    }
}
