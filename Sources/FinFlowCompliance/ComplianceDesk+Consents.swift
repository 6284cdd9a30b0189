import FinFlowCore
import Foundation
import SQLKit

/// A consent as kept.
struct ConsentRow: Decodable, Sendable {
    let id: String
    let tenant_id: String
    let subject_ref: String
    let purpose: String
    let status: String
    let text_version: String
    let method: String
    let evidence: String?
    let given_at_ms: Int64
    let withdrawn_at_ms: Int64?
    let withdrawal_method: String?
    let superseded_by: String?
    let recorded_by: String
    let created_at_ms: Int64
}

/// Consent records (GDPR article 7(1): the controller must be able to show that the subject consented): who, for what
/// purpose, to which version of the text, when and how; withdrawn as easily, and a new version supersedes the old.
extension ComplianceDesk {
    /// The ways a consent is given or withdrawn.
    static let consentMethods: Set<String> = ["web-form", "app", "paper", "email", "phone", "api"]

    /// What a consent records.
    struct ConsentInput: Sendable, Encodable {
        var id: String?
        var subjectRef: String
        var purpose: String
        var textVersion: String
        var method: String
        var evidence: String?
        var givenAtMillis: Int64?
    }

    /// Records a consent given; an earlier one for the same subject and purpose still given is superseded by it. A
    /// client id used before for the same consent answers it (`created` false).
    func giveConsent(_ input: ConsentInput, principal: Principal) async throws -> (ConsentRow, created: Bool) {
        let tenantId = principal.tenantId
        var hashed = input
        hashed.id = nil
        let hash = Digest.sha256Hex(Self.json(hashed))
        if let id = input.id, let existing = try await self.consentIfAny(tenantId: tenantId, id: id) {
            struct Hash: Decodable { let request_hash: String }
            let stored = try await self.database.tenantRead(tenantId: tenantId) { db in
                try await db.raw("SELECT request_hash FROM consents WHERE id = \(bind: id)").first(decoding: Hash.self)
            }
            guard stored?.request_hash == hash else { throw AppError.idReused("consent") }
            return (existing, false)
        }
        let id = input.id ?? RequestScope.effectId("consent") ?? self.env.ids.nextString()
        let now = self.now
        let givenAt = input.givenAtMillis ?? now
        do {
            try await self.database.tenantTransaction(tenantId: tenantId) { db in
                try await db.raw("""
                    UPDATE consents SET status = 'superseded', superseded_by = \(bind: id)
                    WHERE tenant_id = \(bind: tenantId) AND subject_ref = \(bind: input.subjectRef) AND purpose = \(bind: input.purpose)
                    AND status = 'given'
                    """).run()
                try await db.raw("""
                    INSERT INTO consents (id, tenant_id, subject_ref, purpose, status, text_version, method, evidence, given_at_ms, request_hash,
                        recorded_by, created_at_ms)
                    VALUES (\(bind: id), \(bind: tenantId), \(bind: input.subjectRef), \(bind: input.purpose), 'given', \(bind: input.textVersion),
                        \(bind: input.method), \(bind: input.evidence), \(bind: givenAt), \(bind: hash), \(bind: principal.subject), \(bind: now))
                    """).run()
                try await self.env.audit.append(
                    AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "compliance.consent.given", target: id,
                               details: ["subject": input.subjectRef, "purpose": input.purpose, "version": input.textVersion, "method": input.method]),
                    on: db, kind: self.database.kind)
            }
        } catch where violatedConstraint(error) != nil {
            return try await self.giveConsent(ConsentInput(
                id: id, subjectRef: input.subjectRef, purpose: input.purpose, textVersion: input.textVersion, method: input.method,
                evidence: input.evidence, givenAtMillis: input.givenAtMillis), principal: principal)
        }
        return (try await self.consent(tenantId: tenantId, id: id), true)
    }

    /// Withdraws a consent that is given; withdrawing one already withdrawn answers it as it is.
    func withdrawConsent(tenantId: String, id: String, method: String, principal: Principal) async throws -> ConsentRow {
        let now = self.now
        let current = try await self.consent(tenantId: tenantId, id: id)
        switch current.status {
        case "withdrawn": return current
        case "superseded": throw AppError.conflict(code: "consent-superseded", "a newer consent (\(current.superseded_by ?? "")) replaced this one: withdraw that")
        default: break
        }
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            try await db.raw("""
                UPDATE consents SET status = 'withdrawn', withdrawn_at_ms = \(bind: now), withdrawal_method = \(bind: method)
                WHERE id = \(bind: id) AND tenant_id = \(bind: tenantId) AND status = 'given'
                """).run()
            try await self.env.audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "compliance.consent.withdrawn", target: id,
                           details: ["subject": current.subject_ref, "purpose": current.purpose, "method": method]),
                on: db, kind: self.database.kind)
        }
        return try await self.consent(tenantId: tenantId, id: id)
    }

    func consentIfAny(tenantId: String, id: String) async throws -> ConsentRow? {
        try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.raw("SELECT * FROM consents WHERE id = \(bind: id) AND tenant_id = \(bind: tenantId)").first(decoding: ConsentRow.self)
        }
    }

    func consent(tenantId: String, id: String) async throws -> ConsentRow {
        guard let row = try await self.consentIfAny(tenantId: tenantId, id: id) else { throw AppError.notFound("consent") }
        return row
    }

    /// A page of the tenant's consents, newest first, narrowed by subject, purpose and status.
    func consents(tenantId: String, subjectRef: String?, purpose: String?, status: String?, page: PageRequest) async throws
        -> (items: [ConsentRow], nextCursor: String?)
    {
        var sql = SQLQueryString("SELECT * FROM consents WHERE tenant_id = ")
        sql.appendInterpolation(bind: tenantId)
        for (column, value) in [("subject_ref", subjectRef), ("purpose", purpose), ("status", status)] {
            guard let value else { continue }
            sql.appendInterpolation(unsafeRaw: " AND \(column) = ")
            sql.appendInterpolation(bind: value)
        }
        // Newest first by when it was recorded: a client's own id says nothing about time.
        if let (millis, id) = try Self.timeCursor(page.after) {
            sql.appendInterpolation(unsafeRaw: " AND (created_at_ms < ")
            sql.appendInterpolation(bind: millis)
            sql.appendInterpolation(unsafeRaw: " OR (created_at_ms = ")
            sql.appendInterpolation(bind: millis)
            sql.appendInterpolation(unsafeRaw: " AND id < ")
            sql.appendInterpolation(bind: id)
            sql.appendInterpolation(unsafeRaw: "))")
        }
        sql.appendInterpolation(unsafeRaw: " ORDER BY created_at_ms DESC, id DESC LIMIT ")
        sql.appendInterpolation(bind: page.limit + 1)
        let statement = sql
        let rows = try await self.database.tenantRead(tenantId: tenantId) { db in try await db.raw(statement).all(decoding: ConsentRow.self) }
        return page.page(rows) { "\($0.created_at_ms):\($0.id)" }
    }

    /// A `millis:id` cursor's parts; nil for the first page.
    static func timeCursor(_ after: String?) throws -> (Int64, String)? {
        guard let after else { return nil }
        let parts = after.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let millis = Int64(parts[0]) else { throw AppError.invalid("the cursor is not one this API issued") }
        return (millis, String(parts[1]))
    }
}
