import FinFlowCore
import Foundation
import Logging
import SQLKit

/// What the command line does on the compliance database directly, as the platform's operator.
extension ComplianceService {
    /// Loads a new version of the platform's list `name` (screened for every tenant) from a file in `format`
    /// (`un-xml`, the UN Security Council's published XML, or `csv`), then screens every tenant's monitored subjects
    /// against it. Returns the version, how many subjects were screened and how many matched.
    public static func loadPlatformList(database: any Database, settings: Settings, name: String, format: String, data: Data, source: String)
        async throws -> (version: Int, entries: Int, screened: Int, hits: Int)
    {
        guard ComplianceAPI.isListName(name) else {
            throw AppError.invalid(code: "invalid-list-name", "--name must be lower-case letters, digits and hyphens (at most \(ComplianceAPI.listNameLengthMax))")
        }
        let entries: [ListEntry]
        do {
            switch format {
            case "un-xml": entries = try UNConsolidatedList.parse(data)
            case "csv":
                guard let text = String(data: data, encoding: .utf8) else { throw ListFormatError(detail: "the file is not UTF-8 text") }
                entries = try ListFile.csv(text)
            default: throw AppError.invalid(code: "invalid-list-format", "--format must be un-xml or csv")
            }
        } catch let error as ListFormatError {
            throw AppError.invalid(code: "list-invalid", error.detail)
        }
        guard !entries.isEmpty else { throw AppError.invalid(code: "list-invalid", "the list has no entries") }
        let env = ServiceEnvironment.forOperator(
            settings: settings, database: database, clock: SystemClock(), logger: Logger(label: "finflow.compliance.operator"))
        let desk = ComplianceDesk(env: env)
        // The bundled list is the platform's first version of the UN list: stored before a newer one supersedes it.
        try await desk.ensureBundledList()
        let row = try await desk.store(
            entries: entries, owner: "", name: name, source: source, format: format, sha256: Digest.sha256Hex(data), actor: "operator:command-line")
        let rescreen = try await desk.rescreen(against: row)
        return (row.version, entries.count, rescreen.screened, rescreen.hits)
    }
}

/// The audit trail, read by the operator across tenants.
extension ComplianceService {
    /// Writes the trail's records (every tenant unless `tenantId` names one) and their chains' checkpoints in
    /// `format` to `write`, a page at a time; returns the bytes written.
    @discardableResult
    public static func exportAuditTrail(
        database: any Database, settings: Settings, tenantId: String?, service: String?, actorId: String?, action: String?, target: String?,
        fromMillis: Int64?, toMillis: Int64?, format: AuditExport.Format, write: (ArraySlice<UInt8>) throws -> Void
    ) async throws -> Int {
        let env = ServiceEnvironment.forOperator(
            settings: settings, database: database, clock: SystemClock(), logger: Logger(label: "finflow.compliance.operator"))
        let query = AuditTrailQuery(
            tenantId: tenantId, service: service, actorId: actorId, action: action, target: target, fromMillis: fromMillis, toMillis: toMillis)
        var bytes = 0
        for try await piece in ComplianceDesk(env: env).exportAuditTrail(query, format: format) {
            try write(piece)
            bytes += piece.count
        }
        return bytes
    }

    /// Every checkpoint the compliance service received from the other services: a chain that no longer reaches one
    /// was cut after it was signed, whatever its own database still lists.
    public static func receivedAuditCheckpoints(database: any Database) async throws -> [AuditCheckpoint] {
        try await database.read { db in
            try await db.raw("SELECT * FROM audit_trail_checkpoints ORDER BY service, tenant_id, seq").all(decoding: AuditTrailCheckpointRow.self)
        }.map(\.checkpoint)
    }
}

/// Data subject requests, handled by the operator (a request that came by post, a benchmark).
extension ComplianceService {
    /// Opens an access request in `tenantId` about the subject named, as `actor`; the services are asked through the
    /// compliance outbox. Returns the request id.
    public static func openAccessRequest(
        database: any Database, settings: Settings, tenantId: String, userId: String?, customerId: String?, email: String?, names: [String],
        actor: String
    ) async throws -> String {
        let env = ServiceEnvironment.forOperator(
            settings: settings, database: database, clock: SystemClock(), logger: Logger(label: "finflow.compliance.operator"))
        let principal = Principal(subject: actor, tenantId: tenantId, roles: [], permissions: ["compliance:manage"], sessionId: nil)
        let subject = SubjectIdentifiers(userId: userId, customerId: customerId, email: email, names: names)
        return try await ComplianceDesk(env: env).openSubjectRequest(id: nil, subject: subject, principal: principal).0.row.id
    }

    /// The request's status and the services still awaited.
    public static func accessRequestStatus(database: any Database, settings: Settings, tenantId: String, id: String) async throws
        -> (status: String, waiting: [String], records: [String: Int64])
    {
        let env = ServiceEnvironment.forOperator(
            settings: settings, database: database, clock: SystemClock(), logger: Logger(label: "finflow.compliance.operator"))
        let request = try await ComplianceDesk(env: env).subjectRequest(tenantId: tenantId, id: id)
        return (request.row.status, ComplianceDesk.waiting(request), Dictionary(request.parts.map { ($0.service, $0.records) }) { first, _ in first })
    }

    /// Claims a ready request's archive (once) and writes it to `write`; returns the bytes written.
    @discardableResult
    public static func writeAccessArchive(
        database: any Database, settings: Settings, tenantId: String, id: String, actor: String, write: (ArraySlice<UInt8>) throws -> Void
    ) async throws -> Int {
        let env = ServiceEnvironment.forOperator(
            settings: settings, database: database, clock: SystemClock(), logger: Logger(label: "finflow.compliance.operator"))
        let desk = ComplianceDesk(env: env)
        let principal = Principal(subject: actor, tenantId: tenantId, roles: [], permissions: ["compliance:manage"], sessionId: nil)
        let request = try await desk.claimArchive(tenantId: tenantId, id: id, principal: principal)
        var bytes = 0
        for try await piece in desk.archive(request) {
            try write(piece)
            bytes += piece.count
        }
        return bytes
    }
}
