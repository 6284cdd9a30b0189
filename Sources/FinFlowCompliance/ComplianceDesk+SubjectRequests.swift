import FinFlowCore
import Foundation
import SQLKit

/// A data subject request as kept.
struct SubjectRequestRow: Decodable, Sendable {
    let id: String
    let tenant_id: String
    let kind: String
    let status: String
    let subject: String
    let expected_services: String
    let opened_by: String
    let opened_at_ms: Int64
    let due_at_ms: Int64
    let ready_at_ms: Int64?
    let expires_at_ms: Int64?
    let downloaded_at_ms: Int64?
    let downloaded_by: String?
}

/// One service's part of a request.
struct SubjectPartRow: Decodable, Sendable {
    let service: String
    let outcome: String
    let records: Int64
    let chunk_count: Int
    let chunks_received: Int
    let part_sha256: String
    let bytes: Int64
    let verified: Int
    let answered_at_ms: Int64
    let completed_at_ms: Int64?
}

/// Who the subject is, as the request names them.
struct SubjectIdentifiers: Codable, Sendable, Equatable {
    var userId: String?
    var customerId: String?
    var email: String?
    var names: [String]
}

/// Data subject requests (GDPR articles 15 and 20): opened here, answered by every service that keeps personal data
/// through events, assembled into one archive the requester downloads once.
extension ComplianceDesk {
    /// How long after it is ready an archive may be downloaded.
    static let archiveAvailableMillis: Int64 = 7 * 86_400_000
    /// The most names a request may give.
    static let subjectNamesMax = 10

    /// A request with its parts.
    struct SubjectRequest: Sendable {
        let row: SubjectRequestRow
        let parts: [SubjectPartRow]
    }

    /// Opens a request of `kind` (`access` or `erasure`) about `subject` and asks every service for its part. A client
    /// id already used for the same request answers the request it opened (`created` false).
    func openSubjectRequest(id: String?, kind: String = "access", subject: SubjectIdentifiers, principal: Principal) async throws
        -> (SubjectRequest, created: Bool)
    {
        let tenantId = principal.tenantId
        let hash = Digest.sha256Hex(kind + ":" + Self.json(subject))
        if let id, let existing = try await self.subjectRequestIfAny(tenantId: tenantId, id: id) {
            struct Hash: Decodable { let request_hash: String }
            let stored = try await self.database.tenantRead(tenantId: tenantId) { db in
                try await db.raw("SELECT request_hash FROM dsr_requests WHERE id = \(bind: id)").first(decoding: Hash.self)
            }
            guard stored?.request_hash == hash else { throw AppError.idReused("data subject request") }
            return (existing, false)
        }
        let requestId = id ?? self.env.ids.nextString()
        let now = self.now
        let due = Self.oneMonthAfter(now)
        let services = DataSubjectRequestOpened.answeringServices
        do {
            try await self.database.tenantTransaction(tenantId: tenantId) { db in
                try await db.raw("""
                    INSERT INTO dsr_requests (id, tenant_id, kind, status, subject, expected_services, request_hash, opened_by, opened_at_ms, due_at_ms)
                    VALUES (\(bind: requestId), \(bind: tenantId), \(bind: kind), 'open', \(bind: Self.json(subject)), \(bind: services.joined(separator: ",")),
                        \(bind: hash), \(bind: principal.subject), \(bind: now), \(bind: due))
                    """).run()
                try await self.outbox.enqueue(
                    DataSubjectRequestOpened(
                        requestId: requestId, tenantId: tenantId, kind: kind, userId: subject.userId, customerId: subject.customerId,
                        email: subject.email, names: subject.names, openedAtMillis: now),
                    subject: requestId, tenantId: tenantId, on: db)
                try await self.env.audit.append(
                    AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "compliance.data-subject-request.opened", target: requestId,
                               details: ["kind": kind, "due": ISO8601DateFormatter().string(from: Date(unixMillis: due))]),
                    on: db, kind: self.database.kind)
            }
        } catch where violatedConstraint(error) != nil {
            return try await self.openSubjectRequest(id: requestId, kind: kind, subject: subject, principal: principal)
        }
        return (try await self.subjectRequest(tenantId: tenantId, id: requestId), true)
    }

    /// The instant one calendar month after `millis` (UTC), the deadline GDPR article 12(3) sets.
    static func oneMonthAfter(_ millis: Int64) -> Int64 {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let date = calendar.date(byAdding: .month, value: 1, to: Date(unixMillis: millis)) ?? Date(unixMillis: millis + 30 * 86_400_000)
        return date.unixMillis
    }

    func subjectRequestIfAny(tenantId: String, id: String) async throws -> SubjectRequest? {
        let (row, parts) = try await self.database.tenantRead(tenantId: tenantId) { db in
            let row = try await db.raw("SELECT * FROM dsr_requests WHERE id = \(bind: id) AND tenant_id = \(bind: tenantId)")
                .first(decoding: SubjectRequestRow.self)
            let parts = try await db.raw("SELECT * FROM dsr_parts WHERE request_id = \(bind: id) AND tenant_id = \(bind: tenantId) ORDER BY service")
                .all(decoding: SubjectPartRow.self)
            return (row, parts)
        }
        return row.map { SubjectRequest(row: $0, parts: parts) }
    }

    func subjectRequest(tenantId: String, id: String) async throws -> SubjectRequest {
        guard let request = try await self.subjectRequestIfAny(tenantId: tenantId, id: id) else { throw AppError.notFound("data subject request") }
        return request
    }

    /// A page of the tenant's requests, newest first.
    func subjectRequests(tenantId: String, page: PageRequest) async throws -> (items: [SubjectRequestRow], nextCursor: String?) {
        let (millis, id) = try Self.timeCursor(page.after) ?? (Int64.max, "")
        let rows = try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.raw("""
                SELECT * FROM dsr_requests WHERE tenant_id = \(bind: tenantId)
                AND (opened_at_ms < \(bind: millis) OR (opened_at_ms = \(bind: millis) AND id < \(bind: id)))
                ORDER BY opened_at_ms DESC, id DESC LIMIT \(bind: page.limit + 1)
                """).all(decoding: SubjectRequestRow.self)
        }
        return page.page(rows) { "\($0.opened_at_ms):\($0.id)" }
    }

    /// Keeps one piece of a service's answer; the piece that completes a part checks it against its hash, and the part
    /// that completes the request makes it ready.
    func keepSubjectAnswer(_ answer: DataSubjectRequestAnswered, db: any SQLDatabase) async throws {
        guard (1...100_000).contains(answer.chunkCount), (0..<answer.chunkCount).contains(answer.chunkIndex) else {
            throw InvariantViolation("a data subject answer names piece \(answer.chunkIndex) of \(answer.chunkCount)")
        }
        struct Known: Decodable { let id: String; let status: String }
        guard let request = try await db.raw("""
            SELECT id, status FROM dsr_requests WHERE id = \(bind: answer.requestId) AND tenant_id = \(bind: answer.tenantId)
            """).first(decoding: Known.self)
        else { return }
        let now = self.now
        try await db.raw("""
            INSERT INTO dsr_chunks (tenant_id, request_id, service, chunk_index, content)
            VALUES (\(bind: answer.tenantId), \(bind: answer.requestId), \(bind: answer.service), \(bind: answer.chunkIndex), \(bind: answer.content))
            ON CONFLICT DO NOTHING
            """).run()
        try await db.raw("""
            INSERT INTO dsr_parts (tenant_id, request_id, service, outcome, records, chunk_count, chunks_received, part_sha256, bytes, verified, answered_at_ms)
            VALUES (\(bind: answer.tenantId), \(bind: answer.requestId), \(bind: answer.service), \(bind: answer.outcome), \(bind: answer.records),
                \(bind: answer.chunkCount), 0, \(bind: answer.partSha256), 0, 0, \(bind: answer.answeredAtMillis))
            ON CONFLICT DO NOTHING
            """).run()
        // Counted on the key alone: summing the pieces' lengths here read every piece again at each one (on PostgreSQL,
        // out of TOAST), which made a 100,000-record part take seconds.
        struct Received: Decodable { let n: Int }
        let received = try await db.raw("""
            SELECT COUNT(*) AS n FROM dsr_chunks WHERE request_id = \(bind: answer.requestId) AND service = \(bind: answer.service)
            """).first(decoding: Received.self)
        let count = received?.n ?? 0
        try await db.raw("""
            UPDATE dsr_parts SET chunks_received = \(bind: count) WHERE request_id = \(bind: answer.requestId) AND service = \(bind: answer.service)
            """).run()
        guard count == answer.chunkCount, request.status == "open" else { return }
        // The part is whole: check it against the hash its service sent, and count its bytes as UTF-8.
        var hasher = Digest.Streaming()
        var bytes: Int64 = 0
        for index in 0..<answer.chunkCount {
            struct Chunk: Decodable { let content: String }
            let chunk = try await db.raw("""
                SELECT content FROM dsr_chunks WHERE request_id = \(bind: answer.requestId) AND service = \(bind: answer.service)
                AND chunk_index = \(bind: index)
                """).first(decoding: Chunk.self)
            let data = Data((chunk?.content ?? "").utf8)
            hasher.update(data)
            bytes += Int64(data.count)
        }
        let verified = hasher.hex() == answer.partSha256
        try await db.raw("""
            UPDATE dsr_parts SET verified = \(bind: verified ? 1 : 0), bytes = \(bind: bytes), completed_at_ms = \(bind: now)
            WHERE request_id = \(bind: answer.requestId) AND service = \(bind: answer.service)
            """).run()
        struct Done: Decodable { let n: Int }
        let done = try await db.raw("""
            SELECT COUNT(*) AS n FROM dsr_parts WHERE request_id = \(bind: answer.requestId) AND completed_at_ms IS NOT NULL AND verified = 1
            """).first(decoding: Done.self)?.n ?? 0
        if done >= DataSubjectRequestOpened.answeringServices.count {
            try await db.raw("""
                UPDATE dsr_requests SET status = 'ready', ready_at_ms = \(bind: now), expires_at_ms = \(bind: now + Self.archiveAvailableMillis)
                WHERE id = \(bind: answer.requestId) AND status = 'open'
                """).run()
            // The retention sweep deletes the archive's pieces once its time is up, downloaded or not.
            try await db.raw("""
                UPDATE dsr_chunks SET expires_at_ms = \(bind: now + Self.archiveAvailableMillis) WHERE request_id = \(bind: answer.requestId)
                """).run()
        }
    }

    /// Claims the request's archive for its one download: a request not ready, downloaded before or expired is refused.
    func claimArchive(tenantId: String, id: String, principal: Principal) async throws -> SubjectRequest {
        let request = try await self.subjectRequest(tenantId: tenantId, id: id)
        let now = self.now
        switch request.row.status {
        case "open": throw AppError.conflict(code: "archive-not-ready", "services are still answering: \(Self.waiting(request).joined(separator: ", "))")
        case "downloaded": throw AppError.conflict(code: "archive-downloaded", "the archive was downloaded already; it is given once")
        default: break
        }
        if let expires = request.row.expires_at_ms, now >= expires {
            try await self.database.tenantTransaction(tenantId: tenantId) { db in
                try await db.raw("DELETE FROM dsr_chunks WHERE request_id = \(bind: id)").run()
                try await db.raw("UPDATE dsr_requests SET status = 'expired' WHERE id = \(bind: id)").run()
            }
            throw AppError.conflict(code: "archive-expired", "the archive was available for 7 days and has been deleted")
        }
        if request.row.status == "expired" { throw AppError.conflict(code: "archive-expired", "the archive was available for 7 days and has been deleted") }
        let claimed = try await self.database.tenantTransaction(tenantId: tenantId) { db in
            struct Claimed: Decodable { let id: String }
            let rows = try await db.raw("""
                UPDATE dsr_requests SET status = 'downloaded', downloaded_at_ms = \(bind: now), downloaded_by = \(bind: principal.subject)
                WHERE id = \(bind: id) AND status = 'ready' RETURNING id
                """).all(decoding: Claimed.self)
            if !rows.isEmpty {
                try await self.env.audit.append(
                    AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "compliance.data-subject-request.downloaded", target: id),
                    on: db, kind: self.database.kind)
            }
            return !rows.isEmpty
        }
        guard claimed else { throw AppError.conflict(code: "archive-downloaded", "the archive was downloaded already; it is given once") }
        return request
    }

    /// The services that have not answered yet.
    static func waiting(_ request: SubjectRequest) -> [String] {
        let done = Set(request.parts.filter { $0.completed_at_ms != nil && $0.verified == 1 }.map(\.service))
        return request.row.expected_services.split(separator: ",").map(String.init).filter { !done.contains($0) }
    }

    /// The archive of a claimed request as a tar stream: `manifest.json`, then each service's part, piece by piece;
    /// the pieces are deleted once the whole archive has been read.
    func archive(_ request: SubjectRequest) -> AsyncThrowingStream<ArraySlice<UInt8>, any Error> {
        let manifest = Self.manifest(request, assembledAtMillis: self.now)
        let modified = self.now / 1_000
        let parts = request.parts
        let requestId = request.row.id
        let tenantId = request.row.tenant_id
        let desk = self
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    continuation.yield(ArraySlice(TarArchive.header(name: "manifest.json", size: manifest.count, modifiedAtSeconds: modified)))
                    continuation.yield(ArraySlice(manifest))
                    continuation.yield(ArraySlice(TarArchive.padding(size: manifest.count)))
                    for part in parts {
                        continuation.yield(ArraySlice(TarArchive.header(name: "\(part.service).json", size: Int(part.bytes), modifiedAtSeconds: modified)))
                        for index in 0..<part.chunk_count {
                            struct Chunk: Decodable { let content: String }
                            let chunk = try await desk.database.tenantRead(tenantId: tenantId) { db in
                                try await db.raw("""
                                    SELECT content FROM dsr_chunks WHERE request_id = \(bind: requestId) AND service = \(bind: part.service)
                                    AND chunk_index = \(bind: index)
                                    """).first(decoding: Chunk.self)
                            }
                            continuation.yield(ArraySlice(Array((chunk?.content ?? "").utf8)))
                        }
                        continuation.yield(ArraySlice(TarArchive.padding(size: Int(part.bytes))))
                    }
                    continuation.yield(ArraySlice(TarArchive.end))
                    try await desk.database.tenantTransaction(tenantId: tenantId) { db in
                        try await db.raw("DELETE FROM dsr_chunks WHERE request_id = \(bind: requestId)").run()
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The archive's manifest: the request, the subject, and each part with its file, records and SHA-256.
    static func manifest(_ request: SubjectRequest, assembledAtMillis: Int64) -> [UInt8] {
        struct Part: Encodable { let service: String; let file: String; let outcome: String; let records: Int64; let bytes: Int64; let sha256: String }
        struct Manifest: Encodable {
            let requestId: String; let tenantId: String; let kind: String; let subject: SubjectIdentifiers?; let openedAt: Date
            let assembledAt: Date; let format: String; let parts: [Part]
        }
        let subject = try? JSONDecoder().decode(SubjectIdentifiers.self, from: Data(request.row.subject.utf8))
        let manifest = Manifest(
            requestId: request.row.id, tenantId: request.row.tenant_id, kind: request.row.kind, subject: subject,
            openedAt: Date(unixMillis: request.row.opened_at_ms), assembledAt: Date(unixMillis: assembledAtMillis),
            format: "one JSON document per service: {service, requestId, answeredAt, categories: [{category, purpose, retention, table, records}]}",
            parts: request.parts.map { Part(service: $0.service, file: "\($0.service).json", outcome: $0.outcome, records: $0.records, bytes: $0.bytes, sha256: $0.part_sha256) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return Array((try? encoder.encode(manifest)) ?? Data())
    }
}
