import Foundation

/// The audit trail's export formats: JSON lines or CSV, each record with its chain data and each chain's signed
/// checkpoints after the records, so that `finflow audit verify --export` (or any tool that recomputes the hashes as
/// docs/audit-trail.md describes) can check it away from the system. Values are written exactly as hashed.
public enum AuditExport {
    /// `jsonl` or `csv`.
    public enum Format: String, Sendable, CaseIterable {
        case jsonl, csv
    }

    /// One record of a chain, as exported: the event that carries it to the compliance service.
    public typealias Record = AuditRecorded

    /// A record line: the record with its kind.
    struct RecordLine: Encodable {
        let record: AuditRecorded

        enum CodingKeys: String, CodingKey { case kind }

        func encode(to encoder: any Encoder) throws {
            try self.record.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode("record", forKey: .kind)
        }
    }

    /// A checkpoint line: `AuditCheckpoint` with its kind.
    struct CheckpointLine: Codable {
        var kind = "checkpoint"
        let checkpoint: AuditCheckpoint

        init(_ checkpoint: AuditCheckpoint) { self.checkpoint = checkpoint }

        enum CodingKeys: String, CodingKey { case kind }

        func encode(to encoder: any Encoder) throws {
            try self.checkpoint.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.kind, forKey: .kind)
        }

        init(from decoder: any Decoder) throws {
            self.checkpoint = try AuditCheckpoint(from: decoder)
        }
    }

    /// The CSV columns, in order: a record fills the first fourteen, a checkpoint `kind`, `service`, `tenant_id`,
    /// `seq`, `hash` and the last four. An empty field without quotes is NULL; `""` is the empty text.
    public static let csvColumns = [
        "kind", "service", "tenant_id", "seq", "record_id", "occurred_at_ms", "actor_id", "action", "target", "outcome",
        "client_address", "details", "prev_hash", "hash", "signed_at_ms", "key_id", "public_key", "signature",
    ]

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// What a file of `format` starts with (the CSV header).
    public static func header(_ format: Format) -> String {
        format == .csv ? self.csvColumns.joined(separator: ",") + "\r\n" : ""
    }

    /// One record, as a line of `format`.
    public static func line(_ record: Record, _ format: Format) -> String {
        switch format {
        case .jsonl:
            return String(decoding: (try? self.encoder.encode(RecordLine(record: record))) ?? Data(), as: UTF8.self) + "\n"
        case .csv:
            let fields: [String?] = [
                "record", record.service, record.tenantId, String(record.seq), record.recordId, String(record.occurredAtMillis), record.actorId,
                record.action, record.target, record.outcome, record.clientAddress, record.details, record.prevHash, record.hash, nil, nil, nil, nil,
            ]
            return self.csvRow(fields)
        }
    }

    /// One checkpoint, as a line of `format`.
    public static func line(_ checkpoint: AuditCheckpoint, _ format: Format) -> String {
        switch format {
        case .jsonl:
            return String(decoding: (try? self.encoder.encode(CheckpointLine(checkpoint))) ?? Data(), as: UTF8.self) + "\n"
        case .csv:
            let fields: [String?] = [
                "checkpoint", checkpoint.service, checkpoint.tenantId, String(checkpoint.seq), nil, nil, nil, nil, nil, nil, nil, nil, nil,
                checkpoint.hash, String(checkpoint.signedAtMillis), checkpoint.keyId, checkpoint.publicKey, checkpoint.signature,
            ]
            return self.csvRow(fields)
        }
    }

    /// A CSV row: NULL as an empty field, every text quoted (so the empty text is `""`), nothing altered.
    static func csvRow(_ fields: [String?]) -> String {
        fields.map { field in field.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" } ?? "" }
            .joined(separator: ",") + "\r\n"
    }
}

extension AuditRecorded {
    /// The hash recomputed from the record's fields, as `AuditLog` computes it.
    public var computedHash: String {
        AuditLog.Record(
            id: self.recordId, tenant_id: self.tenantId, seq: self.seq, occurred_at_ms: self.occurredAtMillis, actor_id: self.actorId,
            action: self.action, target: self.target, outcome: self.outcome, client_address: self.clientAddress, details: self.details,
            prev_hash: self.prevHash, hash: self.hash
        ).computedHash
    }
}
