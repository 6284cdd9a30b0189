import FinFlowCore
import Foundation
import Logging
import SQLKit

/// Measures the audit trail on the compliance service's own tables: `records` records of real hash chains (several
/// tenants, eight services, a few hundred actors), then the latency of the queries an auditor runs against the
/// largest tenant, a deep walk through its pages, and an export of one tenant verified as a file.
extension ComplianceService {
    public static func auditTrailBenchmark(
        database: any Database, settings: Settings, records count: Int, repeats: Int, emit: @Sendable (String) -> Void
    ) async throws {
        let env = ServiceEnvironment.forOperator(settings: settings, database: database, clock: SystemClock(), logger: Logger(label: "finflow.bench"))
        let desk = ComplianceDesk(env: env)
        let clock = ContinuousClock()
        let services = ["auth", "tenancy", "accounting", "transactions", "payments", "credit", "compliance", "tax"]
        let actions = (0..<40).map { "\(services[$0 % services.count]).action-\($0)" }
        // Half the records belong to the first tenant, the rest to nine others.
        let tenants = (0..<10).map { String(format: "0193b000-0000-7000-8000-%012d", $0) }
        let start = env.clock.nowMillis() - 365 * 86_400_000
        var random = SeededRandom(seed: 21)
        var heads: [String: (seq: Int64, hash: String)] = [:]
        let began = clock.now
        var written = 0
        while written < count {
            let chunk = min(10_000, count - written)
            let events: [CloudEvent<AuditRecorded>] = (0..<chunk).map { offset in
                let index = written + offset
                let tenant = index % 2 == 0 ? tenants[0] : tenants[1 + Int(random.next() % 9)]
                let service = services[Int(random.next() % UInt64(services.count))]
                let key = tenant + "/" + service
                let head = heads[key] ?? (0, AuditLog.genesisHash)
                let at = start + Int64(index) * (365 * 86_400_000 / Int64(count))
                let unsigned = AuditRecorded(
                    service: service, recordId: String(format: "0193b000-%04x-7000-8000-%012d", index % 65_536, index), tenantId: tenant,
                    seq: head.seq + 1, occurredAtMillis: at, actorId: "user-\(random.next() % 300)", action: actions[Int(random.next() % UInt64(actions.count))],
                    target: "resource-\(random.next() % 20_000)", outcome: random.next() % 20 == 0 ? "failure" : "success", clientAddress: "10.0.0.\(index % 250)",
                    details: #"{"n":"\#(index)"}"#, prevHash: head.hash, hash: "")
                let hash = unsigned.computedHash
                heads[key] = (unsigned.seq, hash)
                let data = AuditRecorded(
                    service: service, recordId: unsigned.recordId, tenantId: tenant, seq: unsigned.seq, occurredAtMillis: at, actorId: unsigned.actorId,
                    action: unsigned.action, target: unsigned.target, outcome: unsigned.outcome, clientAddress: unsigned.clientAddress,
                    details: unsigned.details, prevHash: unsigned.prevHash, hash: hash)
                return CloudEvent(
                    id: unsigned.recordId, source: "urn:finflow:bench", type: AuditRecorded.eventType, time: Date(unixMillis: at), subject: nil,
                    tenantid: tenant, dataschema: "urn:finflow:schema:\(AuditRecorded.eventType):1", data: data)
            }
            try await database.transaction { db in try await desk.keepAuditRecords(events, db: db) }
            written += chunk
        }
        let seeded = (clock.now - began).inSeconds
        emit(String(format: "seeded %d records (%d chains, half in one tenant) in %.1f s = %.0f records/s through the consumer's insert",
                    written, heads.count, seeded, Double(written) / seeded))
        if database.kind == .sqlite { try await database.write { db in try await db.raw("ANALYZE").run() } }
        else { try await database.read { db in try await db.raw("ANALYZE audit_trail").run() } }

        let big = tenants[0]
        let middle = start + 180 * 86_400_000
        let queries: [(String, AuditTrailQuery)] = [
            ("newest page, no filter", AuditTrailQuery(tenantId: big)),
            ("by actor", AuditTrailQuery(tenantId: big, actorId: "user-17")),
            ("by action", AuditTrailQuery(tenantId: big, action: actions[7])),
            ("by resource", AuditTrailQuery(tenantId: big, target: "resource-4242")),
            ("by service and action", AuditTrailQuery(tenantId: big, service: "accounting", action: actions[2])),
            ("one day", AuditTrailQuery(tenantId: big, fromMillis: middle, toMillis: middle + 86_400_000)),
            ("actor over a month", AuditTrailQuery(tenantId: big, actorId: "user-17", fromMillis: middle, toMillis: middle + 30 * 86_400_000)),
            ("action with no match", AuditTrailQuery(tenantId: big, action: "auth.never-happened")),
        ]
        let page = try PageRequest(limit: 50, cursor: nil)
        for (name, query) in queries {
            var latencies: [Double] = []
            var found = 0
            for _ in 0..<repeats {
                let began = clock.now
                found = try await desk.auditTrail(query, page: page).items.count
                latencies.append((clock.now - began).inSeconds * 1_000)
            }
            latencies.sort()
            emit(String(format: "query %@: p50 %.2f ms, p99 %.2f ms (%d records on the page of 50)", name,
                        latencies[latencies.count / 2], latencies[min(latencies.count - 1, latencies.count * 99 / 100)], found))
        }
        // A deep walk: 100 pages of 200 along the cursor.
        var cursor: String?
        let walk = clock.now
        var walked = 0
        for _ in 0..<100 {
            let result = try await desk.auditTrail(AuditTrailQuery(tenantId: big), page: try PageRequest(limit: 200, cursor: cursor))
            walked += result.items.count
            guard let next = result.nextCursor else { break }
            cursor = next
        }
        let walkSeconds = (clock.now - walk).inSeconds
        emit(String(format: "paging: %d records in 100 pages of 200 in %.2f s (%.2f ms a page)", walked, walkSeconds, walkSeconds * 10))

        // Export one of the smaller tenants as JSON lines, then verify the text as `finflow audit verify --export` does.
        let exportBegan = clock.now
        var text = ""
        for try await piece in desk.exportAuditTrail(AuditTrailQuery(tenantId: tenants[1]), format: .jsonl) { text += String(decoding: piece, as: UTF8.self) }
        let exportSeconds = (clock.now - exportBegan).inSeconds
        let verifyBegan = clock.now
        let report = try AuditExportVerifier.verify(text)
        let verifySeconds = (clock.now - verifyBegan).inSeconds
        emit(String(format: "export: %d records (%.1f MB of JSON lines) in %.2f s = %.0f records/s; verified offline in %.2f s = %.0f records/s (%@)",
                    report.records, Double(text.utf8.count) / 1_048_576, exportSeconds, Double(report.records) / exportSeconds, verifySeconds,
                    Double(report.records) / verifySeconds, report.intact ? "intact" : "BROKEN"))
    }
}
